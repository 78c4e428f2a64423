"""Apply the six mutations of issue 17 by hand, one at a time, and run the tests that must
catch each (docs/testing.md, "Mutants made by hand").

    python tests/mutation_by_hand.py DIR

copies HEAD (`git archive`) into DIR (new or empty), then for each mutation edits the one
file in DIR, runs its test files there with `pytest -x`, prints whether they failed and the
first failing test, and restores the file. Exits 1 if any mutation goes unnoticed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOUNDS = ["tests/test_bounds_truth.py", "tests/test_bounds.py"]
PYTEST_OPTS = ["-p", "no:cacheprovider"]

#: (what, file, text, its replacement, test files)
MUTATIONS: list[tuple[str, str, str, str, list[str]]] = [
    (
        "close_enough without its absolute-tolerance branch",
        "debate/verify.py",
        "    if abs(claimed - true) <= rules.claim_abs_tol:\n        return True\n",
        "",
        ["tests/test_verify.py"],
    ),
    (
        "no newline after each full export batch",
        "store/export.py",
        '        if len(buf) >= _BATCH:\n            f.write("\\n".join(buf) + "\\n")',
        '        if len(buf) >= _BATCH:\n            f.write("\\n".join(buf))',
        ["tests/test_export_stats.py"],
    ),
    (
        "large discrete blocks bounded at order K+1",
        "latent/bounds/_blocks.py",
        "hyper = _hyper_matrix(m, k_used) @ count_distribution(block)",
        "hyper = _hyper_matrix(m, k_used + 1) @ count_distribution(block)",
        BOUNDS,
    ),
    (
        "large blocks' lower bound = upper bound",
        "latent/bounds/_blocks.py",
        '    return "+".join(parts), lo, hi\n',
        '    return "+".join(parts), hi, hi\n',
        BOUNDS,
    ),
    (
        "_finish_block widening the bounds over an exact truth",
        "latent/bounds/_blocks.py",
        "    truth = 0.0 if lt is None else 10.0**lt\n    return BlockBounds(",
        "    truth = 0.0 if lt is None else 10.0**lt\n    if exact:\n"
        "        lo, hi = min(lo, truth), max(hi, truth)\n    return BlockBounds(",
        BOUNDS,
    ),
    (
        "_combine clipping the world truth into the bounds",
        "latent/bounds/_blocks.py",
        "    outside = any(b.truth_outside for b in blocks)",
        "    truth = min(max(truth, lower), upper)\n    l_truth = _log10(truth)\n"
        "    outside = any(b.truth_outside for b in blocks)",
        BOUNDS,
    ),
]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python tests/mutation_by_hand.py DIR", file=sys.stderr)
        return 2
    d = Path(argv[0])
    if d.exists() and any(d.iterdir()):
        print(f"mutation_by_hand: {d} is not empty; give a new directory", file=sys.stderr)
        return 2
    d.mkdir(parents=True, exist_ok=True)
    tar = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, check=True, capture_output=True)
    subprocess.run(["tar", "x", "-C", str(d)], input=tar.stdout, check=True)
    missed = 0
    for what, rel, old, new, tests in MUTATIONS:
        path = d / rel
        orig = path.read_text(encoding="utf-8")
        if orig.count(old) != 1:
            print(f"{what}: the code changed, update this mutation ({rel})")
            missed += 1
            continue
        path.write_text(orig.replace(old, new), encoding="utf-8")
        try:
            r = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-x", "--tb=no", *PYTEST_OPTS, *tests],
                cwd=d,
                env={**os.environ, "PYTHONPATH": str(d)},
                capture_output=True,
                text=True,
            )
        finally:
            path.write_text(orig, encoding="utf-8")
        failed = [ln.split(" - ")[0] for ln in r.stdout.splitlines() if ln.startswith("FAILED")]
        caught = r.returncode == 1 and failed
        missed += not caught
        print(f"{what}: {'caught by ' + failed[0][7:] if caught else 'NOT CAUGHT'}", flush=True)
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
