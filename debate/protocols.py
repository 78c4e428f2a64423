"""Protocols as conditions: the same dealt round, judged four ways.

- `oracle`: no debaters; the judge has the statements, the free singletons and its own
  oracle budget (the "naive judge" of the debate literature).
- `consultancy`: one debater, honest with probability 1/2 (a seeded coin of the round), and
  the judge knows that prior. The consultant always speaks as side "a" and is the only
  claim shown; the judge's credence is that the consultant is honest.
- `debate`: both sides argue (`debate.engine.run_debate`).
- `offline`: a debate recorded once (`record_debate`, with a passive listener) and judged
  later from its stored transcript, as NYU's offline judging: the judge reads every turn,
  spends its own oracle budget, then answers once.

Every protocol is scored the same way (`ProtocolResult`): log10 error and regret of the
estimate, and, when there is a side to trust, whether the judge's final credence favoured
the honest one. The round is dealt once (`debate.rounds.deal_round`, debate on); the
protocol only decides what of it is shown, so condition differences are not world
differences.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from debate.baselines import baselines
from debate.engine import _Run, run_debate
from debate.errors import DebateError, unknown
from debate.events import PublicEvent
from debate.judges import credence_from_estimate
from debate.models import Side
from debate.protocol import Action, Debater, Decision, Judge, JudgeView, Phase, Turn, evidence_key
from debate.rounds import DealtRound, debaters_of
from debate.scoring import log10_error, regret_bits, trust_log_score, trust_verdict
from debate.verify import Oracle

ProtocolName = Literal["oracle", "consultancy", "debate", "offline"]
PROTOCOLS: tuple[ProtocolName, ...] = ("oracle", "consultancy", "debate", "offline")

__all__ = [
    "PROTOCOLS",
    "ProtocolName",
    "ProtocolResult",
    "consultancy_credence",
    "consultant_honest",
    "consultant_side",
    "protocol_name",
    "record_debate",
    "run_protocol",
    "run_protocol_sync",
    "score_decision",
    "shown_claims",
]


def protocol_name(name: str) -> ProtocolName:
    """A protocol by name, or a one-line DebateError listing the choices."""
    if name not in PROTOCOLS:
        raise unknown("protocol", name, PROTOCOLS)
    return name


def consultant_honest(dealt: DealtRound) -> bool:
    """Whether the round's consultant is the honest debater: a coin of its own seed, drawn
    apart from the debate's coins, so the same round always has the same consultant."""
    return bool(np.random.default_rng([dealt.seed, 11]).random() < 0.5)


def consultant_side(dealt: DealtRound) -> Side:
    """The side whose debater consults (the honest one when `consultant_honest`)."""
    if dealt.secret.honest_side is None:
        raise DebateError("consultancy needs a round dealt with debate on")
    hs = dealt.secret.honest_side
    return hs if consultant_honest(dealt) else ("b" if hs == "a" else "a")


def shown_claims(dealt: DealtRound, protocol: str) -> dict[Side, float] | None:
    """The claims a judge sees under `protocol`, by the side label shown: none (oracle),
    the consultant's as "a" (consultancy), both in side order (debate, offline)."""
    name = protocol_name(protocol)
    if name == "oracle" or dealt.claims is None:
        return None
    if name == "consultancy":
        return {"a": float(dealt.claims[consultant_side(dealt)])}
    return {s: float(dealt.claims[s]) for s in ("a", "b")}


def consultancy_credence(estimate: float, claim: float, lie_factor: float) -> float:
    """P(consultant honest | estimate) for a judge with prior 1/2: logistic in how many
    orders the claim is from the estimate, centred half-way (in log10) between an honest
    claim (0 orders away) and the nearest lie (`lie_factor` away), at 10:1 per order."""
    return credence_from_estimate(estimate, {"a": claim}, lie_factor)


class ProtocolResult(BaseModel):
    """One judgement of one round under one protocol, scored against the known truth."""

    protocol: ProtocolName
    seed: int
    judge: str
    estimate: float
    truth: float
    log10_truth: float | None
    log10_error: float
    regret_bits: float
    #: Claims shown to the judge (none for oracle; only "a", the consultant's, for consultancy).
    claims: dict[str, float] = Field(default_factory=dict)
    #: The side the judge should trust: debate/offline the honest side; consultancy "a"
    #: when the consultant is honest, else "b" (meaning: not the consultant); oracle None.
    honest_side: Side | None = None
    credence_a: float | None = None
    #: Credence put on the honest side, and whether it is above 1/2 (None for oracle).
    credence_honest: float | None = None
    trusted_honest: bool | None = None
    trust_log_score: float | None = None
    #: The judge gave no final answer: `estimate` is the evidence's product standing in, and
    #: every credence and trust score is None (a stand-in 0.5 is not the judge's).
    judge_failed: bool = False
    turns: list[Turn] = Field(default_factory=list)
    queries: int = 0
    seconds: float = 0.0
    errors: list[str] = Field(default_factory=list)


def _scored(
    protocol: ProtocolName,
    dealt: DealtRound,
    judge: str,
    decision: Decision,
    *,
    claims: dict[str, float],
    honest_side: Side | None,
    turns: list[Turn],
    queries: int,
    seconds: float,
    errors: list[str] | None = None,
    failed: bool = False,
) -> ProtocolResult:
    truth = dealt.secret.truth
    cred_honest: float | None = None
    if honest_side is not None and not failed:
        cred_honest = decision.credence_a if honest_side == "a" else 1.0 - decision.credence_a
    return ProtocolResult(
        protocol=protocol,
        seed=dealt.seed,
        judge=judge,
        estimate=decision.estimate,
        truth=truth,
        log10_truth=dealt.secret.log10_truth,
        log10_error=log10_error(decision.estimate, truth),
        regret_bits=regret_bits(decision.estimate, truth),
        claims=claims,
        honest_side=honest_side,
        credence_a=decision.credence_a if honest_side is not None and not failed else None,
        credence_honest=cred_honest,
        trusted_honest=None if cred_honest is None else trust_verdict(cred_honest),
        trust_log_score=None if cred_honest is None else trust_log_score(cred_honest),
        judge_failed=failed,
        turns=turns,
        queries=queries,
        seconds=seconds,
        errors=errors or [],
    )


def score_decision(
    dealt: DealtRound,
    protocol: str,
    judge: str,
    decision: Decision,
    errors: list[str],
    turns: list[Turn] | None = None,
) -> ProtocolResult:
    """A decision scored as `protocol` would score it, without running the protocol: for
    an answer that must be kept when its protocol failed after it, or given after a live
    debate stopped (`turns`: what the judge had seen of it; a study stores it)."""
    name = protocol_name(protocol)
    honest: Side | None = None
    if name == "consultancy":
        honest = "a" if consultant_honest(dealt) else "b"
    elif name != "oracle":
        honest = dealt.secret.honest_side
    claims = shown_claims(dealt, name) or {}
    return _scored(
        name,
        dealt,
        judge,
        decision,
        claims={str(k): v for k, v in claims.items()},
        honest_side=honest,
        turns=list(turns or []),
        queries=0,
        seconds=0.0,
        errors=errors,
    )


def _singletons(dealt: DealtRound) -> dict[str, float]:
    return {evidence_key([s.id]): s.p for s in dealt.statements if s.p is not None}


def _with_queries(evidence: dict[str, float], oracle: Oracle) -> dict[str, float]:
    out = dict(evidence)
    for ids, p, _ in oracle.log:
        out[evidence_key(ids)] = p
    return out


async def _judged_alone(
    protocol: ProtocolName,
    dealt: DealtRound,
    judge: Judge,
    view: JudgeView,
    oracle: Oracle,
    *,
    started: float,
    honest_side: Side | None,
    errors: list[str],
) -> ProtocolResult:
    """The final answer of a judge alone with what `view` shows and its oracle (no debate
    running), scored. A judge that gives none is marked failed: the evidence's product
    stands in for the estimate, and the decision is not the judge's."""
    failed = False
    try:
        decision = await judge.decide(view, oracle)
    except DebateError as exc:
        ev = _with_queries(dict(view.evidence), oracle)
        decision = Decision(estimate=baselines([s.id for s in dealt.statements], ev).independence)
        errors = [*errors, str(exc)]
        failed = True
    return _scored(
        protocol,
        dealt,
        judge.name,
        decision,
        claims={str(k): v for k, v in view.claims.items()},
        honest_side=honest_side,
        turns=view.transcript,
        queries=len(oracle.log),
        seconds=time.time() - started,
        errors=errors,
        failed=failed,
    )


async def _oracle(dealt: DealtRound, judge: Judge) -> ProtocolResult:
    rules = dealt.rules
    oracle = Oracle(dealt.world, max_order=rules.judge_order, budget=rules.judge_budget)
    view = JudgeView(
        claims={},
        statements=dealt.statements,
        transcript=[],
        rules=rules,
        evidence=_singletons(dealt),
    )
    return await _judged_alone(
        "oracle", dealt, judge, view, oracle, started=time.time(), honest_side=None, errors=[]
    )


class _Consultancy(_Run):
    """One speaker (the consultant, as side "a"); the judge sees only its claim."""

    def opponent_claim(self, side: Side) -> float:
        # No opponent: the consultant's view names its own claim twice, so no text it
        # writes can quote the other claim (for a lying consultant, that is the truth).
        return self.claims[side]

    async def play(self) -> Decision:
        t0 = time.time()
        ended = False
        rnd = 0
        rounds = self.rules.rounds
        while rnd <= rounds and not ended:
            phase: Phase = "opening" if rnd == 0 else "round"
            action: Action = await self.record(await self.speech("a", phase, rnd, self.turns))
            ended = action == "end"
            if action == "more" and rounds < self.rules.max_rounds:
                rounds += 1
            rnd += 1
        decision = await self.decide()
        self.seconds = time.time() - t0
        return decision


async def _consultancy(
    dealt: DealtRound,
    judge: Judge,
    consultant: Debater | None,
    on_event: Callable[[PublicEvent], None] | None = None,
) -> ProtocolResult:
    if dealt.claims is None or dealt.secret.honest_side is None:
        raise DebateError("consultancy needs a round dealt with debate on")
    honest = consultant_honest(dealt)
    speaks = consultant_side(dealt)
    if consultant is None:
        consultant = debaters_of(dealt)[speaks]
    claim = float(dealt.claims[speaks])
    run = _Consultancy(
        dealt.world, {"a": consultant, "b": consultant}, judge, dealt.rules, {"a": claim}, on_event
    )
    try:
        decision = await run.play()
    finally:
        await consultant.aclose()
    run.absorb_queries()
    return _scored(
        "consultancy",
        dealt,
        judge.name,
        decision,
        claims={"a": claim},
        honest_side="a" if honest else "b",
        turns=run.turns,
        queries=len(run.judge_oracle.log),
        seconds=run.seconds,
        errors=run.judge_errors,
        failed=run.judge_failed,
    )


class _Listener:
    """A judge that only listens (credence 1/2, never ends early): it records a debate for
    offline judging without steering its length."""

    name = "listener"
    honest = None

    async def observe(self, view: JudgeView, oracle: Oracle) -> tuple[float, Action]:
        return 0.5, "continue"

    async def decide(self, view: JudgeView, oracle: Oracle) -> Decision:
        return Decision(estimate=0.5)


async def record_debate(dealt: DealtRound) -> list[Turn]:
    """The transcript of the round's debate, recorded once with a passive listener: what an
    offline judge later reads (the same for every judge of the round)."""
    res = await run_debate(dealt, judge=_Listener())
    return res.turns


def _offline_evidence(dealt: DealtRound, turns: list[Turn]) -> dict[str, float]:
    ev = _singletons(dealt)
    for t in turns:
        for c in t.citations:
            if c.kind == "prob" and c.true_value is not None:
                ev[evidence_key(c.ids)] = c.true_value
    return ev


async def _offline(dealt: DealtRound, judge: Judge, turns: list[Turn]) -> ProtocolResult:
    if dealt.claims is None or dealt.secret.honest_side is None:
        raise DebateError("offline judging needs a round dealt with debate on")
    rules = dealt.rules
    oracle = Oracle(dealt.world, max_order=rules.judge_order, budget=rules.judge_budget)
    claims: dict[Side, float] = {s: float(dealt.claims[s]) for s in ("a", "b")}
    evidence = _offline_evidence(dealt, turns)
    t0 = time.time()
    # The judge reads the whole transcript at once; its observe() lets it spend oracle
    # queries on what it read (its credence and action are not used: the debate is over).
    view = JudgeView(
        claims=claims, statements=dealt.statements, transcript=turns, rules=rules, evidence=evidence
    )
    errors: list[str] = []
    try:
        await judge.observe(view, oracle)
    except DebateError as exc:
        errors.append(str(exc))
    view = view.model_copy(update={"evidence": _with_queries(evidence, oracle)})
    return await _judged_alone(
        "offline",
        dealt,
        judge,
        view,
        oracle,
        started=t0,
        honest_side=dealt.secret.honest_side,
        errors=errors,
    )


async def run_protocol(
    dealt: DealtRound,
    protocol: str,
    judge: Judge,
    *,
    transcript: list[Turn] | None = None,
    debaters: dict[Side, Debater] | None = None,
    on_event: Callable[[PublicEvent], None] | None = None,
) -> ProtocolResult:
    """Judge one dealt round (dealt with debate on) under `protocol`.

    `transcript` is the recorded debate an offline judge reads (recorded here when not
    given); `debaters` replaces the round's debater specs (for debate, both sides; for
    consultancy, the consultant is the one of the side it speaks for); `on_event` gets
    the engine's events of a live debate or consultancy (speeches as they are made, for a
    UI), as `run_debate` gives them."""
    name = protocol_name(protocol)
    if name == "oracle":
        return await _oracle(dealt, judge)
    if name == "consultancy":
        consultant = None
        if debaters is not None and dealt.secret.honest_side is not None:
            consultant = debaters[consultant_side(dealt)]
        return await _consultancy(dealt, judge, consultant, on_event)
    if name == "offline":
        turns = transcript if transcript is not None else await record_debate(dealt)
        return await _offline(dealt, judge, turns)
    a = debaters["a"] if debaters else None
    b = debaters["b"] if debaters else None
    res = await run_debate(dealt, a, b, judge, on_event=on_event)
    j = res.judgement
    return _scored(
        "debate",
        dealt,
        res.judge,
        Decision(estimate=j.estimate, interval=j.interval, credence_a=j.credence_a),
        claims={s: float(v) for s, v in res.claims.items()},
        honest_side=res.honest_side,
        turns=res.turns,
        queries=len(j.queries),
        seconds=j.seconds,
        errors=j.errors,
        failed=j.failed,
    )


def run_protocol_sync(
    dealt: DealtRound, protocol: str, judge: Judge, **kw: object
) -> ProtocolResult:
    """`run_protocol` from synchronous code (the CLI, studies)."""
    return asyncio.run(run_protocol(dealt, protocol, judge, **kw))  # type: ignore[arg-type]
