"""Benchmark: how much of a tournament is dealing, with and without the deal cache.

    OPENBLAS_NUM_THREADS=1 python bench/bench_deal.py [--preset hard] [--worlds 2]
        [--debaters builtin:honest,builtin:independence,builtin:pairwise,builtin:flip-hider]
        [--judges maxent,bounds]

A tournament deals each debate's sides and lie from the world as given
(`debate.rounds.deal_sides` -> `debate.lies.deal_lie`): the world's P(Z) and a re-drawn
shadow world's P(Z) (`latent.shadow.shadow_of`). Every pairing and judge on one world deals
the same shadow, so `deal_lie` keeps it per world object (the baseline, in the same run:
the cache turned off with `debate.lies.deal_cache_off`). The tournament is played as
`pzjudge tournament --preset P` plays it (worlds dealt as the game deals them), in this
process, without a store. Printed per run: wall time, the time spent inside `deal_lie` and
its share of the wall, and the cache's hits and misses; then whether both runs gave the
same debates (wall-clock fields aside). A warm-up tournament on one world runs first, so
neither run pays the imports.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from helpers import timeless  # noqa: E402 (the tests' comparison)

import debate.rounds  # noqa: E402
from debate.lies import clear_deal_cache, deal_cache_info, deal_cache_off  # noqa: E402
from debate.rounds import preset  # noqa: E402
from debate.tournament import TournamentResult, run_tournament  # noqa: E402

DEBATERS = "builtin:honest,builtin:independence,builtin:pairwise,builtin:flip-hider"
JUDGES = "maxent,bounds"

#: Seconds spent inside `deal_lie` (as `deal_sides` calls it) since the last reset.
_dealing = [0.0]
_deal_lie = debate.rounds.deal_lie


def _timed_deal_lie(*args: Any, **kwargs: Any) -> Any:
    t0 = time.perf_counter()
    try:
        return _deal_lie(*args, **kwargs)
    finally:
        _dealing[0] += time.perf_counter() - t0


def play(args: argparse.Namespace, worlds: int) -> tuple[TournamentResult, float, float]:
    """One tournament: its result, wall seconds, and seconds inside `deal_lie`."""
    _dealing[0] = 0.0
    t0 = time.perf_counter()
    res = asyncio.run(
        run_tournament(
            worlds,
            args.seed,
            args.debaters.split(","),
            args.judges.split(","),
            settings=preset(args.preset),
            concurrency=args.concurrency,
        )
    )
    return res, time.perf_counter() - t0, _dealing[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="hard", choices=["practice", "debate", "hard"])
    ap.add_argument("--worlds", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--debaters", default=DEBATERS)
    ap.add_argument("--judges", default=JUDGES)
    ap.add_argument("--concurrency", type=int, default=4)
    args = ap.parse_args()
    debate.rounds.deal_lie = _timed_deal_lie  # type: ignore[assignment]
    with deal_cache_off():
        play(args, 1)
    with deal_cache_off():
        before, wall_b, deal_b = play(args, args.worlds)
    clear_deal_cache()
    after, wall_a, deal_a = play(args, args.worlds)
    info = deal_cache_info()
    n = len(before.debates)
    print(
        f"{n} debates: preset {args.preset}, {args.worlds} worlds, "
        f"{len(args.debaters.split(','))} debaters, judges {args.judges}"
    )
    print(f"{'':10s} {'wall':>9s} {'dealing':>9s} {'share':>6s} {'ms/debate':>10s}")
    for name, wall, deal in (("no cache", wall_b, deal_b), ("cache", wall_a, deal_a)):
        print(
            f"{name:10s} {wall:8.2f}s {deal:8.2f}s {100 * deal / wall:5.1f}% "
            f"{1000 * wall / n:10.1f}"
        )
    print(f"cache: {info.hits} hits, {info.misses} misses; speed-up {wall_b / wall_a:.2f}x")
    same = timeless(before.model_dump(mode="json")) == timeless(after.model_dump(mode="json"))
    print(f"same debates and results with and without the cache: {same}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
