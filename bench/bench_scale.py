"""Benchmark: a tournament of LLM debaters and an LLM judge against a loopback
OpenAI-compatible server with a fixed latency per call, played by the local asyncio runner
and by Ray on this machine, then killed part-way and resumed.

    python bench/bench_scale.py [--worlds 100] [--latency 0.2] [--concurrency 32]
        [--endpoint-limit 24] [--task-cpus 0.0625] [--kill-at 0.4] [--skip-ray]

Five debaters (two LLM models, three built-in) in every ordered pair before one LLM judge:
20 debates per world, 2,000 with the default 100 worlds. The server (tests/llm_server.py,
in this process) answers every debater and judge call with a fixed valid reply after
`--latency` seconds, so every run plays the same debates. Each run is `pzjudge tournament
... --db` in a child process, as a user runs it:

1. local: the asyncio runner, `--concurrency` debates at once;
2. ray: the same as Ray tasks on a local Ray started for the run (`--ray`), each task
   reserving `--task-cpus` CPUs;
3. crash and resume: the local run killed (SIGKILL) once `--kill-at` of the debates are
   stored, then run again on the same database.

Every run caps calls per endpoint with `--endpoint-limit` (3 endpoints: two debater models
and the judge). Printed per run: wall time, debates/s, calls/s, the most calls the server
was working on at once (in all, and to the busiest endpoint), and whether the `--json`
result equals the local run's (wall-clock fields aside).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from helpers import timeless  # noqa: E402 (the tests' comparison)
from llm_server import Behaviour, LLMServer, Reply  # noqa: E402

DEBATERS = "openai:alpha,openai:beta,builtin:honest,builtin:pairwise,builtin:independence"
JUDGE = "llm:judge"
SPEECH = Reply('{"text": "The pairs I cite are what the oracle says they are.", "citations": []}')
VERDICT = Reply('{"reason": "a is the more careful", "log10_p": -3.0, "credence_a": 0.6}')


def respond(body: dict[str, Any]) -> Behaviour:
    """The judge's request carries its schema (with log10_p); anything else is a speech."""
    return VERDICT if "log10_p" in json.dumps(body.get("response_format")) else SPEECH


def _judged(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            q = "SELECT COUNT(*) FROM rounds WHERE debate_result IS NOT NULL"
            return int(conn.execute(q).fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} {five:.1f} {fifteen:.1f}"


def _report(name: str, wall: float, debates: int, server: LLMServer) -> None:
    calls = len(server.requests)
    models = sorted({str(r.body.get("model")) for r in server.requests})
    peaks = {m: server.max_concurrent(m) for m in models}
    busiest = max(peaks, key=lambda m: peaks[m]) if peaks else "-"
    print(
        f"{name:26s} {wall:7.1f} {debates:8d} {debates / wall:10.2f} {calls:7d} "
        f"{calls / wall:8.1f} {server.max_concurrent() if calls else 0:10d} "
        f"{peaks.get(busiest, 0):8d} ({busiest}); load {_load()}",
        flush=True,
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worlds", type=int, default=100)
    ap.add_argument("--statements", type=int, default=16)
    ap.add_argument("--latency", type=float, default=0.2, help="server latency per call, s")
    ap.add_argument("--concurrency", type=int, default=32, help="debates in flight")
    ap.add_argument("--endpoint-limit", type=int, default=24, help="calls at once per endpoint")
    ap.add_argument("--task-cpus", type=float, default=0.0625, help="CPUs per Ray task")
    ap.add_argument("--kill-at", type=float, default=0.4, help="share stored before the kill")
    ap.add_argument("--skip-ray", action="store_true")
    args = ap.parse_args()
    cmd = [
        sys.executable, "-m", "tui.cli", "tournament", "--worlds", str(args.worlds),
        "--seed", "1", "--statements", str(args.statements), "--debaters", DEBATERS,
        "--judges", JUDGE, "--concurrency", str(args.concurrency),
        "--endpoint-limit", str(args.endpoint_limit), "--json",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_AUTH_MODE": "disabled"}
    total = args.worlds * 20
    print(
        f"{total} debates ({args.worlds} worlds of {args.statements} statements, 5 debaters, "
        f"judge {JUDGE}); server latency {1000 * args.latency:.0f} ms per call; "
        f"--concurrency {args.concurrency} --endpoint-limit {args.endpoint_limit}; "
        f"{os.cpu_count()} CPUs, load {_load()} at the start"
    )
    print(
        f"{'run':26s} {'wall s':>7s} {'debates':>8s} {'debates/s':>10s} {'calls':>7s} "
        f"{'calls/s':>8s} {'max calls':>10s} {'max/endpoint':>8s}"
    )
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        results: dict[str, Any] = {}
        runs = [("local (asyncio)", [])]
        if not args.skip_ray:
            runs.append((f"ray (--task-cpus {args.task_cpus:g})", ["--ray", "--task-cpus"]))
        for name, extra in runs:
            extra = [*extra, str(args.task_cpus)] if extra else []
            with LLMServer(latency=args.latency, respond=respond) as server:
                url = ["--base-url", server.url]
                t0 = time.perf_counter()
                proc = subprocess.run(
                    [*cmd, *url, "--db", str(d / f"{len(results)}.db"), *extra],
                    capture_output=True,
                    text=True,
                    env=env,
                )
                wall = time.perf_counter() - t0
                if proc.returncode != 0:
                    print(f"{name}: exit {proc.returncode}: {proc.stderr[-2000:]}")
                    return 1
                results[name] = timeless(json.loads(proc.stdout))
                _report(name, wall, len(results[name]["debates"]), server)

        db = d / "crash.db"
        with LLMServer(latency=args.latency, respond=respond) as server:
            url = ["--base-url", server.url]
            t0 = time.perf_counter()
            proc = subprocess.Popen(
                [*cmd, *url, "--db", str(db)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
            )
            while _judged(db) < args.kill_at * total and proc.poll() is None:
                time.sleep(0.2)
            proc.kill()
            proc.wait()
            wall = time.perf_counter() - t0
            kept = _judged(db)
            _report(f"local, killed ({kept} stored)", wall, kept, server)
        with LLMServer(latency=args.latency, respond=respond) as server:
            url = ["--base-url", server.url]
            t0 = time.perf_counter()
            resumed = subprocess.run(
                [*cmd, *url, "--db", str(db)], capture_output=True, text=True, env=env
            )
            wall = time.perf_counter() - t0
            if resumed.returncode != 0:
                print(f"resume: exit {resumed.returncode}: {resumed.stderr[-2000:]}")
                return 1
            played = total - kept
            _report(f"local, rerun (played {played})", wall, played, server)
        results["resumed"] = timeless(json.loads(resumed.stdout))
        local = results["local (asyncio)"]
        for name, res in results.items():
            if name == "local (asyncio)":
                continue
            same = res == local
            ok = ok and same
            print(f"{name}: --json result equal to the local run's: {same}")
        print(f"stored after the rerun: {_judged(db)} of {total}; load {_load()} at the end")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
