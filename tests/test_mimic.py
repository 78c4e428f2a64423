"""The mimic mode's numbers against brute force, Monte Carlo and closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mimic_reference import (
    book_prob,
    books,
    features,
    log_loss,
    mimic_prob,
    sample_chain,
)

from latent.errors import LatentError
from latent.mimic import (
    MimicClass,
    conditional,
    finetune,
    fit_mimic,
    kl_objective,
    operator_forecast,
    push,
    tv,
)
from latent.mimic_measure import (
    _design_matrix,
    _joint,
    bayes_accuracy,
    fit_logistic,
    goodhart,
    goodhart_of,
    merging,
    random_objective,
    sync,
    transfer,
)
from latent.mimic_world import (
    FEATURE_VALUES,
    Objective,
    all_books,
    book_text,
    default_world,
    feature_cells,
    feature_code,
    objectives,
    random_world,
    sample_books,
)
from latent.mimic_world import features as vec_features

SMALL = 3  # events per book in the brute-force tests: 3 * (6 + 36 + 216) = 774 books


# --- the natural world -------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_world_probabilities_are_the_chain_walked_book_by_book(seed: int) -> None:
    w = random_world(seed, max_events=SMALL)
    p = w.probs()
    ref = np.array([book_prob(w, b) for b in books(SMALL)])
    assert p.shape == ref.shape
    np.testing.assert_allclose(p, ref, rtol=1e-12, atol=0)
    assert abs(p.sum() - 1) < 1e-12


def test_default_world_features_match_ancestral_sampling() -> None:
    """20,000 books drawn by walking the chain: every feature frequency within 4.5 SE."""
    w = default_world()
    p = w.probs()
    rng = np.random.default_rng(7)
    n = 20_000
    drawn = [features(sample_chain(w, rng)) for _ in range(n)]
    vf = vec_features(w.max_events)
    for name in ("genre", "sentiment", "helps", "length", "thesis", "praise"):
        exact = np.bincount(vf[name], weights=p, minlength=len(FEATURE_VALUES[name]))
        freq = np.bincount([d[name] for d in drawn], minlength=len(FEATURE_VALUES[name])) / n
        se = np.sqrt(exact * (1 - exact) / n) + 1e-12
        assert np.all(np.abs(freq - exact) <= 4.5 * se + 1e-9), name


def test_features_and_index_match_their_definitions() -> None:
    enum = all_books(SMALL)
    vf = vec_features(SMALL)
    for i, b in enumerate(books(SMALL)):
        assert enum.index(*b) == i
        for name, val in features(b).items():
            assert vf[name][i] == val, (b, name)


def test_objectives_forcing_sets_and_perfect_control() -> None:
    objs = objectives(SMALL)
    ref = books(SMALL)
    for o in objs.values():
        assert o.forcing.any(), o.name
    assert objs["positive"].perfect and objs["helpful"].perfect
    assert not any(objs[n].perfect for n in ("recommend", "enjoy", "persuade"))
    # the forcing sets are what FORCING_TEXT says
    enjoy_f = [features(b)["praise"] == 2 for b in ref]
    persuade_f = [features(b)["thesis"] == 1 for b in ref]
    assert list(objs["enjoy"].forcing) == enjoy_f
    assert list(objs["persuade"].forcing) == persuade_f


def test_book_text_is_deterministic_and_readable() -> None:
    t = book_text(0, (1, 0, 5))
    assert t == book_text(0, (1, 0, 5))
    assert t.startswith("In a castle") and "sky is blue" in t and "helps" in t
    assert book_text(2, (4,)) != book_text(2, (3,))
    with pytest.raises(LatentError):
        book_text(0, ())


# --- mimics ------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["markov0", "markov1", "markov2", "genre-markov0", "g1", "g2"])
def test_mimic_distribution_matches_counting_by_hand(spec: str) -> None:
    w = random_world(3, max_events=SMALL)
    counts = sample_books(w.probs(), 60, np.random.default_rng(1))
    cls = MimicClass.parse(spec, alpha=0.7)
    m = fit_mimic(cls, counts, SMALL)
    ref_books = books(SMALL)
    data = {b: float(c) for b, c in zip(ref_books, counts, strict=True) if c}
    ref = np.array([mimic_prob(cls, data, b, SMALL) for b in ref_books])
    np.testing.assert_allclose(m.probs, ref, rtol=1e-10)
    assert abs(m.probs.sum() - 1) < 1e-12


def test_class_containing_the_truth_recovers_it_in_the_limit() -> None:
    w = default_world()
    p = w.probs()
    for spec in ("g1", "g2"):
        exact = fit_mimic(MimicClass.parse(spec, alpha=0.0), p, w.max_events)
        assert tv(exact.probs, p) < 1e-9
        assert MimicClass.parse(spec).contains_truth(w.max_events)
    wrong = fit_mimic(MimicClass.parse("m1", alpha=0.0), p, w.max_events)
    assert tv(wrong.probs, p) > 0.1
    assert not MimicClass.parse("m1").contains_truth(w.max_events)


def test_bad_mimic_class_is_one_line() -> None:
    with pytest.raises(LatentError, match="markovK"):
        MimicClass.parse("lstm")
    with pytest.raises(LatentError, match="order"):
        MimicClass(9, True)


def test_operator_forecast_is_the_dirichlet_predictive() -> None:
    f = operator_forecast(np.array([3.0, 0.0, 1.0]), prior=0.5)
    np.testing.assert_allclose(f, np.array([3.5, 0.5, 1.5]) / 5.5)


# --- fine-tuning ---------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), beta=st.floats(0.02, 5.0))
def test_finetune_maximises_the_kl_regularised_objective(seed: int, beta: float) -> None:
    """pi_beta beats every perturbation of it on E[r] − beta·KL (the variational claim)."""
    rng = np.random.default_rng(seed)
    p0 = rng.dirichlet(np.ones(40))
    r = rng.uniform(size=40)
    pi = finetune(p0, r, beta)
    best = kl_objective(pi, p0, r, beta)
    for _ in range(20):
        other = pi * np.exp(rng.normal(scale=0.3, size=40))
        other /= other.sum()
        assert kl_objective(other, p0, r, beta) <= best + 1e-12


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_hard_predicate_limit_is_the_conditional(seed: int) -> None:
    """π_β → P(X | b = 1) as β → 0, at the closed-form rate TV = m0 / (m0 + e^{1/β}·m1)."""
    w = random_world(seed % 50, max_events=SMALL)
    p = w.probs()
    b = objectives(SMALL)[["positive", "helpful"][seed % 2]].rho
    target = conditional(p, b)
    m1 = float(p[b == 1].sum())
    m0 = 1 - m1
    prev = 1.0
    for beta in (2.0, 0.5, 0.1, 0.03):
        d = tv(finetune(p, b, beta), target)
        assert abs(d - m0 / (m0 + np.exp(1 / beta) * m1)) < 1e-12
        assert d < prev
        prev = d
    assert tv(finetune(p, b, 0.0), target) == 0.0


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_imperfect_control_limit_is_the_forcing_set_not_the_achieved_conditional(
    seed: int,
) -> None:
    w = random_world(seed % 50, max_events=SMALL)
    p = w.probs()
    o = random_objective(w, np.random.default_rng(seed))
    forcing = conditional(p, o.forcing.astype(float))
    gap = 1 - o.rho[~o.forcing].max()  # how much worse the best book outside X_F is
    prev = 1.0
    for beta in (1.0, 0.3, 0.1, 0.03, 0.01):
        d = tv(finetune(p, o.rho, beta), forcing)
        assert d <= prev + 1e-12
        # closed-form bound: mass off X_F is at most e^{-gap/β}·P(not F)/P(F)
        pf = float(p[o.forcing].sum())
        assert d <= np.exp(-gap / beta) * (1 - pf) / pf + 1e-12
        prev = d
    assert tv(finetune(p, o.rho, 0.0), forcing) < 1e-12
    # and the limit is not P(X | achieved) unless G = 1
    g = goodhart_of(p, o)
    assert abs(tv(forcing, conditional(p, o.rho)) - (1 - g)) < 1e-9


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 100_000))
def test_two_epsilon_bound_holds_for_every_event(seed: int) -> None:
    """|P(A | R) − P(A | X_F)| < 2ε with ε = 1 − P(X_F | R), for random events A (and the
    worst one, the TV, which equals ε exactly)."""
    rng = np.random.default_rng(seed)
    w = random_world(seed % 40, max_events=SMALL)
    p = w.probs()
    o = random_objective(w, rng)
    eps = 1 - goodhart_of(p, o)
    pr, pf = conditional(p, o.rho), conditional(p, o.forcing.astype(float))
    for _ in range(50):
        a = rng.uniform(size=p.size) < rng.uniform()
        diff = abs(pr[a].sum() - pf[a].sum())
        assert diff <= eps + 1e-12
        if eps > 0:
            assert diff < 2 * eps
    assert abs(tv(pr, pf) - eps) < 1e-12


def test_goodhart_of_presets_by_brute_force() -> None:
    w = default_world(max_events=SMALL)
    objs = objectives(SMALL)
    ref = books(SMALL)
    probs = [book_prob(w, b) for b in ref]
    for o in objs.values():
        achieved = sum(pb * r for pb, r in zip(probs, o.rho, strict=True))
        forcing = sum(pb for pb, r in zip(probs, o.rho, strict=True) if r == 1.0)
        assert abs(goodhart_of(w.probs(), o) - forcing / achieved) < 1e-12
    m = goodhart(w, ["enjoy", "persuade"], n_random=30)
    assert m.facts["random.max_gap_over_2eps"] <= 0.5 + 1e-9
    assert all(p.mean <= p.x + 1e-12 for c in m.curves for p in c.points)


def test_no_forcing_set_or_never_achieved_is_an_error() -> None:
    w = default_world(max_events=SMALL)
    zero = Objective("never", "x", "x", np.zeros(all_books(SMALL).size))
    with pytest.raises(LatentError, match="never achieved"):
        goodhart_of(w.probs(), zero)
    with pytest.raises(LatentError, match="beta"):
        finetune(w.probs(), zero.rho, -1.0)


# --- measurements --------------------------------------------------------------------------


def test_merging_falls_with_n_in_class_and_stays_away_when_misspecified() -> None:
    w = default_world()
    m = merging(w, [MimicClass.parse("g1"), MimicClass.parse("m1")], [100, 20_000], reps=8)
    inside, outside = m.curves
    assert inside.points[1].mean < inside.points[0].mean / 4
    assert inside.points[1].mean < 0.03
    assert inside.predicted_limit is not None and inside.predicted_limit < 1e-9
    assert outside.predicted_limit is not None and outside.predicted_limit > 0.08
    # misspecified: bounded away from 0, near the class's limit
    assert outside.points[1].mean > 0.08
    assert abs(outside.points[1].mean - outside.predicted_limit) < 0.02


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    inside=st.sampled_from(["g1", "g2", "m3"]),
    outside=st.sampled_from(["m0", "g0"]),
)
def test_merging_property_over_random_worlds(seed: int, inside: str, outside: str) -> None:
    """On random worlds (books of up to 3 events, so m3 still sees the setting): a class
    containing the truth merges (TV → 0), a misspecified one stays at its class's limit,
    away from 0. Tolerance: the operator's forecast and the mimic each sit within
    E TV ≤ ½·sqrt(K/N) of their limits (K cells of Z; Cauchy-Schwarz on the multinomial
    standard errors), so their distance within sqrt(K/N) of the limits' distance."""
    w = random_world(seed, max_events=SMALL)
    small, big = 100, 200_000
    m = merging(w, [MimicClass.parse(inside), MimicClass.parse(outside)], [small, big], 3, seed)
    tol = float(np.sqrt(m.facts["cells"] / big))
    ins, out = m.curves
    assert ins.note == "contains the truth" and out.note == "misspecified"
    assert ins.predicted_limit is not None and ins.predicted_limit < 1e-9
    assert ins.points[1].mean < tol and ins.points[1].mean < ins.points[0].mean / 5
    assert out.predicted_limit is not None and out.predicted_limit > 0.03
    assert abs(out.points[1].mean - out.predicted_limit) < tol


def test_merging_point_by_brute_force() -> None:
    """One replicate of the merging curve recomputed from dictionaries."""
    w = default_world(max_events=SMALL)
    z = ("genre", "sentiment", "helps")
    cls = MimicClass.parse("g1")
    counts = sample_books(w.probs(), 50, np.random.default_rng(0))
    ref_books = books(SMALL)
    data = {b: float(c) for b, c in zip(ref_books, counts, strict=True) if c}
    mz: dict = {}
    zc: dict = {}
    for b in ref_books:
        f = features(b)
        key = tuple(f[n] for n in z)
        mz[key] = mz.get(key, 0.0) + mimic_prob(cls, data, b, SMALL)
        zc[key] = zc.get(key, 0.0) + data.get(b, 0.0)
    cells = 3 * 2 * 3
    f_op = {k: (zc.get(k, 0.0) + 0.5) / (50 + 0.5 * cells) for k in np.ndindex(3, 2, 3)}
    ref = 0.5 * sum(abs(f_op[k] - mz.get(k, 0.0)) for k in f_op)
    code = feature_code(z, SMALL)
    ours = tv(
        operator_forecast(np.bincount(code, weights=counts, minlength=cells)),
        push(fit_mimic(cls, counts, SMALL).probs, code, feature_cells(z)),
    )
    assert abs(ours - ref) < 1e-12


def test_sync_limits_perfect_and_imperfect() -> None:
    w = default_world()
    m = sync(w, ["positive", "enjoy"], [1.0, 0.1, 0.0])
    perfect, imperfect = m.curves
    assert perfect.points[-1].mean < 1e-12
    assert imperfect.predicted_limit is not None
    assert abs(imperfect.points[-1].mean - imperfect.predicted_limit) < 1e-12
    g = m.facts["enjoy.G"]
    assert isinstance(g, float) and imperfect.predicted_limit <= 1 - g + 1e-12
    assert imperfect.predicted_limit > 0.5  # the article's failure: far from synchronised


def test_bayes_classifier_accuracy_by_brute_force() -> None:
    w = default_world(max_events=SMALL)
    p = w.probs()
    q = fit_mimic(MimicClass.parse("m1"), sample_books(p, 40, np.random.default_rng(2)), SMALL)
    ref_books = books(SMALL)
    joint_p: dict = {}
    for b, pb in zip(ref_books, p, strict=True):
        joint_p.setdefault(b[1], [0.0, 0.0, 0.0])[b[0]] += pb
    acc = 0.0
    for b, qb in zip(ref_books, q.probs, strict=True):
        scores = joint_p[b[1]]
        if scores.index(max(scores)) == b[0]:
            acc += qb
    assert abs(bayes_accuracy(p, q.probs) - acc) < 1e-12
    assert bayes_accuracy(q.probs, q.probs) >= bayes_accuracy(p, q.probs)


def test_logistic_fit_is_the_minimum_of_its_loss() -> None:
    w = default_world(max_events=SMALL)
    x = _design_matrix(SMALL)
    data = _joint(sample_books(w.probs(), 300, np.random.default_rng(3)))
    coef = fit_logistic(x, data, l2=1e-2)
    best = log_loss(coef, x, data, 1e-2)
    rng = np.random.default_rng(4)
    for _ in range(10):
        assert log_loss(coef + rng.normal(scale=0.05, size=coef.shape), x, data, 1e-2) > best


def test_transfer_gap_shrinks_in_class() -> None:
    w = default_world()
    m = transfer(w, [MimicClass.parse("g1"), MimicClass.parse("m1")], [30, 10_000], reps=4)
    by = {c.label: c for c in m.curves}
    bayes_in, bayes_out = by["genre-markov1 Bayes"], by["markov1 Bayes"]
    assert all(p.mean >= -1e-12 for p in bayes_in.points + bayes_out.points)
    assert bayes_in.points[1].mean < bayes_in.points[0].mean
    assert bayes_in.points[1].mean < 0.01
    assert bayes_out.points[1].mean > 0.05
    lr_in = by["genre-markov1 logistic"]
    assert lr_in.points[1].mean < lr_in.points[0].mean


def test_measurements_reject_bad_input() -> None:
    w = default_world(max_events=SMALL)
    with pytest.raises(LatentError, match="unknown objective"):
        sync(w, ["nope"], [1.0])
    with pytest.raises(LatentError, match="N values"):
        merging(w, [MimicClass.parse("g1")], [0])
    with pytest.raises(LatentError, match="seed is -1"):
        merging(w, [MimicClass.parse("g1")], [10], reps=2, seed=-1)
    with pytest.raises(LatentError, match="seed is -2"):
        sync(w, ["positive"], [1.0], MimicClass.parse("g1"), 10, seed=-2)
    with pytest.raises(LatentError, match="at least 1 random objective"):
        goodhart(w, ["recommend"], n_random=0)


def test_an_empty_forcing_set_is_reported_not_fatal() -> None:
    """With one-event books, enjoy's forcing set (praise twice) is empty: G is 0 (no
    achieved book is forced), the gap to P(· | X_F) is undefined and left out with a note
    saying how long books must be; the other objectives are measured as usual."""
    w = default_world(max_events=1)
    assert not objectives(1)["enjoy"].forcing.any() and objectives(2)["enjoy"].forcing.any()
    m = goodhart(w, ["enjoy", "persuade"], n_random=5)
    assert m.facts["enjoy.G"] == 0.0 and "enjoy.tv_x" not in m.facts
    note = m.facts["enjoy.forcing_set"]
    assert isinstance(note, str) and "empty" in note and "--max-events 2" in note
    p = w.probs()
    pers = objectives(1)["persuade"]
    ref = sum(pb for pb, r in zip(p, pers.rho, strict=True) if r == 1.0) / float(p @ pers.rho)
    assert abs(float(m.facts["persuade.G"]) - ref) < 1e-12 and "persuade.tv_x" in m.facts
    s = sync(w, ["enjoy", "positive"], [1.0, 0.0])
    enjoy, positive = s.curves
    assert enjoy.predicted_limit is None and "empty" in enjoy.note
    assert positive.predicted_limit is not None and positive.points[-1].mean < 1e-12
