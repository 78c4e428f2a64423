"""Who can reach a participant's rounds in the game: wrong codes are slowed and then end
the session (a served study gives every browser the same address, so the code is all that
keeps participants apart), and a locked study offers no command palette."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.widgets import Input
from tui_steps import on_screen, screen_text, until

from store.study_ops import build_study
from tui.screens.study import CodeScreen
from tui.study_app import StudyApp

STUDY = """
title = "access"
instructions = "Estimate P(Z)."
conditions = ["oracle"]
participants = 2
[[items]]
preset = "practice"
seed = 5
"""


@pytest.fixture
def study(tmp_path: Path) -> tuple[Path, list[str]]:
    (tmp_path / "s.toml").write_text(STUDY)
    _, codes = build_study(tmp_path / "s.toml", tmp_path / "s.db")
    return tmp_path / "s.db", codes


def test_wrong_codes_wait_longer_each_time_then_end_the_session(
    study: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = study
    # long enough that a key pressed while the box is held lands before it reopens
    monkeypatch.setattr(CodeScreen, "WRONG_CODE_WAIT", 2.0)
    monkeypatch.setattr(CodeScreen, "MAX_WRONG_CODES", 3)
    monkeypatch.setattr(CodeScreen, "GOODBYE_WAIT", 0.5)

    async def go() -> None:
        app = StudyApp(path, None, "access")
        async with app.run_test(size=(80, 24)) as pilot:
            await on_screen(app, pilot, "CodeScreen")
            box = app.screen.query_one("#code", Input)
            for n, wait in ((1, 2.0), (2, 4.0)):
                box.value = "0" * 8  # never a code: codes are random hex, not all zeros
                # before the code is sent, so the hold (which starts after) is all inside
                t0 = asyncio.get_running_loop().time()
                await pilot.press("enter")
                await until(pilot, lambda: box.disabled, f"wrong code {n} held")
                assert "no participant with code" in screen_text(app)
                assert f"Try again in {wait:g} s" in screen_text(app)
                # typing while held does nothing: the box takes no keys and sends no code
                await pilot.press("1", "enter")
                assert box.value == "0" * 8 and type(app.screen).__name__ == "CodeScreen"
                await until(pilot, lambda: not box.disabled, f"the box reopens after {n}")
                assert asyncio.get_running_loop().time() - t0 >= wait - 0.05  # clock grain
            box.value = "1" * 8
            await pilot.press("enter")
            await until(pilot, lambda: "Too many wrong codes" in screen_text(app), "the end")
            assert box.disabled
            # the session ends without a round being dealt
            await until(pilot, lambda: not app.is_running, "the app exits")

    asyncio.run(go())


def test_a_study_offers_no_command_palette(study: tuple[Path, list[str]]) -> None:
    path, codes = study

    async def go() -> None:
        app = StudyApp(path, codes[0], "access")
        async with app.run_test(size=(80, 24)) as pilot:
            await on_screen(app, pilot, "InstructionsScreen")
            for where in ("instructions", "round"):
                await pilot.press("ctrl+p")
                await pilot.pause()
                names = [type(s).__name__ for s in app.screen_stack]
                assert "CommandPalette" not in names, where
                if where == "instructions":
                    await pilot.press("enter")
                    await on_screen(app, pilot, "StudyRoundScreen")

    asyncio.run(go())
