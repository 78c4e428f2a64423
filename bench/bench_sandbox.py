"""Sandbox benchmark: what bubblewrap adds to a scripted debater.

Times, over `--reps` fresh debaters, the first turn (start the child, load the script, one
speech with one oracle query) and the close, under the sandbox and unsandboxed (the
`--trust-scripts` path), plus the one-off probe that finds the sandbox's flags. Target: the
sandbox adds <= 100 ms to a debater's first turn; later turns reuse the child and cost the
same either way.

    python bench/bench_sandbox.py [--reps 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from helpers import d4_view as _view  # the tests' view of the D4 world

import debate.script as script_mod
from debate.sandbox import probe
from debate.script import ScriptDebater
from debate.verify import Oracle
from latent.world import load_world

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
BODY = """
class D:
    def argue(self, view, oracle):
        return {"text": f"pair {oracle.prob(['A', 'B'])}", "citations": []}
"""


def time_turns(path: str, reps: int, sandboxed: bool) -> tuple[list[float], list[float]]:
    """Seconds of each first turn and each close."""
    oracle = Oracle(load_world(EXAMPLES / "d4.json"), max_order=2)
    view = _view()
    first: list[float] = []
    close: list[float] = []
    saved = script_mod.probe
    if not sandboxed:
        script_mod.probe = lambda: None  # type: ignore[assignment]
    try:

        async def one() -> None:
            deb = ScriptDebater(path, "D", trust=True)
            assert deb.sandboxed == sandboxed
            t0 = time.perf_counter()
            arg = await deb.argue(view, oracle)
            t1 = time.perf_counter()
            await deb.aclose()
            t2 = time.perf_counter()
            assert arg.text == "pair 0.25"
            first.append(t1 - t0)
            close.append(t2 - t1)

        for _ in range(reps):
            asyncio.run(one())
    finally:
        script_mod.probe = saved
    return first, close


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=20)
    args = ap.parse_args()
    t0 = time.perf_counter()
    box = probe()
    probe_s = time.perf_counter() - t0
    if box is None:
        sys.exit("no working bubblewrap here: nothing to measure")
    print(f"sandbox: {box.summary}; probe (once per process) {probe_s * 1000:.0f} ms")
    with tempfile.TemporaryDirectory() as d:
        path = str(Path(d) / "deb.py")
        Path(path).write_text(BODY)
        for sandboxed in (False, True):
            first, close = time_turns(path, args.reps, sandboxed)
            label = "sandboxed  " if sandboxed else "unsandboxed"
            q = statistics.quantiles(first, n=10)
            print(
                f"{label} first turn: median {statistics.median(first) * 1000:.0f} ms "
                f"(p10 {q[0] * 1000:.0f}, p90 {q[-1] * 1000:.0f}); "
                f"close: median {statistics.median(close) * 1000:.1f} ms"
            )


if __name__ == "__main__":
    main()
