"""What the engine reports while a debate runs, as typed events.

Each event is a pydantic model with a `kind` discriminator (inspect_ai's events are the
model). They fall in two unions, so that what may reach the judge is a type, not a
convention:

- `PublicEvent`: what anyone watching the debate may see as it happens (a speech begins, a
  speech was made, the judge's credence, a judge's failure). A UI or progress line takes
  these (`run_debate(on_event=…)`).
- `Event`: every event, with `DebateStartedEvent` first: the head of the debate, which
  names the honest side and the truth. Only a recorder takes these
  (`run_debate(on_record=…)`): a sink typed for `PublicEvent` cannot be handed it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from debate.models import Side
from debate.protocol import Phase, Turn
from debate.rules import Rules


class _Event(BaseModel):
    """Frozen: every sink reads the same event, none can change what the next one sees."""

    model_config = ConfigDict(frozen=True)


class TurnStartedEvent(_Event):
    """A debater was asked for a speech (a UI shows who is speaking)."""

    kind: Literal["turn_started"] = "turn_started"
    speaker: Side
    phase: Phase
    round: int


class TurnEvent(_Event):
    """A verified speech (or a forfeit) joined the transcript."""

    kind: Literal["turn"] = "turn"
    turn: Turn


class Credence(BaseModel):
    """The judge's credence that A is honest, after a turn."""

    after_turn: int
    credence_a: float
    at: float


class CredenceEvent(Credence):
    """A credence, as the judge gave it."""

    model_config = ConfigDict(frozen=True)
    kind: Literal["credence"] = "credence"


class JudgeErrorEvent(_Event):
    """The judge failed to answer after a turn; the debate goes on."""

    kind: Literal["judge_error"] = "judge_error"
    message: str


class DebateHead(BaseModel):
    """What is settled before the first speech of a debate (the head of its result)."""

    world_seed: int | None
    n_statements: int
    rules: Rules
    debater_a: str
    debater_b: str
    judge: str
    honest_side: Side
    claims: dict[Side, float]
    truth: float
    log10_truth: float | None
    #: The standard error of log10_truth: 0 when exact, None when not known (a truth given
    #: without one). A large Gaussian block's P(Z) is an estimate.
    log10_truth_stderr: float | None = None


class DebateStartedEvent(DebateHead):
    """The head of the debate, before its first speech: a store opens the round with it, so
    that each turn can be committed the moment it is made. It names the honest side and the
    truth: never a `PublicEvent`."""

    model_config = ConfigDict(frozen=True)
    kind: Literal["started"] = "started"


PublicEvent = Annotated[
    TurnStartedEvent | TurnEvent | CredenceEvent | JudgeErrorEvent,
    Field(discriminator="kind"),
]
Event = Annotated[
    DebateStartedEvent | TurnStartedEvent | TurnEvent | CredenceEvent | JudgeErrorEvent,
    Field(discriminator="kind"),
]
