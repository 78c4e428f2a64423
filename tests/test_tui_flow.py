"""The UI's shape: screens never import one another in a circle (the session flow and the
apps drive them), and a store write never runs on the UI thread (another process holding
the database must not freeze the game)."""

from __future__ import annotations

import ast
import asyncio
import importlib
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from tui_steps import on_screen, rows, until

from tui.app import PzJudgeApp

ROOT = Path(__file__).resolve().parent.parent


def tui_modules(root: Path) -> dict[str, Path]:
    """Every module of the `tui` package under `root`, by dotted name."""
    out = {}
    for path in sorted((root / "tui").rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def import_graph(root: Path) -> dict[str, set[str]]:
    """Which tui modules each tui module imports: every import statement, at the top, in
    a function or under TYPE_CHECKING (a circle through any of them is still a circle)."""
    mods = tui_modules(root)
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name in mods}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module in mods:
                    deps.add(node.module)
                deps |= {f"{node.module}.{a.name}" for a in node.names} & mods.keys()
        graph[name] = deps - {name}
    return graph


def a_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of imports (its modules in order, the first repeated last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(v: str) -> list[str] | None:
        state[v] = 1
        path.append(v)
        for w in sorted(graph[v]):
            if state.get(w) == 1:
                return [*path[path.index(w) :], w]
            if w not in state and (found := visit(w)) is not None:
                return found
        path.pop()
        state[v] = 2
        return None

    for v in sorted(graph):
        if v not in state and (found := visit(v)) is not None:
            return found
    return None


def test_the_cycle_finder_finds_a_circle() -> None:
    assert a_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert a_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_tui_module_imports_itself_back() -> None:
    """Each tui module imports on its own, and no two import each other, however far
    round: the screens only show, the session flow and the apps put them in order."""
    graph = import_graph(ROOT)
    assert {"tui.app", "tui.screens.judging", "tui.screens.reveal"} <= graph.keys()
    for name in graph:
        if name != "tui.serve":  # needs the `serve` extra (its absence is tested elsewhere)
            importlib.import_module(name)
    assert a_cycle(graph) is None, " -> ".join(a_cycle(graph) or [])


# --------------------------------------------------------------------------- the store


SIZE = (80, 24)
#: The longest another process holds the database in the tests below. The test releases it
#: as soon as the UI has answered a key, so a UI that answers is never timed against the
#: machine's load; a UI frozen by a write on its thread answers only after this fallback
#: (before the fix it froze until the lock went), and the order of the two times fails it.
HELD = 20.0


def play(db: Path, script: Callable[[PzJudgeApp, Pilot[None]], Awaitable[None]]) -> None:
    async def main() -> None:
        app = PzJudgeApp(db_path=db, judge="tester", seed=11)
        async with app.run_test(size=SIZE) as pilot:
            await script(app, pilot)

    asyncio.run(main())


class HeldLock:
    """Another process's write transaction on `db`, released by the test or, failing that,
    by a timer after HELD s."""

    def __init__(self, db: Path) -> None:
        self.conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
        self.conn.execute("BEGIN IMMEDIATE")
        self.released_at: float | None = None
        self.timer = threading.Timer(HELD, self.release)
        self.timer.start()

    def release(self) -> None:
        if self.released_at is None:
            self.conn.execute("ROLLBACK")
            self.conn.close()
            self.released_at = time.monotonic()


async def open_round_left_open(app: PzJudgeApp, pilot: Pilot[None]) -> None:
    """From home: a practice round, left open (k), back home."""
    await pilot.press("t")
    await on_screen(app, pilot, "RoundScreen")
    await pilot.press("escape")
    await on_screen(app, pilot, "LeaveRound")
    await pilot.press("k")
    await on_screen(app, pilot, "HomeScreen")


@pytest.mark.parametrize("where", ["resume screen", "leaving a round"])
def test_a_held_database_does_not_freeze_the_ui(tmp_path: Path, where: str) -> None:
    """Abandoning a round while another process holds the database: the write waits in a
    worker, keys are answered meanwhile (help opens), and the round is abandoned once the
    database is free."""
    db = tmp_path / "held.db"
    answered: list[float] = []
    lock: list[HeldLock] = []

    async def script(app: PzJudgeApp, pilot: Pilot[None]) -> None:
        if where == "resume screen":
            await open_round_left_open(app, pilot)
            await pilot.press("r")
            await on_screen(app, pilot, "ResumeScreen")
            await until(pilot, lambda: bool(getattr(app.screen, "sessions", None)), "sessions")
            lock.append(HeldLock(db))
            await pilot.press("b")
        else:
            await pilot.press("t")
            await on_screen(app, pilot, "RoundScreen")
            await pilot.press("escape")
            await on_screen(app, pilot, "LeaveRound")
            lock.append(HeldLock(db))
            await pilot.press("b")
        await pilot.press("question_mark")
        await on_screen(app, pilot, "HelpScreen")
        answered.append(time.monotonic())
        lock[0].release()
        await pilot.press("escape")
        await until(
            pilot,
            lambda: (
                rows(db, "SELECT COUNT(*) FROM rounds WHERE abandoned_at IS NOT NULL") == [(1,)]
            ),
            "the round to be abandoned",
        )

    try:
        play(db, script)
    finally:
        for held in lock:
            held.timer.cancel()
            held.release()
    released = lock[0].released_at
    assert answered and released is not None and answered[0] < released
