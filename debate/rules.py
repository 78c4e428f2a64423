"""The rules of a debate, as data (TOML), with a one-line summary shown before play."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from debate.errors import DebateError

#: The order of an n-way probability (how many statements it joins) that a rule may allow.
Order = Annotated[int, Field(ge=1, le=12)]


class Rules(BaseModel):
    """Limits that keep the judge bounded and the debaters honest about facts."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    #: Sequential rounds after the simultaneous openings.
    rounds: int = Field(default=2, ge=0, le=20)
    #: The judge may ask for extra rounds up to this many in total.
    max_rounds: int = Field(default=4, ge=0, le=50)
    #: Characters per speech; longer text is cut and marked.
    char_limit: int = Field(default=1200, ge=50, le=20000)
    #: Citations per speech; extra ones are dropped and marked.
    citations_per_turn: int = Field(default=6, ge=0, le=100)
    #: Citations per debater over the whole debate.
    citation_budget: int = Field(default=20, ge=0, le=1000)
    #: Highest order a cited probability may have (P(Z) itself is never citable).
    max_order: Order = 3
    #: Highest order the debaters' own oracle answers.
    debater_order: Order = 3
    #: Every statement's own probability is shown to the judge: the bound is on order,
    #: not on reading the statements. Set false for the harder game.
    free_singletons: bool = True
    #: The judge's own oracle: number of queries and their highest order.
    judge_budget: int = Field(default=10, ge=0, le=10000)
    judge_order: Order = 3
    #: Seconds a scripted or LLM debater may take for one speech, and an LLM judge for
    #: one answer (retries and the repair request included).
    turn_timeout: float = Field(default=30.0, gt=0, le=3600)
    #: Bytes of reply text read from an LLM for one speech or answer; a longer reply is
    #: cut off there and the turn forfeited (a runaway model cannot fill memory).
    reply_bytes: int = Field(default=65_536, ge=4096, le=16_000_000)
    #: The dishonest side's claim is this factor to its square away from the truth (at most
    #: a million: a lie 10^12 away is already far past anything a judge would weigh).
    lie_factor: float = Field(default=10.0, ge=2.0, le=1e6)
    #: A claimed probability is verified if within this factor (1 + tol) of the truth, or
    #: (for underflow only) this absolute distance: 1e-4 had made 5e-5 "true" for 1e-10.
    #: Bounded: a tolerance of 50% or 0.05 would let any claim pass as verified.
    claim_rel_tol: float = Field(default=0.02, ge=0, le=0.5)
    claim_abs_tol: float = Field(default=1e-300, ge=0, le=0.05)

    @model_validator(mode="after")
    def _rounds_fit(self) -> Rules:
        if self.max_rounds < self.rounds:
            raise ValueError(
                f"max_rounds ({self.max_rounds}) must be at least rounds ({self.rounds}); "
                "raise max_rounds or lower rounds"
            )
        return self

    def summary(self) -> str:
        """One line a judge reads before play."""
        return (
            f"openings + {self.rounds} round{'' if self.rounds == 1 else 's'} "
            f"(up to {self.max_rounds}); "
            f"{self.char_limit} chars and {self.citations_per_turn} citations per speech, "
            f"{self.citation_budget} per debater; citations of order ≤ {self.max_order}; "
            f"your oracle: {self.judge_budget} queries of order ≤ {self.judge_order}"
        )


def read_text(p: Path, what: str, written_in: str = "TOML") -> str:
    """The text of a `what` file ("rules", "study", "debate"); any failure to read it is a
    one-line DebateError that says what to fix."""
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DebateError(f"{p}: no such {what} file; check the path") from None
    except OSError as exc:
        raise DebateError(f"{p}: cannot read the {what} file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise DebateError(f"{p}: not a text file; a {what} file is {written_in} in UTF-8") from None


def invalid(p: Path, exc: ValidationError, **instead: str) -> DebateError:
    """The first problem pydantic found in file `p` as one line (where, then what);
    `instead` gives the message to show for an error type (say, extra_forbidden)."""
    err = exc.errors()[0]
    field = ".".join(str(x) for x in err["loc"])
    msg = instead.get(err["type"], str(err["msg"]).removeprefix("Value error, "))
    return DebateError(f"{p}: {field + ': ' if field else ''}{msg}")


def read_toml(p: Path, what: str) -> dict[str, Any]:
    """A TOML file (`what`: "rules", "study") as a dict; any failure to read or parse it is a
    one-line DebateError that says what to fix."""
    text = read_text(p, what)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DebateError(f"{p}: not valid TOML ({exc}); fix the syntax") from None
    except RecursionError:
        raise DebateError(f"{p}: tables and arrays nest too deeply; fix the file") from None


def load_rules(path: str | Path | None) -> Rules:
    """Rules from a TOML file (keys as in `Rules`), or the defaults when path is None."""
    if path is None:
        return Rules()
    p = Path(path)
    data = read_toml(p, "rules")
    data = data.get("rules", data)
    try:
        return Rules.model_validate(data)
    except ValidationError as exc:
        raise invalid(
            p,
            exc,
            extra_forbidden="unknown rule; see `Rules` in the docs for the names",
            model_type="[rules] must be a table of `name = value` lines",
        ) from None
