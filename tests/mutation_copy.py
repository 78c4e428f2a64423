"""Make a scratch copy of the project for a mutation run of one module (docs/testing.md).

    python tests/mutation_copy.py DIR MODULE TEST_FILE... [--timeout-multiplier X]

copies the files git tracks into DIR and narrows `[tool.mutmut]` there to MODULE (a file, a
glob such as 'latent/bounds/*.py' for a package, or several joined by commas, such as
'store/export.py,store/stats.py') and the given test files, so that
`mutmut run` in DIR generates only that module's mutants and runs only those tests: minutes
instead of hours. Results stay in DIR/mutants; running
`mutmut run` there again goes on where it stopped.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument(
        "module", help="e.g. latent/mvn.py, 'latent/bounds/*.py' (quoted), or a,b for both"
    )
    ap.add_argument("tests", nargs="+", help="test files, e.g. tests/test_bounds.py")
    ap.add_argument("--timeout-multiplier", type=float, default=None)
    a = ap.parse_args(argv)
    modules = a.module.split(",")
    for m in modules:
        if not any(f.is_file() for f in ROOT.glob(m)):
            print(
                f"mutation_copy: no file matches {m} in {ROOT}; give a path relative to it",
                file=sys.stderr,
            )
            return 2
    for p in a.tests:
        if not (ROOT / p).is_file():
            print(
                f"mutation_copy: no file {p} in {ROOT}; give paths relative to it", file=sys.stderr
            )
            return 2
    if a.dir.exists() and any(a.dir.iterdir()):
        print(f"mutation_copy: {a.dir} is not empty; give a new directory", file=sys.stderr)
        return 2
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True
    ).stdout.split(b"\0")
    for f in filter(None, files):
        src = ROOT / f.decode()
        if src.is_file():
            (a.dir / f.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, a.dir / f.decode())
    pyproject = a.dir / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    quoted = ", ".join(f'"{t}"' for t in a.tests)
    only = ", ".join(f'"{m}"' for m in modules)
    text = re.sub(r"only_mutate = \[.*?\]", f"only_mutate = [{only}]", text, flags=re.S)
    text = re.sub(
        r"pytest_add_cli_args_test_selection = \[.*?\]",
        f"pytest_add_cli_args_test_selection = [{quoted}]",
        text,
        flags=re.S,
    )
    if a.timeout_multiplier is not None:
        text = text.replace(
            "[tool.mutmut]\n", f"[tool.mutmut]\ntimeout_multiplier = {a.timeout_multiplier}\n"
        )
    conf = tomllib.loads(text)["tool"]["mutmut"]
    assert conf["only_mutate"] == modules and conf["pytest_add_cli_args_test_selection"] == a.tests
    pyproject.write_text(text, encoding="utf-8")
    print(f"{a.dir}: cd there and run: env -u PYTHONPATH nice -n 19 mutmut run --max-children 1")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
