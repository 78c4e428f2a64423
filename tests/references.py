"""Independent reference computations shared by the tests and the benchmarks.

They are slow and simple on purpose: high-precision (mpmath) or adaptive quadrature of
one-dimensional integrals, never the code under test.
"""

from __future__ import annotations

import math

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
