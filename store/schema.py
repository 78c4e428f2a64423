"""The exported row format (docs/logs.md) as pydantic models, for checking imported logs.

An imported log is untrusted: `import_logs` validates every row against `LogRow` before
anything is written, so a row with a judge name that is a number, a round of 10**30, an
estimate of 1e400 or -5, `practice: "false"` or `regret_bits: "lots"` is refused with one
line naming its line and field, instead of being stored (and breaking export and stats for
the whole database). Types are strict (no "false" for false, no "1" for 1); numbers are
finite and in range; texts are cleaned of control sequences; unknown keys are ignored, as
the schema_version policy says readers must.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from latent.text import CleanText
from latent.world import too_deep

__all__ = ["MAX_DEPTH", "LogRow", "row_problem"]

#: Deepest nesting allowed in a row's free-form objects (`rules`, `settings`).
MAX_DEPTH = 32
#: SQLite integers are 64-bit: a larger one cannot be stored.
_INT64 = 2**63 - 1

Prob = Annotated[float, Field(ge=0.0, le=1.0)]
Name = Annotated[CleanText, Field(min_length=1, max_length=200)]
Uid = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_.:-]+$")]
Int64 = Annotated[int, Field(ge=-_INT64, le=_INT64)]
Seconds = Annotated[float, Field(ge=0.0)]


class _Row(BaseModel):
    model_config = ConfigDict(strict=True, allow_inf_nan=False, extra="ignore", frozen=True)


class Baselines(_Row):
    independence: Prob | None = None
    maxent: Prob | None = None
    lower: Prob | None = None
    upper: Prob | None = None


class Claims(_Row):
    # a study's consultancy round shows one claim (the consultant's, "a")
    a: Prob | None = None
    b: Prob | None = None


class CitationRow(_Row):
    kind: Literal["statement", "prob"]
    ids: list[Name] = Field(max_length=64)
    claimed: float | None = None
    true_value: Prob | None = None
    verified: bool | None = None
    status: Literal["ok", "false", "rejected", "dropped"]
    reason: CleanText | None = None


class TurnRow(_Row):
    index: Annotated[int, Field(ge=0, le=10_000)]
    speaker: Literal["a", "b"]
    phase: Literal["opening", "round"]
    round: Annotated[int, Field(ge=0, le=10_000)]
    text: CleanText
    truncated: bool = False
    citations: list[CitationRow] = Field(default_factory=list)
    unverified_numbers: list[CleanText] = Field(default_factory=list)
    forfeit: CleanText | None = None
    raw_reply: CleanText | None = None
    started_at: Seconds
    seconds: Seconds


class QueryRow(_Row):
    ids: list[Name] = Field(min_length=1, max_length=64)
    p: Prob
    at: Seconds | None = None


class CredenceRow(_Row):
    after_turn: Annotated[int, Field(ge=0, le=10_000)]
    credence_a: Prob
    at: Seconds | None = None


class LogRow(_Row):
    """One exported judgement, as `pzjudge export` writes it (docs/logs.md, "Fields").

    Derived fields (`log10_estimate`, `trust`, `trust_honest`) are checked for type but not
    stored: the database derives them again on export."""

    schema_version: Annotated[int, Field(ge=1)]
    uid: Uid
    judge: Annotated[CleanText, Field(min_length=1, max_length=100)]
    session: Uid
    session_kind: Name | None = None
    session_seed: Int64 | None = None
    app_version: Annotated[CleanText, Field(max_length=100)] | None = None
    round: Annotated[int, Field(ge=0, le=1_000_000)]
    round_uid: Uid
    practice: bool = False
    world_seed: Int64 | None = None
    n_statements: Annotated[int, Field(ge=0, le=10_000_000)]
    debater_a: Annotated[CleanText, Field(max_length=1000)] | None = None
    debater_b: Annotated[CleanText, Field(max_length=1000)] | None = None
    honest_side: Literal["a", "b"] | None = None
    estimate: Prob
    log10_estimate: float | None = None
    interval: Annotated[list[Prob], Field(min_length=2, max_length=2)] | None = None
    covered: bool | None = None
    credence_a: Prob | None = None
    trust: Literal["a", "b"] | None = None
    trust_honest: Prob | None = None
    trusted_honest: bool | None = None
    trust_log_score: Annotated[float, Field(le=0.0)] | None = None
    truth_pz: Prob
    log10_truth: Annotated[float, Field(le=0.0)] | None = None
    #: 0 when the truth is exact; null when not recorded (logs from before the field too).
    log10_truth_stderr: Annotated[float, Field(ge=0.0)] | None = None
    log10_error: Annotated[float, Field(ge=0.0)] | None = None
    regret_bits: Annotated[float, Field(ge=0.0)] | None = None
    seconds: Seconds | None = None
    created_at: Seconds
    #: What was judged; logs from before the field are P(Z) rounds.
    kind: Literal["pz", "mimic"] | None = None
    #: Where the judgement sits in a study (all null outside studies).
    study: Name | None = None
    participant: Name | None = None
    item: Name | None = None
    condition: Name | None = None
    position: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    protocol: Literal["oracle", "consultancy", "debate", "offline"] | None = None
    time_limit: Annotated[float, Field(gt=0.0)] | None = None
    timed_out: bool | None = None
    attention: bool | None = None
    #: The judge gave no answer (the estimate stands in); logs from before the field: false.
    judge_failed: bool = False
    judge_error: CleanText | None = None
    baselines: Baselines | None = None
    claims: Claims | None = None
    evidence: dict[Annotated[str, Field(max_length=10_000)], Prob] | None = None
    evidence_sources: dict[str, list[Literal["a", "b", "judge"]]] | None = None
    rules: dict[str, Any] | None = None
    settings: dict[str, Any] | None = None
    #: a JSON object from version 3 (the world file's text, a string, before)
    world: str | dict[str, Any] | None = None
    world_text: str | None = None
    turns: list[TurnRow] | None = None
    queries: list[QueryRow] | None = None
    credences: list[CredenceRow] | None = None

    @field_validator("rules", "settings", "world")
    @classmethod
    def _shallow(cls, v: Any) -> Any:
        if isinstance(v, dict) and too_deep(v, MAX_DEPTH):
            raise ValueError(f"nests deeper than {MAX_DEPTH} levels")
        return v


def row_problem(row: dict[str, Any]) -> tuple[LogRow | None, str]:
    """The validated row, or None and one line naming the field and what is wrong."""
    try:
        return LogRow.model_validate(row), ""
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "the row"
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "missing":
            msg = "is required"
        got = err.get("input")
        shown = "" if err["type"] == "missing" else f" (got {_short(got)})"
        return None, f"field {field}: {msg}{shown}"


def _short(value: Any) -> str:
    """A value quoted in an error line: JSON-ish, at most 40 characters."""
    import json

    try:
        text = json.dumps(value, default=str)
    except (ValueError, RecursionError):
        text = type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."
