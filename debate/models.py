"""What a debater says: its side, an `Argument` (text plus citations) and the citations it
may make (a statement by id, or a joint probability of some statements).

The engine verifies every citation against the world (`debate.verify.VerifiedCitation`, with
the true value) and records the speech as a `debate.protocol.Turn`, so a debater can mislead
only by inference, never about a cited fact.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from latent.text import CleanText

Side = Literal["a", "b"]


class StatementCitation(BaseModel):
    """Quote a statement by id (its text is shown to the judge)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["statement"] = "statement"
    id: CleanText


class ProbCitation(BaseModel):
    """Quote the joint probability that all `ids` are true, optionally with a claimed value."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["prob"] = "prob"
    ids: list[CleanText] = Field(min_length=1)
    claimed: float | None = None


Citation = Annotated[StatementCitation | ProbCitation, Field(discriminator="kind")]


class Argument(BaseModel):
    """One speech: free text plus the citations it rests on. Text and ids are cleaned of
    terminal control sequences as the speech is parsed (`latent.text.clean_text`)."""

    model_config = ConfigDict(extra="forbid")
    text: CleanText
    citations: list[Citation] = Field(default_factory=list)
