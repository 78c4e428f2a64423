"""The layers point one way (latent <- debate <- store <- tui): importing every module of a
layer pulls in nothing of the layers above it, and the core never pulls in Textual."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _modules(package: str) -> list[str]:
    path = ROOT / package
    return [package] + [
        f"{package}.{m.name}" for m in pkgutil.iter_modules([str(path)]) if not m.ispkg
    ]


#: What each core layer must never import (directly or through anything it imports).
ABOVE = {
    "latent": ("debate", "store", "tui", "textual"),
    "debate": ("store", "tui", "textual"),
    "store": ("tui", "textual"),
}


@pytest.mark.parametrize("package", sorted(ABOVE))
def test_core_imports_nothing_above_it(package: str) -> None:
    mods = _modules(package)
    code = (
        "import importlib, sys\n"
        f"for m in {mods!r}:\n"
        "    importlib.import_module(m)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {ABOVE[package]!r})\n"
        "print(','.join(bad))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "", f"{package} imports a layer above it: {r.stdout.strip()}"


def test_game_logic_imports_without_textual() -> None:
    """The UI's own game logic (tui.game, tui.estimate, tui.human_judge) is plain Python."""
    code = (
        "import sys, tui.game, tui.estimate, tui.human_judge\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] == 'textual')))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ""
