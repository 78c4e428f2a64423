"""The game behind the screens: session settings, preparing a round, scoring an answer.

No Textual here: screens call these functions from workers and render the results. A
`Round` keeps what the judge may see (`public` fields) apart from `Secret` (truth and
who is honest), which no screen renders before the answer is stored. All writes go
through `GameStore` (tui/game_store.py), one small adapter over `store.db.Store`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

from debate.baselines import Baselines, baselines
from debate.llm_decoder import reword_round
from debate.models import Side
from debate.protocol import Decision, Turn, evidence_key
from debate.rounds import (
    HONEST,
    PRESET_LABELS,
    PRESETS,
    RANDOM_LIAR,
    DealtRound,
    Secret,
    SessionSettings,
    deal_round,
    debaters_of,
    preset,
    shown_round,
    world_seed,
)
from debate.rules import Rules
from debate.scoring import Scores, score
from debate.verify import Oracle
from latent.bounds import truth_outside
from latent.traps import Trap, traps_of
from latent.world import World, parse_world
from tui.game_store import GameStore

__all__ = [
    "HONEST",
    "PRESETS",
    "PRESET_LABELS",
    "RANDOM_LIAR",
    "Reveal",
    "Round",
    "Secret",
    "SessionRun",
    "SessionSettings",
    "Trap",
    "evidence_of",
    "judge_round",
    "prepare_round",
    "preset",
    "resume_round",
    "traps_of",
    "world_seed",
]


class Round(DealtRound):
    """A dealt round as the game plays it: where it is stored, and what the judge did."""

    round_id: int
    session_id: int
    number: int
    practice: bool
    #: Restored from the store on resume.
    turns: list[Turn] = Field(default_factory=list)
    queries: list[dict[str, Any]] = Field(default_factory=list)
    resumed: bool = False
    #: The judge's credence that A is honest when the round was left (restored on resume).
    credence_a: float = 0.5
    #: The judge's own oracle (budget and order from the rules); replays stored queries.
    oracle: Oracle
    #: One line on an LLM decoder's sentences that kept the built-in text (None: none did).
    decoder_note: str | None = None

    def public_queries(self) -> list[tuple[list[str], float]]:
        return [(ids, p) for ids, p, _ in self.oracle.log]


class Reveal(BaseModel):
    """Everything shown after the answer is stored."""

    estimate: float
    interval: tuple[float, float] | None
    credence_a: float | None
    truth: float
    log10_truth: float | None
    scores: Scores
    baselines: Baselines
    #: Whether the truth lies outside the baselines' range by more than rounding (and, for
    #: an estimated truth, 4 standard errors): latent.bounds.truth_outside's answer.
    truth_outside: bool
    traps: list[Trap]
    honest_side: Side | None
    specs: dict[str, str]
    claims: dict[Side, float] | None
    evidence_count: int


def prepare_round(
    settings: SessionSettings,
    number: int,
    store: GameStore,
    session_id: int,
    world: World | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Round:
    """Deal round `number` of the session (`debate.rounds.deal_round`, as `pzjudge debate
    --seed` deals it) and store it: all of it before the judge sees a statement. With an
    LLM decoder the dealt world's statements are then reworded (`reword_round`: texts
    only; `on_progress(done, total)` per statement), and stored as worded."""
    dealt = deal_round(settings, world_seed(settings, number), world)
    note = None
    if settings.decoder != "builtin":
        dealt, report = reword_round(
            dealt, settings.decoder, settings.base_url, on_progress=on_progress
        )
        if report is not None and report.kept:
            note = f"{settings.decoder}: {report.summary()}"
    if dealt.debate:
        # fail now, not mid-round
        debaters_of(dealt, base_url=settings.base_url, trust_scripts=settings.trust_scripts)
    secret = dealt.secret
    rid = store.start_round(
        session_id,
        number=number,
        world_json=dealt.world.to_json(),
        world_seed=dealt.seed,
        n_statements=dealt.world.n_statements,
        truth_pz=secret.truth,
        log10_truth=secret.log10_truth,
        log10_truth_stderr=secret.log10_stderr,
        honest_side=secret.honest_side,
        claims=dict(dealt.claims) if dealt.claims else None,
        practice=settings.practice,
        debater_a=secret.specs.get("a"),
        debater_b=secret.specs.get("b"),
    )
    return Round(
        **dict(dealt),
        round_id=rid,
        session_id=session_id,
        number=number,
        practice=settings.practice,
        oracle=Oracle(
            dealt.world, max_order=dealt.rules.judge_order, budget=dealt.rules.judge_budget
        ),
        decoder_note=note,
    )


def resume_round(
    settings: SessionSettings, public: dict[str, Any], secret: dict[str, Any]
) -> Round:
    """Rebuild an open round from the store: world, transcript and queries from `public`
    (`Store.round_public`); the truth, honest side and debater specs from `secret`
    (`Store.round_secret`), as stored when the round was prepared."""
    world = parse_world(json.loads(public["world_json"]), "stored round")
    rules = Rules.model_validate(public["rules"]) if public.get("rules") else settings.rules()
    claims = public.get("claims")
    honest: Side | None = secret.get("honest_side") if claims else None
    shown = shown_round(
        public.get("world_seed") or 0,
        world,
        rules,
        claims,
        Secret(
            truth=float(secret["truth_pz"]),
            log10_truth=secret.get("log10_truth"),
            log10_stderr=float(secret.get("log10_truth_stderr") or 0.0),
            honest_side=honest,
            specs={side: secret.get(f"debater_{side}") or "?" for side in ("a", "b")},
        ),
    )
    oracle = Oracle(world, max_order=rules.judge_order, budget=rules.judge_budget)
    for q in public["queries"]:
        oracle.prob(q["ids"])  # the budget already spent, and the answers, come back
    return Round(
        **dict(shown),
        oracle=oracle,
        round_id=public["id"],
        session_id=public["session_id"],
        number=public["number"],
        practice=public["practice"],
        turns=[Turn.model_validate(t) for t in public["turns"]],
        queries=public["queries"],
        resumed=True,
        credence_a=public["credences"][-1]["credence_a"] if public.get("credences") else 0.5,
    )


def evidence_of(
    rnd: Round, queries: list[tuple[list[str], float]], turns: list[Turn] | None = None
) -> dict[str, float]:
    """Every probability the judge has seen: free singles, cited true values (of `turns`,
    by default the round's), queries."""
    ev: dict[str, float] = {}
    for s in rnd.statements:
        if s.p is not None:
            ev[evidence_key([s.id])] = s.p
    for t in rnd.turns if turns is None else turns:
        for c in t.citations:
            if c.kind == "prob" and c.true_value is not None:
                ev[evidence_key(c.ids)] = c.true_value
    for ids, p in queries:
        ev[evidence_key(ids)] = p
    return ev


def judge_round(
    rnd: Round,
    decision: Decision,
    evidence: dict[str, float],
    seconds: float,
    store: GameStore,
    result_scores: Scores | None = None,
) -> Reveal:
    """Score the answer (exactly; the truth is known), store it, then build the reveal."""
    honest = rnd.secret.honest_side
    cred = decision.credence_a if rnd.debate else None
    sc = result_scores or score(
        decision.estimate,
        rnd.secret.truth,
        interval=decision.interval,
        credence_a=cred,
        honest=honest,
    )
    bl = baselines([s.id for s in rnd.statements], evidence)
    store.record_judgement(
        rnd.round_id,
        estimate=decision.estimate,
        interval=decision.interval,
        credence_a=cred,
        seconds=seconds,
        scores=sc,
        baselines=bl,
        evidence=evidence,
    )
    return Reveal(
        estimate=decision.estimate,
        interval=decision.interval,
        credence_a=cred,
        truth=rnd.secret.truth,
        log10_truth=rnd.secret.log10_truth,
        scores=sc,
        baselines=bl,
        truth_outside=truth_outside(rnd.secret.truth, bl.lower, bl.upper, rnd.secret.log10_stderr),
        traps=traps_of(rnd.world),
        honest_side=honest,
        specs=rnd.secret.specs,
        claims=rnd.claims,
        evidence_count=len(evidence),
    )


class SessionRun(BaseModel):
    """A session being played: its settings, its id in the store, the round at hand
    (what comes next is `tui.session_flow.SessionFlow`'s to decide)."""

    settings: SessionSettings
    session_id: int
    number: int = 1
    answered: int = 0
