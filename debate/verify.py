"""The oracle and the verification of arguments.

Every citation is checked against the world: unknown ids and orders above the limit are
rejected with the reason, every probability citation carries the true value, and a claimed
value that is off is marked false. Numbers in the free text that are not backed by a
citation are listed as unverified. Nothing here shows P(Z) to anybody.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from typing import Literal, TypeVar

import numpy as np
from pydantic import BaseModel

from debate.errors import DebateError
from debate.models import Argument, ProbCitation, StatementCitation
from debate.rules import Rules
from latent.errors import LatentError
from latent.nway import nway, pair_blocks, pair_matrix
from latent.world import World

T = TypeVar("T")

Status = Literal["ok", "false", "rejected", "dropped"]


class Oracle:
    """Exact n-way probabilities of one world, within an order limit and a query budget.

    Answers are cached, and a repeated query costs nothing: a judge who asks twice has
    learnt nothing new. P(Z) itself (every statement at once) is refused unless `whole_ok`
    (only the debaters' own oracle may say it: they defend a claim about it anyway).
    """

    def __init__(
        self, world: World, max_order: int, budget: int | None = None, *, whole_ok: bool = False
    ) -> None:
        self.world = world
        self.max_order = max_order
        self.budget = budget
        self.whole_ok = whole_ok
        self.used = 0
        self._cache: dict[frozenset[str], float] = {}
        #: Every fresh query in order: (sorted ids, probability, unix time).
        self.log: list[tuple[list[str], float, float]] = []

    @property
    def left(self) -> int | None:
        return None if self.budget is None else max(0, self.budget - self.used)

    def check(self, ids: list[str]) -> str | None:
        """Why a query may not be asked, or None when it may."""
        if not ids:
            return "no statements named"
        if len(set(ids)) != len(ids):
            return "a statement is named twice"
        unknown = [s for s in ids if s not in self.world.index]
        if unknown:
            return f"unknown statement id {unknown[0]!r}"
        if len(ids) > self.max_order:
            return f"order {len(ids)} is above the limit {self.max_order}"
        if not self.whole_ok and len(ids) == self.world.n_statements > 1:
            return "that is P(Z) itself (every statement), which nobody may cite or query"
        return None

    def prob(self, ids: list[str]) -> float:
        """P(all `ids` true); DebateError when the query is not allowed or over budget."""
        why = self.check(list(ids))
        if why:
            raise DebateError(f"oracle query refused: {why}")
        key = frozenset(ids)
        if key in self._cache:
            return self._cache[key]
        if self.budget is not None and self.used >= self.budget:
            raise DebateError(f"oracle budget of {self.budget} queries is used up")
        self.used += 1
        try:
            p = nway(self.world, sorted(key)).p
        except LatentError as exc:
            raise DebateError(f"oracle query refused: {exc}") from None
        self._cache[key] = p
        self.log.append((sorted(key), p, time.time()))
        return p

    def pairs(self, ids: list[str]) -> np.ndarray:
        """Every pair's joint probability among `ids` at once (diagonal: single ones).

        For debaters (no budget): the same numbers as asking each pair, in one call.
        """
        return self._all_pairs(pair_matrix, ids)

    def pair_blocks(self, ids: list[str]) -> list[tuple[list[int], np.ndarray]]:
        """What `pairs` says, held per block (`latent.nway.pair_blocks`): pairs across
        blocks are independent. Memory linear in the statements, for huge worlds."""
        return self._all_pairs(pair_blocks, ids)

    def _all_pairs(self, table: Callable[[World, list[str]], T], ids: list[str]) -> T:
        """`table` of the world for `ids`, refused (one-line DebateError) past the order limit,
        from a budgeted oracle, or for ids the world does not hold."""
        if self.max_order < 2:
            raise DebateError("oracle query refused: pairs are above the order limit")
        if self.budget is not None:
            raise DebateError("a budgeted oracle answers one query at a time")
        try:
            return table(self.world, list(ids))
        except LatentError as exc:
            raise DebateError(f"oracle query refused: {exc}") from None


class VerifiedCitation(BaseModel):
    """A citation as the judge sees it: what was claimed, and what is true."""

    kind: Literal["statement", "prob"]
    ids: list[str]
    claimed: float | None = None
    true_value: float | None = None
    #: True/False for a probability with a claimed value; None when nothing was claimed.
    verified: bool | None = None
    status: Status
    reason: str | None = None


class VerifiedSpeech(BaseModel):
    """An argument after verification, ready for the transcript."""

    text: str
    truncated: bool
    citations: list[VerifiedCitation]
    unverified_numbers: list[str]


# Probability-looking numbers: decimals, percentages, scientific notation, 10^-k, "1 in N".
_NUMBER = re.compile(
    r"(?<![\w.])(?:"
    r"10\s*\^\s*[-−]?\d+"
    r"|1\s+in\s+\d+(?:,\d{3})*"
    r"|\d*\.\d+(?:[eE][-+−]?\d+)?%?"
    r"|\d+(?:[eE][-+−]?\d+)"
    r"|\d+(?:\.\d+)?\s*%"
    r")"
)


def _number_value(tok: str) -> float | None:
    t = tok.replace("−", "-").replace(",", "").strip()
    try:
        if "^" in t:
            return 10.0 ** float(t.split("^")[1])
        if " in " in t:
            return 1.0 / float(t.split(" in ")[1])
        if t.endswith("%"):
            return float(t[:-1]) / 100
        return float(t)
    except (ValueError, ZeroDivisionError, OverflowError):
        return None


def close_enough(claimed: float, true: float, rules: Rules) -> bool:
    """Whether a quoted probability is the true one, allowing for rounding in text.

    The check is relative (on the log scale that P(Z) lives on): 5e-5 is not 1e-10, however
    small both are. `claim_abs_tol` only lets two values both within it of zero count as
    equal (an underflow, not a claim); by default it is far below any probability shown.
    """
    if abs(claimed - true) <= rules.claim_abs_tol:
        return True
    if claimed <= 0.0 or true <= 0.0:
        return False
    return abs(math.log(claimed / true)) <= math.log1p(rules.claim_rel_tol)


def unverified_numbers(text: str, backed: list[float], rules: Rules) -> list[str]:
    """Probability-like numbers in free text that match no verified cited value."""
    out = []
    # `backed` holds every free single probability (10,000 on a huge world): a vectorised
    # look finds the few values near each number, and `close_enough` alone decides on those
    arr = np.asarray(backed, dtype=float)
    wide = (1.0 + rules.claim_rel_tol) * (1.0 + 1e-9)
    for m in _NUMBER.finditer(text):
        v = _number_value(m.group(0))
        if v is None or not (0.0 <= v <= 1.0):
            continue
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            near = (np.abs(v - arr) <= rules.claim_abs_tol * (1.0 + 1e-9)) | (
                (arr > 0.0) & (arr * wide >= v) & (arr <= v * wide)
            )
        if not any(close_enough(v, float(b), rules) for b in arr[near]):
            out.append(m.group(0).strip())
    return out


def verify_argument(
    arg: Argument,
    world: World,
    rules: Rules,
    budget_left: int,
    context: list[float] | None = None,
) -> tuple[VerifiedSpeech, int]:
    """Check every citation of one speech; return it and how much citation budget it used.

    Over-long text is cut at the limit; citations past the per-turn limit or the debater's
    remaining budget are dropped (and kept in the record, marked). `context` holds numbers
    the judge already has (both claims, free single probabilities): quoting them is fine.
    What independence predicts for a cited set (the product of its members' own
    probabilities) counts as backed too, when those are free.
    """
    text = arg.text
    truncated = len(text) > rules.char_limit
    if truncated:
        text = text[: rules.char_limit]
    oracle = Oracle(world, max_order=rules.max_order)
    cites: list[VerifiedCitation] = []
    used = 0
    backed: list[float] = list(context or [])
    for n, c in enumerate(arg.citations):
        ids = [c.id] if isinstance(c, StatementCitation) else list(c.ids)
        claimed = c.claimed if isinstance(c, ProbCitation) else None
        kind: Literal["statement", "prob"] = (
            "statement" if isinstance(c, StatementCitation) else "prob"
        )
        if n >= rules.citations_per_turn:
            over: str | None = f"over the limit of {rules.citations_per_turn} citations per speech"
        else:
            over = "over the debater's citation budget" if used >= budget_left else None
        if over is not None:
            cites.append(
                VerifiedCitation(kind=kind, ids=ids, claimed=claimed, status="dropped", reason=over)
            )
            continue
        used += 1
        if kind == "statement":
            why = None if ids[0] in world.index else f"unknown statement id {ids[0]!r}"
            cites.append(
                VerifiedCitation(kind=kind, ids=ids, status="rejected" if why else "ok", reason=why)
            )
            continue
        why = oracle.check(ids)
        if claimed is not None and not (math.isfinite(claimed) and 0.0 <= claimed <= 1.0):
            why = why or f"claimed value {claimed} is not a probability"
        if why:
            cites.append(
                VerifiedCitation(kind=kind, ids=ids, claimed=claimed, status="rejected", reason=why)
            )
            continue
        true = oracle.prob(ids)
        backed.append(true)
        if rules.free_singletons and len(ids) > 1:
            backed.append(math.prod(oracle.prob([i]) for i in ids))
        ok = None if claimed is None else close_enough(claimed, true, rules)
        if claimed is not None and ok:
            backed.append(claimed)
        cites.append(
            VerifiedCitation(
                kind=kind,
                ids=ids,
                claimed=claimed,
                true_value=true,
                verified=ok,
                status="false" if ok is False else "ok",
                reason=None if ok is not False else f"the true value is {true:.4g}",
            )
        )
    speech = VerifiedSpeech(
        text=text,
        truncated=truncated,
        citations=cites,
        unverified_numbers=unverified_numbers(text, backed, rules),
    )
    return speech, used
