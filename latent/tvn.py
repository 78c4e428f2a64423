"""Low-order Gaussian orthant probabilities of triples, vectorised and in log space.

As in ``latent/bvn.py`` (whose bivariate engines these build on), everything is an *upper*
orthant ``P(X_i > h_i, X_j > h_j, X_k > h_k)`` of a standard normal vector with correlation
matrix R, and triples are listed in lexicographic order.

Trivariate method (Genz 2004 idea, own implementation): detach the variable whose two
correlations are the smaller ones, scale those two correlations by ``t`` and integrate the
Plackett derivatives over ``t ∈ [0, 1]``:
``P = Φ(-h1) P2(h2, h3; r23) + ∫_0^1 Σ_{j=2,3} r1j φ2(h1, hj; t r1j) Φ(-(h_l - μ_l)/σ_l) dt``.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import log_ndtr

from latent.bvn import (
    _DROP,
    _LOG_SQRT_2PI,
    FloatArray,
    IntArray,
    _check_h,
    _check_matrix,
    _check_r,
    _gl,
    _lbvn,
    _triu,
    all_pairs_log,
)
from latent.errors import LatentError

_LOG_2PI = math.log(2.0 * math.pi)

__all__ = [
    "all_triples_log",
    "all_triples_zero",
    "log_tvn_upper",
    "triple_arrays",
    "triple_from_index",
    "triple_index",
]


# ----------------------------------------------------------------------------------------
# triples: indexing
# ----------------------------------------------------------------------------------------


def _c2(n: int) -> int:
    return n * (n - 1) // 2 if n >= 2 else 0


def _c3(n: int) -> int:
    return n * (n - 1) * (n - 2) // 6 if n >= 3 else 0


def triple_index(i: int, j: int, k: int, m: int) -> int:
    """Position of (i, j, k), i < j < k < m, in the lexicographic list of all triples."""
    if not (0 <= i < j < k < m):
        raise LatentError(f"triple_index: need 0 <= i < j < k < m; got ({i}, {j}, {k}), m={m}")
    return _c3(m) - _c3(m - i) + _c2(m - i - 1) - _c2(m - j) + (k - j - 1)


def triple_from_index(p: int, m: int) -> tuple[int, int, int]:
    """Inverse of triple_index: the triple (i, j, k) at position p for size m."""
    total = _c3(m)
    if not 0 <= p < total:
        raise LatentError(f"triple_from_index: position {p} out of range [0, {total})")
    i = 0
    while _c3(m) - _c3(m - i - 1) <= p:
        i += 1
    p -= _c3(m) - _c3(m - i)
    j = i + 1
    while _c2(m - i - 1) - _c2(m - j - 1) <= p:
        j += 1
    p -= _c2(m - i - 1) - _c2(m - j)
    return i, j, j + 1 + p


def triple_arrays(m: int) -> tuple[IntArray, IntArray, IntArray]:
    """Index arrays (I, J, K) of all triples i < j < k < m in lexicographic order."""
    iu, ju = _triu(m)
    iu, ju = iu.astype(np.int64), ju.astype(np.int64)
    # the pairs (j, k) with j > i form the tail of the lexicographic pair list
    start = np.array([_c2(m) - _c2(m - i - 1) for i in range(m)], dtype=np.int64)
    counts = _c2(m) - start
    I_ = np.repeat(np.arange(m, dtype=np.int64), counts)
    take = np.concatenate([np.arange(s, _c2(m), dtype=np.int64) for s in start]) if m else start
    return I_, iu[take], ju[take]


def all_triples_zero(R: ArrayLike) -> FloatArray:
    """P(X_i > 0, X_j > 0, X_k > 0) for all i < j < k (lexicographic), closed form."""
    M = np.clip(_check_matrix(R, "all_triples_zero"), -1.0, 1.0)
    m = M.shape[0]
    A = np.arcsin(M) / (4.0 * math.pi)
    iu, ju = _triu(m)
    pair = A[iu, ju] + 0.125
    out = np.empty(_c3(m))
    pos = 0
    for i in range(m - 2):
        s = _c2(m) - _c2(m - i - 1)
        jj, kk = iu[s:], ju[s:]
        n = jj.size
        row = A[i]
        out[pos : pos + n] = pair[s:] + row[jj] + row[kk]
        pos += n
    return out


# ----------------------------------------------------------------------------------------
# triples with thresholds
# ----------------------------------------------------------------------------------------

_TVN_NODES = 12
_TVN_CHUNK = 8192


def _tvn_core(
    ha: FloatArray,
    hb: FloatArray,
    hc: FloatArray,
    rab: FloatArray,
    rac: FloatArray,
    rbc: FloatArray,
    base: FloatArray,
) -> FloatArray:
    """log P for detached variable a and kept pair (b, c); base = log Φ(-ha) + log P2(hb, hc).

    ``P = exp(base) + ∫_0^1 [rab φ2(ha, hb; t rab) Φ(z_c) + rac φ2(ha, hc; t rac) Φ(z_b)] dt``
    where z_c, z_b are the standardised conditional thresholds at correlation scale t.

    Where the integrand is not flat enough to trust (see _tvn_plackett) the integral is done
    again with _TVN_CHECK Gauss–Legendre nodes; where the two disagree by more than _TVN_REL
    relative to P (a peaked integrand far in the tails, or terms that cancel under negative
    correlations), _tvn_robust recomputes P without any subtraction.
    """
    par = np.stack((ha, hb, hc, rab, rac, rbc, base))  # rows of a subset: par[:, rows]
    out, total, lmax, easy, _ = _tvn_plackett(par, _TVN_NODES)
    sus = np.flatnonzero(~easy & (np.maximum(np.abs(rab), np.abs(rac)) < 1.0 - 1e-9))
    _, check, lmax2, _, _ = _tvn_plackett(par[:, sus], _TVN_CHECK)
    with np.errstate(over="ignore", invalid="ignore"):
        diff = np.abs(total[sus] - check * np.exp(lmax2 - lmax[sus]))
        bad = ~(diff <= _TVN_REL * total[sus])
    redo = sus[bad]
    if redo.size:
        # A finer Plackett integral settles the rows whose quadrature had not converged
        # (it agrees with the check and its terms do not cancel); the subtraction-free
        # integral, ~50x dearer per row, takes only the rest.
        fine_out, fine, lmax3, _, mag = _tvn_plackett(par[:, redo], _TVN_FINE)
        with np.errstate(over="ignore", invalid="ignore"):
            diff = np.abs(fine - check[bad] * np.exp(lmax2[bad] - lmax3))
            ok = (diff <= _TVN_REL * fine) & (fine >= _TVN_CANCEL * mag)
        out[redo[ok]] = fine_out[ok]
        rest = redo[~ok]
        if rest.size:
            out[rest] = _tvn_robust(par[:, rest])
    return out


def _tvn_plackett(
    par: FloatArray, nodes: int
) -> tuple[FloatArray, FloatArray, FloatArray, NDArray[np.bool_], FloatArray]:
    """For rows ``par = (ha, hb, hc, rab, rac, rbc, base)`` (as in _tvn_core),
    the Plackett form with `nodes` Gauss–Legendre nodes: (log P, P / exp(lmax), lmax,
    easy, the sum of the terms' magnitudes / exp(lmax)), `easy` where the log integrand
    varies by less than 1 over the nodes and the terms cancel by less than 10% (seen
    accurate to ~1e-9 against _tvn_robust)."""
    ha, hb, hc, rab, rac, rbc, base = par
    x, w = _gl(nodes)
    t = 0.5 * (1.0 + x)[:, None]  # (n, 1) against (N,) parameters -> (n, N)
    t2 = t * t
    wt = 0.5 * w
    # det R(t) = (1 - r_bc²) - t² (r_ab² + r_ac² - 2 r_ab r_ac r_bc), shared by both terms
    det = np.maximum(
        (1.0 - rbc * rbc) - t2 * (rab * rab + rac * rac - 2.0 * rab * rac * rbc), 1e-300
    )
    terms = []
    spread = np.zeros(ha.shape)
    for rj, rk, hj, hk in ((rab, rac, hb, hc), (rac, rab, hc, hb)):
        # log density of (X_a, X_j) at (ha, hj) with correlation t r_j, plus
        # log P(X_k > hk | X_a = ha, X_j = hj); polynomial coefficients in t precomputed
        one = 1.0 - t2 * (rj * rj)
        lphi = (-0.5 * (ha * ha + hj * hj) + t * (rj * ha * hj)) / one - 0.5 * np.log(one)
        mu_num = t * ((rk - rj * rbc) * ha) + rbc * hj - t2 * (rj * rk * hj)
        z = (mu_num - hk * one) / np.sqrt(one * det)
        lt = lphi + log_ndtr(z) - _LOG_2PI
        spread = np.maximum(spread, np.ptp(lt, axis=0) if lt.size else 0.0)
        terms.append((lt, rj))
    lmax = np.maximum(base, np.maximum(terms[0][0].max(axis=0), terms[1][0].max(axis=0)))
    total = np.exp(base - lmax)
    mag = total.copy()
    for lt, rj in terms:
        part = wt @ np.exp(lt - lmax)
        total = total + rj * part
        mag = mag + np.abs(rj) * part
    # cancellation (negative correlations) can leave a result below the quadrature noise
    floor = 1e-15 * (np.exp(base - lmax) + np.abs(rab) + np.abs(rac))
    easy = (spread < 1.0) & (total >= 0.9 * mag)
    return lmax + np.log(np.maximum(total, floor)), total, lmax, easy, mag


#: Gauss–Legendre nodes of the check integral, and the relative disagreement with the main
#: one (_TVN_NODES) above which _tvn_robust takes over.
_TVN_CHECK = 20
_TVN_REL = 1e-9
#: Nodes of the finer Plackett integral for rows the check rejects, and the least share of
#: the terms' magnitude its result must keep (below it, rounding in the sum could exceed
#: _TVN_REL: the subtraction-free integral decides).
_TVN_FINE = 48
_TVN_CANCEL = 1e-4
#: Grid points per refinement level and Gauss–Legendre nodes per panel of _tvn_robust.
_TVN_GRID = 48
_TVN_PANEL = 32


def _tvn_robust(par: FloatArray) -> FloatArray:
    """log P(Xa > ha, Xb > hb, Xc > hc) as ∫_{ha}^∞ φ(x) P2(x) dx with no subtraction, for
    rows ``par = (ha, hb, hc, rab, rac, rbc[, base])`` (as in _tvn_core; base is not used).

    P2(x) = P(Xb > hb, Xc > hc | Xa = x) is a bivariate orthant (log_bvn_upper, relatively
    accurate in the tails for either sign of correlation). The integrand is log-concave, so
    its mode and the window where it is within _DROP of the mode are found on two nested
    grids; Gauss–Legendre on two panels split at the mode. Used where the Plackett form
    cancels (negative correlations far in the tails).
    """
    ha, hb, hc, rab, rac, rbc = par[:6]
    n = ha.size
    sb, sc = np.sqrt(1.0 - rab * rab), np.sqrt(1.0 - rac * rac)
    rc = np.clip((rbc - rab * rac) / (sb * sc), -1.0, 1.0)

    def logf(x: FloatArray) -> FloatArray:  # x: (n, k)
        ub = (hb[:, None] - rab[:, None] * x) / sb[:, None]
        uc = (hc[:, None] - rac[:, None] * x) / sc[:, None]
        lb = _lbvn(
            ub.ravel(),
            uc.ravel(),
            np.repeat(rc, x.shape[1]),
            log_ndtr(-ub.ravel()),
            log_ndtr(-uc.ravel()),
        ).reshape(x.shape)
        return -0.5 * x * x + lb

    lo = ha.copy()
    hi = (
        np.maximum(ha, 0.0)
        + 12.0
        + np.max(np.abs(np.stack([hb, hc])), axis=0) / np.maximum(np.minimum(sb, sc), 1e-3)
    )
    for _ in range(2):
        grid = lo[:, None] + (hi - lo)[:, None] * np.linspace(0.0, 1.0, _TVN_GRID)[None, :]
        lv = logf(grid)
        top = np.argmax(lv, axis=1)
        keep = lv >= lv[np.arange(n), top][:, None] - _DROP
        first = np.argmax(keep, axis=1)
        last = _TVN_GRID - 1 - np.argmax(keep[:, ::-1], axis=1)
        rows = np.arange(n)
        lo = grid[rows, np.maximum(first - 1, 0)]
        hi = grid[rows, np.minimum(last + 1, _TVN_GRID - 1)]
    mode = grid[np.arange(n), top]
    xs, ws = _gl(_TVN_PANEL)
    parts = []
    for a0, b0 in ((lo, mode), (mode, hi)):
        half = 0.5 * (b0 - a0)
        nodes = a0[:, None] + half[:, None] * (1.0 + xs)[None, :]
        parts.append(logf(nodes) + np.log(np.maximum(half, 1e-300))[:, None])
    lv = np.concatenate(parts, axis=1)
    w = np.concatenate([ws, ws])
    m = np.max(lv, axis=1)
    return m + np.log(np.exp(lv - m[:, None]) @ w) - _LOG_SQRT_2PI


_PLAN = tuple[IntArray, IntArray, IntArray, FloatArray, FloatArray, FloatArray]


def _tvn_plan(r3: FloatArray) -> _PLAN:
    """Per row: detached variable a and kept pair (b, c) (the pair of largest |r|),
    with the correlations (r_ab, r_ac, r_bc)."""
    # columns of r3 are (r12, r13, r23)
    keep = np.argmax(np.abs(r3), axis=1)
    a = np.array([2, 1, 0])[keep]  # r12 largest -> detach 3, r13 -> detach 2, r23 -> detach 1
    b = np.array([0, 0, 1])[keep]
    c = np.array([1, 2, 2])[keep]
    rows = np.arange(r3.shape[0])
    pair_col = np.array([[-1, 0, 1], [0, -1, 2], [1, 2, -1]])
    return a, b, c, r3[rows, pair_col[a, b]], r3[rows, pair_col[a, c]], r3[rows, keep]


def log_tvn_upper(h3: ArrayLike, r3: ArrayLike) -> FloatArray:
    """log P(X1 > h1, X2 > h2, X3 > h3) for many triples at once.

    ``h3``: shape (n, 3) thresholds; ``r3``: shape (n, 3) correlations (r12, r13, r23), which
    must form a positive semi-definite matrix per row.  Relative accuracy ~1e-9 or better
    for moderate thresholds; far in the tails and under negative correlations, where the
    Plackett form cancels, rows are recomputed by a subtraction-free integral (~1e-6).
    """
    H = np.asarray(h3, dtype=float)
    Rr = np.asarray(r3, dtype=float)
    if H.ndim != 2 or H.shape[1] != 3 or Rr.shape != H.shape:
        raise LatentError(
            f"log_tvn_upper: need thresholds and correlations of shape (n, 3); "
            f"got {H.shape} and {Rr.shape}"
        )
    if not np.all(np.isfinite(H)):
        raise LatentError("log_tvn_upper: thresholds must be finite numbers")
    _check_r(Rr, "log_tvn_upper")
    Rr = np.clip(Rr, -1.0, 1.0)
    out = np.empty(H.shape[0])
    for s in range(0, H.shape[0], _TVN_CHUNK):
        hs, rs = H[s : s + _TVN_CHUNK], Rr[s : s + _TVN_CHUNK]
        rows = np.arange(hs.shape[0])
        a, b, c, rab, rac, rbc = _tvn_plan(rs)
        ha, hb, hc = hs[rows, a], hs[rows, b], hs[rows, c]
        base = log_ndtr(-ha) + _lbvn(hb, hc, rbc, log_ndtr(-hb), log_ndtr(-hc))
        out[s : s + _TVN_CHUNK] = _tvn_core(ha, hb, hc, rab, rac, rbc, base)
    return out


def all_triples_log(R: ArrayLike, h: ArrayLike) -> FloatArray:
    """log P(X_i > h_i, X_j > h_j, X_k > h_k) for all i < j < k, lexicographic order."""
    M = np.clip(_check_matrix(R, "all_triples_log"), -1.0, 1.0)
    m = M.shape[0]
    hv = _check_h(h, m, "all_triples_log")
    if not np.all(np.isfinite(hv)):
        raise LatentError("all_triples_log: thresholds must be finite numbers")
    pairs = all_pairs_log(M, hv)  # the kept pair's probability is looked up here
    lp = np.diag(pairs).copy()
    I_, J_, K_ = triple_arrays(m)
    out = np.empty(I_.size)
    for s in range(0, I_.size, _TVN_CHUNK):
        idx = np.stack([I_[s : s + _TVN_CHUNK], J_[s : s + _TVN_CHUNK], K_[s : s + _TVN_CHUNK]], 1)
        i, j, k = idx[:, 0], idx[:, 1], idx[:, 2]
        a, b, c, rab, rac, rbc = _tvn_plan(np.stack([M[i, j], M[i, k], M[j, k]], axis=1))
        rows = np.arange(idx.shape[0])
        va, vb, vc = idx[rows, a], idx[rows, b], idx[rows, c]
        base = lp[va] + pairs[vb, vc]
        out[s : s + _TVN_CHUNK] = _tvn_core(hv[va], hv[vb], hv[vc], rab, rac, rbc, base)
    return out
