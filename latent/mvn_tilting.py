"""Botev's proposal for `latent.mvn`: the reordering Cholesky and the minimax-tilting saddle
point, with the one-dimensional truncated-normal pieces they are built from (log space).

Private to `latent.mvn`, which samples with what these return; split out only to keep each
file readable.
"""

from __future__ import annotations

import math
import time

import numpy as np
import numpy.typing as npt
from scipy.linalg import cho_factor, cho_solve
from scipy.special import log_ndtr, ndtr

from latent.errors import LatentError

FloatArray = npt.NDArray[np.float64]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_PSD_TOL = 1e-8  # conditional variance (correlation scale) below -_PSD_TOL => not PSD
_VAR_FLOOR = 1e-14  # conditional variances in [-_PSD_TOL, _VAR_FLOOR] are floored (singular)
_BLOCK = 48  # dimensions per block in the sampler and in the reordering Cholesky
_GRAD_TOL2 = 1e-10  # Newton stops at |grad|^2 < _GRAD_TOL2 * d (mu error only 2nd order)


# ----------------------------------------------------------------------------- 1-D pieces


def _ln_npr(a: FloatArray, b: FloatArray) -> FloatArray:
    """``log(Phi(b) - Phi(a))`` elementwise, accurate in both tails (a <= b assumed).

    Intervals in the upper half are mirrored to the lower half, where ``log_ndtr`` is exact; an
    interval around 0 uses ``log1p`` of the two small tail masses.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    flip = a > 0
    lo = np.where(flip, -b, a)  # now lo <= 0 whenever the interval is not straddling
    hi = np.where(flip, -a, b)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        lhi = log_ndtr(hi)
        lside = lhi + np.log1p(-np.exp(log_ndtr(lo) - lhi))  # both ends <= 0
        lmid = np.log1p(-ndtr(lo) - ndtr(-hi))  # lo <= 0 < hi
    return np.asarray(np.where(hi <= 0, lside, lmid), dtype=np.float64)


def _trunc_moments(a: FloatArray, b: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """For ``Y ~ N(0,1)`` truncated to ``[a, b]``: ``(log mass, E[Y], Var[Y] - 1)``."""
    lz = _ln_npr(a, b)
    with np.errstate(over="ignore", invalid="ignore"):
        pa = np.exp(-0.5 * a * a - lz - _LOG_SQRT_2PI)
        pb = np.exp(-0.5 * b * b - lz - _LOG_SQRT_2PI)
    pa = np.where(np.isfinite(a), pa, 0.0)
    pb = np.where(np.isfinite(b), pb, 0.0)
    mean = pa - pb
    aa = np.where(np.isfinite(a), a, 0.0)
    bb = np.where(np.isfinite(b), b, 0.0)
    dvar = aa * pa - bb * pb - mean * mean
    # Var[Y] lies in (0, 1]; keep 1 + dvar strictly positive despite rounding far in the tails.
    dvar = np.clip(dvar, np.nextafter(-1.0, 0.0), 0.0)
    return lz, mean, dvar


def _trunc_mean(a: float, b: float) -> float:
    """E[Y] for ``Y ~ N(0,1)`` truncated to ``[a, b]``: `_trunc_moments` for one interval,
    without the cost of arrays (the reordering Cholesky asks once per variable)."""
    try:
        return _trunc_mean_scalar(a, b)
    except (ValueError, OverflowError):  # an empty or vanishing interval: the array path
        return float(_trunc_moments(np.array([a]), np.array([b]))[1][0])


def _trunc_mean_scalar(a: float, b: float) -> float:
    if a > 0:  # mirror to the lower half, where log_ndtr is exact
        return -_trunc_mean_scalar(-b, -a)
    if b <= 0:
        lb = float(log_ndtr(b))
        lz = lb + math.log1p(-math.exp(float(log_ndtr(a)) - lb)) if a > -math.inf else lb
    else:
        lz = math.log1p(-float(ndtr(a)) - float(ndtr(-b)))
    pa = math.exp(-0.5 * a * a - lz - _LOG_SQRT_2PI) if math.isfinite(a) else 0.0
    pb = math.exp(-0.5 * b * b - lz - _LOG_SQRT_2PI) if math.isfinite(b) else 0.0
    return pa - pb


# ------------------------------------------------------------------- reordering Cholesky


def _cholperm(
    corr: FloatArray, lower: FloatArray, upper: FloatArray
) -> tuple[FloatArray, npt.NDArray[np.intp], FloatArray]:
    """Botev's greedy reordering Cholesky: ``corr[perm][:, perm] = L @ L.T``.

    At each step the remaining variable with the smallest conditional truncated probability
    (given the conditional means of those already chosen) is put next; this makes the
    separation-of-variables sequence start with the most informative constraints.  Blocked like
    LAPACK's pivoted Cholesky: within a block of ``_BLOCK`` steps only matrix-vector work, then
    one GEMM update of the Schur complement.  Returns ``(L, perm, z)`` where ``z`` holds the
    conditional truncated means (in standardised coordinates) used as a Newton starting point.
    Raises ``LatentError`` when a conditional variance is clearly negative (not PSD).
    """
    d = corr.shape[0]
    lfull = np.zeros((d, d))  # rows indexed by original variable, columns by step
    perm = np.empty(d, dtype=np.intp)
    z = np.zeros(d)
    rem = np.arange(d)  # original indices still to place
    schur = corr.copy()  # Schur complement on `rem` at the start of the block
    cond_mean = np.zeros(d)  # sum_j L[i, j] z_j over placed j, for i in rem (positionally)
    # An orthant (every interval one-sided, as for P(Z)) needs one log_ndtr per step, not
    # the general interval mass: (bound - mean) / s, signed so that the mass is Phi of it.
    one_sided = bool(np.all(np.isinf(lower) | np.isinf(upper)))
    sign_all = np.where(np.isinf(upper), -1.0, 1.0)
    bound_all = np.where(np.isinf(upper), lower, upper)
    j = 0
    while j < d:
        r = rem.size
        nb = min(_BLOCK, r)
        w = np.zeros((r, nb))
        var = np.diag(schur).copy()
        free = np.ones(r, dtype=bool)
        lo = lower[rem]
        hi = upper[rem]
        sign = sign_all[rem]
        bound = bound_all[rem]
        for t in range(nb):
            s = np.sqrt(np.maximum(var, _VAR_FLOOR))
            if one_sided:
                with np.errstate(invalid="ignore"):
                    pr = log_ndtr(sign * (bound - cond_mean) / s)
            else:
                pr = _ln_npr((lo - cond_mean) / s, (hi - cond_mean) / s)
            pr[~free] = np.inf
            k = int(np.argmin(pr))
            vk = var[k]
            if vk < -_PSD_TOL:
                raise LatentError(
                    "covariance matrix is not positive semi-definite "
                    f"(conditional variance {vk:.3g} < 0); pass a valid covariance matrix"
                )
            sk = math.sqrt(max(vk, _VAR_FLOOR))
            col = (schur[:, k] - w[:, :t] @ w[k, :t]) / sk
            col[~free] = 0.0
            col[k] = sk
            w[:, t] = col
            free[k] = False
            var -= col * col
            var[k] = 0.0
            tl = (lo[k] - cond_mean[k]) / sk
            tu = (hi[k] - cond_mean[k]) / sk
            mk = _trunc_mean(tl, tu)
            cond_mean += col * mk  # E of the standardised k-th variable
            lfull[rem, j + t] = col
            perm[j + t] = rem[k]
            z[j + t] = mk
        keep = free
        wk = w[keep]
        schur = schur[np.ix_(keep, keep)] - wk @ wk.T
        cond_mean = cond_mean[keep]
        rem = rem[keep]
        j += nb
    return lfull[perm], perm, z


# ------------------------------------------------------------------- tilting saddle point


def _psi_grad(
    y: FloatArray, ls: FloatArray, lo: FloatArray, hi: FloatArray, want_jac: bool
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Gradient of Botev's psi(x, mu) at ``y = (x[:d-1], mu[:d-1])`` plus Jacobian pieces.

    ``ls`` is the scaled Cholesky factor with zero diagonal.  Returns ``(grad, dP, P, lz)``
    where ``dP = Var - 1`` of the tilted conditionals (the Jacobian is assembled from it).
    """
    d = lo.size
    x = np.zeros(d)
    mu = np.zeros(d)
    x[: d - 1] = y[: d - 1]
    mu[: d - 1] = y[d - 1 :]
    c = ls @ x
    lz, p, dp = _trunc_moments(lo - mu - c, hi - mu - c)
    gx = -mu[: d - 1] + (ls.T @ p)[: d - 1]
    gm = mu[: d - 1] - x[: d - 1] + p[: d - 1]
    return np.concatenate([gx, gm]), dp, p, lz


def _newton_step(y: FloatArray, grad: FloatArray, dp: FloatArray, ls: FloatArray) -> FloatArray:
    """Newton direction for grad psi = 0, eliminating the diagonal mu-block (Schur complement).

    With ``g = dP`` and ``D = 1 + g`` the Jacobian is ``[[Ls' G Ls, B'], [B, D]]`` with
    ``B = -I + G Ls``; the reduced m x m system is
    ``(Ls' diag(h) Ls - D^-1 + M + M') dx = -gx + B' D^-1 gm`` with ``h = g / D`` (``h_d = g_d``)
    and ``M = diag(g / D) Ls``.
    """
    d = dp.size
    n = d - 1
    gx = grad[:n]
    gm = grad[n:]
    g = dp[:n]
    dd = 1.0 + g
    h = np.empty(d)
    h[:n] = g / dd
    h[n] = dp[n]
    lsc = ls[:, :n]
    # h <= 0 (variances of truncated normals are <= 1), so Ls' diag(h) Ls = -W'W: one SYRK.
    wmat = np.sqrt(-h)[:, None] * lsc
    s_mat = -(wmat.T @ wmat)
    m_mat = (g / dd)[:, None] * lsc[:n]
    s_mat += m_mat + m_mat.T
    s_mat[np.diag_indices(n)] -= 1.0 / dd
    v = gm / dd
    rhs = -gx - v + lsc[:n].T @ (g * v)
    try:  # -S is the Hessian of a convex function (mu minimised out): try Cholesky first
        dx = -cho_solve(cho_factor(-s_mat, lower=True, check_finite=False), rhs, check_finite=False)
    except np.linalg.LinAlgError:
        try:
            dx = np.linalg.solve(s_mat, rhs)
        except np.linalg.LinAlgError:
            dx = np.linalg.lstsq(s_mat, rhs, rcond=None)[0]
    bdx = -dx + g * (lsc[:n] @ dx)
    dm = (-gm - bdx) / dd
    return np.concatenate([dx, dm])


def _solve_tilting(
    ls: FloatArray, lo: FloatArray, hi: FloatArray, z0: FloatArray, deadline: float
) -> tuple[FloatArray, FloatArray]:
    """Damped Newton for the minimax-tilting saddle point; returns ``(x, mu)`` of length d.

    Any ``mu`` gives an unbiased estimator, the saddle point only minimises its variance, so a
    failed solve falls back to the best iterate seen (worst case ``mu = 0``: plain GHK).
    """
    d = lo.size
    n = d - 1
    best_y = np.zeros(2 * n)
    best_norm = math.inf
    starts = [np.concatenate([z0[:n], np.zeros(n)]), np.zeros(2 * n)]
    for y0 in starts:
        y = y0
        grad, dp, _, _ = _psi_grad(y, ls, lo, hi, True)
        norm = float(grad @ grad)
        if not math.isfinite(norm):
            continue
        if norm < best_norm:
            best_y, best_norm = y, norm
        for _ in range(100):
            if norm < _GRAD_TOL2 * d or time.monotonic() > deadline:
                break
            step = _newton_step(y, grad, dp, ls)
            if not np.all(np.isfinite(step)):
                break
            t = 1.0
            accepted = False
            for _ in range(40):
                y_new = y + t * step
                g_new, dp_new, _, _ = _psi_grad(y_new, ls, lo, hi, True)
                n_new = float(g_new @ g_new)
                if math.isfinite(n_new) and n_new < (1.0 - 1e-4 * t) * norm:
                    accepted = True
                    break
                t *= 0.5
            if not accepted:
                break
            y, grad, dp, norm = y_new, g_new, dp_new, n_new
            if norm < best_norm:
                best_y, best_norm = y, norm
        if best_norm < _GRAD_TOL2 * d:
            break
    x = np.zeros(d)
    mu = np.zeros(d)
    x[:n] = best_y[:n]
    mu[:n] = best_y[n:]
    return x, mu
