"""Binomial moments S_k and Prékopa's discrete-moment LP over them, certified."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np
from scipy.optimize import linprog
from scipy.special import gammaln

from latent.bounds._common import _DUAL_BOX, Extreme, _pad_hi, _pad_lo, check_known
from latent.errors import LatentError
from latent.world import DiscreteBlock


def _log_comb(n: np.ndarray | float, k: np.ndarray | float) -> np.ndarray:
    return np.asarray(gammaln(np.add(n, 1)) - gammaln(np.add(k, 1)) - gammaln(np.add(n, 1) - k))


def binomial_moments(m: int, known: Mapping[tuple[int, ...], float], order: int) -> list[float]:
    """S_0..S_order with S_k = sum of all k-way probabilities (S_0 = 1).

    Needs every k-subset for k <= order in `known`; a LatentError names a missing one.
    """
    k = check_known(m, known)
    out = [1.0]
    for size in range(1, order + 1):
        vals = []
        for sub in combinations(range(m), size):
            if sub not in k:
                raise LatentError(f"binomial moment S_{size} needs subset {sub}; add it")
            vals.append(k[sub])
        out.append(math.fsum(vals))
    return out


def count_distribution(block: DiscreteBlock) -> np.ndarray:
    """P(N = n), n = 0..m, where N is the number of true statements of a discrete block."""
    m = len(block.statements)
    n_true = block.membership.sum(axis=0)
    return np.bincount(n_true, weights=block.probs, minlength=m + 1).astype(float)


def binomial_moments_discrete(block: DiscreteBlock, order: int) -> list[float]:
    """S_0..S_order of a discrete block exactly, as S_k = E[C(N, k)] (any m, any order)."""
    pn = count_distribution(block)
    n = np.arange(pn.size, dtype=float)
    out = []
    for k in range(order + 1):
        c = np.where(n >= k, np.exp(_log_comb(n, np.minimum(k, n))), 0.0)
        c = np.round(c) if k <= 30 else c
        out.append(float(pn @ c))
    return out


def _hyper_matrix(m: int, order: int) -> np.ndarray:
    """H[i, j] = P(i of a random `order`-subset true | exactly j of m true) (hypergeometric).

    Every column is a probability vector, which is what makes the moment LP well scaled.
    """
    j = np.arange(m + 1, dtype=float)
    h = np.zeros((order + 1, m + 1))
    lt = _log_comb(float(m), float(order))
    for i in range(order + 1):
        ok = (j >= i) & (m - j >= order - i)
        h[i, ok] = np.exp(_log_comb(j[ok], i) + _log_comb(m - j[ok], order - i) - lt)
    return h


def _moments_to_hyper(m: int, s: Sequence[float]) -> np.ndarray:
    """h_i = P(exactly i of a random K-subset true), from S_0..S_K by inclusion–exclusion."""
    kk = len(s) - 1
    t = [s[k] / math.comb(m, k) for k in range(kk + 1)]
    return np.array(
        [
            math.comb(kk, i)
            * math.fsum((-1) ** j * math.comb(kk - i, j) * t[i + j] for j in range(kk - i + 1))
            for i in range(kk + 1)
        ]
    )


def _certified_lp(
    mat: np.ndarray, rhs: np.ndarray, c: np.ndarray, extreme: Extreme, *, method: str = "highs"
) -> float:
    """Certified min or max of c^T v over {v >= 0, mat v = rhs}, columns of mat summing to 1.

    Solves the dual (few variables, many constraints: fast in HiGHS) with boxed variables,
    then turns its point y into a bound valid for *every* feasible v:
    min >= rhs.y - max_j (mat^T y - c)_j^+ and max <= rhs.y + max_j (c - mat^T y)_j^+,
    because every feasible v is a probability vector.
    """
    sign = 1.0 if extreme == "min" else -1.0
    # min: max rhs.y s.t. mat^T y <= c ; max: min rhs.y s.t. mat^T y >= c.
    res = linprog(
        -sign * rhs,
        A_ub=sign * mat.T,
        b_ub=sign * c,
        bounds=(-_DUAL_BOX, _DUAL_BOX),
        method=method,
    )
    if res.x is None:
        return 0.0 if extreme == "min" else 1.0
    y = np.asarray(res.x)
    z = mat.T @ y
    viol = float(np.max(np.maximum(sign * (z - c), 0.0)))
    val = float(rhs @ y)
    # rounding of rhs (inclusion–exclusion over K+1 moments) is absolute, ~2^K eps
    scale = float(np.abs(y * rhs).sum() + np.abs(y).sum() * 0.01 * 2.0 ** (rhs.size - 1))
    if extreme == "min":
        return _pad_lo(val - viol, scale)
    return _pad_hi(val + viol, scale)


def binomial_moment_bounds(m: int, s: Sequence[float]) -> tuple[float, float]:
    """Prékopa's sharp bounds on P(all m true) given binomial moments S_0..S_K (s[k] = S_k).

    s[0] must be 1. The LP's variables are v_j = P(exactly j true); its rows
    sum_j C(j,k) v_j = S_k are divided by C(m,k) and recombined (inclusion–exclusion) into
    the hypergeometric form sum_j H[i,j] v_j = P(i of a random K-subset true), whose columns
    are probability vectors: that is what lets HiGHS solve it at m = 1000, K = 6.
    """
    if len(s) < 1 or abs(s[0] - 1.0) > 1e-9:
        raise LatentError("binomial moments must start with S_0 = 1; pass [1, S_1, ..., S_K]")
    kk = len(s) - 1
    if kk == 0:
        return 0.0, 1.0
    if kk > m:
        raise LatentError(f"{kk} binomial moments given for {m} statements; pass at most {m}")
    return _prekopa(m, _moments_to_hyper(m, s))


def _prekopa(m: int, hyper: np.ndarray) -> tuple[float, float]:
    """The moment LP in hypergeometric form (hyper[i] = P(i of a random K-subset true))."""
    kk = hyper.size - 1
    mat = _hyper_matrix(m, kk)
    c = np.zeros(m + 1)
    c[m] = 1.0
    lo = _certified_lp(mat, hyper, c, "min")
    hi = _certified_lp(mat, hyper, c, "max")
    return lo, hi


def binomial_moment_bounds_unscaled(m: int, s: Sequence[float]) -> tuple[float, float] | None:
    """The same LP with raw rows sum_j C(j,k) v_j = S_k (for the benchmark only).

    Returns None when HiGHS fails on it, which it does for large m.
    """
    kk = len(s) - 1
    j = np.arange(m + 1)
    mat = np.array([[math.comb(int(x), k) for x in j] for k in range(kk + 1)], dtype=float)
    c = np.zeros(m + 1)
    c[m] = 1.0
    out = []
    for sign in (1.0, -1.0):
        res = linprog(sign * c, A_eq=mat, b_eq=np.asarray(s), bounds=(0, None), method="highs")
        if res.status != 0:
            return None
        out.append(sign * float(res.fun))
    return out[0], out[1]
