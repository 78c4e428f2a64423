"""Messages: the only way workers (and widgets) report back to the screens.

Workers run the slow calls (world generation, P(Z), debates, oracle queries, store
writes) and post one of these; a screen renders state in its handler. Nothing here
carries the truth before the answer is stored: `Revealed` is posted only after.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message

from debate.protocol import Decision, Turn


class RoundReady(Message):
    """A round is generated, its truth computed and stored; it may be shown now."""

    def __init__(self, rnd: Any) -> None:
        super().__init__()
        self.round = rnd


class RoundFailed(Message):
    """Preparing a round failed; `message` is one line a user can act on."""

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message


class SpeechStarted(Message):
    """A debater began a speech (show that someone is speaking)."""

    def __init__(self, speaker: str, phase: str, round_no: int) -> None:
        super().__init__()
        self.speaker = speaker
        self.phase = phase
        self.round_no = round_no


class SpeechArrived(Message):
    """A verified speech (or a forfeited turn), already stored."""

    def __init__(self, turn: Turn) -> None:
        super().__init__()
        self.turn = turn


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


class CredenceChanged(Message):
    """The judge typed (or stepped) a valid credence that A is the honest side."""

    def __init__(self, credence_a: float) -> None:
        super().__init__()
        self.credence_a = credence_a


class CredenceRecorded(Message):
    """The engine recorded the judge's credence in A after a turn."""

    def __init__(self, after_turn: int, credence_a: float) -> None:
        super().__init__()
        self.after_turn = after_turn
        self.credence_a = credence_a


class DebatePaused(Message):
    """The engine waits for the judge to read the last speech (n, e or m goes on)."""


class DebateOver(Message):
    """The debate's speeches are over; the engine waits for the judge's decision."""


class QueryAnswered(Message):
    """The oracle answered (and the query is stored)."""

    def __init__(self, ids: list[str], p: float, left: int | None) -> None:
        super().__init__()
        self.ids = ids
        self.p = p
        self.left = left


class QueryRefused(Message):
    """The oracle refused a query (order, budget); `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class AnswerSubmitted(Message):
    """The judge submitted a valid answer (posted by the estimate panel)."""

    def __init__(self, decision: Decision) -> None:
        super().__init__()
        self.decision = decision


class Revealed(Message):
    """The answer is stored and scored; the reveal may be shown."""

    def __init__(self, reveal: Any) -> None:
        super().__init__()
        self.reveal = reveal


class StoreTrouble(Message):
    """A write to the store failed; shown as a notification, the game goes on."""

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message


class CitationFocused(Message):
    """A citation chip got focus: show the statements it names."""

    def __init__(self, ids: list[str]) -> None:
        super().__init__()
        self.ids = ids


class StatementsPicked(Message):
    """The set of statements selected for the oracle changed."""

    def __init__(self, ids: list[str]) -> None:
        super().__init__()
        self.ids = ids
