"""Running one debate, headless: openings, rounds, credences, judgement, scores.

The engine alone holds the world and the truth. Debaters and judges get views; every
speech is verified before anyone else sees it; every failure of a debater (raises, hangs,
returns garbage) forfeits that turn with the reason and the debate goes on.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping

import numpy as np
from pydantic import BaseModel, Field, ValidationError

from debate.baselines import Baselines, baselines
from debate.errors import DebateError
from debate.events import (
    Credence,
    CredenceEvent,
    DebateHead,
    DebateStartedEvent,
    Event,
    JudgeErrorEvent,
    PublicEvent,
    TurnEvent,
    TurnStartedEvent,
)
from debate.lies import liar_claim as liar_claim  # re-exported: it lived here before
from debate.models import Argument, Side
from debate.protocol import (
    Action,
    Debater,
    DebaterView,
    Decision,
    Judge,
    JudgeView,
    Phase,
    Turn,
    evidence_key,
)
from debate.rounds import DealtRound, deal_sides, debaters_of
from debate.rules import Rules
from debate.scoring import Scores, score
from debate.verify import Oracle, verify_argument
from debate.views import independence_value as independence_value  # re-exported too
from debate.views import statement_views
from latent.pz import world_pz
from latent.world import World


class Query(BaseModel):
    """One oracle query by the judge."""

    ids: list[str]
    p: float
    at: float


class Judgement(BaseModel):
    """The judge's final answer with its history."""

    estimate: float
    interval: tuple[float, float] | None = None
    credence_a: float
    credences: list[Credence] = Field(default_factory=list)
    queries: list[Query] = Field(default_factory=list)
    seconds: float = 0.0
    #: Failures of the judge (an LLM that did not answer), after a turn or at the end.
    errors: list[str] = Field(default_factory=list)
    #: The judge gave no final answer: `estimate` is the independence product standing in,
    #: `credence_a` a neutral 0.5 that is not the judge's, and the scores of trust are None.
    failed: bool = False


class DebateResult(DebateHead):
    """A whole debate: transcript, outcome and exact scores."""

    turns: list[Turn]
    judgement: Judgement
    scores: Scores
    baselines: Baselines
    evidence: dict[str, float]


def _one_line(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{exc.__class__.__name__}: {msg}" if msg else exc.__class__.__name__


async def _speak(
    debater: Debater, view: DebaterView, world: World, rules: Rules
) -> tuple[Argument | None, str | None, str | None]:
    """Ask a debater for a speech; a forfeit reason instead of any failure, with the raw
    reply when the failure carries one (an LLM's invalid answer)."""
    oracle = Oracle(world, max_order=rules.debater_order, whole_ok=True)
    try:
        arg = await asyncio.wait_for(debater.argue(view, oracle), timeout=rules.turn_timeout)
    except TimeoutError:
        return None, f"no speech within the turn timeout of {rules.turn_timeout:g} s", None
    except DebateError as exc:
        raw = getattr(exc, "raw", None)
        return None, str(exc), raw if isinstance(raw, str) else None
    except Exception as exc:
        return None, f"the debater raised {_one_line(exc)}", None
    if isinstance(arg, dict):
        try:
            arg = Argument.model_validate(arg)
        except ValidationError as exc:
            return None, f"returned an invalid argument ({exc.error_count()} problems)", None
    if not isinstance(arg, Argument):
        return None, f"returned {type(arg).__name__}, not an Argument", None
    return arg, None, None


class _Run:
    """The state of one debate in progress (kept out of the public API)."""

    def __init__(
        self,
        world: World,
        debaters: dict[Side, Debater],
        judge: Judge,
        rules: Rules,
        claims: dict[Side, float],
        on_event: Callable[[PublicEvent], None] | None,
        on_record: Callable[[Event], None] | None = None,
    ) -> None:
        self.world = world
        self.debaters = debaters
        self.judge = judge
        self.rules = rules
        self.claims = claims
        #: Where public events go: the recorder first (stored before shown), then the watcher.
        self.sinks: list[Callable[[PublicEvent], None]] = [
            sink for sink in (on_record, on_event) if sink is not None
        ]
        self.turns: list[Turn] = []
        self.budget = {"a": rules.citation_budget, "b": rules.citation_budget}
        self.statements = statement_views(world, rules)
        self.judge_oracle = Oracle(world, max_order=rules.judge_order, budget=rules.judge_budget)
        self.credences: list[Credence] = []
        self.judge_errors: list[str] = []
        self.judge_failed = False
        #: Numbers the judge already has; quoting them in free text is not "unverified".
        self.context = [*claims.values()]
        if rules.free_singletons:
            ps = [sv.p for sv in self.statements if sv.p is not None]
            self.context += [*ps, math.prod(ps)]
        self.evidence: dict[str, float] = {}
        if rules.free_singletons:
            for sv in self.statements:
                if sv.p is not None:
                    self.evidence[evidence_key([sv.id])] = sv.p

    def emit(self, event: PublicEvent) -> None:
        """Hand a public event to the recorder, then to the watcher (stored before shown)."""
        for sink in self.sinks:
            sink(event)

    def opponent_claim(self, side: Side) -> float:
        """The claim a side argues against: the other side's."""
        return self.claims["b" if side == "a" else "a"]

    def view(self, side: Side, phase: Phase, rnd: int, transcript: list[Turn]) -> DebaterView:
        return DebaterView(
            side=side,
            claim=self.claims[side],
            opponent_claim=self.opponent_claim(side),
            phase=phase,
            round=rnd,
            statements=self.statements,
            transcript=list(transcript),
            rules=self.rules,
        )

    def absorb_queries(self) -> None:
        """The judge's own queries become evidence like any citation."""
        for ids, p, _ in self.judge_oracle.log:
            self.evidence[evidence_key(ids)] = p

    def judge_view(self) -> JudgeView:
        self.absorb_queries()
        return JudgeView(
            claims=self.claims,
            statements=self.statements,
            transcript=list(self.turns),
            rules=self.rules,
            evidence=dict(self.evidence),
        )

    async def speech(self, side: Side, phase: Phase, rnd: int, transcript: list[Turn]) -> Turn:
        started = time.time()
        self.emit(TurnStartedEvent(speaker=side, phase=phase, round=rnd))
        arg, forfeit, raw = await _speak(
            self.debaters[side], self.view(side, phase, rnd, transcript), self.world, self.rules
        )
        seconds = time.time() - started
        if arg is None:
            return Turn(
                index=-1,
                speaker=side,
                phase=phase,
                round=rnd,
                text="",
                forfeit=forfeit,
                raw_reply=raw,
                started_at=started,
                seconds=seconds,
            )
        speech, used = verify_argument(
            arg, self.world, self.rules, self.budget[side], context=self.context
        )
        self.budget[side] -= used
        return Turn(
            index=-1,
            speaker=side,
            phase=phase,
            round=rnd,
            started_at=started,
            seconds=seconds,
            **speech.model_dump(),
        )

    async def record(self, turn: Turn) -> Action:
        turn.index = len(self.turns)
        self.turns.append(turn)
        for c in turn.citations:
            if c.kind == "prob" and c.true_value is not None:
                self.evidence[evidence_key(c.ids)] = c.true_value
        self.emit(TurnEvent(turn=turn))
        try:
            cred, action = await self.judge.observe(self.judge_view(), self.judge_oracle)
        except DebateError as exc:
            # A judge that fails to answer has no credence after this turn (none is made up
            # for it); the debate goes on.
            self.emit(JudgeErrorEvent(message=str(exc)))
            self.judge_errors.append(str(exc))
            return "continue"
        cred = min(1.0, max(0.0, float(cred)))
        given = Credence(after_turn=turn.index, credence_a=cred, at=time.time())
        self.credences.append(given)
        self.emit(CredenceEvent(**dict(given)))
        return action

    async def play(self) -> Decision:
        t0 = time.time()
        opening = await asyncio.gather(
            self.speech("a", "opening", 0, []), self.speech("b", "opening", 0, [])
        )
        # The judge may end the debate after any turn, or ask for one more round (up to
        # max_rounds) during any stage; both openings are heard either way, since they
        # were written before the judge read either.
        actions = [await self.record(turn) for turn in opening]
        ended = "end" in actions
        rounds = self.rules.rounds
        if "more" in actions and rounds < self.rules.max_rounds:
            rounds += 1
        rnd = 1
        while rnd <= rounds and not ended:
            more = False
            for side in ("a", "b"):
                action = await self.record(await self.speech(side, "round", rnd, self.turns))
                ended = action == "end"
                more = more or action == "more"
                if ended:
                    break
            if more and rounds < self.rules.max_rounds:
                rounds += 1
            rnd += 1
        decision = await self.decide()
        self.seconds = time.time() - t0
        return decision

    async def decide(self) -> Decision:
        """The judge's final answer. With none (the judge failed), the failure is recorded
        and the plain product of the evidence stands in, so the debate is still scored and
        stored."""
        try:
            return await self.judge.decide(self.judge_view(), self.judge_oracle)
        except DebateError as exc:
            self.judge_errors.append(str(exc))
            self.judge_failed = True
            ids = [sv.id for sv in self.statements]
            fallback = baselines(ids, self.evidence).independence
            return Decision(estimate=fallback, credence_a=0.5)


def _declared_honest(a: bool | None, b: bool | None) -> Side | None:
    """The side that must be honest given what the debaters declare (None: undecided)."""
    if (a is True and b is not True) or (a is None and b is False):
        return "a"
    if (b is True and a is not True) or (b is None and a is False):
        return "b"
    return None


async def run_debate(
    world: World | DealtRound,
    a: Debater | None = None,
    b: Debater | None = None,
    judge: Judge | None = None,
    rules: Rules | None = None,
    *,
    seed: int = 0,
    honest_side: Side | None = None,
    truth: float | None = None,
    truth_stderr: float | None = None,
    claims: Mapping[Side, float] | None = None,
    on_event: Callable[[PublicEvent], None] | None = None,
    on_record: Callable[[Event], None] | None = None,
) -> DebateResult:
    """Run a whole debate and score it. Deterministic under `seed` for non-LLM parties.

    `on_event` sees the debate as it happens, as anyone watching may (`PublicEvent`: never
    the honest side or the truth); `on_record` gets every event, `DebateStartedEvent`
    first, each before `on_event` does (a store commits it before a UI shows it).

    Given a `DealtRound` (`debate.rounds.deal_round`), the round's world, rules, honest
    side, truth and claims are used as dealt, and `a`/`b` default to its debater specs;
    `seed`, `honest_side`, `truth`, `truth_stderr`, `claims` and `rules` must then be left
    out.

    Given a bare world, `honest_side` defaults to the side of a debater declared honest
    (built-in honest), or away from one declared a liar, else a seeded coin flip; `truth`
    defaults to P(Z) (`truth_stderr` is the standard error of log10 of a given truth: 0
    exact, None not known); `claims` (each side's claimed P(Z)) default to the truth for the
    honest side and the lie `debate.rounds.deal_sides` deals for the other.
    """
    if judge is None:
        raise DebateError("run_debate needs a judge")
    log10_truth: float | None
    #: stored with the round (0: exact; None: a truth given without one)
    stderr: float | None = truth_stderr
    round_seed: int | None = None
    if isinstance(world, DealtRound):
        dealt = world
        round_seed = dealt.seed
        if dealt.claims is None or dealt.secret.honest_side is None:
            raise DebateError("this round was dealt without a debate; deal it with debate on")
        given = (rules, truth, truth_stderr, claims)
        if any(x is not None for x in given) or honest_side:
            raise DebateError("a dealt round brings its own rules, truth, sides and claims")
        if a is None or b is None:
            made = debaters_of(dealt)
            a, b = a or made["a"], b or made["b"]
        world, rules = dealt.world, dealt.rules
        side: Side = dealt.secret.honest_side
        p_true, log10_truth = dealt.secret.truth, dealt.secret.log10_truth
        stderr = dealt.secret.log10_stderr
        claimed: dict[Side, float] = {s: float(dealt.claims[s]) for s in ("a", "b")}
    else:
        if a is None or b is None:
            raise DebateError("run_debate needs both debaters for a bare world")
        rules = rules or Rules()
        if honest_side is None:
            honest_side = _declared_honest(a.honest, b.honest)
        # the coin `deal_sides` draws first, needed here to know which debater lies
        coin: Side = "a" if np.random.default_rng(seed).random() < 0.5 else "b"
        side = honest_side or coin
        if claims is None:
            # the one way sides and lies are dealt; here the debaters are already chosen
            _, _, claimed, lie = deal_sides(
                world,
                seed,
                rules,
                np.random.default_rng(seed),
                liar=(b if side == "a" else a).name,
                honest_side=side,
                truth=truth,
            )
            p_true, log10_truth = lie.truth, lie.log10_truth
            if truth is None:
                stderr = lie.log10_stderr
        else:
            claimed = {s: float(claims[s]) for s in ("a", "b")}
            if truth is None:
                res_pz = world_pz(world)
                p_true, log10_truth = res_pz.pz, res_pz.log10_pz
                stderr = res_pz.log10_pz_stderr
            else:
                p_true = truth
                log10_truth = math.log10(truth) if truth > 0 else None
    run = _Run(world, {"a": a, "b": b}, judge, rules, claimed, on_event, on_record)
    head = DebateStartedEvent(
        world_seed=round_seed
        if round_seed is not None
        else (world.meta.seed if world.meta else None),
        n_statements=world.n_statements,
        rules=rules,
        debater_a=a.name,
        debater_b=b.name,
        judge=judge.name,
        honest_side=side,
        claims=claimed,
        truth=p_true,
        log10_truth=log10_truth,
        log10_truth_stderr=stderr,
    )
    if on_record is not None:
        on_record(head)  # only to the recorder: it names the honest side
    try:
        decision = await run.play()
    finally:
        for d in (a, b):
            await d.aclose()
    run.absorb_queries()
    judgement = Judgement(
        estimate=decision.estimate,
        interval=decision.interval,
        credence_a=decision.credence_a,
        credences=run.credences,
        queries=[Query(ids=i, p=p, at=t) for i, p, t in run.judge_oracle.log],
        seconds=run.seconds,
        errors=run.judge_errors,
        failed=run.judge_failed,
    )
    return DebateResult(
        **{k: getattr(head, k) for k in DebateHead.model_fields},
        turns=run.turns,
        judgement=judgement,
        scores=score(
            decision.estimate,
            p_true,
            interval=decision.interval,
            credence_a=None if run.judge_failed else decision.credence_a,
            honest=side,
            credences_a=[c.credence_a for c in run.credences],
        ),
        baselines=baselines(world.ids, run.evidence),
        evidence=run.evidence,
    )
