"""A mimic item of a study: forecast the fine-tuned mimic's next book, locked as a study round.

The round is the study's own (dealt at `study build`, checked when shown: `store.study_ops.
study_mimic`); the screen shows its public part only (`tui.screens.mimic.render_public`),
takes a probability, and stores it (the answer first, then the scored judgement) in a
worker. No truth, score or reveal is shown during a study. The time limit runs from when the
round was first shown; when it runs out, a valid forecast typed so far is submitted
("expiry"), else the stand-in `MIMIC_EXPIRY_DEFAULT` ("expiry-default", left out of the
report). A store that fails in any way ends on the study's problem screen with one line;
the answers stored before stay.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, Static
from textual.worker import Worker, WorkerState

from latent.errors import PzJudgeError
from store.study_ops import MIMIC_EXPIRY_DEFAULT, StudyMimicItem, record_mimic_answer
from tui.errors import error_line
from tui.screens.mimic import parse_probability, render_public
from tui.screens.study import (
    STUDY_CSS,
    BetweenScreen,
    ProblemScreen,
    Seat,
    StudyLeave,
    time_left,
)
from tui.widgets.keybar import KeyBar


@dataclass
class MimicStored(Message):
    """The forecast is stored (`error`: it could not be, in one line)."""

    submitted: str
    estimate: float
    error: str | None = None


class StudyMimicScreen(Screen[None]):
    """One mimic item of a study: the training tables, the question, the forecast."""

    DEFAULT_CSS = STUDY_CSS
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "leave", "quit for now")]

    def __init__(self, seat: Seat, item: StudyMimicItem) -> None:
        super().__init__()
        self.seat = seat
        self.item = item
        self.answered = False
        self.store_worker: Worker[None] | None = None

    def compose(self) -> ComposeResult:
        pub = self.item.mimic.public
        yield Static(self.status_line(), id="status")
        with VerticalScroll(id="mimic", classes="study-page"):
            yield Static(render_public(pub), id="mimic-public")
            yield Static(f"[b]{escape(pub.question)}?[/b]", id="mimic-question")
            yield Input(placeholder="your probability, 0..1 (or 30%)", id="mimic-estimate")
            yield Static("", id="mimic-hint")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#mimic-estimate", Input).focus()
        if self.item.deadline is not None:
            self.set_interval(0.5, self._tick)

    def status_line(self) -> str:
        item = self.item
        clock = time_left(item.deadline, item.time_limit)
        return (
            f"[b]Round {item.position} of {item.total}[/b]{clock} · a mimic's next book: "
            "forecast from the training data"
        )

    def _tick(self) -> None:
        if self.answered or self.item.deadline is None:
            return
        self.query_one("#status", Static).update(self.status_line())
        if time.time() >= self.item.deadline:
            try:
                value = parse_probability(self.query_one("#mimic-estimate", Input).value)
            except ValueError:
                self._submit(MIMIC_EXPIRY_DEFAULT, "expiry-default")
                return
            self._submit(value, "expiry")

    @on(Input.Submitted, "#mimic-estimate")
    def _typed(self, event: Input.Submitted) -> None:
        try:
            value = parse_probability(event.value)
        except ValueError as exc:
            self.query_one("#mimic-hint", Static).update(f"[red]{escape(str(exc))}[/]")
            return
        self._submit(value, "answer")

    def _submit(self, value: float, submitted: str) -> None:
        if self.answered:
            return
        self.answered = True
        self.query_one("#mimic-estimate", Input).disabled = True
        if submitted != "answer":
            self.notify("time is up: your answer was submitted", severity="warning", timeout=4)
        self.store_worker = self.store(value, submitted)

    @work(thread=True, exit_on_error=False, group="study")
    def store(self, value: float, submitted: str) -> None:
        try:
            record_mimic_answer(self.seat.path, self.item, value, submitted)
        except PzJudgeError as exc:
            self.post_message(MimicStored(submitted, value, error_line(exc)))
            return
        self.post_message(MimicStored(submitted, value))

    @on(Worker.StateChanged)
    def _store_failed(self, event: Worker.StateChanged) -> None:
        """A failure `store` did not expect (not the project's own error): the same one line
        as any other, on the problem screen, instead of a disabled box and a passing notice."""
        worker = event.worker
        if (
            worker is self.store_worker
            and event.state == WorkerState.ERROR
            and worker.error is not None
        ):
            event.stop()
            self.post_message(MimicStored("answer", 0.0, error_line(worker.error)))

    @on(MimicStored)
    def _stored(self, event: MimicStored) -> None:
        if event.error is not None:
            self.app.switch_screen(ProblemScreen(f"the answer could not be stored: {event.error}"))
            return
        self.app.switch_screen(
            BetweenScreen(
                self.seat, self.item.position, self.item.total, event.submitted, event.estimate
            )
        )

    def action_leave(self) -> None:
        def chosen(quit_: bool | None) -> None:
            if quit_:
                self.app.exit()

        self.app.push_screen(StudyLeave(self.item.deadline is not None), chosen)
