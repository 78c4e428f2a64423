"""One round pipeline: a round is dealt from a seed and settings, the same way for the game,
`pzjudge debate`, `pzjudge tournament` and studies.

`deal_round` makes the world, decides which side is honest and which liar speaks, takes
the lie from `debate.lies` (its one call site is `deal_sides`), and returns a `DealtRound`:
what the judge may see (statements sorted by id, free singletons, their product, both
claims in side order) apart from the `Secret` (truth, honest side, debater specs). The same
seed and settings deal the same round wherever it is played, so what is audited headlessly
is what is played.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from debate.lies import RANDOM_LIAR, Lie, WorldMaker, deal_lie
from debate.models import Side
from debate.protocol import Debater, StatementView
from debate.rules import Rules, load_rules
from debate.specs import make_debater
from debate.views import shown_product, statement_views
from latent.generate import generate_world
from latent.pz import world_pz
from latent.world import World

HONEST = "builtin:honest"

__all__ = [
    "HONEST",
    "PRESETS",
    "PRESET_LABELS",
    "RANDOM_LIAR",
    "DealtRound",
    "Secret",
    "SessionSettings",
    "deal_round",
    "deal_sides",
    "debaters_of",
    "preset",
    "world_maker",
    "world_seed",
]


class SessionSettings(BaseModel):
    """Everything that defines a session; stored with it so a resume can rebuild it.

    The world options, debaters and rules deal each round (`deal_round`); the rest (judge,
    rounds, practice) is the game's."""

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
    #: OpenAI-compatible endpoint for openai: debaters (and the openai: decoder).
    base_url: str | None = None
    #: Who words the statements: "builtin", or "openai:MODEL", a chat model at `base_url`
    #: rewording the built-in decoder's meaning (`debate.llm_decoder`; texts only, never
    #: the truth).
    decoder: str = "builtin"
    #: Where no sandbox (bubblewrap) works, run script: debaters with the user's rights.
    trust_scripts: bool = False
    rules_file: str | None = None
    oracle_budget: int = Field(default=10, ge=0, le=10000)
    oracle_order: int = Field(default=3, ge=1, le=12)
    rounds: int = Field(default=3, ge=1, le=100)
    seed: int = Field(default=1, ge=0)
    #: The player chose the seed (typed it, or `play --seed`): they could have dealt the
    #: rounds headless and read the truth before answering, so these are not measurements.
    seed_known: bool = False
    #: Practice rounds are stored but left out of stats.
    practice: bool = False

    @field_validator("decoder")
    @classmethod
    def _decoder(cls, value: str) -> str:
        value = value.strip()
        if value == "builtin" or (value.startswith("openai:") and value[7:].strip()):
            return value
        raise ValueError(f"{value!r}: use builtin or openai:MODEL")

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


def world_seed(settings: SessionSettings, number: int) -> int:
    """The seed of round `number` of a session (reproducible from the settings): the seed
    `pzjudge debate --seed` takes to deal the same round headless."""
    return settings.seed * 1000 + number


class Secret(BaseModel):
    """What the judge must not see before answering."""

    truth: float
    log10_truth: float | None
    #: The standard error of log10_truth (0 when exact): an estimated truth may lie a few
    #: of them outside the evidence's range without a fault (latent.bounds.truth_outside).
    log10_stderr: float = 0.0
    honest_side: Side | None = None
    #: Debater spec per side.
    specs: dict[str, str] = Field(default_factory=dict)


class DealtRound(BaseModel):
    """A dealt round: the world (for the engine), what is shown, and the secret."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    #: The round's seed: it dealt the world (unless loaded from a file) and the sides.
    seed: int
    world: World
    rules: Rules
    #: The statements as shown: sorted by their opaque ids, with free singletons.
    statements: list[StatementView]
    #: Both claims in side order (None: no debate).
    claims: dict[Side, float] | None = None
    #: Product of the shown single probabilities (None without free singletons).
    independence: float | None = None
    secret: Secret

    @property
    def debate(self) -> bool:
        return self.claims is not None


def deal_sides(
    source: World | WorldMaker,
    seed: int,
    rules: Rules,
    rng: np.random.Generator,
    *,
    honest: str = HONEST,
    liar: str = RANDOM_LIAR,
    honest_side: Side | None = None,
    truth: float | None = None,
    tempting: float | None = None,
) -> tuple[Side, dict[Side, str], dict[Side, float], Lie]:
    """Who is honest, which spec speaks for each side, both claims in side order, and the
    lie (with the world and truth it was dealt with).

    A seeded coin picks the honest side (always drawn, used unless `honest_side` is
    given); the world, truth and lie come from `debate.lies.deal_lie`. Claims are in side
    order: an order built from who is honest would tell the judge."""
    coin: Side = "a" if rng.random() < 0.5 else "b"
    side: Side = honest_side or coin
    lie = deal_lie(source, seed, liar, rules, rng, truth=truth, tempting=tempting)
    specs: dict[Side, str] = {s: honest if s == side else lie.spec for s in ("a", "b")}
    claims: dict[Side, float] = {s: lie.truth if s == side else lie.claim for s in ("a", "b")}
    return side, specs, claims, lie


def world_maker(settings: SessionSettings) -> WorldMaker:
    """How rounds of `settings` are generated: `generate_world` with its world options."""

    def make(seed: int, hidden: int | None) -> World:
        return generate_world(
            seed=seed,
            statements=settings.statements,
            families=settings.families,
            counterexamples=settings.counterexamples,
            flips=settings.flips,
            hidden=hidden,
        )

    return make


def deal_round(settings: SessionSettings, seed: int, world: World | None = None) -> DealtRound:
    """Deal round `seed` under `settings`: the world (generated from the seed and the world
    options, unless given), its P(Z), and, for a debate, the sides and claims. Everything
    is settled before the judge sees a statement, so timing tells nothing about the truth.
    Deterministic in (settings, seed); the debater specs are not run here."""
    rules = settings.rules()
    source: World | WorldMaker = world if world is not None else world_maker(settings)
    claims: dict[Side, float] | None = None
    honest: Side | None = None
    specs: dict[str, str] = {}
    if settings.debate:
        honest, by_side, claims, lie = deal_sides(
            source,
            seed,
            rules,
            np.random.default_rng([seed, 7]),
            honest=settings.debater_honest,
            liar=settings.debater_liar,
        )
        world, truth, log10_truth, se = lie.world, lie.truth, lie.log10_truth, lie.log10_stderr
        specs = {str(side): spec for side, spec in by_side.items()}
    else:
        world = source if isinstance(source, World) else source(seed, None)
        pz = world_pz(world)
        truth, log10_truth, se = pz.pz, pz.log10_pz, pz.log10_pz_stderr
    secret = Secret(
        truth=truth, log10_truth=log10_truth, log10_stderr=se, honest_side=honest, specs=specs
    )
    return shown_round(seed, world, rules, claims, secret)


def shown_round(
    seed: int, world: World, rules: Rules, claims: dict[Side, float] | None, secret: Secret
) -> DealtRound:
    """A round as the judge is shown it: statements sorted by id (never an order that could
    follow the truth), their free singletons, and the product of those. Every round dealt,
    rebuilt from the store or taken from a recorded debate is shown through here."""
    views = sorted(statement_views(world, rules), key=lambda s: s.id)
    return DealtRound(
        seed=seed,
        world=world,
        rules=rules,
        statements=views,
        claims=claims,
        independence=shown_product(views),
        secret=secret,
    )


def debaters_of(
    dealt: DealtRound, base_url: str | None = None, trust_scripts: bool = False
) -> dict[Side, Debater]:
    """The debaters of a dealt debate, made from their specs (a bad spec fails here with a
    one-line DebateError, before any speech)."""
    return {
        side: make_debater(dealt.secret.specs[side], base_url=base_url, trust_scripts=trust_scripts)
        for side in ("a", "b")
    }
