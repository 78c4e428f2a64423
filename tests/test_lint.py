"""The house rules, checked with the tests: ruff (lint and format) and mypy on every package
(latent, debate, store and tui: pyproject.toml's [tool.mypy])."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_lint_and_format() -> None:
    assert shutil.which("ruff"), "ruff comes with the test extra: pip install -e '.[test]'"
    r = _run("ruff", "check", ".")
    assert r.returncode == 0, r.stdout + r.stderr
    r = _run("ruff", "format", "--check", ".")
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_every_package() -> None:
    r = _run(sys.executable, "-m", "mypy")
    assert r.returncode == 0, r.stdout + r.stderr
