"""Benchmark: a huge world (10,000 statements, 100 blocks of 100) generated, debated, stored.

    python bench/bench_huge.py [--blocks 100] [--size 100] [--baseline 10] [--profile FILE]

Targets (issue 10, item 9): `pzjudge debate` on the 10,000-statement world in <= 30 s and
<= 1 GB peak memory; the store keeps a world once, not once per round.

Two parts, each for the huge world and a baseline world of the same make in the same run
(`--baseline` blocks of `--size`: 1,000 statements by default):

1. In one fresh process per world, phase by phase: build the world, write and read its file,
   deal the round (P(Z), the shadow world, the lie), the debate (speeches, judge), storing
   it (time inside the recorder). Each line gives the phase's wall time and the process's
   peak RSS so far (`resource.getrusage`), so the phase that raised the peak shows.
2. End to end, as a user runs it: `pzjudge debate WORLD --db DB` twice into one fresh
   database (two rounds of one world), with each run's wall time and peak RSS (the
   child's `ru_maxrss`) and the database's size after each.

The world: blocks of kernel-correlated families (two planted flips each, as `generate`
plants them), every fifth block independent statements; ids a seeded permutation.
`generate` itself stops at 2,000 statements, so the world is built here from its parts.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from latent.decoder import BuiltinDecoder
from latent.families import family_block, flip_positions, independent_block
from latent.generate import _family_points
from latent.world import Block, World, WorldMeta

ROOT = Path(__file__).resolve().parent.parent


def huge_world(blocks: int, size: int, seed: int = 0) -> World:
    """`blocks` blocks of `size` statements: families with two flips, every fifth block
    independent statements (identity covariance)."""
    dec = BuiltinDecoder()
    rng = np.random.default_rng(seed)
    m = blocks * size
    width = max(4, len(str(m)))
    ids = iter(f"s{int(p):0{width}d}" for p in rng.permutation(m) + 1)
    used: set[str] = set()
    out: list[Block] = []
    for j in range(blocks):
        bid = [next(ids) for _ in range(size)]
        if j % 5 == 4:
            pts = rng.standard_normal((size, dec.dim))
            out.append(independent_block(dec, pts, rng, ids=bid, used=used, name="independent"))
        else:
            pts, shape = _family_points(dec.dim, size, rng)
            flips = flip_positions(size, min(2, size // 3), rng)
            name = f"family {j + 1} ({shape})"
            out.append(family_block(dec, pts, rng, flips=flips, ids=bid, used=used, name=name))
    meta = WorldMeta(seed=seed, generator="bench_huge", settings={"blocks": blocks, "size": size})
    return World(blocks=out, meta=meta)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phases(blocks: int, size: int, folder: Path, profile: str | None) -> list[dict[str, Any]]:
    """The phases of one world in this process; what `pzjudge debate` does, step by step."""
    import asyncio

    from debate.engine import run_debate
    from debate.events import Event
    from debate.rounds import deal_round, debaters_of, preset
    from debate.specs import make_judge
    from latent.world import load_world
    from store.db import Store
    from store.recorder import DebateRecorder

    rows: list[dict[str, Any]] = []
    clock = time.perf_counter()

    def mark(name: str, store_s: float = 0.0) -> None:
        nonlocal clock
        now = time.perf_counter()
        rows.append({"phase": name, "s": now - clock - store_s, "peak_mb": _peak_mb()})
        if store_s:
            rows.append({"phase": "store", "s": store_s, "peak_mb": _peak_mb()})
        clock = time.perf_counter()

    rows.append({"phase": "start", "s": 0.0, "peak_mb": _peak_mb()})
    world = huge_world(blocks, size)
    mark("generate")
    path = folder / f"world_{blocks}x{size}.json"
    path.write_text(world.to_json())
    world = load_world(path)
    mark("write + load file")
    settings = preset("debate", debate=True)
    dealt = deal_round(settings, 1, world)
    debaters = debaters_of(dealt)
    mark("deal (P(Z), shadow, lie)")
    store = Store(folder / f"phases_{blocks}x{size}.db")
    store.abandon_orphans()
    recorder = DebateRecorder(store, world_json=world.to_json(), seed=1, settings={})
    spent = [0.0]

    def on_record(event: Event) -> None:
        t0 = time.perf_counter()
        recorder.on_event(event)
        spent[0] += time.perf_counter() - t0

    prof = cProfile.Profile() if profile else None
    if prof is not None:
        prof.enable()
    res = asyncio.run(
        run_debate(dealt, debaters["a"], debaters["b"], make_judge("maxent"), on_record=on_record)
    )
    t0 = time.perf_counter()
    with store:
        recorder.on_result(res)
    spent[0] += time.perf_counter() - t0
    if prof is not None:
        prof.disable()
        prof.dump_stats(profile)  # type: ignore[arg-type]
    mark("debate (speeches, judge)", store_s=spent[0])
    return rows


def end_to_end(world_path: Path, db: Path) -> dict[str, float]:
    """One `pzjudge debate` run as a user starts it: wall, peak RSS, database size after."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "tui.cli", "debate", str(world_path), "--db", str(db)]
    cmd += ["--seed", "1", "--json"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, _, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if usage is None or not db.exists():
        raise SystemExit(f"pzjudge debate failed: {err.strip()}")
    size = db.stat().st_size + sum(
        p.stat().st_size for p in db.parent.glob(db.name + "-*") if p.exists()
    )
    return {"s": wall, "peak_mb": usage.ru_maxrss / 1024, "db_mb": size / 1e6}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--blocks", type=int, default=100)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--baseline", type=int, default=10, help="blocks of the baseline world")
    ap.add_argument("--profile", help="write a cProfile of the huge world's debate here")
    ap.add_argument("--skip-e2e", action="store_true", help="phases only")
    ap.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    ap.add_argument("--folder", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        rows = phases(*args.child, Path(args.folder), args.profile)
        print(json.dumps(rows))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for blocks in (args.baseline, args.blocks):
            n = blocks * args.size
            label = "baseline" if blocks == args.baseline else "huge"
            cmd = [sys.executable, __file__, "--child", str(blocks), str(args.size)]
            cmd += ["--folder", tmp]
            if args.profile and label == "huge":
                cmd += ["--profile", args.profile]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            print(f"\n{label}: {n:,} statements ({blocks} blocks of {args.size}), one process")
            print(f"  {'phase':28s} {'wall':>9s} {'peak RSS so far':>16s}")
            for row in json.loads(out.splitlines()[-1]):
                print(f"  {row['phase']:28s} {row['s']:8.2f}s {row['peak_mb']:13.0f} MB")
            if args.skip_e2e:
                continue
            world = folder / f"world_{blocks}x{args.size}.json"
            db = folder / f"e2e_{blocks}.db"
            mb = world.stat().st_size / 1e6
            print(f"  `pzjudge debate` twice into one database (world file {mb:.1f} MB):")
            for k in (1, 2):
                r = end_to_end(world, db)
                print(
                    f"    run {k}: {r['s']:6.2f} s, peak RSS {r['peak_mb']:5.0f} MB, "
                    f"database {r['db_mb']:6.1f} MB"
                )


if __name__ == "__main__":
    main()
