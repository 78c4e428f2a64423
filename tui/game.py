"""The game behind the screens: session settings, preparing a round, scoring an answer.

No Textual here: screens call these functions from workers and render the results. A
`Round` keeps what the judge may see (`public` fields) apart from `Secret` (truth and
who is honest), which no screen renders before the answer is stored. All writes go
through `GameStore` (tui/game_store.py), one small adapter over `store.db.Store`.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from debate.builtin import LIARS, can_argue
from debate.engine import independence_value, liar_claim, statement_views
from debate.evidence import Baselines, baselines
from debate.models import Side
from debate.protocol import Decision, StatementView, Turn, evidence_key
from debate.rules import Rules, load_rules
from debate.scoring import Scores, score
from debate.specs import make_debater
from debate.verify import Oracle
from latent.generate import generate_world
from latent.pz import world_pz
from latent.world import GaussianBlock, World, parse_world
from tui.game_store import GameStore

RANDOM_LIAR = "random-liar"
HONEST = "builtin:honest"


class SessionSettings(BaseModel):
    """Everything that defines a session; stored with it so a resume can rebuild it."""

    model_config = ConfigDict(extra="ignore")

    preset: str = "practice"
    judge: str = Field(default_factory=lambda: os.environ.get("USER") or "judge")
    statements: int = Field(default=12, ge=3, le=2000)
    families: int = Field(default=2, ge=0)
    counterexamples: int = Field(default=1, ge=0)
    flips: int = Field(default=0, ge=0)
    #: No debate: the judge reads and queries alone.
    debate: bool = False
    #: Debater specs (builtin:NAME, script:FILE.py:Class, file:FILE.toml, openai:MODEL);
    #: `random-liar` picks a built-in liar per round.
    debater_honest: str = HONEST
    debater_liar: str = RANDOM_LIAR
    #: OpenAI-compatible endpoint for openai: debaters.
    base_url: str | None = None
    rules_file: str | None = None
    oracle_budget: int = Field(default=10, ge=0, le=10000)
    oracle_order: int = Field(default=3, ge=1, le=12)
    rounds: int = Field(default=3, ge=1, le=100)
    seed: int = Field(default=1, ge=0)
    #: Practice rounds are stored but left out of stats.
    practice: bool = False

    def rules(self) -> Rules:
        """The rules file (or defaults) with this session's oracle budget and order."""
        base = load_rules(self.rules_file)
        return Rules.model_validate(
            {
                **base.model_dump(),
                "judge_budget": self.oracle_budget,
                "judge_order": self.oracle_order,
            }
        )

    @property
    def kind(self) -> str:
        return "practice" if self.practice else ("debate" if self.debate else "solo")


PRESETS: dict[str, dict[str, Any]] = {
    "practice": {
        "statements": 12,
        "families": 2,
        "counterexamples": 1,
        "flips": 0,
        "debate": False,
    },
    "debate": {
        "statements": 60,
        "families": 3,
        "counterexamples": 2,
        "flips": 0,
        "debate": True,
    },
    "hard": {
        "statements": 400,
        "families": 8,
        "counterexamples": 6,
        "flips": 4,
        "debate": True,
    },
}
PRESET_LABELS = {
    "practice": "practice: 12 statements, no debate",
    "debate": "debate: 60 statements, honest vs a random liar",
    "hard": "hard: 400 statements, planted counterexamples and flips",
    "custom": "custom: choose everything",
}


def preset(name: str, **over: Any) -> SessionSettings:
    """Settings of a named preset, with overrides."""
    return SessionSettings(**{"preset": name, **PRESETS.get(name, {}), **over})


class Secret(BaseModel):
    """What the judge must not see before answering."""

    truth: float
    log10_truth: float | None
    honest_side: Side | None = None
    #: Debater spec per side.
    specs: dict[str, str] = Field(default_factory=dict)


class Round(BaseModel):
    """One prepared round: the world (for the engine), what is shown, and the secret."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    round_id: int
    session_id: int
    number: int
    practice: bool
    world: World
    rules: Rules
    statements: list[StatementView]
    claims: dict[Side, float] | None = None
    #: Product of the shown single probabilities (None without free singletons).
    independence: float | None = None
    secret: Secret
    #: Restored from the store on resume.
    turns: list[Turn] = Field(default_factory=list)
    queries: list[dict[str, Any]] = Field(default_factory=list)
    resumed: bool = False
    #: The judge's credence that A is honest when the round was left (restored on resume).
    credence_a: float = 0.5
    #: The judge's own oracle (budget and order from the rules); replays stored queries.
    oracle: Oracle

    def public_queries(self) -> list[tuple[list[str], float]]:
        return [(ids, p) for ids, p, _ in self.oracle.log]

    @property
    def debate(self) -> bool:
        return self.claims is not None


class Trap(BaseModel):
    """A planted trap, for the reveal."""

    kind: str
    block: str
    ids: list[str]


class Reveal(BaseModel):
    """Everything shown after the answer is stored."""

    estimate: float
    interval: tuple[float, float] | None
    credence_a: float | None
    truth: float
    log10_truth: float | None
    scores: Scores
    baselines: Baselines
    traps: list[Trap]
    honest_side: Side | None
    specs: dict[str, str]
    claims: dict[Side, float] | None
    evidence_count: int


def world_seed(settings: SessionSettings, number: int) -> int:
    """The world seed of round `number` of a session (reproducible from the settings)."""
    return settings.seed * 1000 + number


def pick_sides(
    settings: SessionSettings, seed: int, truth: float, tempting: float
) -> tuple[Side, dict[str, str], float]:
    """Who is honest, which spec speaks for each side, and the liar's claim: a seeded coin,
    a random liar, and a lie 10-100x from the truth that goes towards the independence
    product or away from it with equal odds, so that neither "the claim nearer the product"
    nor "the claim farther from it" tells a judge who lies."""
    rng = np.random.default_rng([seed, 7])
    honest: Side = "a" if rng.random() < 0.5 else "b"
    toward = bool(rng.random() < 0.5)
    liar = settings.debater_liar
    if liar == RANDOM_LIAR:
        names = [n for n in LIARS if can_argue(n, truth, tempting, toward)]
        liar = "builtin:" + names[int(rng.integers(len(names)))]
    elif not can_argue(liar, truth, tempting, toward):
        toward = True  # this liar can only argue towards the product
    lie = liar_claim(truth, tempting, settings.rules().lie_factor, rng, toward)
    liar_side: Side = "b" if honest == "a" else "a"
    return honest, {honest: settings.debater_honest, liar_side: liar}, lie


def prepare_round(
    settings: SessionSettings,
    number: int,
    store: GameStore,
    session_id: int,
    world: World | None = None,
) -> Round:
    """Generate the world, compute P(Z) and the claims, and store the round: all of it
    before the judge sees a statement, so timing tells nothing about the truth."""
    seed = world_seed(settings, number)
    rules = settings.rules()
    if world is None:
        world = generate_world(
            seed=seed,
            statements=settings.statements,
            families=settings.families,
            counterexamples=settings.counterexamples,
            flips=settings.flips,
        )
    pz = world_pz(world)
    views = sorted(statement_views(world, rules), key=lambda s: s.id)
    claims: dict[Side, float] | None = None
    honest: Side | None = None
    specs: dict[str, str] = {}
    if settings.debate:
        honest, specs, lie = pick_sides(settings, seed, pz.pz, independence_value(world))
        for spec in specs.values():
            make_debater(spec, base_url=settings.base_url)  # fail now, not mid-round
        # always in side order: an order built from who is honest would tell the judge
        claims = {side: pz.pz if side == honest else lie for side in ("a", "b")}
    rid = store.start_round(
        session_id,
        number=number,
        world_json=world.to_json(),
        world_seed=seed,
        n_statements=world.n_statements,
        truth_pz=pz.pz,
        log10_truth=pz.log10_pz,
        honest_side=honest,
        claims=dict(claims) if claims else None,
        practice=settings.practice,
        debater_a=specs.get("a"),
        debater_b=specs.get("b"),
    )
    return Round(
        round_id=rid,
        session_id=session_id,
        number=number,
        practice=settings.practice,
        world=world,
        rules=rules,
        statements=views,
        claims=claims,
        independence=_independence(views),
        secret=Secret(truth=pz.pz, log10_truth=pz.log10_pz, honest_side=honest, specs=specs),
        oracle=Oracle(world, max_order=rules.judge_order, budget=rules.judge_budget),
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
    truth, log10_truth = float(secret["truth_pz"]), secret.get("log10_truth")
    views = sorted(statement_views(world, rules), key=lambda s: s.id)
    oracle = Oracle(world, max_order=rules.judge_order, budget=rules.judge_budget)
    for q in public["queries"]:
        oracle.prob(q["ids"])  # the budget already spent, and the answers, come back
    return Round(
        oracle=oracle,
        round_id=public["id"],
        session_id=public["session_id"],
        number=public["number"],
        practice=public["practice"],
        world=world,
        rules=rules,
        statements=views,
        claims=claims,
        independence=_independence(views),
        secret=Secret(
            truth=truth,
            log10_truth=log10_truth,
            honest_side=honest,
            specs={side: secret.get(f"debater_{side}") or "?" for side in ("a", "b")},
        ),
        turns=[Turn.model_validate(t) for t in public["turns"]],
        queries=public["queries"],
        resumed=True,
        credence_a=public["credences"][-1]["credence_a"] if public.get("credences") else 0.5,
    )


def _independence(views: list[StatementView]) -> float | None:
    ps = [s.p for s in views if s.p is not None]
    if len(ps) < len(views):
        return None
    if any(p <= 0 for p in ps):
        return 0.0
    return math.exp(math.fsum(math.log(p) for p in ps))


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


def traps_of(world: World) -> list[Trap]:
    """Planted counterexamples and flips, with the statements involved."""
    out = []
    for i, b in enumerate(world.blocks):
        name = b.name or f"block {i + 1}"
        if isinstance(b, GaussianBlock):
            flips = [s.id for s in b.statements if s.flip]
            if flips:
                out.append(Trap(kind="flip", block=name, ids=sorted(flips)))
            continue
        if b.trap:
            out.append(Trap(kind=b.trap, block=name, ids=sorted(s.id for s in b.statements)))
    return out


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
        traps=traps_of(rnd.world),
        honest_side=honest,
        specs=rnd.secret.specs,
        claims=rnd.claims,
        evidence_count=len(evidence),
    )


class SessionRun(BaseModel):
    """A session being played: its settings, its id in the store, the round at hand."""

    settings: SessionSettings
    session_id: int
    number: int = 1
    answered: int = 0

    @property
    def last(self) -> bool:
        return self.number >= self.settings.rounds
