"""The four measurements of the mimic mode, each next to what seed 000 predicts.

- merging: total variation between the operator's forecast of the coarse features Z' of the
  mimic's next book and the mimic's exact distribution of Z', against the data size N.
  Predicted: → 0 when the mimic's class contains the truth (merging of opinions); when it does
  not, → the distance between the truth and the class's best fit, which is > 0.
- sync: after fine-tuning with strength 1/beta, the distance between the fine-tuned mimic's Z'
  and the synchronised forecast P(Z | objective achieved). Predicted: → 0 as beta → 0 under
  perfect control; under imperfect control, → TV(P(Z | R), P(Z | X_F)) ≤ ε < 2ε with
  ε = 1 − G.
- goodhart: G = P(X ∈ X_F | objective achieved) for each objective and the bound
  |P(A | R) − P(A | X_F)| < 2ε on random objectives.
- transfer: a classifier of the genre (from the events, the opening torn off) trained on
  natural books and tested on mimic books, against one trained and tested on mimic books.
  Predicted: the gap shrinks as the mimic improves (N grows, the class contains the truth).

Each point is exact given its training sample; curves average independent samples and give
the standard error across them.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel

from latent.errors import LatentError
from latent.mimic import (
    MimicClass,
    conditional,
    finetune,
    fit_mimic,
    operator_forecast,
    push,
    tv,
)
from latent.mimic_world import (
    MAX_MAX_EVENTS,
    N_EVENTS,
    N_GENRES,
    NaturalWorld,
    Objective,
    all_books,
    event_counts,
    feature_cells,
    feature_code,
    objectives,
    sample_books,
)

#: The operator's coarse view of a book unless told otherwise.
DEFAULT_Z: tuple[str, ...] = ("genre", "sentiment", "helps", "thesis", "praise")


class CurvePoint(BaseModel):
    """One x-value of a curve: the mean over replicate samples and its standard error."""

    x: float
    mean: float
    se: float


class Curve(BaseModel):
    """A named curve, with the value the article predicts it tends to (when it says one)."""

    label: str
    points: list[CurvePoint]
    predicted_limit: float | None = None
    note: str = ""


class Measurement(BaseModel):
    """What `pzjudge mimic …` prints: curves plus scalar facts."""

    kind: str
    x_label: str
    y_label: str
    curves: list[Curve]
    facts: dict[str, float | str | bool] = {}
    prediction: str


def _mean_se(vals: list[float]) -> tuple[float, float]:
    a = np.asarray(vals, dtype=float)
    se = float(a.std(ddof=1) / np.sqrt(a.size)) if a.size > 1 else 0.0
    return float(a.mean()), se


def population_mimic(world: NaturalWorld, cls: MimicClass) -> np.ndarray:
    """(M,) the class's limit as N → ∞: fitted to the exact expected counts, no smoothing."""
    exact = MimicClass(cls.order, cls.genre_memory, 0.0)
    return fit_mimic(exact, world.probs(), world.max_events).probs


def merging(
    world: NaturalWorld,
    classes: list[MimicClass],
    ns: list[int],
    reps: int = 20,
    seed: int = 0,
    z: tuple[str, ...] = DEFAULT_Z,
    prior: float = 0.5,
) -> Measurement:
    """TV(operator's forecast of Z', mimic's Z') against N, one curve per mimic class."""
    _check(ns, reps)
    p = world.probs()
    code, cells = feature_code(z, world.max_events), feature_cells(z)
    pz = push(p, code, cells)
    rng = _rng(seed)
    # every class learns from the same samples; one N's samples are held at a time
    pts: list[list[CurvePoint]] = [[] for _ in classes]
    for n in ns:
        samples = [sample_books(p, n, rng) for _ in range(reps)]
        for cls, cls_pts in zip(classes, pts, strict=True):
            vals = []
            for counts in samples:
                zc = np.bincount(code, weights=counts, minlength=cells)
                mz = push(fit_mimic(cls, counts, world.max_events).probs, code, cells)
                vals.append(tv(operator_forecast(zc, prior), mz))
            m, se = _mean_se(vals)
            cls_pts.append(CurvePoint(x=n, mean=m, se=se))
    curves = []
    for cls, cls_pts in zip(classes, pts, strict=True):
        limit = tv(push(population_mimic(world, cls), code, cells), pz)
        note = "contains the truth" if cls.contains_truth(world.max_events) else "misspecified"
        curves.append(Curve(label=cls.name, points=cls_pts, predicted_limit=limit, note=note))
    return Measurement(
        kind="merge",
        x_label="natural books seen N",
        y_label="TV(operator's forecast of Z', mimic's Z')",
        curves=curves,
        facts={"z": ", ".join(z), "cells": cells, "reps": reps},
        prediction=(
            "merging of opinions: the distance tends to 0 when the mimic's class contains the "
            "truth; otherwise to the distance between the truth and the class's best fit "
            "(predicted_limit)"
        ),
    )


def sync(
    world: NaturalWorld,
    names: list[str],
    betas: list[float],
    mimic: MimicClass | None = None,
    n: int = 0,
    seed: int = 0,
    z: tuple[str, ...] = DEFAULT_Z,
) -> Measurement:
    """Synchronisation error after fine-tuning, against beta, one curve per objective.

    The base pi0 is the natural world itself (`mimic` None: a perfectly merged mimic) or a
    mimic of that class trained on n natural books. The operator forecasts the fine-tuned
    mimic's Z' as the natural P(Z | objective achieved), the article's synchronised forecast.
    """
    if not betas or any(b < 0 for b in betas):
        raise LatentError("betas must be a non-empty list of numbers ≥ 0")
    objs = _objectives(names, world.max_events)
    p = world.probs()
    if mimic is None:
        pi0 = p
    else:
        counts = sample_books(p, n, _rng(seed))
        pi0 = fit_mimic(mimic, counts, world.max_events).probs
    code, cells = feature_code(z, world.max_events), feature_cells(z)
    curves, facts = [], {}
    for o in objs:
        forecast = push(conditional(p, o.rho), code, cells)
        pts = []
        for b in betas:
            pts.append(
                CurvePoint(
                    x=b, mean=tv(push(finetune(pi0, o.rho, b), code, cells), forecast), se=0.0
                )
            )
        g = goodhart_of(p, o)
        empty = _empty_forcing(o, world.max_events)
        limit = (
            None
            if empty
            else tv(push(conditional(p, o.forcing.astype(float)), code, cells), forecast)
        )
        control = "perfect" if o.perfect else f"imperfect, G = {g:.3f}"
        curves.append(
            Curve(
                label=f"{o.name} ({control})",
                points=pts,
                predicted_limit=limit,
                note=empty or "",
            )
        )
        facts[f"{o.name}.G"] = g
        facts[f"{o.name}.two_eps"] = 2 * (1 - g)
    return Measurement(
        kind="finetune",
        x_label="beta (KL weight; small = strong fine-tuning)",
        y_label="TV(fine-tuned mimic's Z', P(Z | objective achieved))",
        curves=curves,
        facts={**facts, "base": "world" if mimic is None else f"{mimic.name}, N={n}"},
        prediction=(
            "perfect control: → 0 as beta → 0 (pi_beta → P(X | b=1)); imperfect control: → "
            "TV(P(Z | X_F), P(Z | R)) (predicted_limit), at most 1 − G < 2ε"
        ),
    )


def goodhart_of(probs: np.ndarray, o: Objective) -> float:
    """G = P(X ∈ X_F | objective achieved) under `probs` (1 for perfect control)."""
    achieved = float(np.sum(probs * o.rho))
    if achieved <= 0:
        raise LatentError(f"objective {o.name!r} is never achieved")
    return float(np.sum(probs * o.forcing)) / achieved


def _empty_forcing(o: Objective, max_events: int) -> str | None:
    """None when the objective's forcing set has books; else why not and what to change
    (a preset's forcing set may need longer books than the world has, e.g. enjoy's
    'praises the reader twice' at one event per book)."""
    if o.forcing.any():
        return None
    longer = next(
        (n for n in range(max_events + 1, MAX_MAX_EVENTS + 1) if _forcing_at(o.name, n)), None
    )
    fix = f"use --max-events {longer} or more" if longer else "no length has one"
    return (
        f"{o.name}'s forcing set is empty with books of at most {max_events} "
        f"event{'s' if max_events > 1 else ''}, so "
        f"P(· | X_F) and the gap to it are undefined ({fix})"
    )


def _forcing_at(name: str, max_events: int) -> bool:
    """Whether the preset `name` has a non-empty forcing set at this book length."""
    presets = objectives(max_events)
    return name in presets and bool(presets[name].forcing.any())


def random_objective(
    world: NaturalWorld, rng: np.random.Generator, name: str = "random"
) -> Objective:
    """A world reward for the bound check: random success rates below 1, and a forcing set
    made of a random selection of books (each kept with a random rate, so that G varies)."""
    m = all_books(world.max_events).size
    rho = rng.uniform(0, rng.uniform(0.05, 1.0), size=m)
    keep = rng.uniform(size=m) < 10 ** rng.uniform(-3, -0.3)
    if not keep.any():
        keep[rng.integers(m)] = True
    rho[keep] = 1.0
    return Objective(name, "random", "random", rho)


def goodhart(
    world: NaturalWorld,
    names: list[str],
    n_random: int = 200,
    seed: int = 0,
    z: tuple[str, ...] = DEFAULT_Z,
) -> Measurement:
    """G for each named objective, and on random objectives: the worst event's gap
    max_A |P(A | R) − P(A | X_F)| over events of X (and of Z) against ε = 1 − G."""
    if n_random < 1:
        raise LatentError(f"the bound needs at least 1 random objective, got {n_random}")
    objs = _objectives(names, world.max_events)
    p = world.probs()
    code, cells = feature_code(z, world.max_events), feature_cells(z)
    facts: dict[str, float | str | bool] = {}
    for o in objs:
        facts[f"{o.name}.perfect"] = o.perfect
        facts[f"{o.name}.P_achieved"] = float(np.sum(p * o.rho))
        facts[f"{o.name}.P_forcing"] = float(np.sum(p * o.forcing))
        facts[f"{o.name}.G"] = goodhart_of(p, o)
        empty = _empty_forcing(o, world.max_events)
        if empty:
            # G = 0 is still right; the gap to P(· | X_F) has nothing to condition on
            facts[f"{o.name}.forcing_set"] = empty
            continue
        pr, pf = conditional(p, o.rho), conditional(p, o.forcing.astype(float))
        facts[f"{o.name}.tv_x"] = tv(pr, pf)
        facts[f"{o.name}.tv_z"] = tv(push(pr, code, cells), push(pf, code, cells))
    rng = _rng(seed)
    eps, gap_x, gap_z = [], [], []
    for _ in range(n_random):
        o = random_objective(world, rng)
        g = goodhart_of(p, o)
        pr, pf = conditional(p, o.rho), conditional(p, o.forcing.astype(float))
        eps.append(1 - g)
        gap_x.append(tv(pr, pf))
        gap_z.append(tv(push(pr, code, cells), push(pf, code, cells)))
    order = np.argsort(eps)

    def curve(label: str, ys: list[float]) -> Curve:
        return Curve(
            label=label,
            points=[CurvePoint(x=eps[i], mean=ys[i], se=0.0) for i in order],
        )

    worst = max((gx / (2 * e) for gx, e in zip(gap_x, eps, strict=True) if e > 0), default=0.0)
    facts["random.max_gap_over_2eps"] = worst
    return Measurement(
        kind="goodhart",
        x_label="ε = 1 − G = P(X ∉ X_F | objective achieved)",
        y_label="max over events A of |P(A | R) − P(A | X_F)|",
        curves=[curve("events of X", gap_x), curve("events of Z", gap_z)],
        facts=facts,
        prediction=(
            "|P(A | R) − P(A | X_F)| < 2ε for every A (the article's bound); exactly, the gap "
            "over events of X equals ε, and over events of Z it is at most ε"
        ),
    )


# ---------------------------------------------------------------------------------------
# Classifier transfer
# ---------------------------------------------------------------------------------------


def _joint(probs: np.ndarray) -> np.ndarray:
    """(G, Φ) P(genre, events) : books are ordered genre-major, events alike in each genre."""
    return probs.reshape(N_GENRES, -1)


def bayes_accuracy(train: np.ndarray, test: np.ndarray) -> float:
    """Exact accuracy on `test` of the Bayes-optimal genre classifier of `train` (it sees the
    events, not the opening; ties go to the first genre)."""
    h = np.argmax(_joint(train), axis=0)
    t = _joint(test)
    return float(t[h, np.arange(t.shape[1])].sum())


def _design_matrix(max_events: int) -> np.ndarray:
    """(Φ, D) features of an event sequence for the logistic regression: counts of each
    event, length, first and last event (one-hot), and an intercept."""
    books = all_books(max_events)
    per = books.size // N_GENRES
    ev, n = books.events[:per], books.length[:per]
    c = event_counts(books)[:per]
    first = np.eye(N_EVENTS)[ev[:, 0]]
    last = np.eye(N_EVENTS)[ev[np.arange(per), n - 1]]
    return np.column_stack([c, n, first, last, np.ones(per)]).astype(float)


def fit_logistic(x: np.ndarray, w: np.ndarray, l2: float = 1e-2) -> np.ndarray:
    """Multinomial logistic regression of the genre, with per-(genre, φ) weights.

    x : (Φ, D) features; w : (G, Φ) how often each (genre, φ) is in the training data.
    Returns (D, G) coefficients minimising the weighted mean log loss + l2·|coef|²/2 (a
    strictly convex problem), by Newton's method with backtracking: a few exact steps are
    ~20x faster here than L-BFGS.
    """
    d, total = x.shape[1], w.sum()
    if total <= 0:
        raise LatentError("no training data for the classifier")
    keep = w.sum(axis=0) > 0
    xk, wk = x[keep], (w[:, keep] / total).T
    nk = wk.sum(axis=1)

    def value(coef: np.ndarray) -> tuple[float, np.ndarray]:
        s = xk @ coef
        s -= s.max(axis=1, keepdims=True)
        logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
        return -float(np.sum(wk * logp)) + 0.5 * l2 * float(np.sum(coef * coef)), logp

    coef = np.zeros((d, N_GENRES))
    val, logp = value(coef)
    for _ in range(50):
        prob = np.exp(logp)
        grad = xk.T @ (prob * nk[:, None] - wk) + l2 * coef
        # Hessian of the weighted softmax loss: sum_i n_i (diag(p_i) - p_i p_iᵀ) ⊗ x_i x_iᵀ
        blocks = np.empty((d, N_GENRES, d, N_GENRES))
        for g in range(N_GENRES):
            for h in range(g, N_GENRES):
                c = nk * prob[:, g] * ((g == h) - prob[:, h])
                blocks[:, g, :, h] = blocks[:, h, :, g] = (xk * c[:, None]).T @ xk
        hess = blocks.reshape(d * N_GENRES, d * N_GENRES) + l2 * np.eye(d * N_GENRES)
        step = np.linalg.solve(hess, grad.ravel()).reshape(d, N_GENRES)
        t = 1.0
        while True:
            new_val, new_logp = value(coef - t * step)
            if new_val <= val - 1e-4 * t * float(np.sum(grad * step)) or t < 1e-6:
                break
            t /= 2
        coef, done = coef - t * step, val - new_val < 1e-12
        val, logp = new_val, new_logp
        if done:
            break
    return coef


def logistic_accuracy(coef: np.ndarray, x: np.ndarray, test: np.ndarray) -> float:
    """Exact accuracy of a fitted logistic regression on the distribution `test`."""
    h = np.argmax(x @ coef, axis=1)
    t = _joint(test)
    return float(t[h, np.arange(t.shape[1])].sum())


def transfer(
    world: NaturalWorld,
    classes: list[MimicClass],
    ns: list[int],
    reps: int = 10,
    seed: int = 0,
    logistic: bool = True,
    n_classifier: int = 2000,
) -> Measurement:
    """The classifier-transfer gap against N, per class: accuracy on mimic books of a
    classifier trained on mimic books minus that of one trained on natural books.

    Bayes-optimal classifiers use exact distributions (the gap is then ≥ 0 exactly);
    the logistic regressions are trained on `n_classifier` sampled books and scored exactly.
    """
    _check(ns, reps)
    p = world.probs()
    rng = _rng(seed)
    x = _design_matrix(world.max_events) if logistic else None
    # one classifier trained on natural books per replicate, shared by every class and N
    # (it does not depend on the mimic; common draws also make the curves comparable)
    natural = (
        [fit_logistic(x, _joint(sample_books(p, n_classifier, rng))) for _ in range(reps)]
        if x is not None
        else []
    )
    curves = []
    for cls in classes:
        bayes_pts, lr_pts = [], []
        for n in ns:
            bayes, lr = [], []
            for rep in range(reps):
                q = fit_mimic(cls, sample_books(p, n, rng), world.max_events).probs
                bayes.append(bayes_accuracy(q, q) - bayes_accuracy(p, q))
                if x is not None:
                    mim = _joint(sample_books(q, n_classifier, rng))
                    acc_mm = logistic_accuracy(fit_logistic(x, mim), x, q)
                    lr.append(acc_mm - logistic_accuracy(natural[rep], x, q))
            m, se = _mean_se(bayes)
            bayes_pts.append(CurvePoint(x=n, mean=m, se=se))
            if lr:
                m, se = _mean_se(lr)
                lr_pts.append(CurvePoint(x=n, mean=m, se=se))
        q_inf = population_mimic(world, cls)
        limit = bayes_accuracy(q_inf, q_inf) - bayes_accuracy(p, q_inf)
        note = "contains the truth" if cls.contains_truth(world.max_events) else "misspecified"
        curves.append(
            Curve(label=f"{cls.name} Bayes", points=bayes_pts, predicted_limit=limit, note=note)
        )
        if lr_pts:
            curves.append(Curve(label=f"{cls.name} logistic", points=lr_pts, note=note))
    return Measurement(
        kind="transfer",
        x_label="natural books the mimic saw N",
        y_label="accuracy gap on mimic books (train mimic − train natural)",
        curves=curves,
        facts={
            "natural_bayes_accuracy": bayes_accuracy(p, p),
            "reps": reps,
            "classifier_books": n_classifier if logistic else 0,
        },
        prediction=(
            "the gap shrinks as the mimic gets better: to 0 when the class contains the truth, "
            "to the class's limit (predicted_limit) when it does not"
        ),
    )


def _objectives(names: list[str], max_events: int) -> list[Objective]:
    presets = objectives(max_events)
    bad = [n for n in names if n not in presets]
    if bad or not names:
        raise LatentError(
            f"unknown objective {', '.join(bad) or '(none)'}; choose from {', '.join(presets)}"
        )
    return [presets[n] for n in names]


def _rng(seed: int) -> np.random.Generator:
    """The generator of `seed` (numpy refuses a negative one with a message about arrays)."""
    if seed < 0:
        raise LatentError(f"seed is {seed}; use a whole number >= 0")
    return np.random.default_rng(seed)


def _check(ns: list[int], reps: int) -> None:
    if not ns or any(n < 1 for n in ns):
        raise LatentError("N values must be a non-empty list of positive integers")
    if reps < 1:
        raise LatentError(f"reps must be ≥ 1, got {reps}")
