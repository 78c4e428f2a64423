"""The sharp bounds: an LP over all 2^m atoms by column generation, certified."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_factor, cho_solve

from latent.bounds._common import _DOT_REL, MAX_ATOM_M, Extreme, _pad_hi, _pad_lo, check_known
from latent.errors import LatentError


def _zeta(y_at_masks: np.ndarray, m: int) -> np.ndarray:
    """z[a] = sum over subsets T of a of y[T] (subset-sum transform), O(m 2^m)."""
    return _sum_over(y_at_masks, m, into=1)


def _masks(keys: Sequence[tuple[int, ...]]) -> np.ndarray:
    return np.array([sum(1 << i for i in key) for key in keys], dtype=np.int64)


def _supersum(x: np.ndarray, m: int) -> np.ndarray:
    """u[T] = sum over supersets a of T of x[a] (superset-sum transform), O(m 2^m)."""
    return _sum_over(x, m, into=0)


def _sum_over(x: np.ndarray, m: int, into: int) -> np.ndarray:
    """Along each of the m bits, add the half without the bit into the half with it (into=1:
    subset sums) or the other way round (into=0: superset sums)."""
    out = x.astype(float).copy()
    for i in range(m):
        v = out.reshape(-1, 2, 1 << i)
        v[:, into, :] += v[:, 1 - into, :]
    return out


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
