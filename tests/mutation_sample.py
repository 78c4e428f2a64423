"""Draw a uniform random sample of one module's mutants for a mutation run (docs/testing.md).

    python tests/mutation_sample.py OUT N SEED MODULE...

lists every mutant that mutmut 3 makes of the MODULE files (globs such as 'latent/mvn*.py'
allowed; the same generator `mutmut run` uses, with no coverage filter, so a mutant in a
function no test calls is listed too), draws N of them uniformly without replacement with
numpy's generator seeded by SEED, and writes their names to OUT, one a line, under a few
comment lines that say how they were drawn. A complete run of a module takes hours on 2
shared cores; a sample of a few hundred gives its kill rate within a stated interval and is
rerun with `mutmut run $(grep -v '^#' OUT)` in a copy made by tests/mutation_copy.py.
The names depend on the source: a changed module needs a new sample.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def mutant_names(paths: list[Path]) -> list[str]:
    """Every mutant name mutmut 3 gives the files (paths relative to ROOT), in file order."""
    from mutmut.mutation.file_mutation import mutate_file_contents
    from mutmut.utils.format_utils import get_mutant_name

    names: list[str] = []
    for rel in paths:
        mutated = mutate_file_contents(str(rel), (ROOT / rel).read_text(encoding="utf-8"))
        names += [get_mutant_name(rel, n) for n in mutated.mutant_names]
    return names


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("n", type=int)
    ap.add_argument("seed", type=int)
    ap.add_argument("modules", nargs="+", help="e.g. store/export.py, or 'latent/bounds/*.py'")
    a = ap.parse_args(argv)
    paths = sorted({p.relative_to(ROOT) for m in a.modules for p in ROOT.glob(m) if p.is_file()})
    if not paths:
        print(f"mutation_sample: no file matches {a.modules} in {ROOT}", file=sys.stderr)
        return 2
    names = mutant_names(paths)
    if not 0 < a.n <= len(names):
        print(f"mutation_sample: N must be 1 to {len(names)} (the mutants)", file=sys.stderr)
        return 2
    picked = np.random.default_rng(a.seed).choice(len(names), size=a.n, replace=False)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    head = [
        f"# {a.n} of the {len(names)} mutants mutmut 3 makes of {' '.join(map(str, paths))}",
        f"# drawn uniformly without replacement: tests/mutation_sample.py OUT {a.n} {a.seed} "
        + " ".join(f"'{m}'" for m in a.modules),
        f"# at commit {commit}; rerun: mutmut run $(grep -v '^#' THIS_FILE) (docs/testing.md)",
    ]
    body = [names[i] for i in sorted(picked)]
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text("\n".join(head + body) + "\n", encoding="utf-8")
    print(f"{a.out}: {a.n} of {len(names)} mutants")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
