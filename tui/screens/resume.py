"""Unfinished sessions: resume the open round (or the next one), abandon, or end them.

The list only shows: which round to play is the session flow's to decide (the chosen
session goes to the app as `ResumeSession`), and every store call runs in a worker, so a
database held by another process never freezes the screen."""

from __future__ import annotations

import time
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from store.errors import StoreError
from tui.app_base import app_of
from tui.errors import error_line
from tui.messages import ResumeSession, StoreTrouble
from tui.widgets.keybar import KeyBar


class SessionsLoaded(Message):
    def __init__(self, sessions: list[dict[str, Any]]) -> None:
        super().__init__()
        self.sessions = sessions


class ResumeScreen(Screen[None]):
    """Enter resumes; `b` abandons the open round and goes on; `d` ends the session."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "resume", "resume", priority=True),
        Binding("b", "abandon", "abandon open round"),
        Binding("d", "end", "end session"),
        Binding("escape", "app.pop_screen", "back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.sessions: list[dict[str, Any]] = []
        #: A session was chosen; the next key waits for the list to load again.
        self.chosen = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Loading…", id="resume-note")
        yield DataTable(id="sessions", cursor_type="row", zebra_stripes=True)
        yield KeyBar()

    def on_mount(self) -> None:
        t = self.query_one(DataTable)
        for col in ("session", "kind", "judge", "started", "rounds", "answered", "open round"):
            t.add_column(col)
        self.load()

    def on_screen_resume(self) -> None:
        self.load()

    @work(thread=True, exit_on_error=False, group="resume", exclusive=True)
    def load(self) -> None:
        app = app_of(self)
        if app.game_store is None:
            self.post_message(StoreTrouble("no database"))
            return
        try:
            # only this judge's: on a shared database (a lab machine, `serve`) another
            # judge's open session is not theirs to see, resume or abandon
            self.post_message(SessionsLoaded(app.game_store.unfinished(app.judge)))
        except StoreError as exc:
            self.post_message(StoreTrouble(error_line(exc)))

    @on(StoreTrouble)
    def _trouble(self, event: StoreTrouble) -> None:
        self.notify(event.message, severity="error")

    @on(SessionsLoaded)
    def _loaded(self, event: SessionsLoaded) -> None:
        self.sessions = event.sessions
        self.chosen = False
        t = self.query_one(DataTable)
        t.clear()
        for s in self.sessions:
            last = s.get("last_round") or {}
            open_round = f"#{last['number']}" if last.get("status") == "open" else "-"
            t.add_row(
                str(s["id"]),
                Text(s["kind"]),  # Text: a str cell is read as markup
                Text(s["judge"]),
                time.strftime("%Y-%m-%d %H:%M", time.localtime(s["started_at"])),
                str(s["rounds"]),
                str(s["answered"]),
                open_round,
                key=str(s["id"]),
            )
        note = (
            "enter resume · b abandon the open round · d end the session · esc back"
            if self.sessions
            else "No unfinished sessions. esc back"
        )
        self.query_one("#resume-note", Static).update(note)
        t.focus()

    def _current(self) -> dict[str, Any] | None:
        t = self.query_one(DataTable)
        if not self.sessions or t.row_count == 0:
            return None
        return self.sessions[t.cursor_row]

    def action_resume(self) -> None:
        s = self._current()
        if s is not None and not self.chosen:
            self.chosen = True
            self.post_message(ResumeSession(s, self))

    def action_abandon(self) -> None:
        s = self._current()
        if s is not None:
            self.close_rounds(s["id"], "abandoned from the resume screen", end=False)

    def action_end(self) -> None:
        s = self._current()
        if s is not None:
            self.close_rounds(s["id"], "session ended from the resume screen", end=True)

    @work(thread=True, exit_on_error=False, group="resume-write")
    def close_rounds(self, session_id: int, reason: str, end: bool) -> None:
        """Abandon the session's open round (and `end` the session), then list again."""
        store = app_of(self).game_store
        if store is None:
            return
        try:
            for r in store.open_rounds(session_id):
                store.abandon_round(r["id"], reason)
            if end:
                store.end_session(session_id)
        except StoreError as exc:
            self.post_message(StoreTrouble(error_line(exc)))
        else:
            if not end:
                self.app.call_from_thread(
                    self.notify, "open round abandoned; enter plays the next one"
                )
        self.app.call_from_thread(self.load)
