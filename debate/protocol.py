"""The interfaces of a debate: what a debater and a judge see, and what they return.

A debater sees only its `DebaterView` (statements, the public transcript, its side and
claim) and an `Oracle` limited to its order. It never sees the world model, the truth or
the other debater's state. A judge sees the `JudgeView`: the same statements and
transcript, both claims (not who is honest), and its own budgeted oracle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from debate.models import Argument, Side
from debate.rules import Rules
from debate.verify import Oracle, VerifiedCitation
from latent.text import CleanText

Phase = Literal["opening", "round"]


class StatementView(BaseModel):
    """A statement as shown: id, text and (when the rules make it free) its own probability."""

    id: str
    text: str
    p: float | None = None


class Turn(BaseModel):
    """One verified speech in the transcript."""

    index: int
    speaker: Side
    phase: Phase
    round: int
    text: CleanText
    truncated: bool = False
    citations: list[VerifiedCitation] = Field(default_factory=list)
    unverified_numbers: list[str] = Field(default_factory=list)
    #: Why the turn was forfeited (script raised, timed out, LLM garbage…), else None.
    forfeit: CleanText | None = None
    #: What an LLM sent last for a forfeited turn (invalid, parroted, cut), kept for the
    #: record; never shown to the judge.
    raw_reply: CleanText | None = None
    started_at: float
    seconds: float


class DebaterView(BaseModel):
    """Everything a debater may know when it speaks."""

    side: Side
    claim: float
    opponent_claim: float
    phase: Phase
    round: int
    statements: list[StatementView]
    transcript: list[Turn]
    rules: Rules


class JudgeView(BaseModel):
    """Everything a judge may know: both claims, not which one is honest."""

    claims: dict[Side, float]
    statements: list[StatementView]
    transcript: list[Turn]
    rules: Rules
    #: Probabilities the judge has seen so far: cited (true values) and queried.
    evidence: dict[str, float] = Field(default_factory=dict)


class Decision(BaseModel):
    """A judge's final answer."""

    estimate: float = Field(ge=0.0, le=1.0)
    interval: tuple[float, float] | None = None
    credence_a: float = Field(default=0.5, ge=0.0, le=1.0)


Action = Literal["continue", "end", "more"]


@runtime_checkable
class Debater(Protocol):
    """Anything that can make a speech: what the engine and the UI use of a debater.
    `BaseDebater` gives every member but `argue` a default."""

    #: Shown in results, the store and ratings.
    name: str
    #: Declared honest (True), a liar (False), or neither (None): `run_debate` gives a
    #: declared side when the caller does not choose one.
    honest: bool | None
    #: Runs no untrusted code outside a sandbox (False: a script trusted to run without one).
    sandboxed: bool
    #: Set by a UI to receive a speech's text as it streams in; a debater that does not
    #: stream never calls it.
    on_token: Callable[[str], None] | None

    async def argue(self, view: DebaterView, oracle: Oracle) -> Argument:
        """The next speech, made from the view and the order-limited oracle alone."""
        ...

    async def aclose(self) -> None:
        """Release what the debater holds (a script's child process); called once when the
        debate ends, however it ends."""
        ...


class BaseDebater:
    """The defaults of the `Debater` protocol: declares no side, runs no untrusted code,
    does not stream, holds nothing to release."""

    name: str
    honest: bool | None = None
    sandboxed: bool = True
    on_token: Callable[[str], None] | None = None

    async def aclose(self) -> None:
        return None


@runtime_checkable
class Judge(Protocol):
    """Anything that can follow a debate and answer P(Z)."""

    name: str

    async def observe(self, view: JudgeView, oracle: Oracle) -> tuple[float, Action]:
        """Credence that A is honest after the latest turn, and whether to go on."""
        ...

    async def decide(self, view: JudgeView, oracle: Oracle) -> Decision: ...


def evidence_key(ids: list[str]) -> str:
    """Canonical key of a set of statements in an evidence dict: sorted ids joined by '&'."""
    return "&".join(sorted(ids))
