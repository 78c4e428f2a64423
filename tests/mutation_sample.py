"""Draw a uniform random sample of one module's mutants for a mutation run (docs/testing.md).

    python tests/mutation_sample.py OUT N SEED MODULE...
    python tests/mutation_sample.py --report DIR SAMPLE [SAMPLE_RERUN_DIR]

lists every mutant that mutmut 3 makes of the MODULE files (globs such as 'latent/mvn*.py'
allowed; the same generator `mutmut run` uses, with no coverage filter, so a mutant in a
function no test calls is listed too), draws N of them uniformly without replacement with
numpy's generator seeded by SEED, and writes their names to OUT, one a line, under a few
comment lines that say how they were drawn. A complete run of a module takes hours on 2
shared cores; a sample of a few hundred gives its kill rate within a stated interval and is
rerun with `mutmut run $(grep -v '^#' OUT)` in a copy made by tests/mutation_copy.py.
The names depend on the source: a changed module needs a new sample.

`--report` reads the results of that run in DIR (mutmut's `mutants/**/*.meta`) for the
names in SAMPLE and prints the counts by status and the kill rate with its exact 95%
(Clopper–Pearson) interval, counting a timeout as caught and as not caught. With a
second directory (a rerun of the timeouts at a longer timeout), a mutant's status there
replaces its timeout.
"""

from __future__ import annotations

import argparse
import json
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


def _statuses(run_dir: Path) -> dict[str, str]:
    """Each mutant's status in a mutmut run directory, in mutmut's words."""
    from mutmut.stats import status_by_exit_code

    out: dict[str, str] = {}
    for meta in (run_dir / "mutants").rglob("*.py.meta"):
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        out.update({k: status_by_exit_code[v] for k, v in codes.items()})
    return out


def report(run_dir: Path, sample: Path, rerun: Path | None) -> int:
    from scipy.stats import binomtest

    names = [s for s in sample.read_text(encoding="utf-8").splitlines() if s and s[0] != "#"]
    got = _statuses(run_dir)
    again = _statuses(rerun) if rerun is not None else {}
    status = {n: got.get(n, "not generated") for n in names}
    for n, s in status.items():
        if s == "timeout" and again.get(n, "not checked") != "not checked":
            status[n] = again[n] + " (after a timeout)"
    counts: dict[str, int] = {}
    for s in status.values():
        counts[s] = counts.get(s, 0) + 1
    n = len(names)
    print(f"{n} mutants: " + ", ".join(f"{c} {s}" for s, c in sorted(counts.items())))
    killed = sum(c for s, c in counts.items() if s.startswith("killed"))
    timeout = counts.get("timeout", 0)
    for label, k in (("killed", killed), ("killed or timed out", killed + timeout)):
        ci = binomtest(k, n).proportion_ci(0.95, method="exact")
        print(f"{label}: {k}/{n} = {k / n:.1%}, 95% CI [{ci.low:.1%}, {ci.high:.1%}]")
    for s in sorted(set(status.values()) - {"killed", "killed (after a timeout)"}):
        print(f"{s}:", *sorted(k for k, v in status.items() if v == s))
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["--report"] and len(argv) in (3, 4):
        return report(Path(argv[1]), Path(argv[2]), Path(argv[3]) if len(argv) == 4 else None)
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
