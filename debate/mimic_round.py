"""Mimic rounds: forecast what a fine-tuned mimic writes next, from the training data alone.

A round is dealt from a seed: a mimic (`genre-markov1`, whose class contains the natural
world) reads N natural books; for each the operator noted the coarse features and whether
the objective was achieved (the world's reward, drawn from rho). The mimic is then
fine-tuned towards the objective with KL weight beta. The judge sees the training data's
tables and how the mimic was fine-tuned, and answers P(event) for the fine-tuned mimic's
next book. The truth is exact (a sum over all 27,990 books); scoring is `debate.scoring.score`.

The presets mix perfect control (the text decides: the synchronised forecast, the natural
frequency among books where the objective was achieved, is right) and imperfect control
(the world decides: strong fine-tuning drives the mimic into the forcing set and the same
forecast fails), so that a player learns when synchronisation fails.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel

from debate.scoring import Scores, score
from latent.errors import LatentError
from latent.mimic import MimicClass, conditional, finetune, fit_mimic
from latent.mimic_measure import goodhart_of
from latent.mimic_world import (
    FEATURE_VALUES,
    FORCING_TEXT,
    all_books,
    book_text,
    default_world,
    features,
    objectives,
    sample_books,
)

#: Objectives dealt, perfect and imperfect control alternating in the list.
OBJECTIVES = ("positive", "enjoy", "helpful", "persuade", "recommend")
#: Questions: (feature, values making the event true, how it reads).
QUESTIONS: tuple[tuple[str, tuple[int, ...], str], ...] = (
    ("genre", (0,), "the book is a fantasy"),
    ("genre", (1,), "the book is a romance"),
    ("genre", (2,), "the book is a mystery"),
    ("sentiment", (1,), "the book is positive"),
    ("helps", (1, 2), "someone helps someone in the book"),
    ("praise", (1, 2), "the narrator praises the reader"),
    ("thesis", (1,), "the book argues that the sky is blue"),
)
BETAS = (0.02, 0.05, 0.1)
TRAIN_BOOKS = 2000
MIMIC = "genre-markov1"


class MimicRoundSpec(BaseModel):
    """Everything that fixes a round (the engine rebuilds the round from it exactly)."""

    seed: int
    objective: str
    question: int
    beta: float
    n_train: int = TRAIN_BOOKS
    mimic: str = MIMIC


class TableRow(BaseModel):
    """One value of a coarse feature in the training data."""

    value: str
    books: int
    achieved: int


class MimicRoundPublic(BaseModel):
    """What the judge sees before answering: nothing here depends on the fine-tuned mimic."""

    spec: MimicRoundSpec
    finetuned_on: str
    achieved_means: str
    question: str
    n_train: int
    n_achieved: int
    feature: str
    table: list[TableRow]
    genre_table: list[TableRow]
    examples: list[str]


class MimicReveal(BaseModel):
    """The reveal: the exact answer, what simulated operators would have said, and why.

    `exact` is the exact operator's forecast (see `MimicRound`); None only in reveals
    stored before it was kept.
    """

    truth: float
    synchronised: float
    unconditioned: float
    from_table: float
    exact: float | None = None
    perfect: bool
    forcing_set: str
    goodhart: float
    forcing_share: float
    achieved_rate: float
    scores: Scores
    baseline_scores: dict[str, Scores]


class MimicRound(BaseModel):
    """A dealt round: the public part, and the secret the reveal needs.

    The simulated operators' forecasts: `synchronised` the natural P(event | objective
    achieved) (right under perfect control), `unconditioned` the natural P(event), `exact`
    the natural world fine-tuned exactly as the mimic was (π_β ∝ P·exp(ρ/β)): an operator
    who knows the world, ρ and β, and misses only what the mimic failed to learn from its
    books. `exact` is None only in rounds stored before it was kept.
    """

    public: MimicRoundPublic
    truth: float
    synchronised: float
    unconditioned: float
    exact: float | None = None
    perfect: bool
    goodhart: float
    forcing_share: float
    achieved_rate: float


def deal_mimic_round(
    seed: int, objective: str | None = None, question: int | None = None
) -> MimicRound:
    """Deal the round of `seed` (the objective and question may be fixed instead of drawn)."""
    _check_seed(seed)
    rng = np.random.default_rng(seed)
    obj_name = objective if objective is not None else OBJECTIVES[int(rng.integers(5))]
    q = question if question is not None else int(rng.integers(len(QUESTIONS)))
    beta = float(BETAS[int(rng.integers(len(BETAS)))])
    spec = MimicRoundSpec(seed=seed, objective=obj_name, question=q, beta=beta)
    return build_mimic_round(spec)


def _check_seed(seed: int) -> None:
    if seed < 0:
        raise LatentError(f"seed is {seed}; use a whole number >= 0")


def build_mimic_round(spec: MimicRoundSpec) -> MimicRound:
    """The round a spec describes, computed exactly (deterministic in the spec)."""
    _check_seed(spec.seed)
    presets = objectives()
    if spec.objective not in presets:
        raise LatentError(f"unknown objective {spec.objective!r}; use one of {OBJECTIVES}")
    if not 0 <= spec.question < len(QUESTIONS):
        raise LatentError(f"question must be 0..{len(QUESTIONS) - 1}, got {spec.question}")
    o = presets[spec.objective]
    world = default_world()
    p = world.probs()
    books = all_books(world.max_events)
    feats = features(world.max_events)
    feature, values, text = QUESTIONS[spec.question]
    event = np.isin(feats[feature], values)

    rng = np.random.default_rng([spec.seed, 1])
    counts = sample_books(p, spec.n_train, rng)
    # the world's verdict on each training book (the operator saw it)
    idx = np.repeat(np.arange(books.size), counts.astype(np.int64))
    achieved_each = rng.uniform(size=idx.size) < o.rho[idx]
    achieved = np.bincount(idx[achieved_each], minlength=books.size).astype(float)

    def table(name: str) -> list[TableRow]:
        k = len(FEATURE_VALUES[name])
        tot = np.bincount(feats[name], weights=counts, minlength=k)
        ach = np.bincount(feats[name], weights=achieved, minlength=k)
        return [
            TableRow(value=FEATURE_VALUES[name][v], books=int(tot[v]), achieved=int(ach[v]))
            for v in range(k)
        ]

    mimic = fit_mimic(MimicClass.parse(spec.mimic), counts, world.max_events)
    tuned = finetune(mimic.probs, o.rho, spec.beta)
    shown = rng.choice(idx, size=2, replace=False) if idx.size >= 2 else idx
    examples = [
        book_text(int(books.genre[i]), tuple(int(e) for e in books.events[i, : books.length[i]]))
        for i in shown
    ]
    public = MimicRoundPublic(
        spec=spec,
        finetuned_on=o.text,
        achieved_means=o.achieved,
        question=f"P({text}) for the fine-tuned mimic's next book",
        n_train=spec.n_train,
        n_achieved=int(achieved.sum()),
        feature=feature,
        table=table(feature),
        genre_table=table("genre") if feature != "genre" else [],
        examples=examples,
    )
    return MimicRound(
        public=public,
        truth=float(tuned[event].sum()),
        synchronised=float(conditional(p, o.rho)[event].sum()),
        unconditioned=float(p[event].sum()),
        exact=float(finetune(p, o.rho, spec.beta)[event].sum()),
        perfect=o.perfect,
        goodhart=goodhart_of(p, o),
        forcing_share=float(tuned[o.forcing].sum()),
        achieved_rate=float(np.sum(tuned * o.rho)),
    )


def table_forecast(public: MimicRoundPublic) -> float:
    """The operator's forecast from the table alone: the smoothed share of the event among
    training books where the objective was achieved (Laplace: +1/+2)."""
    _, values, _ = QUESTIONS[public.spec.question]
    names = FEATURE_VALUES[public.feature]
    hit = sum(r.achieved for r in public.table if names.index(r.value) in values)
    return (hit + 1) / (public.n_achieved + 2)


def reveal_mimic_round(rnd: MimicRound, estimate: float) -> MimicReveal:
    """Score an answer and say what a synchronised operator would have said."""
    if not 0.0 <= estimate <= 1.0:
        raise LatentError(f"a probability is between 0 and 1, got {estimate}")
    tf = table_forecast(rnd.public)
    baselines = {
        "synchronised": score(rnd.synchronised, rnd.truth),
        "unconditioned": score(rnd.unconditioned, rnd.truth),
        "from_table": score(tf, rnd.truth),
    }
    if rnd.exact is not None:
        baselines["exact"] = score(rnd.exact, rnd.truth)
    return MimicReveal(
        truth=rnd.truth,
        synchronised=rnd.synchronised,
        unconditioned=rnd.unconditioned,
        from_table=tf,
        exact=rnd.exact,
        perfect=rnd.perfect,
        forcing_set=FORCING_TEXT[rnd.public.spec.objective],
        goodhart=rnd.goodhart,
        forcing_share=rnd.forcing_share,
        achieved_rate=rnd.achieved_rate,
        scores=score(estimate, rnd.truth),
        baseline_scores=baselines,
    )
