"""The pzjudge Textual app: screens, themes, the store, and where worker failures go.

The app holds no game state of its own beyond the open store and the judge's name;
each screen lives in its own module under tui/screens/. Importing this module loads
Textual and the store only: the game (numpy, scipy, the debate engine) is imported in a
thread once the home screen is up, so the menu shows within a second and the first
round does not wait for imports.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.notifications import SeverityLevel
from textual.worker import Worker, WorkerState

from store.errors import StoreError
from tui.game_store import GameStore
from tui.user_settings import SettingsTrouble, load_settings, save_settings

CSS_DIR = Path(__file__).parent
#: What the first round needs, heaviest first; imported in the background at start.
PRELOAD = ("tui.screens.judging", "tui.screens.loading", "tui.screens.setup")


class PzJudgeApp(App[None]):
    """Judge P(Z): read statements, weigh the evidence and the debaters, answer."""

    TITLE = "pzjudge"
    SUB_TITLE = "how likely is it that every statement is true?"
    CSS_PATH: ClassVar[list[str | Path]] = [CSS_DIR / "global.tcss", CSS_DIR / "app.tcss"]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "help", key_display="?"),
        Binding("ctrl+t", "toggle_dark", "theme", show=False),
        Binding("ctrl+q", "quit", "quit", show=False, priority=True),
    ]

    def __init__(
        self,
        db_path: str | Path | None = None,
        judge: str | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.db_path = db_path
        #: Seed of new sessions (None: a fresh random one each time).
        self.seed = seed
        #: Remembered between runs (tui/user_settings.py; PZJUDGE_… variables override).
        self.user_settings, self.settings_notice = load_settings()
        self.judge = judge or self.user_settings.judge or os.environ.get("USER") or "judge"
        self.game_store: GameStore | None = None
        self.store_error: str | None = None

    def on_mount(self) -> None:
        from tui.screens.home import HomeScreen

        if self.user_settings.theme in self.available_themes:
            self.theme = self.user_settings.theme
        if self.settings_notice:
            self.notify(self.settings_notice, severity="warning", timeout=8)
        try:
            self.game_store = GameStore(self.db_path)
        except StoreError as exc:
            self.store_error = str(exc)
            self.notify(f"{exc} — nothing will be saved", severity="error", timeout=10)
        self.push_screen(HomeScreen())
        self.call_after_refresh(self.preload)

    @work(thread=True, exit_on_error=False, group="preload")
    def preload(self) -> None:
        """Import the game and its screens while the judge reads the menu (~0.7 s of
        numpy, scipy, pydantic models); a key pressed sooner waits for the same import."""
        for name in PRELOAD:
            importlib.import_module(name)

    def on_unmount(self) -> None:
        if self.game_store is not None:
            self.game_store.close()

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_toggle_dark(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"
        self.remember(theme=self.theme)

    @work(thread=True, exit_on_error=False, group="settings")
    def remember(self, **changes: Any) -> None:
        """Write changed settings to the settings file (a failure is one notice)."""
        try:
            save_settings(**changes)
        except SettingsTrouble as exc:
            self.call_from_thread(self.notify, str(exc), severity="warning")

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every notification is plain text: they quote errors, paths, ids and names from
        outside pzjudge, which must never be read as markup (`[@click=app.quit]`)."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        """Any worker that failed unexpectedly: one line, never a traceback."""
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            err = event.worker.error
            msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            self.notify(msg, title="something went wrong", severity="error", timeout=8)


def run(db_path: str | None = None, judge: str | None = None, seed: int | None = None) -> None:
    """Start the app (the body of `pzjudge play`)."""
    PzJudgeApp(db_path=db_path, judge=judge, seed=seed).run()
