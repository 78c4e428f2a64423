"""TUI benchmark: startup to the home screen, and keypresses on a 400-statement round.

Targets: home screen within 1 s of starting (imports included, in a fresh process);
every keypress on the judging screen answered within 50 ms with 400 statements, while
the built-in debaters prepare their speeches in a worker thread.

    python bench/bench_tui.py [--keys 40]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STARTUP = """
import time, asyncio
t0 = time.perf_counter()
from tui.app import PzJudgeApp
async def main():
    app = PzJudgeApp(db_path={db!r}, judge="bench")
    async with app.run_test(size=(80, 24)) as pilot:
        while type(app.screen).__name__ != "HomeScreen":
            await pilot.pause(0.005)
        print(time.perf_counter() - t0)
asyncio.run(main())
"""


def startup(db: str, runs: int = 3) -> list[float]:
    """Seconds from interpreter start of the import to the home screen, fresh processes."""
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        r = subprocess.run(
            [sys.executable, "-c", STARTUP.format(db=db)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        total = time.perf_counter() - t0
        out.append((float(r.stdout.strip().splitlines()[-1]), total))
    return out


async def keypresses(db: str, n: int, debate: bool) -> dict[str, list[float]]:
    from tui.app import PzJudgeApp
    from tui.game import SessionRun, preset
    from tui.screens.loading import LoadingScreen

    app = PzJudgeApp(db_path=db, judge="bench", seed=1)
    # The Pilot waits for animations to finish (the tab underline slides for ~0.3 s);
    # that is not time the judge waits for an answer, so measure without them.
    app.animation_level = "none"
    times: dict[str, list[float]] = {}
    async with app.run_test(size=(80, 24)) as pilot:
        while type(app.screen).__name__ != "HomeScreen":
            await pilot.pause(0.01)
        settings = preset("hard", judge="bench", seed=1, debate=debate, rounds=1)
        sid = app.game_store.start_session(settings)  # type: ignore[union-attr]
        t0 = time.perf_counter()
        app.push_screen(LoadingScreen(SessionRun(settings=settings, session_id=sid)))
        while type(app.screen).__name__ != "RoundScreen":
            await pilot.pause(0.01)
        await pilot.pause()
        times["round ready (generate + P(Z) + store)"] = [time.perf_counter() - t0]
        plan = [
            ("no-op key (the Pilot's own cost)", "f12"),
            ("down (cursor, detail line)", "down"),
            ("space (pick)", "space"),
            ("plus (estimate x sqrt10)", "plus"),
            ("2 (debate/evidence tab)", "2"),
            ("1 (back to 400 statements)", "1"),
        ]
        for _ in range(n):
            for label, key in plan:
                t = time.perf_counter()
                await pilot.press(key)
                times.setdefault(label, []).append(time.perf_counter() - t)
        await pilot.press("slash")
        for ch in ("f", "a", "c", "t"):
            t = time.perf_counter()
            await pilot.press(ch)
            times.setdefault("search (filter 400 rows)", []).append(time.perf_counter() - t)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--keys", type=int, default=20, help="rounds of the key plan")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.db")
        st = startup(db)
        best = min(s for s, _ in st)
        print(f"startup to home screen: best {best * 1000:.0f} ms (import + app + first screen),")
        print(
            "  whole process incl. interpreter: "
            + ", ".join(f"{total * 1000:.0f}" for _, total in st)
            + " ms  (target <= 1000 ms)"
        )
        for debate in (False, True):
            t = asyncio.run(keypresses(db, args.keys, debate))
            print(f"400 statements, debate {'on (debaters working)' if debate else 'off'}:")
            base = statistics.median(t["no-op key (the Pilot's own cost)"])
            for label, xs in t.items():
                xs = sorted(xs)
                p95 = xs[min(len(xs) - 1, int(0.95 * len(xs)))]
                net = "" if len(xs) == 1 else f"  net {(statistics.median(xs) - base) * 1000:6.1f}"
                print(
                    f"  {label:38s} median {statistics.median(xs) * 1000:6.1f} ms{net}  "
                    f"p95 {p95 * 1000:6.1f}  max {xs[-1] * 1000:6.1f}  (n={len(xs)})"
                )
        print("target: a keypress answered in <= 50 ms (net: minus the Pilot's no-op cost)")


if __name__ == "__main__":
    main()
