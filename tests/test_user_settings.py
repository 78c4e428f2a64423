"""Settings that persist (tui/user_settings.py): the judge's name, theme and last setup are
remembered between runs in a JSON file; PZJUDGE_… variables override it and are never
written into it; a bad file is one notice and the defaults."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from textual.keys import _character_to_key
from textual.pilot import Pilot
from textual.widgets import Input

from tui.app import PzJudgeApp
from tui.user_settings import SettingsTrouble, load_settings, save_settings


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "conf" / "settings.json"
    monkeypatch.setenv("PZJUDGE_CONFIG", str(path))
    for var in ("PZJUDGE_JUDGE", "PZJUDGE_THEME", "PZJUDGE_LAST_SETUP"):
        monkeypatch.delenv(var, raising=False)
    return path


def test_environment_overrides_the_file_and_is_never_written(
    cfg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_settings()[0].judge is None and not cfg.exists()
    save_settings(judge="ann", theme="textual-light")
    assert json.loads(cfg.read_text()) == {"judge": "ann", "theme": "textual-light"}
    monkeypatch.setenv("PZJUDGE_JUDGE", "bob")
    monkeypatch.setenv("PZJUDGE_LAST_SETUP__ROUNDS", "5")
    s, notice = load_settings()
    assert (s.judge, s.theme, notice) == ("bob", "textual-light", None)
    assert s.last_setup is not None and s.last_setup.rounds == 5
    save_settings(last_setup={"statements": 30})
    # what the environment said stays out of the file; the other keys are kept
    assert json.loads(cfg.read_text()) == {
        "judge": "ann",
        "theme": "textual-light",
        "last_setup": {"statements": 30},
    }


@pytest.mark.parametrize(
    ("text", "needle"),
    [("{bad", "Expecting property name"), ('{"judge": ""}', "judge"), ("[1]", "not a JSON object")],
)
def test_a_bad_file_is_one_notice_and_the_defaults(cfg: Path, text: str, needle: str) -> None:
    cfg.parent.mkdir(parents=True)
    cfg.write_text(text)
    s, notice = load_settings()
    assert s.judge is None and s.theme == "textual-dark" and s.last_setup is None
    assert notice is not None and needle in notice and "\n" not in notice
    assert str(cfg) in notice
    # a value that would not load again is refused, and the file is left alone
    with pytest.raises(SettingsTrouble, match="judge"):
        save_settings(judge="")
    assert cfg.read_text() == text


async def _until(pilot: Pilot[None], cond, what: str) -> None:  # type: ignore[no-untyped-def]
    for _ in range(400):
        if cond():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_name_theme_and_setup_come_back_next_run(cfg: Path, tmp_path: Path) -> None:
    db = tmp_path / "g.db"

    def saved() -> dict:  # type: ignore[type-arg]
        return json.loads(cfg.read_text()) if cfg.exists() else {}

    async def first() -> None:
        app = PzJudgeApp(db_path=db, seed=3)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            assert app.theme == "textual-dark"
            await pilot.press("ctrl+t")
            await _until(pilot, lambda: saved().get("theme") == "textual-light", "the theme")
            await pilot.press("e")
            await _until(pilot, lambda: type(app.screen).__name__ == "SettingsScreen", "settings")
            await pilot.click("#judge-name")
            await pilot.press("end", *["backspace"] * 40, *[_character_to_key(c) for c in "zoe"])
            await _until(pilot, lambda: saved().get("judge") == "zoe", "the name")
            await pilot.press("escape", "p")
            await _until(pilot, lambda: type(app.screen).__name__ == "SetupScreen", "setup")
            await pilot.click("#f-statements")
            await pilot.press("end", *["backspace"] * 4, "1", "6")
            await pilot.click("#f-rounds")
            await pilot.press("end", *["backspace"] * 3, "2")
            await pilot.press("ctrl+s")
            await _until(pilot, lambda: type(app.screen).__name__ == "RoundScreen", "a round")
            await _until(pilot, lambda: "last_setup" in saved(), "the setup")

    async def second() -> None:
        app = PzJudgeApp(db_path=db)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            assert app.theme == "textual-light" and app.judge == "zoe"
            await pilot.press("p")
            await _until(pilot, lambda: type(app.screen).__name__ == "SetupScreen", "setup")
            await pilot.pause(0.2)
            value = {
                k: app.screen.query_one(f"#f-{k}", Input).value
                for k in ("statements", "rounds", "seed", "judge")
            }
            assert value == {"statements": "16", "rounds": "2", "seed": "", "judge": "zoe"}

    asyncio.run(first())
    last = saved()["last_setup"]
    assert last["statements"] == 16 and last["rounds"] == 2 and last["preset"] == "debate"
    assert "seed" not in last  # a remembered seed would let a judge deal the rounds headless
    asyncio.run(second())
