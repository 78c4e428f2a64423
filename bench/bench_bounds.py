"""Timings of the bound LPs and maximum entropy, each next to a naive alternative.

Run: python bench/bench_bounds.py. BLAS is pinned to one thread (set before numpy loads):
the normal-equation Cholesky in the atom LP is small, and threaded OpenBLAS on a busy
2-core machine made it 20x slower.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import math
import statistics
import time
from collections.abc import Callable
from itertools import combinations
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog
from scipy.stats import betabinom

from latent import bounds


def timed(f: Callable[[], Any], reps: int) -> tuple[Any, float]:
    """Result of f and the median wall time over `reps` calls, in seconds."""
    ts = []
    out = None
    for _ in range(reps):
        t = time.perf_counter()
        out = f()
        ts.append(time.perf_counter() - t)
    return out, statistics.median(ts)


def random_known(m: int, k: int, seed: int = 1) -> tuple[dict[tuple[int, ...], float], float]:
    """All <=k-way probabilities of a random distribution on 2^m atoms, and its P(all)."""
    rng = np.random.default_rng(seed)
    pa = rng.dirichlet(np.full(1 << m, 0.3))
    atoms = np.arange(1 << m)
    known = {}
    for size in range(1, k + 1):
        for sub in combinations(range(m), size):
            mk = sum(1 << i for i in sub)
            known[sub] = float(pa[(atoms & mk) == mk].sum())
    return known, float(pa[-1])


def prekopa() -> None:
    m, k = 1000, 6
    pn = betabinom.pmf(np.arange(m + 1), m, 30, 2)
    s = [math.fsum(pn[n] * math.comb(n, j) for n in range(m + 1)) for j in range(k + 1)]
    (lo, hi), t = timed(lambda: bounds.binomial_moment_bounds(m, s), 20)
    print(f"Prékopa LP m={m} K={k} (beta-binomial N): median {t * 1e3:.1f} ms (min and max)")
    print(f"  bounds [{lo:.6g}, {hi:.6g}] around P(all)={pn[m]:.6g}")
    raw, t_raw = timed(lambda: bounds.binomial_moment_bounds_unscaled(m, s), 3)
    status = "HiGHS fails (model error / infeasible)" if raw is None else f"{raw}"
    print(f"  unscaled rows sum_j C(j,k) v_j = S_k: {status} in {t_raw * 1e3:.1f} ms")


def sharp() -> None:
    m, k = 14, 3
    known, truth = random_known(m, k)
    (lo, hi), t = timed(lambda: bounds.sharp_bounds(m, known), 3)
    print(f"sharp LP m={m} K={k} ({len(known) + 1} rows, {1 << m} atoms): median {t:.3f} s")
    print(f"  bounds [{lo:.10g}, {hi:.10g}] around P(all)={truth:.6g}")
    keys = [(), *known]
    rows, cols = [], []
    atoms = np.arange(1 << m)
    for r, sub in enumerate(keys):
        mk = sum(1 << i for i in sub)
        idx = np.nonzero((atoms & mk) == mk)[0]
        rows.append(np.full(idx.size, r))
        cols.append(idx)
    a = sp.csc_matrix(
        (np.ones(sum(c.size for c in cols)), (np.concatenate(rows), np.concatenate(cols))),
        shape=(len(keys), 1 << m),
    )
    b = np.array([1.0, *known.values()])
    c = np.zeros(1 << m)
    c[-1] = -1.0
    t0 = time.perf_counter()
    res = linprog(c, A_eq=a, b_eq=b, bounds=(0, None), method="highs", options={"time_limit": 60})
    t1 = time.perf_counter() - t0
    val = -res.fun if res.status == 0 else float("nan")
    print(f"  same max by HiGHS on the explicit sparse matrix: {t1:.2f} s (status {res.status}),")
    print(f"  value {val:.10g} vs ours {hi:.10g}")


def maxent() -> None:
    m, k = 14, 3
    known, _ = random_known(m, k, seed=2)
    me, t = timed(lambda: bounds.maxent(m, known), 3)
    print(f"maxent m={m} K={k}: median {t:.3f} s (Newton on the dual), P(all)={me}")
    masks = bounds._masks(list(known))
    p = np.array(list(known.values()))
    w0 = np.full(1 << m, 1.0 / (1 << m))
    t0 = time.perf_counter()
    out = bounds._ipf(m, masks, p, w0, 1e-10, sweeps=100)
    t1 = time.perf_counter() - t0
    print(f"  plain IPF, 100 sweeps: {t1:.2f} s, converged to 1e-10: {out is not None}")


if __name__ == "__main__":
    prekopa()
    sharp()
    maxent()
