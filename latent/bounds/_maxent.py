"""Maximum-entropy completions: IPF over 2^m atoms, and the Chow–Liu tree for large blocks."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from scipy.linalg import cho_factor, cho_solve

from latent.bounds._atoms import _masks, _supersum, _zeta
from latent.bounds._cheap import DisjointSets
from latent.bounds._common import MAX_ATOM_M, check_known
from latent.errors import LatentError


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
