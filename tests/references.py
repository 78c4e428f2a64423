"""Independent reference computations shared by the tests and the benchmarks.

They are slow and simple on purpose: high-precision (mpmath) or adaptive quadrature of
one-dimensional integrals, never the code under test.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import mpmath as mp
import numpy as np
from scipy import integrate, optimize
from scipy.special import log_ndtr


def mp_log_bvn(h: float, k: float, r: float) -> float:
    """log ∫_h^∞ φ(x) Φ((r x - k)/sqrt(1-r²)) dx at 40 digits, scaled by its maximum.

    The integrand is log-concave; the mode is found by golden search and breakpoints are put
    around it and around the step at x = k/r so that tanh-sinh sees smooth pieces.
    """
    with mp.workdps(40):
        hm, km, rm = mp.mpf(h), mp.mpf(k), mp.mpf(r)
        s = mp.sqrt(1 - rm * rm)

        def lf(x: mp.mpf) -> mp.mpf:
            return -x * x / 2 + mp.log(mp.ncdf((rm * x - km) / s))

        a = hm
        b = max(hm, mp.mpf(0), km / rm if rm > 0 else hm) + 40
        for _ in range(150):
            c1, c2 = a + (b - a) * mp.mpf(0.382), a + (b - a) * mp.mpf(0.618)
            if lf(c1) < lf(c2):
                a = c1
            else:
                b = c2
        mode = (a + b) / 2
        top = lf(mode)
        pts = {hm}
        for base in [mode, km / rm]:
            for d in (0, 1e-4, 1e-3, 1e-2, 0.03, 0.1, 0.3, 1, 3, 10, 30):
                for sg in (-1, 1):
                    x = base + sg * d * (s if d < 1 else 1)
                    if x > hm:
                        pts.add(x)
        v = mp.quad(lambda x: mp.exp(lf(x) - top), [*sorted(pts), mp.inf], maxdegree=10)
        return float(top + mp.log(v) - mp.log(mp.sqrt(2 * mp.pi)))


def log_ref_equi(c: np.ndarray, flips: np.ndarray, rho: float) -> float:
    """Exact log P via X_i = sqrt(rho) W + sqrt(1-rho) E_i and log-space quad over W."""
    a, s = math.sqrt(rho), math.sqrt(1.0 - rho)
    sign = np.where(flips, -1.0, 1.0)

    def g(w: float) -> float:
        return float(
            -0.5 * w * w - 0.5 * math.log(2 * math.pi) + log_ndtr(sign * (a * w - c) / s).sum()
        )

    grid = np.linspace(-60.0, 60.0, 4001)
    vals = np.array([g(w) for w in grid])
    w0 = float(grid[int(np.argmax(vals))])
    res = optimize.minimize_scalar(lambda w: -g(w), bracket=(w0 - 0.1, w0, w0 + 0.1))
    wstar, gmax = float(res.x), -float(res.fun)
    inside = grid[vals > gmax - 80.0]
    lo, hi = min(float(inside.min()), wstar) - 0.5, max(float(inside.max()), wstar) + 0.5
    val, _ = integrate.quad(
        lambda w: math.exp(g(w) - gmax), lo, hi, points=[wstar], limit=500, epsabs=0.0, epsrel=1e-11
    )
    return gmax + math.log(val)


def genz_orthant(
    cov: np.ndarray, lower: np.ndarray, seeds: range = range(8), maxpts: int = 4_000_000
) -> tuple[float, float]:
    """P(X > lower), X ~ N(0, cov), by scipy's Genz-Bretz randomised QMC (not latent.mvn):
    the mean over `seeds` and its relative standard error."""
    from scipy.stats import multivariate_normal

    vals = np.array(
        [
            multivariate_normal(
                np.zeros(len(lower)),
                cov,
                allow_singular=True,
                abseps=0,
                releps=1e-7,
                maxpts=maxpts,
                seed=s,
            ).cdf(-np.asarray(lower))
            for s in seeds
        ]
    )
    mean = float(vals.mean())
    return mean, float(vals.std(ddof=1) / mean / math.sqrt(len(vals)))


def log_tvn_upper_ref(h: tuple[float, float, float], r: tuple[float, float, float]) -> float:
    """log P(X1 > h1, X2 > h2, X3 > h3), unit variances, correlations r = (r12, r13, r23),
    by nested adaptive quadrature in log space with only log_ndtr (not latent.bvn or tvn).

    Outer over x1, inner over z with X2 = r12 x1 + sqrt(1 - r12²) z; X3 given both is normal
    (mean b1 x1 + b2 x2, sd s), so the innermost factor is Phi((mean - h3)/s). Each integrand
    is log-concave: its mode is found on a grid and the integral scaled by its maximum, so
    the relative accuracy (~1e-10) holds however small P is.
    """
    h1, h2, h3 = (float(v) for v in h)
    r12, r13, r23 = (float(v) for v in r)
    s2 = math.sqrt(1.0 - r12 * r12)
    det = 1.0 - r12 * r12
    b1 = (r13 - r12 * r23) / det
    b2 = (r23 - r12 * r13) / det
    s3 = math.sqrt(max(1.0 - (r13 * b1 + r23 * b2), 1e-300))
    half_log_2pi = 0.5 * math.log(2.0 * math.pi)

    def log_int(lf: Any, lfv: Any, a: float) -> float:
        """log of the integral of exp(lf) over [a, inf), lf log-concave."""
        xs = np.linspace(a, max(a, 0.0) + 45.0, 801)
        vals = lfv(xs)
        i = int(np.argmax(vals))
        top, mode = float(vals[i]), float(xs[i])
        if not math.isfinite(top):
            return -math.inf
        width = float(xs[1] - xs[0])
        pts = [p for p in (mode - width, mode, mode + width) if p > a]
        return _log_quad(lf, a, mode, top, pts, 1e-12)

    def log_inner(x: float) -> float:
        a = (h2 - r12 * x) / s2

        def g(z: Any) -> Any:
            x2 = r12 * x + s2 * z
            return -0.5 * z * z + log_ndtr((b1 * x + b2 * x2 - h3) / s3)

        return log_int(lambda z: float(g(z)), g, a) - half_log_2pi

    def outer(x: float) -> float:
        return -0.5 * x * x + log_inner(x)

    # the outer integrand is log-concave (Prekopa), so a golden-section search finds its mode
    lo, hi = h1, max(h1, 0.0) + 45.0
    for _ in range(60):
        c1, c2 = lo + 0.382 * (hi - lo), lo + 0.618 * (hi - lo)
        if outer(c1) < outer(c2):
            lo = c1
        else:
            hi = c2
    mode = 0.5 * (lo + hi)
    top = outer(mode)
    pts = [p for p in (mode - 0.5, mode, mode + 0.5) if p > h1]
    return _log_quad(outer, h1, mode, top, pts, 1e-11) - half_log_2pi


def _log_quad(
    log_f: Callable[[float], float], a: float, mode: float, top: float, pts: list[float], rel: float
) -> float:
    """log of the integral of exp(log_f) from `a` to 45 past its `mode`, where log_f peaks at
    `top`: the integrand is scaled by exp(-top), so tiny values keep their relative digits."""
    val = integrate.quad(
        lambda x: math.exp(log_f(x) - top),
        a,
        mode + 45.0,
        points=pts,
        epsabs=0.0,
        epsrel=rel,
        limit=500,
    )[0]
    return top + math.log(val)
