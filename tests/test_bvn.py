"""Low-order orthant probabilities against independent references.

References: mpmath (40 digits) 1-D integrals for the bivariate case, closed forms at zero
thresholds, nested log-space quadrature with only log_ndtr (references.log_tvn_upper_ref)
and scipy.stats.multivariate_normal.cdf for triples, and Monte Carlo.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from references import log_tvn_upper_ref
from references import mp_log_bvn as _mp_log_bvn
from scipy.stats import multivariate_normal

from latent.bvn import all_pairs_log, all_pairs_zero, log_bvn_upper
from latent.errors import LatentError
from latent.tvn import (
    all_triples_log,
    all_triples_zero,
    log_tvn_upper,
    triple_arrays,
    triple_from_index,
    triple_index,
)


def _rel(a: float, b: float) -> float:
    """Relative error of exp(a) against exp(b)."""
    return abs(math.expm1(a - b))


# (h, k, r, relative tolerance on P); tolerances include the eps·|log P| floor of the log
TAIL_CASES = [
    (0.0, 0.0, 0.5, 1e-13),
    (1.0, 2.0, 0.3, 1e-13),
    (8.0, 8.0, 0.5, 1e-13),
    (8.0, 8.0, -0.5, 1e-12),
    (8.0, 8.0, 0.99, 1e-13),
    (8.0, 8.0, -0.99, 1e-11),
    (3.0, -3.0, 0.9, 1e-13),
    (2.0, 2.0, -0.5, 1e-12),
    (-2.0, -2.0, -0.9, 1e-12),
    (20.0, 20.0, 0.3, 1e-12),
    (35.0, 30.0, 0.8, 1e-12),
    (35.0, 35.0, -0.3, 1e-11),
    (5.0, -5.0, -0.99, 1e-12),
    (0.1, -0.1, -0.999, 1e-12),
    (3.0, 3.0, 0.93, 1e-13),
    (3.0, 2.9, 0.999999, 1e-13),
    (-3.0, 2.0, 0.95, 1e-13),
]


@pytest.mark.parametrize(("h", "k", "r", "tol"), TAIL_CASES)
def test_bvn_tails_against_mpmath(h: float, k: float, r: float, tol: float) -> None:
    assert _rel(float(log_bvn_upper(h, k, r)), _mp_log_bvn(h, k, r)) < tol


def test_bvn_random_against_mpmath() -> None:
    """Random thresholds in [-3, 3] and correlations in (-1, 1): 1e-12 relative for r >= 0."""
    rng = np.random.default_rng(20240)
    n = 16
    h, k, r = rng.uniform(-3, 3, n), rng.uniform(-3, 3, n), rng.uniform(-0.999, 0.999, n)
    got = log_bvn_upper(h, k, r)
    for i in range(n):
        tol = 1e-12 if r[i] >= 0 else 1e-10
        assert _rel(float(got[i]), _mp_log_bvn(h[i], k[i], r[i])) < tol, (h[i], k[i], r[i])


def test_bvn_exact_special_correlations() -> None:
    h = np.array([-1.0, 0.5, 2.0, 7.0])
    k = np.array([0.3, -0.4, 2.5, 6.0])
    lq = np.log(0.5 * np.array([math.erfc(x / math.sqrt(2)) for x in h]))
    lk = np.log(0.5 * np.array([math.erfc(x / math.sqrt(2)) for x in k]))
    np.testing.assert_allclose(log_bvn_upper(h, k, 0.0), lq + lk, rtol=1e-14)
    np.testing.assert_allclose(log_bvn_upper(h, k, 1.0), np.minimum(lq, lk), rtol=1e-14)
    # r = -1: P(h < X < -k)
    p = float(np.exp(log_bvn_upper(-1.0, 0.3, -1.0)))
    assert p == pytest.approx(0.5 * (math.erf(-0.3 / math.sqrt(2)) - math.erf(-1 / math.sqrt(2))))
    assert log_bvn_upper(1.0, 0.0, -1.0) == -np.inf


def test_bvn_broadcast_and_infinite_thresholds() -> None:
    out = log_bvn_upper(np.zeros((2, 3)), 0.0, np.array([0.1, 0.2, 0.3]))
    assert out.shape == (2, 3)
    assert float(log_bvn_upper(-np.inf, 1.0, 0.4)) == pytest.approx(
        math.log(0.5 * math.erfc(1 / math.sqrt(2)))
    )
    assert log_bvn_upper(np.inf, 1.0, 0.4) == -np.inf


def test_pairs_zero_closed_form() -> None:
    R = np.array([[1.0, 0.3, -0.5], [0.3, 1.0, 0.2], [-0.5, 0.2, 1.0]])
    P = all_pairs_zero(R)
    assert P[0, 1] == pytest.approx(0.25 + math.asin(0.3) / (2 * math.pi), rel=1e-15)
    np.testing.assert_allclose(np.exp(all_pairs_log(R, np.zeros(3))), P, rtol=1e-13)


def _random_corr(m: int, rng: np.random.Generator) -> np.ndarray:
    L = rng.normal(size=(m, 3))
    C = L @ L.T + np.diag(rng.uniform(0.1, 1.5, m))
    d = np.sqrt(np.diag(C))
    R = C / d[:, None] / d[None, :]
    np.fill_diagonal(R, 1.0)
    return R


def test_all_pairs_matches_elementwise() -> None:
    rng = np.random.default_rng(3)
    m = 25
    R, h = _random_corr(m, rng), rng.uniform(-3, 3, m)
    A = all_pairs_log(R, h)
    i, j = np.triu_indices(m, 1)
    np.testing.assert_array_equal(A[i, j], log_bvn_upper(h[i], h[j], R[i, j]))
    np.testing.assert_array_equal(A, A.T)
    np.testing.assert_allclose(
        np.exp(np.diag(A)), 0.5 * np.array([math.erfc(x / math.sqrt(2)) for x in h]), rtol=1e-14
    )


def test_triple_index_roundtrip_and_order() -> None:
    m = 9
    I_, J_, K_ = triple_arrays(m)
    expected = [(i, j, k) for i in range(m) for j in range(i + 1, m) for k in range(j + 1, m)]
    assert list(zip(I_.tolist(), J_.tolist(), K_.tolist(), strict=True)) == expected
    for p, (i, j, k) in enumerate(expected):
        assert triple_index(i, j, k, m) == p
        assert triple_from_index(p, m) == (i, j, k)
    with pytest.raises(LatentError):
        triple_index(2, 1, 3, m)


def test_triples_zero_closed_form_and_order() -> None:
    rng = np.random.default_rng(5)
    m = 12
    R = _random_corr(m, rng)
    Z = all_triples_zero(R)
    i, j, k = 2, 5, 9
    a = [math.asin(R[i, j]), math.asin(R[i, k]), math.asin(R[j, k])]
    assert Z[triple_index(i, j, k, m)] == pytest.approx(0.125 + sum(a) / (4 * math.pi), 1e-14)
    T = all_triples_log(R, np.zeros(m))
    np.testing.assert_allclose(np.exp(T), Z, rtol=1e-11, atol=1e-14)


def test_triples_against_quadrature_and_scipy() -> None:
    """All triples of a 14-variable model agree with all_triples_log; a sample with references.

    Tolerances: 1e-10 relative against nested log-space quadrature that uses only log_ndtr
    (references.log_tvn_upper_ref, not latent.bvn), 1e-6 absolute against scipy's
    multivariate_normal.cdf (its own error is ~1e-6).
    """
    rng = np.random.default_rng(11)
    m = 14
    R, h = _random_corr(m, rng), rng.uniform(-2.5, 2.5, m)
    T = all_triples_log(R, h)
    I_, J_, K_ = triple_arrays(m)
    h3 = np.stack([h[I_], h[J_], h[K_]], axis=1)
    r3 = np.stack([R[I_, J_], R[I_, K_], R[J_, K_]], axis=1)
    np.testing.assert_allclose(log_tvn_upper(h3, r3), T, rtol=1e-13, atol=1e-13)
    for p in rng.choice(T.size, 12, replace=False):
        i, j, k = int(I_[p]), int(J_[p]), int(K_[p])
        hh = h[[i, j, k]]
        ref = log_tvn_upper_ref(hh, (R[i, j], R[i, k], R[j, k]))
        assert _rel(float(T[p]), ref) < 1e-10
        sub = R[np.ix_([i, j, k], [i, j, k])]
        mvn = multivariate_normal(mean=np.zeros(3), cov=sub, abseps=1e-9, releps=0.0)
        assert abs(math.exp(T[p]) - float(mvn.cdf(-hh))) < 1e-6


def test_triples_monte_carlo() -> None:
    """A few strongly correlated and mixed-sign triples against 4e6 draws (5 sigma)."""
    rng = np.random.default_rng(7)
    cases = [
        ([0.5, -0.2, 1.0], [0.8, 0.6, 0.7]),
        ([0.0, 0.3, -0.4], [-0.5, 0.4, -0.3]),
        ([1.0, 1.2, 0.9], [0.95, 0.9, 0.92]),
    ]
    for hh, (r12, r13, r23) in cases:
        C = np.array([[1, r12, r13], [r12, 1, r23], [r13, r23, 1]])
        X = rng.multivariate_normal(np.zeros(3), C, size=4_000_000, method="cholesky")
        p_mc = float(np.mean(np.all(np.array(hh) < X, axis=1)))
        p = math.exp(float(log_tvn_upper([hh], [[r12, r13, r23]])[0]))
        assert abs(p - p_mc) < 5 * math.sqrt(p * (1 - p) / X.shape[0])


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: log_bvn_upper(0.0, 0.0, 1.5), "outside [-1, 1]"),
        (lambda: all_pairs_log(np.eye(3), np.zeros(2)), "shape (3,)"),
        (lambda: all_pairs_log(np.ones((2, 3)), np.zeros(2)), "square"),
        (lambda: all_triples_zero(np.array([[1.0, 0.2], [0.3, 1.0]])), "not symmetric"),
        (lambda: all_pairs_zero(np.array([[2.0, 0.2], [0.2, 1.0]])), "outside"),
        (lambda: log_tvn_upper(np.zeros((2, 3)), np.zeros((2, 2))), "(n, 3)"),
        (lambda: log_bvn_upper(np.nan, 0.0, 0.2), "NaN"),
    ],
)
def test_invalid_input(call: object, fragment: str) -> None:
    with pytest.raises(LatentError, match=None) as info:
        call()  # type: ignore[operator]
    assert fragment in str(info.value)


# (thresholds, (r12, r13, r23)): far tails with negative correlations, where the Plackett
# form cancels or its integrand is too peaked for fixed nodes (once off by up to 1e17x)
TVN_TAILS = [
    ((5.0, 5.0, 5.0), (-0.4, -0.4, -0.2)),
    ((4.0, 4.0, 4.0), (-0.4, -0.4, -0.2)),
    ((10.0, 10.0, 10.0), (-0.5, -0.49, -0.4)),
    ((8.0, 2.0, 6.0), (-0.9, 0.3, -0.1)),
    ((3.54, 1.04, 7.88), (-0.696, -0.035, -0.654)),
    ((7.64, 5.05, 5.23), (0.957, -0.949, -0.855)),
    ((3.28, -0.41, -3.21), (-0.678, -0.456, -0.316)),
    ((6.53, 7.04, 5.44), (0.631, -0.403, -0.873)),
    ((12.0, 12.0, 12.0), (0.95, 0.9, 0.92)),
    ((4.16, 6.74, 5.03), (-0.093, -0.704, 0.704)),
]


@pytest.mark.parametrize(("h", "r"), TVN_TAILS)
def test_triples_in_negative_tails_against_botev(
    h: tuple[float, float, float], r: tuple[float, float, float]
) -> None:
    """Relative accuracy of the trivariate closed form far in the tails, against the
    minimax-tilting estimator (latent.mvn, a different algorithm) at 3e-5 relative."""
    from latent.mvn import log_mvn_prob

    corr = np.array([[1.0, r[0], r[1]], [r[0], 1.0, r[2]], [r[1], r[2], 1.0]])
    ref = log_mvn_prob(corr, np.array(h), np.full(3, np.inf), rel_tol=3e-5, rng=0)
    got = float(np.asarray(log_tvn_upper([list(h)], [list(r)])).ravel()[0])
    assert _rel(got, ref.log_p) < 5 * ref.rel_stderr + 1e-6, (got, ref)
    # the same triple inside all_triples_log (as bounds and debaters query it)
    all3 = float(all_triples_log(corr, np.array(h))[0])
    assert _rel(all3, ref.log_p) < 5 * ref.rel_stderr + 1e-6


def test_random_tail_triples_agree_with_an_independent_integral() -> None:
    """20 random triples with thresholds in [-4, 8] against nested log-space quadrature with
    only log_ndtr (references.log_tvn_upper_ref; no latent.bvn inside): 1e-8 relative (seen
    up to 2e-10; before the fix some were off by factors of 1e17)."""
    rng = np.random.default_rng(0)
    n = 20
    hh = rng.uniform(-4, 8, (n, 3))
    a = rng.normal(size=(n, 3, 3))
    c = a @ a.transpose(0, 2, 1) + 0.05 * np.eye(3)
    d = np.sqrt(np.einsum("nii->ni", c))
    c = c / d[:, :, None] / d[:, None, :]
    r3 = np.stack([c[:, 0, 1], c[:, 0, 2], c[:, 1, 2]], 1)
    got = log_tvn_upper(hh, r3)
    for i in range(n):
        ref = log_tvn_upper_ref(tuple(hh[i]), tuple(r3[i]))
        assert _rel(float(got[i]), ref) < 1e-8, (hh[i], r3[i], got[i], ref)
