"""Unfinished sessions: resume the open round (or the next one), abandon, or end them."""

from __future__ import annotations

import time
from typing import Any, ClassVar

from pydantic import ValidationError
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from store.errors import StoreError
from tui.game import SessionRun, SessionSettings
from tui.messages import StoreTrouble
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
        store = self.app.game_store  # type: ignore[attr-defined]
        if store is None:
            self.post_message(StoreTrouble("no database"))
            return
        try:
            # only this judge's: on a shared database (a lab machine, `serve`) another
            # judge's open session is not theirs to see, resume or abandon
            self.post_message(SessionsLoaded(store.unfinished(self.app.judge)))  # type: ignore[attr-defined]
        except StoreError as exc:
            self.post_message(StoreTrouble(str(exc)))

    @on(StoreTrouble)
    def _trouble(self, event: StoreTrouble) -> None:
        self.notify(event.message, severity="error")

    @on(SessionsLoaded)
    def _loaded(self, event: SessionsLoaded) -> None:
        self.sessions = event.sessions
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
        if s is None:
            return
        try:
            settings = SessionSettings.model_validate(s["settings"] or {})
        except ValidationError:
            self.notify("this session's settings cannot be read; end it (d)", severity="error")
            return
        store = self.app.game_store  # type: ignore[attr-defined]
        try:
            open_rounds = store.open_rounds(s["id"])
        except StoreError as exc:
            self.notify(str(exc), severity="error")
            return
        from tui.screens.loading import LoadingScreen

        if open_rounds:
            pub = open_rounds[-1]
            run = SessionRun(
                settings=settings, session_id=s["id"], number=pub["number"], answered=s["answered"]
            )
            self.app.switch_screen(LoadingScreen(run, resume=pub))
            return
        number = (s["rounds"] or 0) + 1
        if number > settings.rounds:
            store.end_session(s["id"])
            self.notify("that session was complete; it is closed now")
            self.load()
            return
        run = SessionRun(settings=settings, session_id=s["id"], number=number)
        self.app.switch_screen(LoadingScreen(run))

    def action_abandon(self) -> None:
        s = self._current()
        if s is None:
            return
        store = self.app.game_store  # type: ignore[attr-defined]
        try:
            for r in store.open_rounds(s["id"]):
                store.abandon_round(r["id"], "abandoned from the resume screen")
        except StoreError as exc:
            self.notify(str(exc), severity="error")
        self.notify("open round abandoned; enter plays the next one")
        self.load()

    def action_end(self) -> None:
        s = self._current()
        if s is None:
            return
        store = self.app.game_store  # type: ignore[attr-defined]
        try:
            for r in store.open_rounds(s["id"]):
                store.abandon_round(r["id"], "session ended from the resume screen")
            store.end_session(s["id"])
        except StoreError as exc:
            self.notify(str(exc), severity="error")
        self.load()
