"""Tests for latent.mvn against independent closed forms and 1-D quadrature references."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from references import log_ref_equi, mp_log_bvn
from scipy import optimize
from scipy.special import log_ndtr
from scipy.stats import multivariate_normal

from latent.errors import LatentError
from latent.mvn import MVNResult, _ln_npr, log_mvn_prob, log_orthant_prob


def equi(m: int, rho: float) -> np.ndarray:
    cov = np.full((m, m), rho)
    np.fill_diagonal(cov, 1.0)
    return cov


def check(r: MVNResult, log_ref: float, slack: float = 0.002) -> None:
    err = abs(math.expm1(r.log_p - log_ref))
    assert err <= 4.0 * r.rel_stderr + slack, (r, log_ref, err)


@pytest.mark.parametrize("m", [2, 5, 20, 100])
def test_equicorrelated_orthant_at_zero(m: int) -> None:
    r = log_mvn_prob(equi(m, 0.5), np.zeros(m), np.full(m, np.inf), rel_tol=0.005)
    assert r.method == "botev"
    check(r, -math.log(m + 1))


def test_bivariate_and_trivariate_orthants() -> None:
    for rho in (-0.9, -0.3, 0.4, 0.95):
        cov = np.array([[1.0, rho], [rho, 1.0]])
        r = log_orthant_prob(cov, [0.0, 0.0], [False, False])
        check(r, math.log(0.25 + math.asin(rho) / (2 * math.pi)))
    corr = np.array([[1.0, 0.3, -0.2], [0.3, 1.0, 0.6], [-0.2, 0.6, 1.0]])
    ref = 0.125 + (math.asin(0.3) + math.asin(-0.2) + math.asin(0.6)) / (4 * math.pi)
    sd = np.array([2.0, 0.5, 3.0])  # scaling must not matter for an orthant at 0
    r = log_mvn_prob(corr * np.outer(sd, sd), np.zeros(3), np.full(3, np.inf))
    check(r, math.log(ref))


def test_independent_is_exact_product() -> None:
    cov = np.diag([1.0, 4.0, 0.25])
    lo = np.array([-1.0, 30.0, -np.inf])
    hi = np.array([2.0, np.inf, -5.0])
    r = log_mvn_prob(cov, lo, hi)
    ref = float(np.sum(_ln_npr(lo / [1, 2, 0.5], hi / [1, 2, 0.5])))
    # P(-1 < X < 2) = Phi(2) - Phi(-1) at 30 digits (0.8185946141203637), then two tails
    import mpmath as mp

    with mp.workdps(30):
        body = float(mp.ncdf(2) - mp.ncdf(-1))
    ref2 = math.log(body) + float(log_ndtr(-15.0)) + float(log_ndtr(-10.0))
    assert r.method == "independent" and r.rel_stderr == 0.0
    assert r.log_p == pytest.approx(ref2, rel=1e-12, abs=1e-12)
    assert r.log_p == pytest.approx(ref, rel=1e-13)


def test_one_dimensional_exact_in_tails() -> None:
    r = log_mvn_prob(np.array([[4.0]]), [80.0], [np.inf])
    assert r.method == "exact-1d" and r.rel_stderr == 0.0
    assert r.log_p == pytest.approx(float(log_ndtr(-40.0)), rel=1e-14)
    r = log_mvn_prob(np.array([[1.0]]), [20.0], [21.0])  # narrow far-tail interval
    import mpmath as mp

    mp.mp.dps = 50
    ref = mp.log(mp.ncdf(-20) - mp.ncdf(-21))  # mirrored: no cancellation
    assert r.log_p == pytest.approx(float(ref), rel=1e-12)


def test_block_components_multiply() -> None:
    cov = np.zeros((5, 5))
    cov[:2, :2] = [[1.0, 0.5], [0.5, 1.0]]
    cov[2:, 2:] = equi(3, 0.5)
    r = log_mvn_prob(cov, np.zeros(5), np.full(5, np.inf), rel_tol=0.003)
    check(r, math.log(1 / 3) + math.log(1 / 4))


@pytest.mark.parametrize(("m", "target"), [(50, -30.0), (200, -60.0), (20, -12.0)])
def test_tiny_probabilities_against_quadrature(m: int, target: float) -> None:
    rng = np.random.default_rng(m)
    base = rng.uniform(0.5, 1.5, m)
    flips = rng.random(m) < 0.15
    signed = np.where(flips, -base, base)
    t = optimize.brentq(
        lambda t: log_ref_equi(t * signed, flips, 0.5) / math.log(10) - target, -10.0, 30.0
    )
    c = t * signed
    ref = log_ref_equi(c, flips, 0.5)
    r = log_orthant_prob(equi(m, 0.5), c, flips, rel_tol=0.005)
    check(r, ref)


def test_reported_stderr_is_honest() -> None:
    """Over 60 seeds the spread of the estimates matches the reported SE: the ratio lies in
    the 1e-4 quantiles of a sample SD from 60 draws, sqrt(chi2(59)/59) in [0.67, 1.35]
    (12 seeds and [0.4, 2.0] had let an SE 2x off pass); and the average is unbiased."""
    m = 30
    c = np.full(m, 2.0)
    flips = np.zeros(m, dtype=bool)
    ref = log_ref_equi(c, flips, 0.6)
    ests, ses = [], []
    for seed in range(60):
        r = log_orthant_prob(equi(m, 0.6), c, flips, rng=seed, rel_tol=0.02, max_samples=2000)
        ests.append(math.exp(r.log_p - ref))
        ses.append(r.rel_stderr)
    ratio = np.array(ests)
    se = float(np.mean(ses))
    assert 0.67 * se <= float(np.std(ratio, ddof=1)) <= 1.35 * se
    assert abs(float(np.mean(ratio)) - 1.0) <= 4.0 * se / math.sqrt(60)


def test_flips_and_infinite_bounds() -> None:
    cov = np.array([[1.0, 0.7], [0.7, 1.0]])
    # P(X1 <= 0, X2 > 0) = 1/4 - asin(0.7)/(2 pi)
    r = log_orthant_prob(cov, [0.0, 0.0], [True, False])
    check(r, math.log(0.25 - math.asin(0.7) / (2 * math.pi)))
    # an unconstrained coordinate drops out exactly
    r = log_mvn_prob(equi(3, 0.5), [-np.inf, 0.0, -np.inf], [np.inf, np.inf, np.inf])
    assert r.log_p == pytest.approx(math.log(0.5), rel=1e-14) and r.rel_stderr == 0.0
    r = log_mvn_prob(equi(3, 0.5), [-np.inf] * 3, [np.inf] * 3)
    assert r.log_p == 0.0


def test_deterministic_under_seed() -> None:
    cov = equi(40, 0.3)
    c = np.linspace(0.5, 2.0, 40)
    a = log_orthant_prob(cov, c, np.zeros(40, bool), rng=7)
    b = log_orthant_prob(cov, c, np.zeros(40, bool), rng=7)
    d = log_orthant_prob(cov, c, np.zeros(40, bool), rng=8)
    assert a == b and a.log_p != d.log_p


def test_against_scipy_cdf_small_m() -> None:
    rng = np.random.default_rng(3)
    a = rng.standard_normal((5, 5))
    cov = a @ a.T + 0.5 * np.eye(5)
    upper = rng.uniform(-0.5, 1.5, 5)
    ref = multivariate_normal(np.zeros(5), cov, abseps=1e-7, releps=1e-7).cdf(upper)
    r = log_mvn_prob(cov, np.full(5, -np.inf), upper, rel_tol=0.002)
    # scipy (Genz) is accurate to ~1e-5 absolute here; we allow 4 of our SEs plus 1e-3.
    assert abs(math.exp(r.log_p) / ref - 1.0) <= 4 * r.rel_stderr + 1e-3


def test_errors() -> None:
    bad = np.array([[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]])
    with pytest.raises(LatentError, match="positive semi-definite"):
        log_mvn_prob(bad, np.zeros(3), np.full(3, np.inf))
    with pytest.raises(LatentError):
        log_mvn_prob(np.eye(3), np.zeros(2), np.full(3, np.inf))
    with pytest.raises(LatentError):
        log_mvn_prob(np.ones((2, 3)), np.zeros(2), np.ones(2))
    with pytest.raises(LatentError, match="symmetric"):
        log_mvn_prob(np.array([[1.0, 0.5], [0.1, 1.0]]), np.zeros(2), np.ones(2))
    with pytest.raises(LatentError):
        log_orthant_prob(np.eye(2), [0.0, 0.0], [True])


def test_two_sided_rectangle_against_scipy() -> None:
    rng = np.random.default_rng(5)
    a = rng.standard_normal((6, 6))
    cov = a @ a.T + np.eye(6)
    sd = np.sqrt(np.diag(cov))
    lower = sd * rng.uniform(-1.5, 0.0, 6)
    upper = sd * rng.uniform(0.2, 2.0, 6)
    upper[0] = lower[0] + 0.05 * sd[0]  # one narrow interval
    mvn = multivariate_normal(np.zeros(6), cov, abseps=1e-9, releps=1e-7)
    ref = mvn.cdf(upper, lower_limit=lower)
    r = log_mvn_prob(cov, lower, upper, rel_tol=0.002)
    assert abs(math.exp(r.log_p) / ref - 1.0) <= 4 * r.rel_stderr + 2e-3


def test_plain_inversion_draws_equal_the_log_space_ones() -> None:
    """The sampler's fast draw (ndtri(Phi(ub) U)) against the exact log-space inversion with
    the same uniforms, in the body and far in the lower tail (where it falls back)."""
    from scipy.special import ndtri_exp

    from latent.mvn import _draw_below

    rng = np.random.default_rng(7)
    ex = rng.standard_exponential(20_000)
    for ub in (rng.uniform(-30.0, 8.0, 20_000), rng.uniform(-60.0, -20.0, 20_000)):
        y = np.exp(-ex)  # the uniforms; _draw_below overwrites them with the draws
        lz = _draw_below(ub, y)
        lz_ref = log_ndtr(ub)
        y_ref = np.minimum(ndtri_exp(lz_ref - ex), ub)
        assert np.all(np.isfinite(lz)) and np.all(np.isfinite(y)) and np.all(y <= ub)
        np.testing.assert_allclose(lz, lz_ref, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(y, y_ref, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("table", [True, False])
@pytest.mark.parametrize(("d", "n"), [(1, 1), (1, 8), (7, 32), (300, 128)])
def test_sobol_points_are_scipys(
    d: int, n: int, table: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Sobol' points built from the direction-number table are scipy's point set, and so
    are those of the fallback used when scipy's table file cannot be found."""
    from scipy.stats import qmc

    import latent.mvn as mvn
    from latent.mvn import _sobol_base

    monkeypatch.setattr(mvn, "_SOBOL_CACHE", {})
    if not table:
        monkeypatch.setattr(mvn, "_sobol_tables", lambda: None)
    ours = _sobol_base(d, n).T >> np.uint64(22)  # 52-bit integers back to scipy's 30 bits
    ref = (qmc.Sobol(d, scramble=False, bits=30).random_base2(n.bit_length() - 1) * 2**30).astype(
        np.uint64
    )
    assert sorted(map(tuple, ours.tolist())) == sorted(map(tuple, ref.tolist()))


def test_shifted_points_are_uniform_and_stratified() -> None:
    """Each point of a digitally shifted replicate is uniform on (0, 1) (so the estimator is
    unbiased), and each coordinate keeps one point per interval [i/n, (i+1)/n)."""
    from scipy.stats import kstest

    from latent.mvn import _QMC_BITS, _shifted_uniforms, _sobol_base

    d, n, reps = 40, 64, 400
    base = _sobol_base(d, n)
    rng = np.random.default_rng(11)
    shifts = rng.integers(0, 2**_QMC_BITS, size=(reps, d), dtype=np.uint64)
    u = _shifted_uniforms(base, shifts, 0, d).reshape(d, reps, n)
    assert np.all((u > 0) & (u < 1))
    cells = np.sort(np.floor(u * n).astype(int), axis=2)
    assert np.array_equal(cells, np.broadcast_to(np.arange(n), cells.shape))
    # a fixed point (index 5) over 400 independent shifts, in every coordinate: KS at 1e-4
    for j in range(d):
        assert kstest(u[j, :, 5], "uniform").pvalue > 1e-4


def test_stderr_is_honest_at_m200() -> None:
    """Over 60 seeds the errors, in units of the reported SE (from 16 replicates), spread like
    a t with 15 d.o.f. (sd 1.07; bounds for 60 draws), and their mean is ~0 (unbiased)."""
    m = 200
    rng = np.random.default_rng(m)
    base = rng.uniform(0.5, 1.5, m)
    flips = rng.random(m) < 0.1
    signed = np.where(flips, -base, base)
    t = optimize.brentq(
        lambda t: log_ref_equi(t * signed, flips, 0.5) / math.log(10) + 5.0, -10.0, 30.0
    )
    ref = log_ref_equi(t * signed, flips, 0.5)
    z = []
    for seed in range(60):
        r = log_orthant_prob(equi(m, 0.5), t * signed, flips, rng=seed, rel_tol=0.03)
        z.append(math.expm1(r.log_p - ref) / r.rel_stderr)
    zs = np.array(z)
    assert 0.8 <= float(np.std(zs, ddof=1)) <= 1.5  # i.i.d. SEs (ignoring QMC) give 0.71
    assert abs(float(np.mean(zs))) <= 4.0 * 1.07 / math.sqrt(60)


#: See test_stderr_is_honest_when_weights_are_near_binary.
GENZ_NEAR_BINARY = 3.7122821725e-39


def test_stderr_is_honest_when_weights_are_near_binary() -> None:
    """A nearly singular covariance (smallest eigenvalue 7e-7) far in the tail: the weights
    are near-binary with rare low ones. The first round is then large enough that the
    reported SE is rarely far too small (with 2,048 points: 31% of seeds beyond 4 SE)."""
    cov = np.array(
        [
            [5.165034, 2.125879, -4.576413, -1.157503],
            [2.125879, 3.494534, -2.955012, -0.538803],
            [-4.576413, -2.955012, 4.501691, 1.0432],
            [-1.157503, -0.538803, 1.0432, 0.26815],
        ]
    )
    lo = np.array([2.160869, -2.894869, -2.702876, 0.64604])
    hi = np.full(4, np.inf)
    # Independent reference (not latent.mvn): scipy 1.17's multivariate_normal.cdf(-lo)
    # (Genz-Bretz randomised QMC) with abseps=0, releps=1e-7, maxpts=4e6, seeds 0-7, see
    # references.genz_orthant: mean 3.71228e-39, relative SE of the mean 3.1e-5 (~0.1 of
    # the SEs tested here). Recomputing it takes about a minute.
    ref = math.log(GENZ_NEAR_BINARY)
    z = []
    for seed in range(60):
        r = log_mvn_prob(cov, lo, hi, rng=seed)
        z.append(abs(math.expm1(r.log_p - ref)) / r.rel_stderr)
    assert float(np.mean(np.array(z) > 4.0)) <= 0.1


def test_truncated_draws_by_inversion_against_mpmath() -> None:
    """`_trunc_draw` (two-sided intervals of the sampler, found unchecked by mutmut): for
    U = exp(-ex), Y = Phi^-1(Phi(a) + U (Phi(b) - Phi(a))), written at 50 digits for an
    interval below, across and above 0, far in either tail and starting at 0. In the upper
    half the code inverts the mirrored interval, Y = -Phi^-1(Phi(-b) + U (Phi(-a) - Phi(-b))):
    the same law, another map from U, and the one it promises (it stays exact in the tail)."""
    import mpmath

    from latent.mvn import _trunc_draw

    def inv(p: mpmath.mpf) -> mpmath.mpf:
        return mpmath.sqrt(2) * mpmath.erfinv(2 * p - 1)

    cases = [(-2.0, -1.0), (-1.0, 2.0), (0.0, 1.0), (0.5, 1.0), (8.0, 9.0), (-9.0, -8.0)]
    ex = np.array([0.1, 0.7, 2.0, 5.0])
    for a, b in cases:
        lz, y = _trunc_draw(np.full(4, a), np.full(4, b), ex)
        flip = a > 0
        lo, hi = (-b, -a) if flip else (a, b)
        with mpmath.workdps(50):
            mass = mpmath.ncdf(hi) - mpmath.ncdf(lo)
            want = [inv(mpmath.ncdf(lo) + mpmath.exp(-e) * mass) for e in ex]
            want_lz = float(mpmath.log(mass))
        assert lz == pytest.approx(np.full(4, want_lz), rel=1e-12)
        for k, w in enumerate(want):
            assert y[k] == pytest.approx(float(-w if flip else w), rel=1e-9, abs=1e-12), (a, b)
            assert a <= y[k] <= b


def _mp_trunc(a: float, b: float) -> tuple[float, float, float]:
    """(log mass, mean, variance - 1) of N(0, 1) truncated to [a, b], at 50 digits."""
    import mpmath

    with mpmath.workdps(50):
        phi = lambda x: mpmath.npdf(x) if mpmath.isfinite(x) else mpmath.mpf(0)  # noqa: E731
        xphi = lambda x: x * mpmath.npdf(x) if mpmath.isfinite(x) else mpmath.mpf(0)  # noqa: E731
        lo, hi = mpmath.mpf(a), mpmath.mpf(b)
        z = mpmath.ncdf(hi) - mpmath.ncdf(lo)
        mean = (phi(lo) - phi(hi)) / z
        dvar = (xphi(lo) - xphi(hi)) / z - mean**2
        return float(mpmath.log(z)), float(mean), float(dvar)


TRUNC_INTERVALS = [
    (-np.inf, -3.0),
    (-np.inf, 0.5),
    (-1.0, 2.0),
    (-0.5, np.inf),
    (1.0, 3.0),
    (0.3, 0.8),
    (-4.0, -3.5),
    (-np.inf, np.inf),
]


def test_truncated_normal_moments_against_mpmath() -> None:
    """The tilting's building block (latent.mvn_tilting): mass, mean and variance of a
    standard normal truncated to [a, b], one- and two-sided, against mpmath at 50 digits."""
    from latent.mvn_tilting import _trunc_mean, _trunc_mean_scalar, _trunc_moments

    a = np.array([lo for lo, _ in TRUNC_INTERVALS])
    b = np.array([hi for _, hi in TRUNC_INTERVALS])
    lz, mean, dvar = _trunc_moments(a, b)
    for i, (lo, hi) in enumerate(TRUNC_INTERVALS):
        ref_lz, ref_mean, ref_dvar = _mp_trunc(lo, hi)
        assert lz[i] == pytest.approx(ref_lz, rel=1e-12, abs=1e-15), (lo, hi)
        assert mean[i] == pytest.approx(ref_mean, rel=1e-10, abs=1e-14), (lo, hi)
        assert dvar[i] == pytest.approx(ref_dvar, rel=1e-8, abs=1e-12), (lo, hi)
        assert _trunc_mean_scalar(lo, hi) == pytest.approx(ref_mean, rel=1e-10, abs=1e-14)
        assert _trunc_mean(lo, hi) == pytest.approx(ref_mean, rel=1e-10, abs=1e-14)
    # an empty interval has no mean: the scalar path's error is answered, not raised
    with np.errstate(invalid="ignore"):
        assert math.isnan(_trunc_mean(0.3, 0.3))


def test_reordering_cholesky_of_a_two_sided_pair() -> None:
    """Botev's ordering for two correlated variables with two-sided intervals: the one of
    smaller mass first; its truncated mean z0; then the other, conditioned on the first
    (mean rho z0, sd sqrt(1 - rho^2)), with its truncated mean z1; L L' the permuted
    correlation. Written out with mpmath's truncated means."""
    from latent.mvn_tilting import _cholperm

    rho = 0.6
    corr = np.array([[1.0, rho], [rho, 1.0]])
    lower, upper = np.array([-1.0, 0.2]), np.array([1.5, 0.9])  # masses 0.775, 0.236
    lmat, perm, z = _cholperm(corr, lower, upper)
    assert perm.tolist() == [1, 0]
    z0 = _mp_trunc(0.2, 0.9)[1]
    s = math.sqrt(1 - rho * rho)
    z1 = _mp_trunc((-1.0 - rho * z0) / s, (1.5 - rho * z0) / s)[1]
    assert z.tolist() == pytest.approx([z0, z1], rel=1e-10)
    np.testing.assert_allclose(lmat @ lmat.T, corr[np.ix_(perm, perm)], atol=1e-14)
    np.testing.assert_allclose(lmat, [[1.0, 0.0], [rho, s]], atol=1e-14)


def test_log_mean_and_its_error_from_replicates() -> None:
    """Replicate means (1 + 3) / 2 = 2 and (2 + 2) / 2 = 2: no spread, SE 0; means 1 and 3:
    SD sqrt(2), SE of the mean sqrt(2) / sqrt(2) = 1, relative 1/2. One replicate has no
    spread to measure (infinite SE); all weights 0 give log 0 = -inf."""
    from latent.mvn import _log_mean_and_rel_se

    lp, se = _log_mean_and_rel_se(np.log(np.array([[1.0, 3.0], [2.0, 2.0]])))
    assert lp == pytest.approx(math.log(2.0), rel=1e-15) and se == pytest.approx(0.0, abs=1e-15)
    lp, se = _log_mean_and_rel_se(np.log(np.array([[1.0, 1.0], [3.0, 3.0]])))
    assert lp == pytest.approx(math.log(2.0), rel=1e-15) and se == pytest.approx(0.5, rel=1e-14)
    lp, se = _log_mean_and_rel_se(np.log(np.array([[1.0, 3.0]])))
    assert lp == pytest.approx(math.log(2.0), rel=1e-15) and se == math.inf
    assert _log_mean_and_rel_se(np.full((2, 3), -np.inf)) == (-math.inf, math.inf)


def test_input_edges_of_log_mvn_prob() -> None:
    """A scalar variance is a 1-D problem; an interval of zero width has probability exactly
    0; a covariance with inf, or asymmetric beyond rounding (0.5 against 0.4), is refused
    with what to pass instead."""
    r = log_mvn_prob(4.0, [1.0], [np.inf])
    assert r.log_p == pytest.approx(float(log_ndtr(-0.5)), rel=1e-14)
    r = log_mvn_prob(equi(2, 0.5), [0.0, 1.0], [1.0, 1.0])
    assert (r.log_p, r.rel_stderr, r.n_samples, r.method) == (-math.inf, 0.0, 0, "exact-empty")
    with pytest.raises(LatentError, match=r"^covariance contains inf or nan; pass a finite"):
        log_mvn_prob(np.array([[1.0, np.inf], [np.inf, 1.0]]), np.zeros(2), np.ones(2))
    with pytest.raises(LatentError, match=r"^covariance matrix is not symmetric"):
        log_mvn_prob(np.array([[1.0, 0.5], [0.4, 1.0]]), np.zeros(2), np.ones(2))


def test_the_sample_budget_is_kept() -> None:
    """`max_samples` bounds the QMC points: a small budget takes fewer points per replicate."""
    for budget in (100, 1_000, 5_000):
        r = log_mvn_prob(equi(6, 0.5), np.zeros(6), np.full(6, np.inf), max_samples=budget)
        assert r.method == "botev" and 0 < r.n_samples <= budget


def test_zero_variance_and_unconstrained_coordinates() -> None:
    """A coordinate of variance 0 is identically 0: inside its interval it drops out,
    outside it makes the probability exactly 0; a variance 0 with a nonzero covariance is
    refused. Unconstrained coordinates drop out: with every one unconstrained P = 1; with
    the third unconstrained, an orthant of the first two, 1/4 + asin(1/2) / (2 pi) = 1/3."""
    cov = np.array([[0.0, 0.0], [0.0, 1.0]])
    r = log_mvn_prob(cov, [-1.0, 0.0], [1.0, np.inf])
    assert r.log_p == pytest.approx(math.log(0.5), rel=1e-14) and r.rel_stderr == 0.0
    r = log_mvn_prob(cov, [0.5, 0.0], [1.0, np.inf])
    assert (r.log_p, r.rel_stderr, r.n_samples, r.method) == (-math.inf, 0.0, 0, "exact-empty")
    with pytest.raises(LatentError, match="zero variance with nonzero covariances"):
        log_mvn_prob(np.array([[0.0, 0.1], [0.1, 1.0]]), [-1.0, 0.0], [1.0, np.inf])
    r = log_mvn_prob(equi(3, 0.5), np.full(3, -np.inf), np.full(3, np.inf))
    assert (r.log_p, r.rel_stderr, r.n_samples, r.method) == (0.0, 0.0, 0, "trivial")
    cov = np.array([[1.0, 0.5, 0.3], [0.5, 1.0, 0.2], [0.3, 0.2, 1.0]])
    r = log_mvn_prob(cov, [0.0, 0.0, -np.inf], [np.inf, np.inf, np.inf])
    check(r, math.log(1 / 3), slack=1e-3)


# ---------------------------------------------------------------------------------------
# Survivors of the mutation sample (docs/testing.md, docs/mutation-samples/latent-mvn.txt).


def _wheel_openblas() -> list[tuple[Callable[[], int], Callable[[int], None]]]:
    """(get, set) thread counts of each OpenBLAS that numpy's and scipy's wheels ship, found
    by file name in their ``*.libs`` folders and by the symbols OpenBLAS exports (64-bit
    integer builds end in ``64_``, scipy's builds start with ``scipy_``): not by the
    /proc/self/maps scan of latent.mvn. dlopen of a loaded library returns that library."""
    import ctypes
    import glob
    import os

    import scipy

    found = []
    for pkg in (np, scipy):
        libs = os.path.dirname(os.path.dirname(pkg.__file__ or "")) + f"/{pkg.__name__}.libs"
        for path in sorted(glob.glob(f"{libs}/*openblas*.so*")):
            lib = ctypes.CDLL(path)
            for pre in ("scipy_openblas", "openblas"):
                for suf in ("64_", ""):
                    get = getattr(lib, f"{pre}_get_num_threads{suf}", None)
                    set_ = getattr(lib, f"{pre}_set_num_threads{suf}", None)
                    if get is not None and set_ is not None and (get, set_) not in found:
                        found.append((get, set_))
    return found


def test_blas_runs_single_threaded_inside_an_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sampler's BLAS calls are thin, and OpenBLAS threads made them slower (latent.mvn):
    inside `_single_threaded_blas` every OpenBLAS of the process (numpy's and scipy's) runs
    one thread, and afterwards the count it had. The libraries are looked up afresh, as in
    a new process (a forked test process inherits them already looked up)."""
    import latent.mvn as mvn

    libs = _wheel_openblas()
    if not libs:
        pytest.skip("numpy and scipy are not the wheels that ship their own OpenBLAS")
    before = [get() for get, _ in libs]
    try:
        for _, set_ in libs:
            set_(2)
        if any(get() != 2 for get, _ in libs):
            pytest.skip("OpenBLAS cannot run 2 threads here, so 1 cannot be told apart")
        monkeypatch.setattr(mvn, "_BLAS_CONTROLS", None)
        with mvn._single_threaded_blas():
            assert [get() for get, _ in libs] == [1] * len(libs)
        assert [get() for get, _ in libs] == [2] * len(libs)
        assert len(mvn._blas_controls()) == len(libs)
        r = log_mvn_prob(equi(2, 0.5), np.zeros(2), np.full(2, np.inf))
        check(r, math.log(1 / 3))
        assert [get() for get, _ in libs] == [2] * len(libs)
    finally:
        for (_, set_), n in zip(libs, before, strict=True):
            set_(n)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow this test is about
def test_far_beyond_the_tilting_the_estimate_keeps_its_leading_term() -> None:
    """P(X1 > L, X2 > L) at L = 1e10, correlation rho: every Newton start of the tilting is
    non-finite there (the truncated moments overflow), so the sampler runs untilted (mu = 0)
    and must still answer. The reference: log P = -L^2 / (1 + rho) - 2 log L + O(1) (the
    minimum of x' C^-1 x / 2 over x >= (L, L) is at (L, L); Laplace's method); the terms
    after the first (about -46) are below a double's spacing at 6.7e19 (8,192)."""
    big = 1e10
    for rho in (0.5, -0.3):
        r = log_mvn_prob(equi(2, rho), np.full(2, big), np.full(2, np.inf))
        assert r.method == "botev"
        assert r.log_p == pytest.approx(-big * big / (1 + rho), rel=1e-13)


def test_newton_falls_back_to_lu_when_cholesky_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test seam: the Cholesky factorisation of the tilting's reduced Newton system is
    made to fail (the system is positive definite in theory, and no input was found that
    makes it fail: 2,766 factorisations over 300 random problems), so the LU solve gives
    each Newton step. The saddle point is still found: P(X_i > 3 for all i) with 5
    equicorrelated (0.5) coordinates against 1-D quadrature (references.log_ref_equi), to a
    relative SE <= 0.001 within 8,192 points (untilted, mu = 0: 0.005 from 24,192)."""
    import latent.mvn_tilting as mt

    calls: list[int] = []

    def failing(*args: object, **kwargs: object) -> None:
        calls.append(1)
        raise np.linalg.LinAlgError("not positive definite (forced by the test)")

    monkeypatch.setattr(mt, "cho_factor", failing)
    m = 5
    c = np.full(m, 3.0)
    flips = np.zeros(m, dtype=bool)
    r = log_orthant_prob(equi(m, 0.5), c, flips, rng=1, rel_tol=0.001, max_samples=8192)
    assert calls, "the seam was not reached"
    assert r.method == "botev" and r.rel_stderr <= 0.001
    check(r, log_ref_equi(c, flips, 0.5), slack=0.0)


def test_the_sampler_meets_its_target_with_little_to_spare() -> None:
    """Replicates are added in rounds planned from the SE measured so far (a mean of R
    i.i.d. replicates has relative variance ~ 1/R; 10% is added to spare). For
    P(X1 > 0, X2 > 0) = 1/3 at rho = 0.5 and a target of 6e-5, the first round (SE ~1e-4)
    is not enough, so each of 20 seeds plans at least one more round; each must stop at
    or below the target (the budget, 1e6 points and 60 s, is far), within 4 SEs of 1/3,
    and the median of (SE / target)^2 must be >= 0.75: at most ~1.3x the points the final
    SE says were needed (measured 0.89; planning 2.1x the need gives 0.57; planning one
    replicate-round short stopped above the target in every seed)."""
    tol = 6e-5
    squares = []
    for seed in range(20):
        r = log_mvn_prob(
            equi(2, 0.5), np.zeros(2), np.full(2, np.inf), rng=seed, rel_tol=tol, max_seconds=60
        )
        assert r.rel_stderr <= tol, (seed, r)
        check(r, math.log(1 / 3), slack=0.0)
        squares.append((r.rel_stderr / tol) ** 2)
    assert float(np.median(squares)) >= 0.75, squares


def test_an_unreachable_target_spends_the_whole_budget() -> None:
    """A target no budget here can meet (1e-9) runs until `max_samples` points: exactly the
    budget when it is a whole number of 128-point replicates, even when the last round
    left is a single replicate (65 x 128: the first round's 64 and one more)."""
    for reps in (65, 70, 300):
        r = log_mvn_prob(
            equi(2, 0.5),
            np.zeros(2),
            np.full(2, np.inf),
            rel_tol=1e-9,
            max_samples=reps * 128,
            max_seconds=60,
        )
        assert r.n_samples == reps * 128, (reps, r)
        check(r, math.log(1 / 3), slack=0.0)


def test_a_nearly_singular_pair_far_in_the_tail_meets_its_tolerance() -> None:
    """P(X > 11.108, Y > -10.561) at correlation -0.9999976 (log P = -31078.38): a tilted
    conditional's variance rounds to 0 there, and Newton's step divides by it (1 + (Var -
    1)). Its floor was -1.0 + 1e-300, which is -1.0: the step was not finite, the tilting
    stayed at a poor start, and 10^6 points gave a relative SE of 0.05 (3.6% off) where
    8,192 now give 0.0035. Found while looking for inputs that reach the tilting's
    fallbacks (22 of 300 random problems divided by 0). Reference: mpmath at 40 digits
    (references.mp_log_bvn, the 1-D integral of phi(x) Phi((rho x - k) / sqrt(1 - rho^2)))."""
    h, k, rho = 11.10819331, -10.56148381, -0.9999975896401135
    ref = mp_log_bvn(h, k, rho)
    for seed in range(3):
        r = log_mvn_prob(equi(2, rho), [h, k], [np.inf, np.inf], rng=seed, rel_tol=0.005)
        assert r.rel_stderr <= 0.005, (seed, r)
        check(r, ref, slack=0.0)
