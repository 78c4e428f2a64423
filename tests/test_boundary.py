"""The layers point one way (latent <- debate <- store <- tui): no module of a layer names a
layer above it in any import statement (top-level, inside a function, under TYPE_CHECKING,
relative), importing every module of a layer pulls in nothing above it at run time, and the
core never pulls in Textual."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: What each core layer must never import (directly or through anything it imports).
ABOVE = {
    "latent": ("debate", "store", "tui", "textual"),
    "debate": ("store", "tui", "textual"),
    "store": ("tui", "textual"),
}


def _modules(package: str) -> list[str]:
    """Every module of `package`, subpackages included (`latent.bounds` and its parts)."""
    return [package] + [
        m.name for m in pkgutil.walk_packages([str(ROOT / package)], prefix=f"{package}.")
    ]


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_names(source: str, module: str, *, is_package: bool = False) -> Iterator[str]:
    """Every absolute module name that `source` (the text of `module`) imports anywhere:
    statements at any depth (a lazy import inside a function counts), relative imports resolved
    against `module`, `from x import y` as both `x` and `x.y`, and `importlib.import_module` /
    `__import__` called with a literal name."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".") if package else []
                keep = len(parts) - (node.level - 1)
                base = ".".join(parts[: max(keep, 0)])
                target = ".".join(p for p in (base, node.module or "") if p)
            else:
                target = node.module or ""
            yield target
            yield from (f"{target}.{alias.name}".lstrip(".") for alias in node.names)
        elif isinstance(node, ast.Call) and node.args:
            func, arg = node.func, node.args[0]
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if (
                name in ("import_module", "__import__")
                and isinstance(arg, ast.Constant)
                and isinstance(arg.value, str)
            ):
                yield arg.value


def upward_imports(package: str, root: Path = ROOT) -> list[str]:
    """`path:line-free` descriptions of every import in `package` that names a layer above."""
    forbidden = ABOVE[package]
    bad = []
    for path in sorted((root / package).rglob("*.py")):
        module = _module_name(path, root)
        source = path.read_text("utf-8")
        for name in imported_names(source, module, is_package=path.name == "__init__.py"):
            if name.split(".")[0] in forbidden:
                bad.append(f"{path.relative_to(root)} imports {name}")
    return sorted(set(bad))


@pytest.mark.parametrize("package", sorted(ABOVE))
def test_no_module_names_a_layer_above_it(package: str) -> None:
    """Static: catches an import that runs only on some path (inside a function, a branch)."""
    assert upward_imports(package) == []


@pytest.mark.parametrize(
    ("package", "module", "source", "caught"),
    [
        ("latent", "pz", "import debate.engine\n", "debate.engine"),
        ("latent", "pz", "def f():\n    from store.db import Store\n", "store.db"),
        ("debate", "rules", "if True:\n    import tui.cli as c\n", "tui.cli"),
        ("store", "db", "def f():\n    import textual.app\n", "textual.app"),
        ("latent", "pz", "def f():\n    from .. import debate\n", "debate"),
        ("debate", "rules", "from .. import store\n", "store"),
        ("debate", "rules", "import importlib\nimportlib.import_module('store.db')\n", "store.db"),
        ("store", "db", "import typing\nif typing.TYPE_CHECKING:\n    import tui\n", "tui"),
    ],
)
def test_the_check_catches_an_upward_import(
    tmp_path: Path, package: str, module: str, source: str, caught: str
) -> None:
    """The check fails on a planted upward import, lazy or relative ones included."""
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / package / f"{module}.py").write_text(source)
    found = upward_imports(package, tmp_path)
    assert found
    assert all(f.startswith(f"{package}/{module}.py imports {caught}") for f in found)


def test_the_check_passes_imports_of_the_layer_itself_and_below(tmp_path: Path) -> None:
    (tmp_path / "store" / "sub").mkdir(parents=True)
    (tmp_path / "store" / "__init__.py").write_text("")
    (tmp_path / "store" / "sub" / "__init__.py").write_text("from .. import db\n")
    (tmp_path / "store" / "db.py").write_text(
        "import sqlite3\nfrom latent.pz import log_pz\n"
        "def f():\n    from debate.rules import Rules\n    from . import sub\n"
    )
    assert upward_imports("store", tmp_path) == []


@pytest.mark.parametrize(
    ("module", "source", "is_package", "names"),
    [
        ("latent.bounds.lp", "from . import _x\n", False, {"latent.bounds", "latent.bounds._x"}),
        ("latent.bounds", "from .lp import f\n", True, {"latent.bounds.lp", "latent.bounds.lp.f"}),
        ("debate.rules", "from .ev import B\n", False, {"debate.ev", "debate.ev.B"}),
        ("store.db", "from debate.rules import R\n", False, {"debate.rules", "debate.rules.R"}),
    ],
)
def test_relative_imports_resolve_to_their_module(
    module: str, source: str, is_package: bool, names: set[str]
) -> None:
    assert set(imported_names(source, module, is_package=is_package)) == names


@pytest.mark.parametrize("package", sorted(ABOVE))
def test_core_imports_nothing_above_it(package: str) -> None:
    """Dynamic: importing every module pulls in nothing above it, third parties included."""
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
