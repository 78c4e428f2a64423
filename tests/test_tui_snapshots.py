"""A few screens, pixel for pixel, at 80x24 (pytest-textual-snapshot; --snapshot-update)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from tui.app import PzJudgeApp

pytest.importorskip("pytest_textual_snapshot")


def _app() -> PzJudgeApp:
    return PzJudgeApp(db_path=":memory:", judge="snap", seed=5)


async def _settle(pilot: Pilot[None], screen: str) -> None:
    app = pilot.app
    for _ in range(400):
        if type(app.screen).__name__ == screen:
            break
        await pilot.pause(0.02)
    await pilot.pause()
    for inp in app.screen.query(Input):
        inp.cursor_blink = False
    app.clear_notifications()
    await pilot.pause()


def _to(screen: str, *keys: str) -> Callable[[Pilot[None]], object]:
    async def run(pilot: Pilot[None]) -> None:
        for k in keys:
            await pilot.press(k)
            await pilot.pause()
        await _settle(pilot, screen)

    return run


def test_home(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(_app(), terminal_size=(80, 24), run_before=_to("HomeScreen"))


def test_help(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(
        _app(), terminal_size=(80, 24), run_before=_to("HelpScreen", "question_mark")
    )


def test_practice_round(snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def run(pilot: Pilot[None]) -> None:
        await pilot.press("t")
        await _settle(pilot, "RoundScreen")
        await pilot.press("space", "down", "space")
        await _settle(pilot, "RoundScreen")

    assert snap_compare(_app(), terminal_size=(80, 24), run_before=run)


def test_reveal(snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def run(pilot: Pilot[None]) -> None:
        await pilot.press("t")
        await _settle(pilot, "RoundScreen")
        await pilot.press("a", "1", "e", "minus", "3", "enter")
        await _settle(pilot, "RevealScreen")

    assert snap_compare(_app(), terminal_size=(80, 24), run_before=run)
