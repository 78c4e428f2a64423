"""`AppBase`: what every pzjudge app holds (store, judge, settings, themes, notices), and
`app_of`, the one typed way for a screen to reach it.

Screens import this module, never `tui.app` or `tui.study_app`: those import the screens
they show, and a screen importing them back would close a circle. Importing this loads
Textual and the store only, as the app does (the game loads in the background).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, CSSPathType
from textual.binding import Binding, BindingType
from textual.dom import DOMNode
from textual.notifications import SeverityLevel
from textual.worker import Worker, WorkerState

from tui.game_store import GameStore
from tui.user_settings import SettingsTrouble, load_settings, save_settings

CSS_DIR = Path(__file__).parent


class AppBase(App[None]):
    """The state and manners shared by the game and the study: the open store (or why
    there is none), the judge's name, the seed of new sessions, remembered settings,
    plain-text notices, and one line (never a traceback) for a worker that failed."""

    TITLE = "pzjudge"
    CSS_PATH: ClassVar[CSSPathType | None] = [
        CSS_DIR / "global.tcss",
        CSS_DIR / "app.tcss",
    ]
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


def app_of(node: DOMNode) -> AppBase:
    """The app `node` runs in, typed: every screen and widget of pzjudge runs in one."""
    app = node.app
    if not isinstance(app, AppBase):
        raise TypeError(f"{type(node).__name__} runs outside a pzjudge app")
    return app
