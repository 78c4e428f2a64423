"""Gaussian rectangle and orthant probabilities with small *relative* error.

``log_mvn_prob`` estimates ``log P(l <= X <= u)`` for ``X ~ N(0, cov)`` with Botev's (2017)
minimax-tilting importance sampler ("The normal law under linear restrictions: simulation and
estimation via minimax tilting", JRSS-B 79(1)).  Everything is done in log space, so tiny
probabilities (1e-50 and far below) keep a small relative error; the likelihood ratio of the
minimax-tilted proposal is bounded, so the reported relative standard error is trustworthy.

Pipeline: validate -> drop unconstrained coordinates -> scale to correlation -> split into
independent connected components (1-D ones are exact) -> per component: greedy reordering +
Cholesky (``_cholperm``), Newton solve of the tilting saddle point (``_solve_tilting``), both in
``latent/mvn_tilting.py``, blocked and vectorised importance sampling (``_sample_log_weights``).
The proposal is driven by randomised quasi-Monte Carlo, as in Botev's ``mvNqmc``: independent
random digital shifts of one Sobol' point set.  Each shifted set is an unbiased replicate, and
the standard error comes from the spread of at least 16 replicate means; more replicates are
added until it meets the target.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import log_ndtr, ndtr, ndtri, ndtri_exp

from latent.errors import LatentError
from latent.mvn_tilting import _BLOCK, FloatArray, _cholperm, _ln_npr, _solve_tilting

__all__ = ["MVNResult", "log_mvn_prob", "log_orthant_prob"]

_QMC_POINTS = 128  # randomised-QMC points per replicate (a power of 2)
_REPLICATES = 16  # replicates in the first round: the standard error has >= 15 d.o.f.
_CHUNK = 4096  # samples processed together (bounds memory at d * _CHUNK doubles)


@dataclass(frozen=True)
class MVNResult:
    """An estimate of ``log P(l <= X <= u)`` with its relative standard error."""

    log_p: float  # natural log of the estimate (-inf when the probability is exactly 0)
    rel_stderr: float  # standard error of the estimate divided by the estimate (0.0 when exact)
    n_samples: int  # QMC points used (largest over independent components; 0 if exact)
    method: str  # "exact-1d", "independent", "botev", "exact-empty" or "trivial"


# ------------------------------------------------------------------------ BLAS threading

_BLAS_CONTROLS: list[tuple[Callable[[], int], Callable[[int], None]]] | None = None


def _blas_controls() -> list[tuple[Callable[[], int], Callable[[int], None]]]:
    """(get, set) thread-count functions of every OpenBLAS loaded in this process (Linux only)."""
    global _BLAS_CONTROLS
    if _BLAS_CONTROLS is not None:
        return _BLAS_CONTROLS
    found: list[tuple[Callable[[], int], Callable[[int], None]]] = []
    names = [
        ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
        ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
        ("openblas_get_num_threads", "openblas_set_num_threads"),
    ]
    try:
        with open("/proc/self/maps") as fh:
            paths = {ln.split()[-1] for ln in fh if "openblas" in ln.lower() and "/" in ln}
        for path in sorted(paths):
            lib = ctypes.CDLL(path)
            for get_name, set_name in names:
                if hasattr(lib, get_name) and hasattr(lib, set_name):
                    found.append((getattr(lib, get_name), getattr(lib, set_name)))
                    break
    except (OSError, ValueError):
        found = []
    _BLAS_CONTROLS = found
    return found


@contextlib.contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """Run BLAS single-threaded inside the block (best effort, process-wide while it lasts).

    Our BLAS calls are thin (k = 48 GEMMs, m <= ~1000 factorisations); on a 2-core machine
    OpenBLAS threading made them 1.5-3x *slower*, and far worse when the other core is busy.
    """
    controls = _blas_controls()
    before = [get() for get, _ in controls]
    try:
        for _, set_ in controls:
            set_(1)
        yield
    finally:
        for (_, set_), n in zip(controls, before, strict=True):
            set_(n)


# -------------------------------------------------------------------------- the sampler

_QMC_BITS = 52  # uniforms are (k + 1/2) 2^-52, k a 52-bit integer: exact in a double
_SOBOL_CACHE: dict[tuple[int, int], npt.NDArray[np.uint64]] = {}


@functools.cache
def _sobol_tables() -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None:
    """Joe & Kuo's Sobol' direction numbers ``(poly, vinit)`` from the file scipy ships, read
    without importing ``scipy.stats`` (0.7 s, longer than most estimates); None if absent."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("scipy")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        path = Path(root) / "stats" / "_sobol_direction_numbers.npz"
        try:
            with np.load(path) as tables:
                return tables["poly"], tables["vinit"]
        except (OSError, KeyError, ValueError):
            continue
    return None


def _sobol_base(d: int, n: int) -> npt.NDArray[np.uint64]:
    """The first ``n`` (a power of 2) unscrambled Sobol' points in ``d`` dimensions as 52-bit
    integers, shape ``(d, n)`` (one row per coordinate); cached, as every estimate of the same
    size reuses them and only the random digital shift changes.  The same point set as
    ``scipy.stats.qmc.Sobol(d, scramble=False).random_base2(log2 n)``."""
    key = (d, n)
    base = _SOBOL_CACHE.get(key)
    if base is not None:
        return base
    k = n.bit_length() - 1
    tables = _sobol_tables()
    if tables is None or d > tables[0].size:  # scipy's own generator, at its import cost
        from scipy.stats import qmc

        pts = qmc.Sobol(d, scramble=False, bits=30).random_base2(k)
        base = (pts.T * 2.0**30).astype(np.uint64) << np.uint64(_QMC_BITS - 30)
    else:
        poly, vinit = tables
        # m[j, i] = direction number i + 1 of coordinate j (odd, < 2^(i+1)), Bratley-Fox.
        m = np.ones((d, max(k, 1)), dtype=np.uint64)
        for j in range(1, d):
            deg = int(poly[j]).bit_length() - 1
            m[j, : min(deg, k)] = vinit[j, : min(deg, k)]
            for i in range(deg, k):  # m_i = m_{i-s} ^ 2^s m_{i-s} ^ sum_l a_l 2^l m_{i-l}
                new = int(m[j, i - deg]) ^ (int(m[j, i - deg]) << deg)
                for lag in range(1, deg):
                    if (int(poly[j]) >> (deg - lag)) & 1:
                        new ^= int(m[j, i - lag]) << lag
                m[j, i] = new
        shifts = np.array([_QMC_BITS - i - 1 for i in range(k)], dtype=np.uint64)
        v = m[:, :k] << shifts  # v[j, i] = m[j, i] 2^(52 - i - 1)
        base = np.zeros((d, n), dtype=np.uint64)
        idx = np.arange(n)
        for i in range(k):
            base[:, (idx >> i) & 1 == 1] ^= v[:, i : i + 1]
    base = np.ascontiguousarray(base)
    if len(_SOBOL_CACHE) >= 8:
        _SOBOL_CACHE.clear()
    _SOBOL_CACHE[key] = base
    return base


def _shifted_uniforms(
    base: npt.NDArray[np.uint64], shifts: npt.NDArray[np.uint64], s: int, e: int
) -> FloatArray:
    """Coordinates ``s:e`` of the digitally shifted point sets, shape ``(e - s, R * n)``.

    Replicate r is ``base XOR shifts[r]`` (columns ``r*n:(r+1)*n``): a random digital shift
    makes every point exactly uniform on the 2^52 grid, so each replicate mean is unbiased,
    while the Sobol' structure within a replicate keeps the points evenly spread.
    """
    ints = base[s:e][:, None, :] ^ shifts[:, s:e].T[:, :, None]
    u = ints.reshape(e - s, -1).astype(np.float64)
    u += 0.5
    u *= 2.0**-_QMC_BITS
    return u


def _sample_log_weights(
    ls: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    mu: FloatArray,
    base: npt.NDArray[np.uint64],
    shifts: npt.NDArray[np.uint64],
) -> FloatArray:
    """Log importance weights of the mu-tilted sequential proposal, shape ``(R, n)``: one row
    per randomly shifted copy (``shifts``, shape ``(R, d)``) of the ``n``-point set ``base``.

    Randomised QMC rather than i.i.d. draws: at m = 200 the variance of a replicate mean is
    2-4x lower than that of n i.i.d. draws.  (Antithetic pairs were tried: positively
    correlated here, they *raised* the variance.)  Coordinates are processed in blocks: the
    conditional means of a block get one GEMM against all earlier coordinates, then the block is
    filled sequentially with small mat-vecs.  Truncated normals are drawn by inversion
    (`_draw_below`; two-sided intervals in log space), so far tails are exact and no inf/nan is
    produced.  The tilting term ``-mu . z`` is added once per chunk as a mat-vec.
    """
    d = lo.size
    n = base.shape[1]
    reps = shifts.shape[0]
    per_chunk = max(1, _CHUNK // n)
    out = np.empty((reps, n))
    a_all = lo - mu
    b_all = hi - mu
    has_a = np.isfinite(a_all)
    has_b = np.isfinite(b_all)
    base_lw = float(0.5 * mu @ mu)
    for r0 in range(0, reps, per_chunk):
        r1 = min(r0 + per_chunk, reps)
        nc = (r1 - r0) * n
        zs = np.empty((d, nc))
        lw = np.full(nc, base_lw)
        ub = np.empty(nc)
        for s in range(0, d, _BLOCK):
            e = min(s + _BLOCK, d)
            cm = ls[s:e, :s] @ zs[:s] if s else np.zeros((e - s, nc))
            u = _shifted_uniforms(base, shifts[r0:r1], s, e)
            for k in range(s, e):
                col = cm[k - s]
                if k > s:
                    col += ls[k, s:k] @ zs[s:k]
                if has_b[k] and not has_a[k]:  # Y <= b - col
                    np.subtract(b_all[k], col, out=ub)
                    lw += _draw_below(ub, u[k - s])
                    np.add(u[k - s], mu[k], out=zs[k])
                elif has_a[k] and not has_b[k]:  # Y >= a - col: mirrored, -Y <= col - a
                    np.subtract(col, a_all[k], out=ub)
                    lw += _draw_below(ub, u[k - s])
                    np.subtract(mu[k], u[k - s], out=zs[k])
                elif has_a[k]:
                    lz, y = _trunc_draw(a_all[k] - col, b_all[k] - col, -np.log(u[k - s]))
                    lw += lz
                    np.add(y, mu[k], out=zs[k])
                else:  # unconstrained (normally dropped before we get here)
                    np.add(np.clip(ndtri(u[k - s]), -40.0, 40.0), mu[k], out=zs[k])
        lw -= mu @ zs
        lw[~np.isfinite(lw)] = -np.inf
        out[r0:r1] = lw.reshape(r1 - r0, n)
    return out


#: Below this, Phi(ub) * U might lose relative precision or underflow: log space instead.
_TINY = 1e-280


def _draw_below(ub: FloatArray, u: FloatArray) -> FloatArray:
    """Draw ``Y ~ N(0,1)`` truncated to ``Y <= ub`` by inversion of the uniforms ``u`` (in
    (0, 1]), *in place*: ``u`` becomes Y.  Returns ``log Phi(ub)``.

    Plain inversion ``Y = ndtri(Phi(ub) U)`` where nothing underflows (a third cheaper than in
    logs: this is the sampler's inner loop), else ``ndtri_exp(log Phi(ub) + log U)``, exact
    however far in the tail.
    """
    p = ndtr(ub)
    pu = p * u
    if float(pu.min()) > _TINY:
        ndtri(pu, out=u)
        lz = np.log(p, out=p)
    else:
        lz = log_ndtr(ub)
        ndtri_exp(lz + np.log(u), out=u)
    np.minimum(u, ub, out=u)
    return lz


def _trunc_draw(ta: FloatArray, tb: FloatArray, ex: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Draw ``Y ~ N(0,1)`` truncated to ``[ta, tb]`` by log-space inversion; returns (lz, Y).

    ``ex`` are standard exponentials (``-log U``).  Intervals with ``ta > 0`` are mirrored so the
    inversion always runs in the lower tail, where ``log_ndtr``/``ndtri_exp`` are exact.
    """
    flip = ta > 0
    lo = np.where(flip, -tb, ta)
    hi = np.where(flip, -ta, tb)
    lz = _ln_npr(lo, hi)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Phi(Y) = Phi(lo) + U * (Phi(hi) - Phi(lo)), in logs.
        lp = np.logaddexp(log_ndtr(lo), lz - ex)
        y = ndtri_exp(np.minimum(lp, 0.0))
    y = np.clip(np.nan_to_num(y, nan=0.0), lo, hi)
    y = np.where(flip, -y, y)
    return lz, y


# ------------------------------------------------------------------- public entry points


def _log_mean_and_rel_se(lw: FloatArray) -> tuple[float, float]:
    """From log weights of shape ``(R, n)`` (one row per independent replicate): stable
    ``log(mean(exp(lw)))`` and its relative standard error, from the spread of the R
    replicate means (the points within a replicate are not independent)."""
    reps = lw.shape[0]
    mx = float(np.max(lw))
    if not math.isfinite(mx):
        return -math.inf, math.inf
    means = np.exp(lw - mx).mean(axis=1)
    mean = float(np.mean(means))
    sd = float(np.std(means, ddof=1)) if reps > 1 else math.inf
    return mx + math.log(mean), sd / mean / math.sqrt(reps)


def _as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _botev_component(
    corr: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    rel_tol: float,
    rng: np.random.Generator,
    deadline: float,
    max_samples: int,
) -> tuple[float, float, int]:
    """Minimax-tilting estimate for one connected component: ``(log_p, rel_se, n)``."""
    lmat, perm, z0 = _cholperm(corr, lower, upper)
    diag = np.diag(lmat).copy()
    ls = lmat / diag[:, None]
    np.fill_diagonal(ls, 0.0)
    lo = lower[perm] / diag
    hi = upper[perm] / diag
    _, mu = _solve_tilting(ls, lo, hi, z0, deadline)

    d = lo.size
    npts = _QMC_POINTS  # points per replicate: a power of 2, smaller only for tiny budgets
    # Small components get more replicates at first (up to 8,192 points, at most the cost
    # in point x dimension of 16 replicates at d = 32): their weights can be near-binary
    # (a nearly singular covariance far in the tail), where 2,048 points often miss the
    # rare low weights and the standard error comes out several times too small.
    first = _REPLICATES * min(4, max(1, 32 // d))
    while npts > 1 and first * npts > max_samples:
        npts //= 2
    base = _sobol_base(d, npts)
    rows: list[FloatArray] = []
    reps = 0
    n_next = max(2, min(first, max_samples // npts))
    log_p, rel_se = -math.inf, math.inf
    while True:
        t0 = time.monotonic()
        shifts = rng.integers(0, 2**_QMC_BITS, size=(n_next, d), dtype=np.uint64)
        rows.append(_sample_log_weights(ls, lo, hi, mu, base, shifts))
        per_rep = (time.monotonic() - t0) / n_next
        reps += n_next
        log_p, rel_se = _log_mean_and_rel_se(np.concatenate(rows))
        if rel_se <= rel_tol or reps * npts >= max_samples or not math.isfinite(log_p):
            break
        # Replicates are i.i.d., so the relative variance falls as 1 / reps.  At most 4x
        # more per round: an early SE from few replicates can be far too high.
        want = math.ceil(reps * ((rel_se / rel_tol) ** 2 - 1.0) * 1.1) + 1
        want = min(want, 4 * reps, max_samples // npts - reps)
        affordable = int((deadline - time.monotonic()) / max(per_rep, 1e-9))
        if min(want, affordable) < 1:
            break
        n_next = min(want, affordable)
    return log_p, rel_se, reps * npts


def _validate(
    cov: npt.ArrayLike, lower: npt.ArrayLike, upper: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    c = np.asarray(cov, dtype=np.float64)
    lo = np.asarray(lower, dtype=np.float64)
    hi = np.asarray(upper, dtype=np.float64)
    if c.ndim == 0:
        c = c.reshape(1, 1)
    lo = np.atleast_1d(lo)
    hi = np.atleast_1d(hi)
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise LatentError(f"covariance must be a square (m, m) matrix, got shape {c.shape}")
    m = c.shape[0]
    if lo.shape != (m,) or hi.shape != (m,):
        raise LatentError(
            f"lower/upper must have shape ({m},) to match the covariance, got {lo.shape} and "
            f"{hi.shape}"
        )
    if not np.all(np.isfinite(c)):
        raise LatentError("covariance contains inf or nan; pass a finite covariance matrix")
    if np.isnan(lo).any() or np.isnan(hi).any():
        raise LatentError("lower/upper contain nan; use -inf/+inf for unbounded sides")
    if np.any(lo > hi):
        i = int(np.argmax(lo > hi))
        raise LatentError(f"lower[{i}] > upper[{i}]; every interval must have lower <= upper")
    dg = np.diag(c)
    if np.any(dg < 0):
        raise LatentError("covariance has a negative variance on its diagonal; it is not PSD")
    scale = max(float(dg.max(initial=0.0)), 1e-300)
    if not np.allclose(c, c.T, rtol=1e-8, atol=1e-12 * scale):
        raise LatentError("covariance matrix is not symmetric; pass (cov + cov.T) / 2")
    return 0.5 * (c + c.T), lo, hi


def _components(corr: FloatArray) -> list[npt.NDArray[np.intp]]:
    """Index sets of the connected components of the nonzero-correlation graph."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    m = corr.shape[0]
    if m == 1 or np.all(corr != 0):
        return [np.arange(m)]
    ncomp, labels = connected_components(csr_matrix(corr != 0), directed=False)
    return [np.flatnonzero(labels == i) for i in range(ncomp)]


def log_mvn_prob(
    cov: npt.ArrayLike,
    lower: npt.ArrayLike,
    upper: npt.ArrayLike,
    *,
    rel_tol: float = 0.005,
    rng: np.random.Generator | int | None = 0,
    max_seconds: float = 5.0,
    max_samples: int = 10**6,
) -> MVNResult:
    """Estimate ``log P(lower <= X <= upper)`` for ``X ~ N(0, cov)`` to a relative SE ``rel_tol``.

    Bounds may be infinite.  1-D (and fully independent) problems are exact; otherwise Botev's
    minimax-tilting importance sampler is run per correlated component until the relative
    standard error is ``<= rel_tol``, ``max_samples`` draws or ``max_seconds`` are reached.
    Deterministic for an integer seed unless the time limit binds.  Raises ``LatentError`` for
    mis-shaped, non-finite, asymmetric or non-PSD input.
    """
    deadline = time.monotonic() + max_seconds
    c, lo, hi = _validate(cov, lower, upper)
    if np.any(lo == hi):
        return MVNResult(-math.inf, 0.0, 0, "exact-empty")
    sd = np.sqrt(np.diag(c))
    # A zero-variance coordinate is identically 0: an indicator factor.
    zero = sd == 0
    if zero.any():
        if np.any(zero & ((lo > 0) | (hi < 0))):
            return MVNResult(-math.inf, 0.0, 0, "exact-empty")
        if np.any(c[zero] != 0):
            raise LatentError("covariance has a zero variance with nonzero covariances; not PSD")
    keep = ~zero & ~(np.isneginf(lo) & np.isposinf(hi))  # unconstrained coordinates drop out
    if not keep.any():
        return MVNResult(0.0, 0.0, 0, "trivial")
    idx = np.flatnonzero(keep)
    sd = sd[idx]
    corr = c[np.ix_(idx, idx)] / np.outer(sd, sd)
    np.fill_diagonal(corr, 1.0)
    if np.any(np.abs(corr) > 1.0 + 1e-8):
        raise LatentError("covariance has |correlation| > 1; it is not positive semi-definite")
    lo = lo[idx] / sd
    hi = hi[idx] / sd
    comps = _components(corr)
    exact = [cp for cp in comps if cp.size == 1]
    stoch = [cp for cp in comps if cp.size > 1]
    log_p = 0.0
    if exact:
        e = np.concatenate(exact)
        log_p += float(np.sum(_ln_npr(lo[e], hi[e])))
    if not stoch:
        method = "exact-1d" if len(idx) == 1 else "independent"
        return MVNResult(log_p, 0.0, 0, method)
    gen = _as_rng(rng)
    tol_each = rel_tol / math.sqrt(len(stoch))
    rel_var = 1.0
    n_max = 0
    with _single_threaded_blas():
        for i, cp in enumerate(stoch):
            left = max(deadline - time.monotonic(), 0.0)
            sub_deadline = time.monotonic() + left / (len(stoch) - i)
            lp, rse, n = _botev_component(
                corr[np.ix_(cp, cp)], lo[cp], hi[cp], tol_each, gen, sub_deadline, max_samples
            )
            log_p += lp
            rel_var *= 1.0 + rse * rse
            n_max = max(n_max, n)
    return MVNResult(log_p, math.sqrt(rel_var - 1.0), n_max, "botev")


def log_orthant_prob(
    cov: npt.ArrayLike,
    thresholds: npt.ArrayLike,
    flips: npt.ArrayLike,
    **kw: object,
) -> MVNResult:
    """``log P(all statements true)``: statement i is ``X_i > t_i``, or ``X_i <= t_i`` if flipped.

    Keyword arguments are passed to ``log_mvn_prob``.
    """
    t = np.atleast_1d(np.asarray(thresholds, dtype=np.float64))
    f = np.atleast_1d(np.asarray(flips, dtype=bool))
    if f.shape != t.shape:
        raise LatentError(f"flips shape {f.shape} must match thresholds shape {t.shape}")
    lower = np.where(f, -np.inf, t)
    upper = np.where(f, t, np.inf)
    fn: Callable[..., MVNResult] = log_mvn_prob
    return fn(cov, lower, upper, **kw)
