"""A participant taking a study: code, instructions, consent, the rounds, the completion code.

Nothing here lets a participant choose anything about a round: the study database fixes
the items, their order, the condition of each and its time limit (`pzjudge study build`);
these screens only say what comes next. Every read and write of the study database runs
in a worker (`store.study_ops` opens the file per call), and results come back as messages.
Each screen knows its `Seat` (the study file and the participant's code); a dealt round
goes to the app as `ItemReady`, which shows it (tui/study_app.py).
Texts from the study file (title, instructions, consent) are shown as plain text, never as
markup.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, Static

from latent.errors import PzJudgeError
from store.errors import StoreError
from tui.errors import error_line
from tui.estimate import fmt_p
from tui.screens.waiting import WaitScreen
from tui.widgets.keybar import KeyBar

STUDY_CSS = """
.study-page {
    padding: 1 2;
}
.study-title {
    text-style: bold;
    margin-bottom: 1;
}
.study-text {
    height: auto;
    margin-bottom: 1;
}
.study-keys {
    height: auto;
    text-style: bold;
}
#code {
    width: 30;
}
#code-error {
    height: auto;
    margin-top: 1;
}
#completion {
    text-style: bold;
    color: $success;
    margin: 1 0;
}
StudyLeave {
    align: center middle;
}
#study-leave {
    width: 64;
    height: auto;
    border: round $primary;
    background: $surface;
    padding: 0 1;
}
"""


@dataclass(frozen=True)
class Seat:
    """Where a participant sits: the study database, and their code as stored."""

    path: str
    code: str


@dataclass
class InfoLoaded(Message):
    """The participant's study info (`store.study_ops.participant_info`) or a one-line error."""

    info: dict[str, Any] | None
    error: str | None = None


@dataclass
class ItemReady(Message):
    """The next round is dealt and its clock started; the app shows it."""

    seat: Seat
    item: Any


@dataclass
class StudyFailed(Message):
    message: str


@dataclass
class Finished(Message):
    completion_code: str


_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s")


def reflow(text: str) -> str:
    """A study text as written in TOML, for a screen of any width: the lines of each
    paragraph joined (a TOML string keeps the file's line breaks), paragraphs and list
    items kept on lines of their own."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n", text.strip()):
        lines: list[str] = []
        for line in para.splitlines():
            if lines and not _ITEM.match(line):
                lines[-1] += " " + line.strip()
            else:
                lines.append(line.rstrip())
        out.append("\n".join(lines))
    return "\n\n".join(out)


class CodeScreen(Screen[None]):
    """Asks for the participant code; an unknown one is refused in place.

    Codes are the only thing between one participant and another's rounds (a served study
    gives every browser the same address), so wrong codes are slowed: after the n-th the
    input waits `WRONG_CODE_WAIT` × 2^(n-1) seconds, and after `MAX_WRONG_CODES` the session
    ends (`pzjudge serve` also limits how many sessions a client starts a minute)."""

    DEFAULT_CSS = STUDY_CSS
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "app.quit", "quit")]
    WRONG_CODE_WAIT: ClassVar[float] = 1.0
    MAX_WRONG_CODES: ClassVar[int] = 5
    #: Seconds the last refusal stays on screen before the session ends.
    GOODBYE_WAIT: ClassVar[float] = 3.0

    def __init__(self, title: str, path: str) -> None:
        super().__init__()
        self.study_title = title
        self.path = path
        self.checking = False
        self.wrong = 0

    def compose(self) -> ComposeResult:
        with Vertical(classes="study-page"):
            yield Static(Text(self.study_title), classes="study-title")
            yield Static("Type the participant code you were given, then press enter.")
            yield Input(placeholder="participant code", id="code", max_length=64)
            yield Static("", id="code-error", classes="error")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#code", Input).focus()

    @on(Input.Submitted, "#code")
    def _submitted(self, event: Input.Submitted) -> None:
        code = event.value.strip()
        if not code:
            self.query_one("#code-error", Static).update("type your code first")
            return
        if not self.checking:
            self.checking = True
            self.check(code)

    @work(thread=True, exit_on_error=False, group="study")
    def check(self, code: str) -> None:
        from store.study_ops import participant_info

        try:
            self.post_message(InfoLoaded(participant_info(self.path, code)))
        except PzJudgeError as exc:
            self.post_message(InfoLoaded(None, error_line(exc)))

    @on(InfoLoaded)
    def _loaded(self, event: InfoLoaded) -> None:
        self.checking = False
        if event.info is None:
            self._wrong_code(event.error or "unknown code")
            return
        seat = Seat(self.path, event.info["code"])
        self.app.switch_screen(after_code(seat, event.info))

    def _wrong_code(self, error: str) -> None:
        """Say why, then hold the input for a while that doubles; end after too many."""
        self.wrong += 1
        box = self.query_one("#code", Input)
        shown = self.query_one("#code-error", Static)
        if self.wrong >= self.MAX_WRONG_CODES:
            box.disabled = True
            shown.update(Text(f"{error}\nToo many wrong codes: ask the organiser for yours."))
            self.set_timer(self.GOODBYE_WAIT, self.app.exit)
            return
        wait = self.WRONG_CODE_WAIT * 2 ** (self.wrong - 1)
        box.disabled = True
        shown.update(Text(f"{error}\nTry again in {wait:g} s."))

        def reopen() -> None:
            box.disabled = False
            box.focus()

        self.set_timer(wait, reopen)


def after_code(seat: Seat, info: dict[str, Any]) -> Screen[None]:
    """Where a participant starts: the completion code if they finished; else the
    instructions (again, on a return), then consent if not yet given, then the rounds."""
    if info["finished"]:
        return DoneScreen(seat, None)
    if info["instructions"]:
        return InstructionsScreen(seat, info)
    return after_instructions(seat, info)


def after_instructions(seat: Seat, info: dict[str, Any]) -> Screen[None]:
    """Consent if not yet given (and the study asks for it), else the rounds."""
    if not info["consented"] and info["consent"]:
        return ConsentScreen(seat, info)
    return StudyLoadingScreen(seat, consent=not info["consented"])


class InfoPage(Screen[None]):
    """A page of the participant's study info (`store.study_ops.participant_info`)."""

    DEFAULT_CSS = STUDY_CSS

    def __init__(self, seat: Seat, info: dict[str, Any]) -> None:
        super().__init__()
        self.seat = seat
        self.info = info


class InstructionsScreen(InfoPage):
    """The study's instructions; enter goes on."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "next", "continue"),
        Binding("escape", "app.quit", "quit"),
    ]

    def compose(self) -> ComposeResult:
        info = self.info
        with VerticalScroll(classes="study-page"):
            yield Static(Text(info["title"]), classes="study-title")
            if info["done"]:
                yield Static(
                    f"Welcome back: {info['done']} of {info['total']} rounds done; you go on "
                    "with the next one.",
                    classes="study-text",
                )
            yield Static(Text(reflow(info["instructions"])), classes="study-text")
            limit = info["time_limit"]
            rounds = f"You will judge {info['total']} rounds, one after another"
            if limit:
                rounds += (
                    f"; each has a time limit of {_clock(limit)} (shown at the top). When it "
                    "runs out, the estimate you have typed is submitted for you (with none, the "
                    "round is recorded as timed out)"
                )
            yield Static(rounds + ".", classes="study-text")
            yield Static("Press enter to continue.", classes="study-keys")
        yield KeyBar()

    def action_next(self) -> None:
        self.app.switch_screen(after_instructions(self.seat, self.info))


class ConsentScreen(InfoPage):
    """The consent text: `y` agrees (and is stored), `n` declines and stores nothing."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "agree", "I agree"),
        Binding("n", "decline", "I do not agree"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="study-page"):
            yield Static("Consent", classes="study-title")
            yield Static(Text(reflow(self.info["consent"])), classes="study-text")
            yield Static("y: I agree and take part · n: I do not agree", classes="study-keys")
        yield KeyBar()

    def action_agree(self) -> None:
        self.app.switch_screen(StudyLoadingScreen(self.seat, consent=True))

    def action_decline(self) -> None:
        self.app.switch_screen(DeclinedScreen())


class DeclinedScreen(Screen[None]):
    DEFAULT_CSS = STUDY_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q,escape,enter", "app.quit", "quit"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(classes="study-page"):
            yield Static(
                "You did not agree, so you are not taking part and nothing was stored. "
                "Thank you for your time.",
                classes="study-text",
            )
            yield Static("q: quit", classes="study-keys")
        yield KeyBar()


class StudyLoadingScreen(WaitScreen[None]):
    """Stores consent (first time), then deals the next round in a worker; with no round
    left, marks the participant finished and shows the completion code."""

    DEFAULT_CSS = STUDY_CSS
    SHOW_HEADER = False

    def __init__(self, seat: Seat, consent: bool = False) -> None:
        super().__init__()
        self.seat = seat
        self.consent = consent

    def waiting_for(self) -> str:
        return "Preparing the next round…"

    @work(thread=True, exit_on_error=False, group="study")
    def prepare(self) -> None:
        from store.study_ops import finish_participant, give_consent, next_item

        path, code = self.seat.path, self.seat.code
        try:
            if self.consent:
                give_consent(path, code)
            item = next_item(path, code)
            if item is None:
                self.post_message(Finished(finish_participant(path, code)))
                return
        except PzJudgeError as exc:
            self.post_message(StudyFailed(error_line(exc)))
            return
        self.post_message(ItemReady(self.seat, item))  # the app shows it

    @on(Finished)
    def _finished(self, event: Finished) -> None:
        self.app.switch_screen(DoneScreen(self.seat, event.completion_code))

    @on(StudyFailed)
    def _failed(self, event: StudyFailed) -> None:
        self.app.switch_screen(ProblemScreen(event.message))


class ProblemScreen(Screen[None]):
    """Something a participant cannot fix (a broken study file): say so, and whom to ask."""

    DEFAULT_CSS = STUDY_CSS
    BINDINGS: ClassVar[list[BindingType]] = [Binding("q,escape", "app.quit", "quit")]

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def compose(self) -> ComposeResult:
        with Vertical(classes="study-page"):
            yield Static("The study cannot go on", classes="study-title")
            yield Static(Text(self.message), classes="study-text error")
            yield Static(
                "Your answers so far are stored. Please tell the researcher; you can "
                "continue later with the same code. q: quit",
                classes="study-keys",
            )
        yield KeyBar()


class BetweenScreen(Screen[None]):
    """After a round is stored: what was submitted (on a time-out, that it was), and what
    comes next. No truth and no score is shown during a study."""

    DEFAULT_CSS = STUDY_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n,enter", "next", "next round"),
        Binding("q", "app.quit", "quit for now"),
    ]

    def __init__(
        self,
        seat: Seat,
        position: int,
        total: int,
        submitted: str,
        estimate: float,
        failure: str | None = None,
    ) -> None:
        super().__init__()
        self.seat = seat
        self.position = position
        self.total = total
        self.submitted = submitted
        self.estimate = estimate
        self.failure = failure

    def compose(self) -> ComposeResult:
        lines = [f"Round {self.position} of {self.total} is stored."]
        if self.submitted == "expiry":
            lines.append(f"The time ran out: your estimate {fmt_p(self.estimate)} was submitted.")
        elif self.submitted == "expiry-default":
            lines.append(
                "The time ran out before you typed a valid estimate; the round is recorded "
                "as timed out."
            )
        if self.failure:
            lines.append(
                f"Your answer is stored, but {self.failure}; it is recorded for the researcher."
            )
        last = self.position >= self.total
        go = "n: finish" if last else "n: next round"
        with Vertical(classes="study-page"):
            yield Static(Text("\n".join(lines)), classes="study-text")
            yield Static(
                f"{go} · q: quit for now (come back with your code to go on)",
                classes="study-keys",
            )
        yield KeyBar()

    def action_next(self) -> None:
        self.app.switch_screen(StudyLoadingScreen(self.seat))


class DoneScreen(Screen[None]):
    """The end: the completion code (fetched again for a participant who returns)."""

    DEFAULT_CSS = STUDY_CSS
    BINDINGS: ClassVar[list[BindingType]] = [Binding("q,escape", "app.quit", "quit")]

    def __init__(self, seat: Seat, completion_code: str | None) -> None:
        super().__init__()
        self.seat = seat
        self.completion_code = completion_code

    def compose(self) -> ComposeResult:
        with Vertical(classes="study-page"):
            yield Static("Thank you: you have finished this study.", classes="study-title")
            yield Static("Your completion code:", classes="study-text")
            yield Static(self.completion_code or "…", id="completion")
            yield Static("Copy it where the researcher asked. q: quit", classes="study-keys")
        yield KeyBar()

    def on_mount(self) -> None:
        if self.completion_code is None:
            self.fetch()

    @work(thread=True, exit_on_error=False, group="study")
    def fetch(self) -> None:
        from store.study_ops import finish_participant

        try:
            code = finish_participant(self.seat.path, self.seat.code)
        except StoreError as exc:
            self.post_message(StudyFailed(error_line(exc)))
            return
        self.post_message(Finished(code))

    @on(Finished)
    def _code(self, event: Finished) -> None:
        self.completion_code = event.completion_code
        self.query_one("#completion", Static).update(event.completion_code)

    @on(StudyFailed)
    def _failed(self, event: StudyFailed) -> None:
        self.app.switch_screen(ProblemScreen(event.message))


class StudyLeave(ModalScreen[bool]):
    """Quit in the middle of a round: its clock keeps running."""

    DEFAULT_CSS = STUDY_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "choose(True)", "quit"),
        Binding("escape", "choose(False)", "stay"),
    ]

    def __init__(self, timed: bool) -> None:
        super().__init__()
        self.timed = timed

    def compose(self) -> ComposeResult:
        clock = " This round's time keeps running while you are away." if self.timed else ""
        with Vertical(id="study-leave"):
            yield Static(
                "Quit for now? Your answers so far are stored; come back with your code "
                f"to go on from this round.{clock}\n[b]q[/b] quit · [b]esc[/b] stay"
            )

    def action_choose(self, quit_: bool) -> None:
        self.dismiss(quit_)


def _clock(seconds: float) -> str:
    """Seconds as m:ss (rounded up: a limit never shows less time than is left)."""
    s = max(0, int(-(-seconds // 1)))
    return f"{s // 60}:{s % 60:02d}"


#: Seconds left at which a round's clock turns red.
HURRY = 30.0


def time_left(deadline: float | None, limit: float | None) -> str:
    """The status line's " · m:ss left" for a round with a time limit ("" without): red in
    the last `HURRY` seconds, never above the limit (the clock may have stepped back since
    the round started)."""
    if deadline is None:
        return ""
    remaining = min(deadline - time.time(), limit or 0.0)
    colour = "red" if remaining <= HURRY else "green"
    return f" · [b {colour}]{_clock(max(0.0, remaining))} left[/]"
