"""Benchmark: a tournament killed part-way and resumed, against the same run uninterrupted
(and, with --ray, the same run as Ray tasks).

    python bench/bench_resume.py [--worlds 4] [--kill-after 8] [--ray]

Runs `pzjudge tournament ... --db` as a subprocess: once straight; once killed (SIGKILL) when
`--kill-after` debates are stored, then run again on the same database. Prints the wall
times, how many debates the rerun played, and whether its `--json` result equals the
straight run's (wall-clock fields aside). Built-in debaters and a simulated judge: no
network.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from helpers import timeless as _timeless  # noqa: E402 (the tests' comparison)


def _judged(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            q = "SELECT COUNT(*) FROM rounds WHERE debate_result IS NOT NULL"
            return int(conn.execute(q).fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--worlds", type=int, default=4)
    ap.add_argument("--statements", type=int, default=16)
    ap.add_argument("--kill-after", type=int, default=8)
    ap.add_argument("--ray", action="store_true", help="also time the straight run on Ray")
    args = ap.parse_args()
    cmd = [
        sys.executable, "-m", "tui.cli", "tournament", "--worlds", str(args.worlds),
        "--seed", "1", "--statements", str(args.statements), "--debaters",
        "builtin:honest,builtin:pairwise,builtin:independence", "--judges", "maxent",
        "--concurrency", "2", "--json",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        t0 = time.perf_counter()
        straight = subprocess.run(
            [*cmd, "--db", str(d / "straight.db")], capture_output=True, text=True, env=env
        )
        t_straight = time.perf_counter() - t0
        total = _judged(d / "straight.db")

        db = d / "crash.db"
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [*cmd, "--db", str(db)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        while _judged(db) < args.kill_after and proc.poll() is None:
            time.sleep(0.05)
        proc.kill()
        proc.wait()
        t_crash = time.perf_counter() - t0
        kept = _judged(db)
        t0 = time.perf_counter()
        resumed = subprocess.run([*cmd, "--db", str(db)], capture_output=True, text=True, env=env)
        t_resume = time.perf_counter() - t0
        same = _timeless(json.loads(resumed.stdout)) == _timeless(json.loads(straight.stdout))
        print(f"{total} debates, {args.worlds} worlds of {args.statements} statements")
        print(f"straight run             {t_straight:6.1f} s")
        print(f"killed after {kept:3d} stored  {t_crash:6.1f} s")
        print(f"rerun played {total - kept:3d}        {t_resume:6.1f} s")
        print(f"crash + rerun            {t_crash + t_resume:6.1f} s; result equal: {same}")
        if args.ray:
            t0 = time.perf_counter()
            on_ray = subprocess.run(
                [*cmd, "--no-store", "--ray"],
                capture_output=True,
                text=True,
                env={**env, "RAY_AUTH_MODE": "disabled"},
            )
            t_ray = time.perf_counter() - t0
            same = _timeless(json.loads(on_ray.stdout)) == _timeless(json.loads(straight.stdout))
            print(f"straight on a local Ray  {t_ray:6.1f} s; result equal: {same}")


if __name__ == "__main__":
    main()
