"""Bivariate Gaussian orthant probabilities (pairs), vectorised and in log space.

Everything is an *upper* orthant of a standard normal vector with correlation matrix R:
``P(X_i > h_i, X_j > h_j [, X_k > h_k])``.  A "flip" (``X_i <= h_i``) is handled by the
caller by negating ``h_i`` and row/column ``i`` of ``R``.

Bivariate method.  Two engines, chosen per element:

* fast: Plackett's identity in the angle form,
  ``P = Φ(-h)Φ(-k) + (1/2π) ∫_0^{asin r} exp(-(h²+k²-2hk sinθ)/(2cos²θ)) dθ``,
  Gauss–Legendre with a node count growing with ``|r|``, summed in log space with the
  dominant exponential factored out.  For ``r >= 0`` both terms are positive.  Used for
  ``|r| < 0.925`` when the integrand is smooth enough and, for ``r < 0``, when the
  subtraction loses at most a factor ~40 (about 1.6 digits).
* robust: the same probability as one or two integrals of log-concave, analytic
  integrands with no subtraction at all, each integrated by Gauss–Legendre on a window
  found from the integrand's own mode and slopes (Newton in log space).  With
  ``a = sqrt((1+r)/2)``, ``b = sqrt((1-r)/2)``, ``X = aU + bV``, ``Y = aU - bV``:

  - ``r > 0``: ``P = J(h, k) + J(k, h)``, ``J(h, k) = ∫_{-∞}^{(h-k)/2b} φ(v) Φ((bv-h)/a) dv``;
  - ``r < 0``: ``P = ∫_{u0}^{∞} φ(u) P(|V - m| < a(u-u0)/b) du``,
    ``u0 = (h+k)/2a``, ``m = (k-h)/2b``.

Triples (trivariate orthants) are in ``latent/tvn.py``, built on the bivariate engines here.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from functools import cache

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import log_ndtr, ndtr

from latent.errors import LatentError

__all__ = [
    "all_pairs_log",
    "all_pairs_zero",
    "log_bvn_upper",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
# fast-engine node counts by |r| class, and the class limits
# (upper |r| limit, nodes, angle form?) per class; below 0.75 the plain s = r·u form is
# accurate enough and avoids a sine per node
_FAST_CLASSES = (
    (0.1, 6, False),
    (0.2, 8, False),
    (0.4, 10, False),
    (0.6, 12, False),
    (0.75, 16, False),
    (0.85, 18, True),
    (0.925, 22, True),
)
_FAST_LIMIT = 0.925
# largest spread of the exponent over the fast-engine nodes that is still integrated there
_FAST_SPREAD = 24.0
# r < 0: largest |integral| / (Φ(-h)Φ(-k)) accepted in the fast engine (loss <= 1/(1-x))
_FAST_CANCEL = 0.975
# robust engine: number of Gauss–Legendre nodes and the log drop that bounds the window
_ROBUST_NODES = 24
_DROP = 40.0
_NEWTON = 50
_TOL_R = 1e-12


@cache
def _gl(n: int) -> tuple[FloatArray, FloatArray]:
    """Gauss–Legendre nodes and weights on [-1, 1] (cached; read-only)."""
    x, w = np.polynomial.legendre.leggauss(n)
    x.setflags(write=False)
    w.setflags(write=False)
    return x, w


@cache
def _triu(m: int) -> tuple[IntArray, IntArray]:
    """``np.triu_indices(m, 1)``, cached (read-only): every all-pairs call of a block needs it."""
    iu, ju = np.triu_indices(m, 1)
    iu.setflags(write=False)
    ju.setflags(write=False)
    return iu, ju


def _log_interval(a: FloatArray, b: FloatArray) -> FloatArray:
    """log P(a < Z < b) for standard normal Z, relatively accurate in both tails."""
    out = np.full(a.shape, -np.inf)
    ok = a < b
    up = ok & (a >= 0)
    lo = ok & (b <= 0)
    mid = ok & ~up & ~lo
    if up.any():
        la, lb = log_ndtr(-a[up]), log_ndtr(-b[up])
        out[up] = la + np.log1p(-np.exp(lb - la))
    if lo.any():
        la, lb = log_ndtr(a[lo]), log_ndtr(b[lo])
        out[lo] = lb + np.log1p(-np.exp(la - lb))
    if mid.any():
        out[mid] = np.log1p(-(ndtr(-b[mid]) + ndtr(a[mid])))
    return out


# ----------------------------------------------------------------------------------------
# bivariate: fast engine
# ----------------------------------------------------------------------------------------


#: Per-thread scratch for _fast's (nodes x pairs) arrays: fresh ones of that size cost page
#: faults on first touch, which were a quarter of the time of all pairs of m = 300.
_SCRATCH = threading.local()


#: Largest scratch array kept between calls (elements; 16 MB each).
_SCRATCH_KEEP = 1 << 21


def _scratch(n: int, cols: int) -> tuple[FloatArray, FloatArray]:
    """Two (n, cols) work arrays of this thread (overwritten by the next call); bigger than
    _SCRATCH_KEEP they are fresh and not kept, so one huge call does not hold its memory."""
    size = n * cols
    if size > _SCRATCH_KEEP:
        return np.empty((n, cols)), np.empty((n, cols))
    bufs: tuple[FloatArray, FloatArray] | None = getattr(_SCRATCH, "bufs", None)
    if bufs is None or bufs[0].size < size:
        bufs = (np.empty(size), np.empty(size))
        _SCRATCH.bufs = bufs
    return bufs[0][:size].reshape(n, cols), bufs[1][:size].reshape(n, cols)


def _fast(
    h: FloatArray, k: FloatArray, r: FloatArray, lph: FloatArray, lpk: FloatArray
) -> tuple[FloatArray, NDArray[np.bool_]]:
    """Plackett integral from r = 0 by Gauss–Legendre; returns (log P, ok).

    ``ok`` marks elements whose quadrature is trusted (smooth integrand, limited
    cancellation); the caller recomputes the others with the robust engine.
    """
    out = np.empty(h.shape)
    ok = np.zeros(h.shape, dtype=bool)
    ar = np.abs(r)
    lower = 0.0
    for limit, n, theta in _FAST_CLASSES:
        sel = np.flatnonzero((ar >= lower) & (ar < limit))
        lower = limit
        if sel.size == 0:
            continue
        x, w = _gl(n)
        hh, kk, rs = h[sel], k[sel], r[sel]
        q = 0.5 * (hh * hh + kk * kk)
        p = hh * kk
        # the exponent E(s) = -(q - p s)/(1 - s²) has its only maximum on (-1, 1) at
        # s* = p / (q + sqrt(q² - p²)), so its extremes on [0, r] are cheap and exact
        with np.errstate(divide="ignore", invalid="ignore"):
            sstar = np.where(q > 0, p / (q + np.sqrt(np.maximum(q * q - p * p, 0.0))), 0.0)
        sm = np.clip(sstar, np.minimum(rs, 0.0), np.maximum(rs, 0.0))
        emax = (p * sm - q) / (1.0 - sm * sm)
        emin = np.minimum(-q, (p * rs - q) / (1.0 - rs * rs))
        # node-major (n, N) layout so that the weighted sum is one long gemv
        # (in place: these (n, N) temporaries are most of the time spent on all pairs)
        s, t = _scratch(n, sel.size)
        if theta:  # s = sin θ keeps the end singularities at s = ±1 further away
            half = 0.5 * np.arcsin(rs)
            np.multiply(half, (1.0 + x)[:, None], out=s)
            np.sin(s, out=s)
        else:
            half = 0.5 * rs
            np.multiply(half, (1.0 + x)[:, None], out=s)
        np.multiply(s, s, out=t)
        np.subtract(1.0, t, out=t)
        np.reciprocal(t, out=t)  # 1 / (1 - s²): one division, then products
        f = np.multiply(p, s, out=s)
        f -= q
        f *= t
        f -= emax
        np.exp(f, out=f)  # exp((p s - q) / (1 - s²) - emax)
        if not theta:  # the density's 1 / sqrt(1 - s²); in θ, ds = cos θ dθ cancels it
            np.sqrt(t, out=t)
            f *= t
        integ = (w @ f) * half / (2.0 * math.pi)  # signed, in units of exp(emax)
        la = lph[sel] + lpk[sel]
        big = np.maximum(la, emax)
        val = np.exp(la - big) + integ * np.exp(emax - big)
        with np.errstate(over="ignore", invalid="ignore"):
            rel = np.abs(integ) * np.exp(emax - la)
        # trusted: smooth integrand (or one negligible next to Φ(-h)Φ(-k)); limited cancellation
        good = (emax - emin <= _FAST_SPREAD) | (emax < la - 40.0)
        good &= (rs >= 0) | (rel <= _FAST_CANCEL)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[sel] = big + np.log(val)
        ok[sel] = good & (val > 0)
    return out, ok


# ----------------------------------------------------------------------------------------
# bivariate: robust engine (log-concave integrals)
# ----------------------------------------------------------------------------------------

# g(x, rows, deriv) -> (g, g', g'') for the log integrand of the given rows; x is
# (len(rows),) or (len(rows), n); without `deriv` only g is computed (g' and g'' are g)
_LogDensity = Callable[[FloatArray, IntArray, bool], tuple[FloatArray, FloatArray, FloatArray]]


def _col(p: FloatArray, x: FloatArray, rows: IntArray) -> FloatArray:
    """The rows' parameter, shaped to broadcast against x."""
    q = p[rows]
    return q if x.ndim == 1 else q[:, None]


def _logconcave_integral(
    g: _LogDensity, lo: FloatArray, hi: FloatArray, x0: FloatArray, zero_lo: bool
) -> FloatArray:
    """log ∫_lo^hi exp(g) for log-concave g (one per row), relative accuracy ~1e-14.

    ``lo`` may be -inf and ``hi`` may be +inf.  ``zero_lo`` says that exp(g) -> 0 at a finite
    ``lo`` (g is then never evaluated there).  The window is cut where g has dropped by _DROP
    from its maximum; Gauss–Legendre on it.
    """
    x = np.clip(x0, lo, hi)
    if zero_lo:
        x = np.where(x <= lo, lo + 1.0, x)
    a, b = lo.copy(), hi.copy()
    act = np.arange(x.size)  # rows whose maximum is still being searched (Newton, bracketed)
    for _ in range(_NEWTON):
        xa, aa, ba = x[act], a[act], b[act]
        _, g1, g2 = g(xa, act, True)
        aa = np.where(g1 > 0, xa, aa)
        ba = np.where(g1 <= 0, xa, ba)
        step = -g1 / g2
        xn = xa + step
        # a step that lands outside the bracket is replaced by bisection, unless it is
        # negligible: at convergence xn == xa, which the update above made a bracket end
        # (bisecting then would throw the found maximum away and crawl back to it)
        done = np.abs(step) <= 1e-11 * (1.0 + np.abs(xa))
        bad = ((xn <= aa) | (xn >= ba)) & ~done
        if bad.any():
            fa, fb = np.isfinite(aa), np.isfinite(ba)
            mid = np.where(fa & fb, 0.5 * (aa + ba), np.where(fa, aa + 2.0 * np.abs(step), ba))
            mid = np.where(~fa & fb, ba - 2.0 * np.abs(step), mid)
            xn = np.where(bad, mid, xn)
            # a closed (nonzero) upper boundary can itself be the maximum
            xn = np.where(bad & (g1 > 0) & (xa >= hi[act]), hi[act], xn)
        x[act], a[act], b[act] = xn, aa, ba
        act = act[np.abs(xn - xa) > 1e-11 * (1.0 + np.abs(xa))]
        if act.size == 0:
            break
    x = np.clip(x, lo, hi)
    if zero_lo:
        x = np.maximum(x, lo + 1e-300)
    allr = np.arange(x.size)
    gp, _, g2p = g(x, allr, True)
    # the curvature at the mode is at most -1 for both integrands; use it for a first guess
    d = np.sqrt(2.0 * _DROP / np.maximum(-g2p, 1.0))
    d = np.maximum(d, np.sqrt(2.0 * _DROP))
    right = np.minimum(x + d, hi)
    left = np.maximum(x - d, lo)
    # Each end moves in (a Newton step on g = gp - _DROP) while g there is below that level;
    # an end that is not below it never moves again, so only the moving ends are evaluated.
    act_r = np.flatnonzero(right < hi)
    act_l = np.flatnonzero(left > lo)
    for _ in range(4):
        if act_r.size:
            rr = right[act_r]
            gr, g1r, _ = g(rr, act_r, True)
            phi = gr - gp[act_r] + _DROP
            move = phi < 0
            nr = rr - phi / np.minimum(g1r, -1e-300)
            right[act_r] = np.where(move, np.maximum(nr, x[act_r]), rr)
            act_r = act_r[move]
        if act_l.size:
            ll = left[act_l]
            gl_, g1l, _ = g(ll, act_l, True)
            phi = gl_ - gp[act_l] + _DROP
            move = phi < 0
            nl = ll - phi / np.maximum(g1l, 1e-300)
            left[act_l] = np.where(move, np.minimum(nl, x[act_l]), ll)
            act_l = act_l[move]
    # two Gauss–Legendre panels split at the maximum (one is empty for a boundary maximum)
    xs, ws = _gl(_ROBUST_NODES)
    total = np.zeros(x.shape)
    for a0, b0 in ((left, x), (x, right)):
        half = 0.5 * (b0 - a0)
        nodes = a0[:, None] + half[:, None] * (1.0 + xs)
        if zero_lo:
            nodes = np.maximum(nodes, lo[:, None] + 1e-300)
        gv, _, _ = g(nodes, allr, False)  # the panels need values only
        total += (np.exp(gv - gp[:, None]) @ ws) * half
    with np.errstate(divide="ignore"):
        return gp + np.log(total)


def _robust_pos(h: FloatArray, k: FloatArray, r: FloatArray) -> FloatArray:
    """log P for 0 < r < 1 as log(J(h,k) + J(k,h)); no subtraction anywhere."""
    a = np.sqrt(0.5 * (1.0 + r))
    b = np.sqrt(0.5 * (1.0 - r))
    beta = b / a

    def half(hh: FloatArray, kk: FloatArray) -> FloatArray:
        def g(
            v: FloatArray, rows: IntArray, deriv: bool
        ) -> tuple[FloatArray, FloatArray, FloatArray]:
            z = (_col(b, v, rows) * v - _col(hh, v, rows)) / _col(a, v, rows)
            lp = log_ndtr(z)
            if not deriv:
                val = -0.5 * v * v + lp
                return val, val, val
            lam = np.exp(-0.5 * z * z - _LOG_SQRT_2PI - lp)
            bt = _col(beta, v, rows)
            return -0.5 * v * v + lp, -v + bt * lam, -1.0 - bt * bt * lam * (z + lam)

        c = (hh - kk) / (2.0 * b)
        return _logconcave_integral(g, np.full(h.shape, -np.inf), c, np.minimum(c, 0.0), False)

    return np.logaddexp(half(h, k), half(k, h)) - _LOG_SQRT_2PI


def _robust_neg(h: FloatArray, k: FloatArray, r: FloatArray) -> FloatArray:
    """log P for -1 < r < 0 as ∫ φ(u) P(|V-m| < w(u)) du; no subtraction of probabilities."""
    a = np.sqrt(0.5 * (1.0 + r))
    b = np.sqrt(0.5 * (1.0 - r))
    c = a / b
    u0 = (h + k) / (2.0 * a)
    m = np.abs(k - h) / (2.0 * b)

    def g(u: FloatArray, rows: IntArray, deriv: bool) -> tuple[FloatArray, FloatArray, FloatArray]:
        mm, cc = _col(m, u, rows), _col(c, u, rows)
        w = cc * (u - _col(u0, u, rows))
        lo_ = log_ndtr(w - mm)  # log Φc(m - w)
        with np.errstate(divide="ignore", invalid="ignore"):
            lg = lo_ + np.log(-np.expm1(log_ndtr(-mm - w) - lo_))
            if not deriv:
                val = -0.5 * u * u + lg
                return val, val, val
            lpp = -0.5 * (mm + w) ** 2 - _LOG_SQRT_2PI - lg
            lpm = -0.5 * (mm - w) ** 2 - _LOG_SQRT_2PI - lg
            ep, em = np.exp(lpp), np.exp(lpm)
            d1 = ep + em
            d2 = -(mm + w) * ep + (mm - w) * em
            return (
                -0.5 * u * u + lg,
                -u + cc * d1,
                -1.0 + cc * cc * (d2 - d1 * d1),
            )

    x0 = u0 + 0.5 * (np.sqrt(u0 * u0 + 4.0) - u0)
    out = _logconcave_integral(g, u0, np.full(h.shape, np.inf), x0, True)
    return out - _LOG_SQRT_2PI


# ----------------------------------------------------------------------------------------
# bivariate: public
# ----------------------------------------------------------------------------------------


def _check_r(r: FloatArray, what: str) -> None:
    """Refuse correlations outside [-1, 1] (beyond rounding) or not finite."""
    if not np.all(np.isfinite(r)):
        raise LatentError(f"{what}: correlations must be finite numbers; got NaN or inf")
    if np.any(np.abs(r) > 1.0 + _TOL_R):
        raise LatentError(
            f"{what}: correlation {float(np.max(np.abs(r))):.6g} is outside [-1, 1]; "
            "pass a valid correlation matrix"
        )


def _lbvn(
    h: FloatArray, k: FloatArray, r: FloatArray, lph: FloatArray, lpk: FloatArray
) -> FloatArray:
    """Core of log_bvn_upper on flat float arrays; lph = log Φ(-h), lpk = log Φ(-k)."""
    out = np.empty(h.shape)
    r = np.clip(r, -1.0, 1.0)
    fin_h, fin_k = np.isfinite(h), np.isfinite(k)
    hz = np.where(fin_h, h, 0.0)
    kz = np.where(fin_k, k, 0.0)
    zero = r == 0.0
    one = r == 1.0
    mone = r == -1.0
    gen = ~(zero | one | mone)
    out[zero] = lph[zero] + lpk[zero]
    out[one] = np.minimum(lph[one], lpk[one])
    if mone.any():
        out[mone] = _log_interval(hz[mone], -kz[mone])
    idx = np.flatnonzero(gen)
    if idx.size:
        fast_sel = idx[np.abs(r[idx]) < _FAST_LIMIT]
        hard = np.zeros(h.shape, dtype=bool)
        hard[idx] = True
        if fast_sel.size:
            val, ok = _fast(hz[fast_sel], kz[fast_sel], r[fast_sel], lph[fast_sel], lpk[fast_sel])
            out[fast_sel] = val
            hard[fast_sel[ok]] = False
        pos = np.flatnonzero(hard & (r > 0))
        neg = np.flatnonzero(hard & (r < 0))
        if pos.size:
            out[pos] = _robust_pos(hz[pos], kz[pos], r[pos])
        if neg.size:
            out[neg] = _robust_neg(hz[neg], kz[neg], r[neg])
    # infinite thresholds: +inf makes the event impossible, -inf drops the condition
    if not (fin_h.all() and fin_k.all()):
        out = np.where(~fin_h & (h < 0), lpk, out)
        out = np.where(~fin_k & (k < 0), lph, out)
        out = np.where(~fin_h & ~fin_k & (h < 0) & (k < 0), 0.0, out)
        out = np.where((h == np.inf) | (k == np.inf), -np.inf, out)
    return out


def log_bvn_upper(h: ArrayLike, k: ArrayLike, r: ArrayLike) -> FloatArray:
    """log P(X > h, Y > k) for standard normals with correlation r; arguments broadcast.

    Relative accuracy ~1e-13 or better for r >= 0 and typically ~1e-12 for r < 0, including
    far tails (thresholds of +-35 and beyond); r = 0 and r = +-1 are exact formulas.
    """
    hb, kb, rb = np.broadcast_arrays(
        np.asarray(h, dtype=float), np.asarray(k, dtype=float), np.asarray(r, dtype=float)
    )
    if np.isnan(hb).any() or np.isnan(kb).any():
        raise LatentError("log_bvn_upper: thresholds must not be NaN")
    _check_r(rb, "log_bvn_upper")
    hf, kf, rf = hb.ravel(), kb.ravel(), rb.ravel()
    out = _lbvn(hf, kf, rf, log_ndtr(-hf), log_ndtr(-kf))
    return out.reshape(hb.shape)


def _check_matrix(R: ArrayLike, what: str) -> FloatArray:
    """A validated symmetric correlation matrix (shape, finiteness, unit diagonal, |r| <= 1)."""
    M = np.asarray(R, dtype=float)
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise LatentError(f"{what}: R must be a square 2-D matrix; got shape {M.shape}")
    _check_r(M, what)
    if M.size and np.max(np.abs(np.diag(M) - 1.0)) > 1e-8:
        raise LatentError(f"{what}: R must have a unit diagonal (a correlation matrix)")
    if M.size and np.max(np.abs(M - M.T)) > 1e-8:
        raise LatentError(f"{what}: R is not symmetric; pass a correlation matrix")
    return M


def _check_h(h: ArrayLike, m: int, what: str) -> FloatArray:
    """Thresholds as a length-m float vector without NaN."""
    hv = np.asarray(h, dtype=float)
    if hv.shape != (m,):
        raise LatentError(f"{what}: thresholds must have shape ({m},) to match R; got {hv.shape}")
    if np.isnan(hv).any():
        raise LatentError(f"{what}: thresholds must not be NaN")
    return hv


def all_pairs_log(R: ArrayLike, h: ArrayLike) -> FloatArray:
    """(m, m) matrix of log P(X_i > h_i, X_j > h_j); the diagonal is log Φ(-h_i)."""
    M = _check_matrix(R, "all_pairs_log")
    m = M.shape[0]
    hv = _check_h(h, m, "all_pairs_log")
    lp = log_ndtr(-hv)
    out = np.empty((m, m))
    out[np.diag_indices(m)] = lp
    iu, ju = _triu(m)
    vals = _lbvn(hv[iu], hv[ju], M[iu, ju], lp[iu], lp[ju])
    out[iu, ju] = vals
    out[ju, iu] = vals
    return out


def all_pairs_zero(R: ArrayLike) -> FloatArray:
    """(m, m) matrix of P(X_i > 0, X_j > 0) = 1/4 + asin(r_ij)/(2π); diagonal 1/2."""
    M = np.clip(_check_matrix(R, "all_pairs_zero"), -1.0, 1.0)
    out = 0.25 + np.arcsin(M) / (2.0 * math.pi)
    np.fill_diagonal(out, 0.5)
    return out
