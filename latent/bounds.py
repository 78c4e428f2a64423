"""Bounds on P(all statements of a block true) from low-order ("n-way") probabilities.

What a person can *know* is a dict `known` mapping sorted tuples of block-local statement
positions to the probability that all of those statements are true. From it this module
computes what that knowledge implies about P(all):

- `independence`: the product of singletons (what a naive judge says);
- `frechet`, `hunter_worsley`: cheap valid bounds for any block size;
- `binomial_moment_bounds`: Prékopa's discrete-moment LP from the binomial moments S_k
  (the sum of all k-way probabilities), any block size;
- `sharp_bounds`: the best bounds the knowledge allows, an LP over all 2^m atoms solved by
  column generation (m <= 14);
- `maxent`: the maximum-entropy completion by iterative proportional fitting (m <= 14);
- `world_bounds` / `bounds_from_known`: the best valid combination per block, multiplied
  over the world's independent blocks, with the true P(Z) alongside. The bounds are
  computed from the evidence alone; the truth is only compared with them afterwards
  (`truth_outside`), never used to widen them or clipped into them.

LP bounds are *certified*: the returned number comes from a dual-feasible point checked
in numpy (not trusted from the solver), so for consistent inputs lower <= truth <= upper
holds whatever the solver's tolerances; it is then padded outward by a tiny margin for
rounding and clipped to [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Generic, Literal, TypeVar

import numpy as np
from pydantic import BaseModel
from scipy.linalg import cho_factor, cho_solve
from scipy.optimize import linprog
from scipy.special import gammaln

from latent.errors import LatentError
from latent.world import DiscreteBlock, GaussianBlock, World

Known = dict[tuple[int, ...], float]
T = TypeVar("T")
Extreme = Literal["min", "max"]

#: Largest block for the LP over atoms and for maximum entropy (2^14 atoms).
MAX_ATOM_M = 14
#: Most subsets whose probabilities world_bounds computes for one Gaussian block.
MAX_SUBSETS = 200_000
#: Closed-form n-way probabilities exist for Gaussian subsets up to this size.
GAUSS_MAX_ORDER = 3
#: Outward padding of every returned bound: relative and absolute parts.
PAD_REL = 1e-12
PAD_ABS = 1e-15
#: A truth counts as outside its bounds only beyond this relative margin (rounding in the
#: inputs and in the truth's own summation) plus, for an estimated truth, 4 of its
#: standard errors.
TRUTH_MARGIN_REL = 1e-9
#: Dual variables are boxed to this size: the primal then tolerates inconsistent inputs
#: (an infeasible equality becomes a penalised slack) and the certificate stays finite.
_DUAL_BOX = 1e6


#: Rounding of a certificate's dot product, relative to sum |y_i b_i|.
_DOT_REL = 1e-13


def _pad_lo(x: float, scale: float = 0.0) -> float:
    """x moved down by the rounding margin; `scale` = sum |y_i b_i| of a dual certificate."""
    return float(min(1.0, max(0.0, x - PAD_REL * abs(x) - _DOT_REL * scale - PAD_ABS)))


def _pad_hi(x: float, scale: float = 0.0) -> float:
    """x moved up by the rounding margin; a known zero with no certificate (P(all) <= P(S)
    for a subset S known to be impossible) is exact and stays 0."""
    if x <= 0.0 and scale == 0.0:
        return 0.0
    return float(max(0.0, min(1.0, x + PAD_REL * abs(x) + _DOT_REL * scale + PAD_ABS)))


def check_known(m: int, known: Mapping[tuple[int, ...], float]) -> Known:
    """A clean copy of `known`: sorted unique positions in [0, m), values clipped to [0, 1].

    The empty tuple (probability 1) is dropped. Raises LatentError on a bad key or value.
    """
    if m < 1:
        raise LatentError(f"a block needs at least one statement, got m={m}")
    out: Known = {}
    for key, p in known.items():
        sub = tuple(sorted({int(i) for i in key}))
        if sub and (sub[0] < 0 or sub[-1] >= m):
            raise LatentError(f"known subset {key} has a position outside 0..{m - 1}; fix it")
        if not math.isfinite(p) or p < -1e-9 or p > 1 + 1e-9:
            raise LatentError(f"known probability of {key} is {p}; use a number in [0, 1]")
        if sub:
            out[sub] = min(1.0, max(0.0, float(p)))
    return out


# --------------------------------------------------------------------------- cheap bounds


def independence(m: int, known: Mapping[tuple[int, ...], float]) -> float:
    """Product of the singleton probabilities: what P(all) would be if nothing correlated.

    A statement whose singleton is unknown counts as 0.5 (a coin flip: no information).
    """
    k = check_known(m, known)
    return math.prod(k.get((i,), 0.5) for i in range(m))


def log10_independence(m: int, known: Mapping[tuple[int, ...], float]) -> float | None:
    """log10 of `independence` without underflow; None when a singleton is 0."""
    k = check_known(m, known)
    ps = [k.get((i,), 0.5) for i in range(m)]
    if min(ps) <= 0:
        return None
    return math.fsum(math.log10(p) for p in ps)


def frechet(m: int, known: Mapping[tuple[int, ...], float]) -> tuple[float, float]:
    """Fréchet bounds on P(all).

    lower = max(0, sum p_i - (m - 1)) when every singleton is known (else 0);
    upper = the smallest known probability, since P(all) <= P(any subset all true).
    """
    k = check_known(m, known)
    singles = [k.get((i,)) for i in range(m)]
    lo = 0.0
    if all(p is not None for p in singles):
        lo = max(0.0, math.fsum(p for p in singles if p is not None) - (m - 1))
    hi = min(k.values(), default=1.0)
    return _pad_lo(lo, float(m)), _pad_hi(hi)


class DisjointSets(Generic[T]):
    """Union-find over hashable items: the spanning forests of Hunter–Worsley and Chow–Liu,
    and the components of a judge's evidence."""

    def __init__(self, items: Iterable[T]) -> None:
        self.parent: dict[T, T] = {x: x for x in items}

    def find(self, x: T) -> T:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: T, b: T) -> bool:
        """Join the sets of a and b; False if they were one already (an edge would close a
        cycle)."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        self.parent[rb] = ra
        return True


def hunter_worsley(m: int, known: Mapping[tuple[int, ...], float]) -> float:
    """Hunter–Worsley lower bound on P(all), through the complements.

    P(all) = 1 - P(union of the complements F_i) and, for any forest over the statements,
    P(union F) <= sum_i P(F_i) - sum_(edges ij) P(F_i ∩ F_j). The forest is a maximum-weight
    spanning forest over the known pairs with weights P(F_i ∩ F_j) = 1 - p_i - p_j + p_ij.
    A statement with unknown singleton contributes P(F_i) <= 1 and no edges.
    """
    k = check_known(m, known)
    q = np.ones(m)
    has = np.zeros(m, dtype=bool)
    for i in range(m):
        if (i,) in k:
            q[i] = 1.0 - k[(i,)]
            has[i] = True
    pairs = [(key, p) for key, p in k.items() if len(key) == 2 and has[key[0]] and has[key[1]]]
    total = math.fsum(q)
    if pairs:
        ij = np.array([key for key, _ in pairs], dtype=np.int64)
        w = 1.0 - (1.0 - q[ij[:, 0]]) - (1.0 - q[ij[:, 1]]) + np.array([p for _, p in pairs])
        w = np.maximum(w, 0.0)
        order = np.argsort(-w, kind="stable")
        forest = DisjointSets(range(m))
        tree = 0.0
        for e in order:
            if w[e] <= 0:
                break
            if forest.union(int(ij[e, 0]), int(ij[e, 1])):
                tree += float(w[e])
        total -= tree
    return _pad_lo(1.0 - min(1.0, total), float(m))


# ------------------------------------------------------------- binomial moments (Prékopa)


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


# ------------------------------------------------------------------- LP over 2^m atoms


def _zeta(y_at_masks: np.ndarray, m: int) -> np.ndarray:
    """z[a] = sum over subsets T of a of y[T] (subset-sum transform), O(m 2^m)."""
    z = y_at_masks.astype(float).copy()
    for i in range(m):
        v = z.reshape(-1, 2, 1 << i)
        v[:, 1, :] += v[:, 0, :]
    return z


def _masks(keys: Sequence[tuple[int, ...]]) -> np.ndarray:
    return np.array([sum(1 << i for i in key) for key in keys], dtype=np.int64)


def _supersum(x: np.ndarray, m: int) -> np.ndarray:
    """u[T] = sum over supersets a of T of x[a] (superset-sum transform), O(m 2^m)."""
    u = x.astype(float).copy()
    for i in range(m):
        v = u.reshape(-1, 2, 1 << i)
        v[:, 0, :] += v[:, 1, :]
    return u


@dataclass(frozen=True)
class AtomLP:
    """A solved atom LP: the certified bound and a (near-)optimal distribution.

    `weights[a]` is the probability of atom a (bit i of a = statement i true); it matches
    the constraints to about 1e-10 and is polished further by `latent.plant`.
    """

    bound: float
    value: float
    weights: np.ndarray
    converged: bool


def atom_lp(m: int, known: Mapping[tuple[int, ...], float], extreme: Extreme) -> AtomLP:
    """Min or max of P(all) over every distribution on 2^m atoms matching `known`.

    A primal-dual interior-point method (Mehrotra) in which the constraint matrix
    A[T, a] = [T subset of a] is never formed: A x is a superset-sum transform, A^T y a
    subset-sum transform, and the normal matrix A D A^T[T, T'] is the superset sum of D at
    T ∪ T'. Each step costs O(m 2^m + r^3) for r known subsets (HiGHS needs seconds on the
    same LP because its bases are dense). The returned `bound` is certified from the final
    dual point (see `_certified_lp`), padded and clipped, so it is valid even if the method
    stops early; tiny inconsistencies in `known` only loosen it slightly.
    """
    if m > MAX_ATOM_M:
        raise LatentError(f"the atom LP handles at most {MAX_ATOM_M} statements, got {m}")
    k = check_known(m, known)
    keys = [(), *sorted(k, key=lambda t: (len(t), t))]
    masks = _masks(keys)
    b = np.array([1.0] + [k[t] for t in keys[1:]])
    n = 1 << m
    r = len(keys)
    sign = 1.0 if extreme == "min" else -1.0
    c = np.zeros(n)
    c[n - 1] = sign
    union = masks[:, None] | masks[None, :]

    def a_mul(x: np.ndarray) -> np.ndarray:
        return _supersum(x, m)[masks]

    def at_mul(y: np.ndarray) -> np.ndarray:
        yz = np.zeros(n)
        yz[masks] = y
        return _zeta(yz, m)

    # Atoms that a zero (or one) probability rules out carry no mass in any feasible
    # distribution: fix them at 0 (the interior-point method needs a strictly interior start).
    atoms = np.arange(n)
    alive = np.ones(n, dtype=bool)
    for mk, p in zip(masks[1:], b[1:], strict=True):
        if p <= 0.0:
            alive &= (atoms & mk) != mk
        elif p >= 1.0:
            alive &= (atoms & mk) == mk
    if not alive.any():  # inconsistent knowledge: nothing is feasible
        return AtomLP(
            bound=0.0 if extreme == "min" else 1.0, value=0.0, weights=np.zeros(n), converged=False
        )
    if not alive[n - 1]:
        w0 = alive / alive.sum()
        return AtomLP(bound=0.0, value=0.0, weights=w0, converged=False)
    live = float(alive.sum())
    x = alive / live
    y = np.zeros(r)
    s = np.ones(n)
    converged = False

    def certify(y: np.ndarray) -> float:
        val = float(b @ y) - float(np.max(np.maximum(at_mul(y) - c, 0.0)[alive]))
        return val - _DOT_REL * float(np.abs(y * b).sum())

    best = certify(y)  # best certified value of min c.x found so far
    for _ in range(100):
        rp = b - a_mul(x)
        rd = (c - at_mul(y) - s) * alive
        mu = float(x @ s) / live
        # The dual converges fast; the primal residual can stall near 1e-10 on degenerate
        # problems (the bound comes from the dual, the primal is polished by the plant).
        small_rp = np.max(np.abs(rp)) < 1e-11
        if small_rp and (
            (mu * live < 1e-12 and np.max(np.abs(rd)) < 1e-12) or float(c @ x) - best < 1e-12
        ):
            converged = True
            break
        d = x / s
        nmat = _supersum(d, m)[union]
        nmat[np.diag_indices(r)] += 1e-13 * (1.0 + float(np.max(np.diag(nmat))))
        if not np.all(np.isfinite(nmat)):
            break
        try:
            fac = cho_factor(nmat)
        except np.linalg.LinAlgError:
            break
        dx, dy, ds = _direction(a_mul, at_mul, -x * s, fac, x, s, d, rp, rd)
        ap = min(1.0, _step(x[alive], dx[alive]))
        ad = min(1.0, _step(s[alive], ds[alive]))
        mu_aff = float((x + ap * dx) @ (s + ad * ds)) / live
        sigma = min(1.0, (mu_aff / mu) ** 3) if mu > 0 else 0.0
        rc = (-x * s + sigma * mu - dx * ds) * alive
        dx, dy, ds = _direction(a_mul, at_mul, rc, fac, x, s, d, rp, rd)
        ap = min(1.0, 0.995 * _step(x[alive], dx[alive]))
        ad = min(1.0, 0.995 * _step(s[alive], ds[alive]))
        x_new = np.where(alive, np.maximum(x + ap * dx, 1e-300), 0.0)
        if not np.all(np.isfinite(x_new)):
            break
        x = x_new
        y = y + ad * dy
        s = np.maximum(s + ad * ds, 1e-300)
        best = max(best, certify(y))
    # `best` already includes the dot-product margin; pad only for the final rounding.
    bound = _pad_lo(best) if extreme == "min" else _pad_hi(-best)
    w = np.where(x < 1e-300 * 2, 0.0, x)
    return AtomLP(bound=bound, value=float(w[n - 1]), weights=w, converged=converged)


def _direction(
    a_mul: Callable[[np.ndarray], np.ndarray],
    at_mul: Callable[[np.ndarray], np.ndarray],
    rc: np.ndarray,
    fac: tuple[np.ndarray, bool],
    x: np.ndarray,
    s: np.ndarray,
    d: np.ndarray,
    rp: np.ndarray,
    rd: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One Newton direction of the interior-point method (normal equations, factored)."""
    dy = np.asarray(cho_solve(fac, rp - a_mul(rc / s) + a_mul(d * rd)))
    ds = rd - at_mul(dy)
    dx = rc / s - d * ds
    return dx, dy, ds


def _step(v: np.ndarray, dv: np.ndarray) -> float:
    """Largest alpha with v + alpha dv >= 0 (inf if dv >= 0)."""
    neg = dv < 0
    if not np.any(neg):
        return np.inf
    return float(np.min(-v[neg] / dv[neg]))


def sharp_bounds(m: int, known: Mapping[tuple[int, ...], float]) -> tuple[float, float]:
    """The best bounds on P(all) that `known` allows (LP over all 2^m atoms, m <= 14)."""
    k = check_known(m, known)
    full = tuple(range(m))
    if full in k:
        return _pad_lo(k[full]), _pad_hi(k[full])
    # P(all) <= P(S) for every known S: exact, and 0 where a known subset is impossible
    cap = _pad_hi(min(k.values(), default=1.0))
    return atom_lp(m, k, "min").bound, min(atom_lp(m, k, "max").bound, cap)


# ----------------------------------------------------------------------- maximum entropy


def maxent_distribution(
    m: int, known: Mapping[tuple[int, ...], float], *, tol: float = 1e-10, max_iter: int = 200
) -> np.ndarray | None:
    """The maximum-entropy distribution over 2^m atoms matching `known` (m <= 14).

    It is the exponential family q_a ∝ exp(sum of lambda_T over known T inside a); lambda
    minimises the convex dual log Z(lambda) - lambda.p. Atoms that a zero (or one)
    probability forces out are removed first; then damped Newton steps (gradient A q - p,
    Hessian A diag(q) A^T - g g^T via one superset-sum transform) and, if Newton stalls,
    iterative proportional fitting sweeps. Returns None when the constraints are infeasible
    or the largest violation is still above `tol` (e.g. the maximum-entropy point lies on
    the boundary through an implied zero, where lambda runs off to infinity).
    """
    if m > MAX_ATOM_M:
        raise LatentError(f"maximum entropy handles at most {MAX_ATOM_M} statements, got {m}")
    k = check_known(m, known)
    keys = sorted(k, key=lambda t: (len(t), t))
    n = 1 << m
    if not keys:
        return np.full(n, 1.0 / n)
    atoms = np.arange(n)
    masks = _masks(keys)
    p = np.array([k[t] for t in keys])
    alive = np.ones(n, dtype=bool)
    for mk, pt in zip(masks, p, strict=True):
        cyl = (atoms & mk) == mk
        if pt <= 0.0:
            alive &= ~cyl
        elif pt >= 1.0:
            alive &= cyl
    if not alive.any():
        return None
    union = masks[:, None] | masks[None, :]
    lam = np.zeros(len(keys))

    def dist(lam: np.ndarray) -> tuple[np.ndarray, float]:
        yz = np.zeros(n)
        yz[masks] = lam
        theta = _zeta(yz, m)
        top = float(np.max(theta[alive]))
        q = np.where(alive, np.exp(np.minimum(theta - top, 0.0)), 0.0)
        z = float(q.sum())
        return q / z, top + math.log(z)

    q, logz = dist(lam)
    f = logz - float(lam @ p)
    for _ in range(max_iter):
        g = _supersum(q, m)[masks] - p
        if float(np.max(np.abs(g))) <= tol:
            return q
        hess = _supersum(q, m)[union] - np.outer(g + p, g + p)
        hess[np.diag_indices(len(keys))] += 1e-12
        try:
            step = -np.asarray(cho_solve(cho_factor(hess), g))
        except (np.linalg.LinAlgError, ValueError):
            step = -np.linalg.lstsq(hess, g, rcond=None)[0]
        t = 1.0
        while t > 1e-10:
            q_new, logz_new = dist(lam + t * step)
            f_new = logz_new - float((lam + t * step) @ p)
            if f_new <= f + 1e-4 * t * float(g @ step) + 1e-15 * abs(f):
                break
            t *= 0.5
        else:
            break
        lam, q, f = lam + t * step, q_new, f_new
    return _ipf(m, masks, p, q, tol)


def _ipf(
    m: int, masks: np.ndarray, p: np.ndarray, w: np.ndarray, tol: float, sweeps: int = 200
) -> np.ndarray | None:
    """Iterative proportional fitting from `w` on the two-cell partitions {T all true, not}."""
    atoms = np.arange(1 << m)
    idx = [np.nonzero((atoms & mk) == mk)[0] for mk in masks]
    w = w.copy()
    for _ in range(sweeps):
        worst = 0.0
        for cyl, pt in zip(idx, p, strict=True):
            q = float(w[cyl].sum())
            worst = max(worst, abs(q - pt))
            if q <= 0.0 or q >= 1.0:
                if (q <= 0.0 and pt > tol) or (q >= 1.0 and pt < 1.0 - tol):
                    return None
                continue
            r0 = (1.0 - pt) / (1.0 - q)
            w *= r0
            w[cyl] *= (pt / q) / r0 if r0 > 0 else 0.0
            if r0 <= 0:
                w[cyl] = 0.0
        w /= w.sum()
        if worst <= tol:
            return w
    return None


def maxent(m: int, known: Mapping[tuple[int, ...], float], *, tol: float = 1e-10) -> float | None:
    """P(all) under the maximum-entropy distribution matching `known`; None as above."""
    w = maxent_distribution(m, known, tol=tol)
    return None if w is None else float(w[-1])


# ------------------------------------------------------------------- blocks and worlds


class _Range(BaseModel):
    """What order-K knowledge implies about P(all), next to the truth (block or world)."""

    lower: float
    upper: float
    independence: float
    maxent: float | None
    truth: float
    log10_lower: float | None
    log10_upper: float | None
    log10_independence: float | None
    log10_maxent: float | None
    log10_truth: float | None
    #: Standard error of log10_truth (0 when exact).
    truth_log10_stderr: float
    truth_exact: bool
    #: True when the truth lies outside [lower, upper] by more than the rounding margin
    #: (TRUTH_MARGIN_REL, plus 4 standard errors for an estimated truth). With the
    #: world's own probabilities that is a bug; with evidence someone typed in, it says
    #: the evidence is not this world's. Never hidden by widening or clipping.
    truth_outside: bool = False


class BlockBounds(_Range):
    """One block's range."""

    name: str | None
    kind: str
    n_statements: int
    #: Which bounds were combined, e.g. "sharp-lp" or "frechet+hunter-worsley+prekopa(K=2)".
    method: str
    order_used: int


class WorldBounds(_Range):
    """Products over the independent blocks (log10 fields are sums: no underflow).

    A log10 field is None when its probability is exactly 0. The bounds come from the
    evidence alone; `truth_outside` says whether the truth escapes them (see
    `_truth_outside`).
    """

    order: int | None
    blocks: list[BlockBounds]


def _log10(p: float | None) -> float | None:
    return None if p is None or p <= 0 else math.log10(p)


def _discrete_known(block: DiscreteBlock, order: int) -> Known:
    """Exact n-way probabilities of a discrete block up to `order` (vectorised)."""
    return _known_from_atoms(_atom_probs(block), len(block.statements), order)


def _atom_probs(block: DiscreteBlock) -> np.ndarray:
    """Distribution of the truth vector of a small discrete block over its 2^m atoms."""
    m = len(block.statements)
    codes = (block.membership.astype(np.int64) << np.arange(m)[:, None]).sum(axis=0)
    return np.bincount(codes, weights=block.probs, minlength=1 << m).astype(float)


def _known_from_atoms(pa: np.ndarray, m: int, order: int) -> Known:
    u = _supersum(pa, m)
    return {
        sub: float(u[sum(1 << i for i in sub)])
        for size in range(1, min(order, m) + 1)
        for sub in combinations(range(m), size)
    }


def _block_truth(block: GaussianBlock | DiscreteBlock) -> tuple[float | None, float, bool]:
    """(log10 P(all) or None for 0, its standard error, exact?) from latent.pz."""
    from latent.pz import block_pz

    res = block_pz(block)
    return res.log10_pz, res.log10_stderr, res.exact


def _truth_outside(
    log10_truth: float | None, se: float, log10_lo: float | None, log10_hi: float | None
) -> bool:
    """Whether the truth lies outside [lower, upper] (all in log10, None for 0) by more than
    rounding: a relative TRUTH_MARGIN_REL, plus 4 standard errors `se` (log10) for an
    estimate. Bounds of exactly 0 are exact (a known impossibility, or the padding's floor),
    so 0 against a positive lower bound, or a positive truth against an upper bound of 0,
    is outside."""
    rel = TRUTH_MARGIN_REL + math.expm1(4.0 * se * math.log(10.0))
    if log10_truth is None:
        return log10_lo is not None
    if log10_lo is not None and log10_truth < log10_lo + math.log10(max(1e-300, 1.0 - rel)):
        return True
    return log10_hi is None or log10_truth > log10_hi + math.log10(1.0 + rel)


def _finish_block(
    block: GaussianBlock | DiscreteBlock,
    method: str,
    order_used: int,
    lo: float,
    hi: float,
    indep_log10: float | None,
    me: float | None,
) -> BlockBounds:
    """Attach the truth (from `latent.pz`) to bounds computed without it, and say whether it
    lies outside them. The bounds are not widened and the truth is not clipped: either
    would hide a wrong bound."""
    lt, se, exact = _block_truth(block)
    truth = 0.0 if lt is None else 10.0**lt
    return BlockBounds(
        name=block.name,
        kind=block.kind,
        n_statements=len(block.statements),
        method=method,
        order_used=order_used,
        lower=lo,
        upper=hi,
        independence=0.0 if indep_log10 is None else 10.0**indep_log10,
        maxent=me,
        truth=truth,
        log10_lower=_log10(lo),
        log10_upper=_log10(hi),
        log10_independence=indep_log10,
        log10_maxent=_log10(me),
        log10_truth=lt,
        truth_log10_stderr=se,
        truth_exact=exact,
        truth_outside=_truth_outside(lt, se, _log10(lo), _log10(hi)),
    )


def _gauss_order(m: int, order: int, max_subsets: int) -> int:
    """Largest K <= min(order, 3) whose subsets (sizes 1..K) number at most max_subsets."""
    k = min(order, GAUSS_MAX_ORDER, m)
    while k > 1 and sum(math.comb(m, j) for j in range(1, k + 1)) > max_subsets:
        k -= 1
    return max(k, 1)


def _large_block(
    m: int, known: Known, s: Sequence[float] | None, hyper: np.ndarray | None
) -> tuple[str, float, float]:
    """Fréchet + Hunter–Worsley + Prékopa (when moments are available) for a big block."""
    lo_f, hi = frechet(m, known)
    lo = max(lo_f, hunter_worsley(m, known))
    parts = ["frechet", "hunter-worsley"]
    if hyper is not None or (s is not None and len(s) > 1):
        h = hyper if hyper is not None else _moments_to_hyper(m, s or [1.0])
        plo, phi = _prekopa(m, h)
        lo, hi = max(lo, plo), min(hi, phi)
        parts.append(f"prekopa(K={h.size - 1})")
    return "+".join(parts), lo, hi


def block_bounds(
    block: GaussianBlock | DiscreteBlock, order: int, *, max_subsets: int = MAX_SUBSETS
) -> BlockBounds:
    """The best valid bounds on one block's P(all) from all its n-way probabilities <= order.

    Blocks of <= 14 statements: the sharp LP (and maximum entropy). Larger ones: Fréchet,
    Hunter–Worsley and the binomial-moment LP; discrete blocks get exact moments for any
    order, Gaussian ones use order <= 3 and fewer if that needs more than `max_subsets`
    probabilities (the reduction is written into `method`).
    """
    if order < 1:
        raise LatentError(f"order must be at least 1, got {order}")
    m = len(block.statements)
    note = ""
    if isinstance(block, DiscreteBlock):
        k_used = min(order, m)
    else:
        k_used = _gauss_order(m, order, max_subsets)
        if k_used < min(order, m):
            note = f" (order {min(order, m)} reduced to {k_used})"
    if m <= MAX_ATOM_M:
        if isinstance(block, DiscreteBlock):
            known = _discrete_known(block, k_used)
        else:
            from latent.nway import block_known

            known = block_known(block, k_used)
        lo, hi = sharp_bounds(m, known)
        return _finish_block(
            block,
            "sharp-lp" + note,
            k_used,
            lo,
            hi,
            log10_independence(m, known),
            maxent(m, known),
        )
    hyper: np.ndarray | None = None
    s: list[float] | None = None
    if isinstance(block, DiscreteBlock):
        known = _discrete_known_small(block, min(k_used, 2))
        if k_used >= 1:
            hyper = _hyper_matrix(m, k_used) @ count_distribution(block)
    else:
        from latent.nway import block_known

        known = block_known(block, k_used)
        s = binomial_moments(m, known, k_used)
    method, lo, hi = _large_block(m, known, s, hyper)
    return _finish_block(block, method + note, k_used, lo, hi, log10_independence(m, known), None)


def _discrete_known_small(block: DiscreteBlock, order: int) -> Known:
    """Singletons and (order 2) pairs of a discrete block of any size, exactly."""
    mem = block.membership.astype(float)
    p1 = mem @ block.probs
    out: Known = {(i,): float(p1[i]) for i in range(len(p1))}
    if order >= 2:
        p2 = (mem * block.probs) @ mem.T
        for i, j in combinations(range(len(p1)), 2):
            out[(i, j)] = float(p2[i, j])
    return out


def _combine(blocks: list[BlockBounds], order: int | None, cross_upper: float = 1.0) -> WorldBounds:
    """Multiply block results (sums in log10); cross-block evidence caps the world upper."""

    def lsum(vals: list[float | None]) -> float | None:
        return None if any(v is None for v in vals) else math.fsum(v for v in vals if v is not None)

    lower = math.prod(b.lower for b in blocks)
    upper = min(math.prod(b.upper for b in blocks), cross_upper)
    truth = math.prod(b.truth for b in blocks)
    has_me = all(b.maxent is not None for b in blocks)
    l_upper = lsum([b.log10_upper for b in blocks])
    l_truth = lsum([b.log10_truth for b in blocks])
    se = math.sqrt(math.fsum(b.truth_log10_stderr**2 for b in blocks))
    if cross_upper < 1.0:
        lc = _log10(cross_upper)
        l_upper = None if lc is None else (lc if l_upper is None else min(l_upper, lc))
    l_lower = lsum([b.log10_lower for b in blocks])
    outside = any(b.truth_outside for b in blocks) or _truth_outside(l_truth, se, l_lower, l_upper)
    return WorldBounds(
        order=order,
        lower=lower,
        upper=upper,
        independence=math.prod(b.independence for b in blocks),
        maxent=math.prod(b.maxent for b in blocks if b.maxent is not None) if has_me else None,
        truth=truth,
        log10_lower=l_lower,
        log10_upper=l_upper,
        log10_independence=lsum([b.log10_independence for b in blocks]),
        log10_maxent=lsum([b.log10_maxent for b in blocks]) if has_me else None,
        log10_truth=l_truth,
        truth_log10_stderr=se,
        truth_exact=all(b.truth_exact for b in blocks),
        truth_outside=outside,
        blocks=blocks,
    )


def _pair_information(pa: float, pb: float, pab: float) -> float | None:
    """Mutual information of two events from P(a), P(b), P(a and b); None if inconsistent."""
    cells = [(pab, pa, pb), (pa - pab, pa, 1 - pb), (pb - pab, 1 - pa, pb)]
    cells.append((1 - pa - pb + pab, 1 - pa, 1 - pb))
    if any(c < -1e-12 for c, _, _ in cells):
        return None
    return sum(c * math.log(c / (x * y)) for c, x, y in cells if c > 0 and x > 0 and y > 0)


def tree_maxent(m: int, known: Mapping[tuple[int, ...], float]) -> float | None:
    """P(all) under the maximum-entropy distribution matching the single probabilities and
    a maximum spanning forest of the known pairs (Chow–Liu: the most informative pairs first).

    For components too large for the exact maximum entropy over 2^m atoms: with tree-shaped
    constraints the maximum-entropy distribution factorises, P(all) = prod p_i times
    prod over tree edges p_ij / (p_i p_j). Pairs that would close a cycle, and higher-order
    probabilities, are left out. None when a single probability is unknown.
    """
    single = [known.get((i,)) for i in range(m)]
    if any(p is None for p in single):
        return None
    ps = [float(p) for p in single if p is not None]
    if min(ps) <= 0:
        return 0.0
    edges = []
    for key, pab in known.items():
        if len(key) == 2:
            i, j = key
            info = _pair_information(ps[i], ps[j], pab)
            if info is not None:
                edges.append((info, i, j, pab))
    edges.sort(key=lambda e: (-e[0], e[1], e[2]))
    forest = DisjointSets(range(m))
    log_p = sum(math.log(p) for p in ps)
    for _, i, j, pab in edges:
        if not forest.union(i, j):
            continue
        if pab <= 0:
            return 0.0
        log_p += math.log(pab) - math.log(ps[i]) - math.log(ps[j])
    return math.exp(log_p)


def _components(block: GaussianBlock) -> list[list[int]]:
    """Groups of statements linked by non-zero correlation (exactly independent otherwise)."""
    from scipy.sparse.csgraph import connected_components

    n, labels = connected_components(np.abs(block.corr) > 0.0, directed=False)
    return [np.flatnonzero(labels == c).tolist() for c in range(n)]


def _sub_block(block: GaussianBlock, idx: list[int]) -> GaussianBlock:
    return GaussianBlock(
        name=block.name,
        statements=[block.statements[i] for i in idx],
        covariance=block.cov[np.ix_(idx, idx)].tolist(),
    )


def split_block_bounds(
    block: GaussianBlock | DiscreteBlock, order: int, *, max_subsets: int = MAX_SUBSETS
) -> BlockBounds:
    """`block_bounds`, but a Gaussian block made of exactly independent parts is bounded
    part by part (someone who knows the pairs knows they are independent), so a block of
    independent statements gets lower = upper = truth and a maxent, whatever its size."""
    if isinstance(block, DiscreteBlock) or len(block.statements) == 1:
        return block_bounds(block, order, max_subsets=max_subsets)
    comps = _components(block)
    if len(comps) == 1:
        return block_bounds(block, order, max_subsets=max_subsets)
    parts = [block_bounds(_sub_block(block, c), order, max_subsets=max_subsets) for c in comps]
    me = [p.maxent for p in parts]
    ind = [p.log10_independence for p in parts]
    methods = sorted({p.method for p in parts})
    return _finish_block(
        block,
        f"{len(parts)} independent parts: " + ", ".join(methods),
        max(p.order_used for p in parts),
        math.prod(p.lower for p in parts),
        math.prod(p.upper for p in parts),
        None if any(v is None for v in ind) else math.fsum(v for v in ind if v is not None),
        None if any(v is None for v in me) else math.prod(v for v in me if v is not None),
    )


def world_bounds(world: World, order: int, *, max_subsets: int = MAX_SUBSETS) -> WorldBounds:
    """Bounds on P(Z) for someone who knows every n-way probability up to `order`."""
    return _combine(
        [split_block_bounds(b, order, max_subsets=max_subsets) for b in world.blocks], order
    )


def bounds_from_known(world: World, known_by_id: Mapping[tuple[str, ...], float]) -> WorldBounds:
    """Bounds on P(Z) from a chosen list of n-way probabilities (a judge's evidence).

    Within-block subsets feed that block's bounds (sharp LP up to 14 statements, else
    Fréchet, Hunter–Worsley, and Prékopa when every subset up to some size is given).
    A subset spanning several blocks is used only as a cap on the world's upper bound
    (P(Z) <= P(any subset all true)); its factorisation is not exploited. Statements with
    no singleton count 0.5 in `independence`; a block without evidence gets [0, 1].
    """
    per_block: list[Known] = [{} for _ in world.blocks]
    cross_upper = 1.0
    for ids, p in known_by_id.items():
        if not ids:
            continue
        if not math.isfinite(p) or p < -1e-9 or p > 1 + 1e-9:
            raise LatentError(f"evidence {list(ids)} has probability {p}; use a number in [0, 1]")
        groups = world.group(list(ids))
        if len(groups) > 1:
            cross_upper = min(cross_upper, max(0.0, float(p)))
            continue
        ((b, idx),) = groups.items()
        key = tuple(sorted(idx))
        old = per_block[b].get(key)
        if old is not None and abs(old - p) > 1e-9:
            raise LatentError(f"evidence {list(ids)} is given twice with different values")
        per_block[b][key] = min(1.0, max(0.0, float(p)))
    out = []
    for block, known in zip(world.blocks, per_block, strict=True):
        m = len(block.statements)
        order_used = max((len(t) for t in known), default=0)
        if m <= MAX_ATOM_M:
            lo, hi = sharp_bounds(m, known)
            res = _finish_block(
                block,
                "sharp-lp",
                order_used,
                lo,
                hi,
                log10_independence(m, known),
                maxent(m, known),
            )
        else:
            full = 0
            while full < order_used and all(
                sub in known for sub in combinations(range(m), full + 1)
            ):
                full += 1
            s = binomial_moments(m, known, full) if full else None
            method, lo, hi = _large_block(m, known, s, None)
            res = _finish_block(
                block, method, order_used, lo, hi, log10_independence(m, known), None
            )
        out.append(res)
    return _combine(out, None, _pad_hi(cross_upper))
