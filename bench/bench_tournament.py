"""Benchmark: a tournament of 200 debates between built-in debaters and simulated judges.

    python bench/bench_tournament.py [--worlds 5] [--statements 30]

Prints the wall time, the time per debate, and the standings. Baseline in the same run:
the cost of one P(Z) evaluation per world (what every debate must at least pay once).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from debate.tournament import run_tournament, tournament_worlds
from latent.pz import world_pz

DEBATERS = [
    "builtin:honest",
    "builtin:independence",
    "builtin:pairwise",
    "builtin:flip-hider",
    "builtin:cherry-picker",
]
JUDGES = ["maxent", "bounds"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--worlds", type=int, default=5)
    ap.add_argument("--statements", type=int, default=30)
    ap.add_argument("--concurrency", type=int, default=4)
    args = ap.parse_args()
    worlds = tournament_worlds(args.worlds, 1, args.statements)
    t0 = time.perf_counter()
    for w in worlds:
        world_pz(w)
    t_pz = (time.perf_counter() - t0) / len(worlds)
    t0 = time.perf_counter()
    res = asyncio.run(
        run_tournament(
            args.worlds,
            1,
            DEBATERS,
            JUDGES,
            concurrency=args.concurrency,
            statements=args.statements,
        )
    )
    wall = time.perf_counter() - t0
    n = len(res.debates)
    print(f"{n} debates over {args.worlds} worlds of {args.statements} statements")
    print(f"wall {wall:.2f} s, {1000 * wall / n:.1f} ms per debate")
    print(f"baseline: one P(Z) evaluation per world {1000 * t_pz:.1f} ms")
    print(f"{'debater':26s} {'debates':>7s} {'won':>5s} {'honest won':>10s} {'log10 err':>9s}")
    for st in res.debaters:
        print(
            f"{st.name:26s} {st.debates:7d} {st.won or 0:5.2f} {st.honest_won:10.2f} "
            f"{st.mean_log10_error:9.2f}"
        )
    for st in res.judges:
        print(
            f"judge {st.name:20s} {st.debates:7d} honest won {st.honest_won:.2f} "
            f"log10 err {st.mean_log10_error:.2f} regret {st.mean_regret_bits:.3g}"
        )


if __name__ == "__main__":
    main()
