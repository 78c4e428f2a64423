"""Messages: the only way workers (and widgets, and screens) report back.

Workers run the slow calls (world generation, P(Z), debates, oracle queries, store
writes) and post one of these; a screen renders state in its handler. Nothing here
carries the truth before the answer is stored: `Revealed` is posted only after. A screen
asks the app for a session with `StartSession` or `ResumeSession` (they bubble up to it):
what comes next is the session flow's to decide, not the screen's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message
from textual.screen import Screen

from debate.protocol import Decision, Turn


@dataclass
class RoundReady(Message):
    """A round is generated, its truth computed and stored; it may be shown now."""

    round: Any


@dataclass
class RoundFailed(Message):
    """Preparing a round failed; `message` is one line a user can act on."""

    message: str


@dataclass
class SpeechStarted(Message):
    """A debater began a speech (show that someone is speaking)."""

    speaker: str
    phase: str
    round_no: int


@dataclass
class SpeechArrived(Message):
    """A verified speech (or a forfeited turn), already stored."""

    turn: Turn


@dataclass
class SpeechDraft(Message):
    """The speech being written so far (the model's raw output, whole, not a delta).

    Posted per token from the debate worker; a newer draft of the same speaker waiting in
    the queue replaces this one, so a flood of tokens costs one repaint per frame.
    """

    speaker: str
    raw: str

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SpeechDraft) and message.speaker == self.speaker


@dataclass
class CredenceChanged(Message):
    """The judge typed (or stepped) a valid credence that A is the honest side."""

    credence_a: float


@dataclass
class CredenceRecorded(Message):
    """The engine recorded the judge's credence in A after a turn."""

    after_turn: int
    credence_a: float


class DebatePaused(Message):
    """The engine waits for the judge to read the last speech (n, e or m goes on)."""


class DebateOver(Message):
    """The debate's speeches are over; the engine waits for the judge's decision."""


@dataclass
class QueryAnswered(Message):
    """The oracle answered (and the query is stored)."""

    ids: list[str]
    p: float
    left: int | None


@dataclass
class QueryRefused(Message):
    """The oracle refused a query (order, budget); `reason` says why."""

    reason: str


@dataclass
class AnswerSubmitted(Message):
    """The judge submitted a valid answer (posted by the estimate panel)."""

    decision: Decision


@dataclass
class Revealed(Message):
    """The answer is stored and scored; the reveal may be shown."""

    reveal: Any


@dataclass
class StoreTrouble(Message):
    """A write to the store failed; shown as a notification, the game goes on."""

    message: str


@dataclass
class CitationFocused(Message):
    """A citation chip got focus: show the statements it names."""

    ids: list[str]


@dataclass
class StatementsPicked(Message):
    """The set of statements selected for the oracle changed."""

    ids: list[str]


@dataclass
class StartSession(Message):
    """Start a new session of preset `preset` with the settings in `over` changed (from
    the setup, or a practice round from the menu); `setup`, if still on top once the
    session is stored, makes way for its first round."""

    preset: str
    over: dict[str, Any] = field(default_factory=dict)
    setup: Screen[Any] | None = None


@dataclass
class ResumeSession(Message):
    """Go on with an unfinished session (a row of `GameStore.unfinished`), chosen from the
    list `chooser` (which makes way for the round, or lists again if none is left)."""

    session: dict[str, Any]
    chooser: Screen[Any]
