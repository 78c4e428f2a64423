"""Benchmark ``latent.mvn.log_mvn_prob`` against exact 1-D-integral references and scipy.

Equicorrelated covariance (rho = 0.5) with heterogeneous thresholds; the exact reference uses
X_i = sqrt(rho) W + sqrt(1 - rho) E_i, i.e. P = int phi(w) prod_i Phi((sqrt(rho) w - c_i) /
sqrt(1 - rho)) dw, integrated in log space with scipy.integrate.quad.  Run:
``python bench/bench_pz.py [--quick]`` (``--quick`` skips scipy's multivariate_normal.cdf).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
from scipy import optimize
from scipy.stats import multivariate_normal

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from references import log_ref_equi

from latent.mvn import log_orthant_prob

RHO = 0.5


def log_ref(c: np.ndarray, flips: np.ndarray, rho: float = RHO) -> float:
    """Exact log P for the equicorrelated benchmark problems (1-D quadrature)."""
    return log_ref_equi(c, flips, rho)


def equi_cov(m: int, rho: float = RHO) -> np.ndarray:
    cov = np.full((m, m), rho)
    np.fill_diagonal(cov, 1.0)
    return cov


def thresholds_for(m: int, target_log10: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Heterogeneous thresholds (10% flipped) scaled so the exact probability hits the target."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.5, 1.5, m)
    flips = rng.random(m) < 0.1
    signed = np.where(flips, -base, base)

    def f(t: float) -> float:
        return log_ref(t * signed, flips) / math.log(10) - target_log10

    t = optimize.brentq(f, -10.0, 20.0, xtol=1e-6)
    return t * signed, flips


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="skip scipy multivariate_normal.cdf")
    args = ap.parse_args()
    print(
        f"{'m':>5} {'target':>7} {'time s':>7} {'log10 est':>10} {'rel_se':>8} "
        f"{'rel err':>9} {'n':>7} method"
    )
    for m in (50, 100, 200, 1000):
        for target in (-5.0, -30.0, -50.0):
            c, flips = thresholds_for(m, target, seed=m)
            ref = log_ref(c, flips)
            cov = equi_cov(m)
            t0 = time.perf_counter()
            r = log_orthant_prob(cov, c, flips, rel_tol=0.01)
            dt = time.perf_counter() - t0
            err = math.expm1(r.log_p - ref)
            print(
                f"{m:>5} {target:>7.0f} {dt:>7.3f} {r.log_p / math.log(10):>10.4f} "
                f"{r.rel_stderr:>8.4f} {err:>+9.4f} {r.n_samples:>7} {r.method}"
            )
    if args.quick:
        return
    print("\nscipy.stats.multivariate_normal.cdf (same problems, orthant -> upper-bounded form):")
    for m in (50, 100):
        for target in (-5.0, -30.0):
            c, flips = thresholds_for(m, target, seed=m)
            ref = log_ref(c, flips)
            # P(s_i X_i < s_i' c_i) with s = -1 for "X_i > c_i": reflect those coordinates.
            s = np.where(flips, 1.0, -1.0)
            cov = equi_cov(m) * np.outer(s, s)
            t0 = time.perf_counter()
            p = multivariate_normal(mean=np.zeros(m), cov=cov).cdf(s * c)
            dt = time.perf_counter() - t0
            err = p / math.exp(ref) - 1.0 if ref > -700 else float("nan")
            print(
                f"{m:>5} {target:>7.0f} {dt:>7.3f} {math.log10(max(p, 1e-300)):>10.4f} "
                f"{'':>8} {err:>+9.4f}"
            )
            if m == 50 and target == -30.0 and dt > 30.0:
                print("  (skipping m=100: m=50 already took > 30 s)")
                return


if __name__ == "__main__":
    main()
