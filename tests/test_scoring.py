"""Scores against independent high-precision computations (mpmath)."""

from __future__ import annotations

import math

import mpmath
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from debate.scoring import (
    log10_error,
    regret_bits,
    score,
    trust_log_score,
    trust_points,
    trust_verdict,
)

mpmath.mp.dps = 50


def _kl_bits(p: float, q: float) -> float:
    P, Q = mpmath.mpf(p), mpmath.mpf(q)
    head = P * mpmath.log(P / Q, 2) if P > 0 else mpmath.mpf(0)
    tail = (1 - P) * mpmath.log((1 - P) / (1 - Q), 2) if P < 1 else mpmath.mpf(0)
    return float(head + tail)


@pytest.mark.parametrize(
    ("p", "q"),
    [
        (0.3, 0.3),
        (0.3, 0.5),
        (1e-30, 1e-25),
        (1e-30, 1e-35),
        (0.999, 0.5),
        (1e-12, 0.9),
        (0.0, 0.2),
    ],
)
def test_regret_matches_mpmath(p: float, q: float) -> None:
    assert regret_bits(q, p) == pytest.approx(_kl_bits(p, q), rel=1e-9, abs=1e-300)


def _kl_bits_deep(p: float, q: float) -> float:
    """KL in bits at 400 digits: 1 - 1e-300 must not round to 1."""
    with mpmath.workdps(400):
        return _kl_bits(p, q)


@settings(max_examples=60, deadline=None)
@given(
    st.floats(min_value=1e-300, max_value=1 - 1e-9),
    st.floats(min_value=1e-300, max_value=1 - 1e-9),
)
def test_regret_is_nonnegative_and_zero_only_at_truth(p: float, q: float) -> None:
    """Away from the truth the regret is positive (and mpmath's value); at it, exactly 0."""
    r = regret_bits(q, p)
    ref = _kl_bits_deep(p, q)
    assert r == pytest.approx(ref, rel=1e-6, abs=1e-300)
    if p != q and ref > 1e-290:
        assert r > 0
    assert regret_bits(p, p) == 0.0
    assert regret_bits(p * 1.5 if p < 0.5 else p / 1.5, p) > 0


def test_log10_error_and_zero_truth() -> None:
    assert log10_error(1e-12, 1e-9) == pytest.approx(3.0)
    assert log10_error(0.5, 0.5) == 0.0
    # an impossible Z is floored at 1e-300 (LOG10_FLOOR), not infinitely far
    assert log10_error(1e-6, 0.0) == pytest.approx(294.0, abs=1e-12)
    assert log10_error(0.0, 0.0) == 0.0


def test_score_interval_and_trust() -> None:
    s = score(1e-5, 1e-6, interval=(1e-7, 1e-4), credence_a=0.8, honest="b")
    assert s.covered is True
    assert s.trusted_honest is False
    assert s.trust_log_score == pytest.approx(math.log2(0.2))
    assert trust_log_score(0.0) == pytest.approx(math.log2(1e-6), rel=1e-15)  # clipped
    assert trust_log_score(1.0) == pytest.approx(math.log2(1 - 1e-6), rel=1e-12)
    s = score(0.1, 0.1, credence_a=0.5, honest="a", credences_a=[0.5, 0.75, 0.25])
    assert s.trust_log_scores == pytest.approx([-1.0, math.log2(0.75), -2.0])


def _kl_bits_small(p: float, q: float) -> float:
    """Closed form for p, q << 1: KL = p·log2(p/q) + (q − p)/ln 2 + O(max(p, q)²)."""
    return p * math.log2(p / q) + (q - p) / math.log(2)


@pytest.mark.parametrize(
    ("p", "q"),
    [(1e-50, 1e-50), (1e-50, 1e-40), (1e-50, 1e-60), (1e-50, 1e-300), (1e-300, 1e-50)],
)
def test_regret_at_extreme_probabilities_is_finite_and_exact(p: float, q: float) -> None:
    r = regret_bits(q, p)
    assert r == pytest.approx(_kl_bits_small(p, q), rel=1e-9, abs=1e-320)
    with mpmath.workdps(700):  # 1 − 1e-300 must not round to 1
        assert r == pytest.approx(_kl_bits(p, q), rel=1e-9, abs=1e-320)
    s = score(q, p, credence_a=1.0, honest="b", credences_a=[0.0, 1.0])
    # credence 1 in A when B was honest: clipped at 1e-6, then 1 - 1e-6 and 1e-6 over turns
    assert s.trust_log_score == pytest.approx(math.log2(1e-6), rel=1e-15)
    assert s.trust_log_scores == pytest.approx([math.log2(1 - 1e-6), math.log2(1e-6)], rel=1e-12)
    assert s.regret_bits == r
    assert s.log10_error == pytest.approx(abs(math.log10(q) - math.log10(p)))


def test_regret_of_a_moderate_estimate_for_a_tiny_truth() -> None:
    # p = 1e-50, q = 0.5: KL = p·log2(2p) − (1 − p)·log2(1 − q) ≈ 1 bit
    assert regret_bits(0.5, 1e-50) == pytest.approx(1.0 + 1e-50 * math.log2(2e-50), rel=1e-12)


def test_edges_of_the_scores() -> None:
    """Found by the mutation run (docs/testing.md): the interval's ends count as covered, a
    credence without a known honest side is not scored, exactly 1/2 trusts nobody, and a
    truth of exactly 1 has no complement term."""
    t = 1e-4
    assert score(t, t, interval=(t, 2 * t)).covered is True
    assert score(t, t, interval=(t / 2, t)).covered is True
    assert score(t, t, interval=(t / 2, t * 0.999)).covered is False
    s = score(t, t, credence_a=0.7, credences_a=[0.7])
    assert (s.trust_log_score, s.trusted_honest, s.trust_log_scores) == (None, None, [])
    s = score(t, t, credence_a=0.9, honest="a")
    assert s.trusted_honest is True and s.trust_log_score == pytest.approx(math.log2(0.9))
    # exactly 1/2 trusts nobody (it counted as trusting the liar; studies already said None)
    assert score(t, t, credence_a=0.5, honest="a").trusted_honest is None
    assert score(t, t, credence_a=0.5, honest="b").trusted_honest is None
    # Z certain: KL = log2(1/q) exactly (1 bit at q = 1/2); an estimate of 1 is right
    assert regret_bits(0.5, 1.0) == pytest.approx(1.0, rel=1e-15)
    assert regret_bits(1.0, 1.0) == 0.0
    assert regret_bits(1.0, 0.5) == math.inf


def test_a_credence_of_a_half_trusts_nobody_and_earns_a_coins_share() -> None:
    assert [trust_verdict(c) for c in (0.2, 0.5, 0.8)] == [False, None, True]
    assert score(0.1, 0.1, credence_a=0.5, honest="b").trusted_honest is None
    assert score(0.1, 0.1, credence_a=0.6, honest="b").trusted_honest is False
    # credit for the honest side (or any side): 1, 0, and 1/2 when undecided
    assert [trust_points(0.7, "a"), trust_points(0.7, "b"), trust_points(0.5, "b")] == [1, 0, 0.5]
