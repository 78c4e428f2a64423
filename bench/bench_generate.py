"""How long `generate_world` takes at the presets' sizes and at 2,000 statements.

    python bench/bench_generate.py

Prints, per size, the fastest and the median of 7 seeds (wall time of one call, in seconds).
Texts are made unique by nudging repeated latent points (latent/families.py `fresh_text`), so
the decoder runs more often than once per statement; the second column counts how often.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from latent.decoder import BuiltinDecoder
from latent.generate import generate_world

SIZES = {
    "practice (12, 2, 1, 0)": (12, 2, 1, 0),
    "debate (60, 3, 2, 0)": (60, 3, 2, 0),
    "hard (400, 8, 6, 4)": (400, 8, 6, 4),
    "2000 (20, 10, 20)": (2000, 20, 10, 20),
}


class Counting(BuiltinDecoder):
    """The built-in decoder, counting its calls."""

    calls = 0

    def decode(self, z, *, negate=False):  # type: ignore[no-untyped-def]
        Counting.calls += 1
        return super().decode(z, negate=negate)


def main() -> None:
    print(f"{'size':26s} {'decodes/statement':>18s} {'fastest s':>10s} {'median s':>9s}")
    for label, (m, f, c, k) in SIZES.items():
        times = []
        Counting.calls = 0
        for seed in range(7):
            t0 = time.perf_counter()
            generate_world(seed, m, f, c, k)
            times.append(time.perf_counter() - t0)
        dec = Counting()
        Counting.calls = 0
        for seed in range(7):
            generate_world(seed, m, f, c, k, decoder=dec)
        per = Counting.calls / (7 * m)
        print(f"{label:26s} {per:18.2f} {min(times):10.3f} {statistics.median(times):9.3f}")


if __name__ == "__main__":
    main()
