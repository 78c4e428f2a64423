"""The pzjudge game: the home screen, and the sessions it starts.

`PzJudgeApp` is `AppBase` (store, judge, settings, themes, notices; tui/app_base.py) with
the game's menu on top. It drives the session flow (tui/session_flow.py): the screens ask
for a session with a message and the flow shows its rounds; no screen imports this module.
Importing it loads Textual and the store only: the game (numpy, scipy, the debate engine)
is imported in a thread once the home screen is up, so the menu shows within a second and
the first round does not wait for imports.
"""

from __future__ import annotations

import importlib

from textual import on, work

from store.errors import StoreError
from tui.app_base import AppBase
from tui.errors import error_line
from tui.game_store import GameStore
from tui.messages import ResumeSession, StartSession

#: What the first round needs, heaviest first; imported in the background at start.
PRELOAD = ("tui.session_flow", "tui.screens.setup")


class PzJudgeApp(AppBase):
    """Judge P(Z): read statements, weigh the evidence and the debaters, answer."""

    SUB_TITLE = "how likely is it that every statement is true?"

    def on_mount(self) -> None:
        from tui.screens.home import HomeScreen

        if self.user_settings.theme in self.available_themes:
            self.theme = self.user_settings.theme
        if self.settings_notice:
            self.notify(self.settings_notice, severity="warning", timeout=8)
        try:
            self.game_store = GameStore(self.db_path)
        except StoreError as exc:
            self.store_error = error_line(exc)
            self.notify(f"{error_line(exc)} — nothing will be saved", severity="error", timeout=10)
        self.push_screen(HomeScreen())
        self.call_after_refresh(self.preload)

    @work(thread=True, exit_on_error=False, group="preload")
    def preload(self) -> None:
        """Import the game and its screens while the judge reads the menu (~0.7 s of
        numpy, scipy, pydantic models); a key pressed sooner waits for the same import."""
        for name in PRELOAD:
            importlib.import_module(name)

    @on(StartSession)
    def _start(self, event: StartSession) -> None:
        from tui.session_flow import SessionFlow

        SessionFlow.start(self, event.preset, event.setup, **event.over)

    @on(ResumeSession)
    def _resume(self, event: ResumeSession) -> None:
        from tui.session_flow import SessionFlow

        SessionFlow.resume(self, event.session, event.chooser)


def run(db_path: str | None = None, judge: str | None = None, seed: int | None = None) -> None:
    """Start the app (the body of `pzjudge play`)."""
    PzJudgeApp(db_path=db_path, judge=judge, seed=seed).run()
