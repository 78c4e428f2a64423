"""Benchmark latent.bvn: all pairs / all triples of m = 300 variables, accuracy vs mpmath.

Run: ``python bench/bench_nway.py [--m 300] [--sample 60] [--skip-triples]``.
Prints timings, the max relative error against 40-digit mpmath on a random sample of pairs
(r >= 0 and r < 0 separately) and scipy.stats.multivariate_normal.cdf per-call costs
extrapolated to all pairs / all triples.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import multivariate_normal

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from references import mp_log_bvn

from latent.bvn import all_pairs_log
from latent.tvn import all_triples_log, all_triples_zero


def random_corr(m: int, rng: np.random.Generator, factors: int = 4) -> np.ndarray:
    """Correlation matrix of a random factor model (correlations spread over (-1, 1))."""
    L = rng.normal(size=(m, factors))
    C = L @ L.T + np.diag(rng.uniform(0.05, 1.5, m))
    d = np.sqrt(np.diag(C))
    R = C / d[:, None] / d[None, :]
    np.fill_diagonal(R, 1.0)
    return R


def best_of(f: object, n: int) -> float:
    """Best wall time of n calls of f()."""
    best = math.inf
    for _ in range(n):
        t = time.perf_counter()
        f()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--m", type=int, default=300)
    ap.add_argument("--sample", type=int, default=60, help="pairs checked against mpmath")
    ap.add_argument("--skip-triples", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(2024)
    m = args.m
    R, h = random_corr(m, rng), rng.uniform(-3.0, 3.0, m)
    n_pairs, n_trip = m * (m - 1) // 2, m * (m - 1) * (m - 2) // 6
    iu, ju = np.triu_indices(m, 1)
    r = R[iu, ju]
    print(f"m = {m}: {n_pairs} pairs, {n_trip} triples; thresholds U[-3,3], factor-model R")
    print(f"  |r| >= 0.925: {np.mean(np.abs(r) >= 0.925):.2%}, r < 0: {np.mean(r < 0):.1%}")

    A = all_pairs_log(R, h)
    t_pairs = best_of(lambda: all_pairs_log(R, h), 7)
    print(f"all pairs with thresholds: {t_pairs * 1e3:.1f} ms (best of 7)")

    pick = rng.choice(n_pairs, args.sample, replace=False)
    t0 = time.perf_counter()
    errs = {True: [], False: []}
    for p in pick:
        i, j = iu[p], ju[p]
        ref = mp_log_bvn(h[i], h[j], R[i, j])
        errs[bool(R[i, j] >= 0)].append(abs(math.expm1(A[i, j] - ref)))
    print(
        f"  vs mpmath (40 digits) on {args.sample} random pairs ({time.perf_counter() - t0:.0f} s):"
    )
    for sign, name in ((True, "r >= 0"), (False, "r <  0")):
        e = np.array(errs[sign])
        if e.size:
            print(
                f"    {name}: n={e.size:3d}  max rel err {e.max():.2e}  median {np.median(e):.2e}"
            )

    # scipy per call
    sub = [R[np.ix_(q, q)] for q in (rng.choice(m, 3, replace=False) for _ in range(50))]
    hs = [rng.uniform(-3, 3, 3) for _ in range(50)]
    t = time.perf_counter()
    for c, x in zip(sub, hs, strict=True):
        multivariate_normal(mean=np.zeros(2), cov=c[:2, :2]).cdf(-x[:2])
    per2 = (time.perf_counter() - t) / 50
    t = time.perf_counter()
    for c, x in zip(sub, hs, strict=True):
        multivariate_normal(mean=np.zeros(3), cov=c).cdf(-x)
    per3 = (time.perf_counter() - t) / 50
    print(
        f"  scipy multivariate_normal.cdf 2-D: {per2 * 1e6:.0f} us/call -> all pairs "
        f"~{per2 * n_pairs:.1f} s ({per2 * n_pairs / t_pairs:.0f}x slower)"
    )

    Z = all_triples_zero(R)
    t_zero = best_of(lambda: all_triples_zero(R), 3)
    print(f"all triples at thresholds 0 (closed form): {t_zero * 1e3:.0f} ms for {Z.size} triples")

    if not args.skip_triples:
        t = time.perf_counter()
        T = all_triples_log(R, h)
        t_trip = time.perf_counter() - t
        print(
            f"all triples with thresholds: {t_trip:.1f} s for {T.size} triples "
            f"({t_trip / T.size * 1e6:.2f} us/triple)"
        )
    else:
        t_trip = math.nan
    print(
        f"  scipy multivariate_normal.cdf 3-D: {per3 * 1e3:.2f} ms/call -> all triples "
        f"~{per3 * n_trip / 3600:.1f} h"
        + (f" ({per3 * n_trip / t_trip:.0f}x slower)" if not math.isnan(t_trip) else "")
    )


if __name__ == "__main__":
    main()
