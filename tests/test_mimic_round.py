"""Mimic rounds: exact answers against brute force, the reveal, and nothing leaks."""

from __future__ import annotations

import numpy as np
import pytest
from mimic_reference import book_prob, books, features, mimic_prob, mimic_table

from debate.mimic_round import (
    QUESTIONS,
    MimicRound,
    MimicRoundSpec,
    build_mimic_round,
    deal_mimic_round,
    reveal_mimic_round,
    table_forecast,
)
from debate.scoring import score
from latent.errors import LatentError
from latent.mimic import MimicClass
from latent.mimic_world import default_world, objectives, sample_books


def test_truth_is_the_finetuned_mimic_by_brute_force() -> None:
    """Recount the mimic by hand over all 27,990 books, tilt it, sum the event."""
    spec = MimicRoundSpec(seed=11, objective="persuade", question=6, beta=0.05)
    rnd = build_mimic_round(spec)
    w = default_world()
    counts = sample_books(w.probs(), spec.n_train, np.random.default_rng([spec.seed, 1]))
    ref_books = books(w.max_events)
    data = {b: float(c) for b, c in zip(ref_books, counts, strict=True) if c}
    cls = MimicClass.parse(spec.mimic)
    table = mimic_table(cls, data, w.max_events)
    rho = objectives()["persuade"].rho
    num = den = 0.0
    for b, r in zip(ref_books, rho, strict=True):
        wgt = mimic_prob(cls, data, b, w.max_events, table) * float(np.exp((r - 1) / spec.beta))
        den += wgt
        if features(b)["thesis"] == 1:
            num += wgt
    assert abs(rnd.truth - num / den) < 1e-12


def test_exact_operator_is_the_natural_world_finetuned_by_brute_force() -> None:
    """The exact operator tilts the natural books (walked one by one) as the mimic was
    tilted; under imperfect control it is right where the synchronised forecast fails."""
    spec = MimicRoundSpec(seed=11, objective="enjoy", question=5, beta=0.05)
    rnd = build_mimic_round(spec)
    w = default_world()
    rho = objectives()["enjoy"].rho
    num = den = 0.0
    for b, r in zip(books(w.max_events), rho, strict=True):
        wgt = book_prob(w, b) * float(np.exp((r - 1) / spec.beta))
        den += wgt
        if features(b)["praise"] in (1, 2):
            num += wgt
    assert rnd.exact is not None and abs(rnd.exact - num / den) < 1e-12
    assert abs(rnd.exact - rnd.truth) < 0.02 < 0.3 < abs(rnd.synchronised - rnd.truth)
    rev = reveal_mimic_round(rnd, 0.3)
    assert rev.exact == rnd.exact
    assert rev.baseline_scores["exact"] == score(rnd.exact, rnd.truth)


def test_a_round_stored_before_the_exact_operator_still_reveals() -> None:
    rnd = deal_mimic_round(2)
    old = rnd.model_dump(mode="json")
    del old["exact"]
    stored = MimicRound.model_validate(old)
    rev = reveal_mimic_round(stored, 0.3)
    assert rev.exact is None and "exact" not in rev.baseline_scores
    assert rev.scores == reveal_mimic_round(rnd, 0.3).scores


def test_perfect_control_keeps_the_synchronised_forecast_and_imperfect_breaks_it() -> None:
    perfect = build_mimic_round(MimicRoundSpec(seed=3, objective="positive", question=4, beta=0.02))
    assert perfect.perfect and perfect.goodhart == 1.0
    assert abs(perfect.truth - perfect.synchronised) < 0.03  # only the mimic's own error
    broken = build_mimic_round(MimicRoundSpec(seed=3, objective="enjoy", question=5, beta=0.02))
    assert not broken.perfect and broken.goodhart < 0.2
    assert broken.truth > 0.99 and broken.synchronised < 0.5
    assert broken.forcing_share > 0.99


def test_deal_is_deterministic_and_mixes_control() -> None:
    a, b = deal_mimic_round(5), deal_mimic_round(5)
    assert a == b
    kinds = {deal_mimic_round(s).perfect for s in range(12)}
    assert kinds == {True, False}


def test_public_part_carries_no_answer() -> None:
    rnd = deal_mimic_round(4)
    text = rnd.public.model_dump_json()
    for secret in (rnd.truth, rnd.synchronised, rnd.unconditioned, rnd.goodhart):
        assert repr(secret) not in text and f"{secret:.3f}" not in text
    assert sum(r.books for r in rnd.public.table) == rnd.public.n_train
    assert sum(r.achieved for r in rnd.public.table) == rnd.public.n_achieved


def test_reveal_scores_like_pz_and_reports_baselines() -> None:
    rnd = deal_mimic_round(2)
    rev = reveal_mimic_round(rnd, 0.3)
    assert rev.scores == score(0.3, rnd.truth)
    assert rev.baseline_scores["synchronised"] == score(rnd.synchronised, rnd.truth)
    assert rev.from_table == table_forecast(rnd.public)
    assert 0 < rev.from_table < 1
    with pytest.raises(LatentError, match="between 0 and 1"):
        reveal_mimic_round(rnd, 1.5)


def test_table_forecast_counts_the_event_among_achieved() -> None:
    rnd = build_mimic_round(MimicRoundSpec(seed=1, objective="helpful", question=4, beta=0.1))
    _, values, _ = QUESTIONS[4]
    hit = sum(r.achieved for r in rnd.public.table if r.value != "none")
    assert values == (1, 2)
    assert table_forecast(rnd.public) == (hit + 1) / (rnd.public.n_achieved + 2)


def test_bad_spec_is_one_line() -> None:
    with pytest.raises(LatentError, match="unknown objective"):
        build_mimic_round(MimicRoundSpec(seed=1, objective="fame", question=0, beta=0.1))
    with pytest.raises(LatentError, match="question"):
        build_mimic_round(MimicRoundSpec(seed=1, objective="enjoy", question=99, beta=0.1))
    with pytest.raises(LatentError, match="seed is -1"):
        deal_mimic_round(-1)
    with pytest.raises(LatentError, match="seed is -3"):
        build_mimic_round(MimicRoundSpec(seed=-3, objective="enjoy", question=0, beta=0.1))
