"""Steps shared by the Pilot tests (the game's and the study's): wait for a condition or a
screen, type text as keys, read what the screen shows, read stored rows."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.app import App
from textual.keys import _character_to_key
from textual.pilot import Pilot
from textual.widgets import Static

#: Steps of 20 ms before a wait fails (10 s: workers finish far sooner on a quiet machine).
STEPS = 500


async def until(pilot: Pilot[None], cond: Callable[[], bool], what: str) -> None:
    """Let the app run until `cond` holds (workers finishing); fail after STEPS steps."""
    for _ in range(STEPS):
        if cond():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def on_screen(app: App[Any], pilot: Pilot[None], name: str) -> None:
    """Wait for the screen of class `name`, and for it to finish mounting."""
    await until(pilot, lambda: type(app.screen).__name__ == name, name)
    await pilot.pause()  # a test may end right here


async def type_text(pilot: Pilot[None], text: str) -> None:
    await pilot.press(*[_character_to_key(ch) for ch in text])


def screen_text(app: App[Any]) -> str:
    """Every Static's text on the current screen, a line each."""
    return "\n".join(str(w.render()) for w in app.screen.query(Static))


def rows(db: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute(sql, args))
