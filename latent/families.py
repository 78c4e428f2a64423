"""Families: statements decoded from nearby latent points, with a kernel covariance.

A family is a path between two latent points or a neighbourhood of one. Its statements read
alike and their truth is strongly correlated (a squared-exponential kernel on the latent
points), while far points are nearly independent. A planted flip is the sentence of
opposite meaning at its point (same slots, `Decoder.decode(negate=True)`) with the same
threshold, so its truth is the complement of what its neighbours suggest: anti-correlated
with them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import ndtr, ndtri

from latent.decoder import Decoder
from latent.errors import LatentError
from latent.world import GaussianBlock, GaussianStatement

#: Kernel length scale in latent units: adjacent generated path points (steps <= 0.35) have
#: correlation >= 0.9; independent random points (about 4 apart) have correlation ~ 1e-3.
DEFAULT_LENGTH_SCALE = 1.0
#: Weight of the white-noise nugget; keeps every kernel matrix positive definite.
DEFAULT_NOISE = 0.02
#: Marginal probabilities of the ordinary statements are drawn from this range.
DEFAULT_P_RANGE = (0.6, 0.97)
#: Decimals kept for latent points, thresholds and covariances in a world file.
LATENT_DECIMALS = 4
THRESHOLD_DECIMALS = 6
COV_DECIMALS = 10


def _vector(x: np.ndarray | Sequence[float], what: str) -> np.ndarray:
    v = np.asarray(x, dtype=float)
    if v.ndim != 1 or v.size == 0 or not np.all(np.isfinite(v)):
        raise LatentError(f"{what} must be a non-empty vector of finite numbers")
    return v


def path(a: np.ndarray | Sequence[float], b: np.ndarray | Sequence[float], n: int) -> np.ndarray:
    """n evenly spaced points from a to b inclusive, shape (n, dim); n = 1 gives a."""
    va, vb = _vector(a, "path start"), _vector(b, "path end")
    if va.shape != vb.shape:
        raise LatentError(f"path ends have dimensions {va.size} and {vb.size}; use equal sizes")
    if n < 1:
        raise LatentError(f"path needs n >= 1 points, got {n}")
    t = np.linspace(0.0, 1.0, n)[:, None] if n > 1 else np.zeros((1, 1))
    return va[None, :] + t * (vb - va)[None, :]


def neighbourhood(
    center: np.ndarray | Sequence[float], n: int, radius: float, rng: np.random.Generator
) -> np.ndarray:
    """n random points around center, shape (n, dim), at typical distance `radius` from it."""
    c = _vector(center, "neighbourhood center")
    if n < 1:
        raise LatentError(f"neighbourhood needs n >= 1 points, got {n}")
    if not (np.isfinite(radius) and radius >= 0):
        raise LatentError(f"neighbourhood radius is {radius}; use a finite number >= 0")
    return c[None, :] + rng.standard_normal((n, c.size)) * (radius / np.sqrt(c.size))


def kernel_covariance(
    points: np.ndarray,
    length_scale: float = DEFAULT_LENGTH_SCALE,
    noise: float = DEFAULT_NOISE,
) -> np.ndarray:
    """(1 - noise) * exp(-|z_i - z_j|^2 / (2 l^2)) + noise * I: unit variances, positive definite.

    The smallest eigenvalue is at least `noise`, so rounding cannot break definiteness.
    """
    p = np.asarray(points, dtype=float)
    if p.ndim != 2 or p.shape[0] == 0:
        raise LatentError("kernel_covariance needs points as an (n, dim) array with n >= 1")
    if not (np.isfinite(length_scale) and length_scale > 0):
        raise LatentError(f"length_scale is {length_scale}; use a number > 0")
    if not (0 < noise <= 1):
        raise LatentError(f"noise is {noise}; use a number in (0, 1] (e.g. 0.02)")
    sq = np.sum(p**2, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * p @ p.T, 0.0)
    k = (1 - noise) * np.exp(-d2 / (2 * length_scale**2))
    k[np.diag_indices_from(k)] = 1.0
    return (k + k.T) / 2


def flip_positions(n: int, k: int, rng: np.random.Generator) -> list[int]:
    """k random positions in range(n), no two adjacent, so each flip has ordinary neighbours.

    Needs k <= max_flips(n).
    """
    if k < 0 or k > max_flips(n):
        raise LatentError(
            f"{k} flips do not fit in a family of {n}; use at most {max_flips(n)} "
            "(one flip per 3 statements)"
        )
    if k == 0:
        return []
    gaps = np.sort(rng.choice(n - k + 1, size=k, replace=False))
    return [int(g) + j for j, g in enumerate(gaps)]


def max_flips(n: int) -> int:
    """How many flips a family of n statements takes: one per 3 statements."""
    return n // 3


def thresholds_for(p: np.ndarray) -> np.ndarray:
    """Thresholds c with P(X > c) = p for X ~ N(0, 1): c = Phi^-1(1 - p)."""
    return np.round(-ndtri(np.asarray(p, dtype=float)), THRESHOLD_DECIMALS)


def _marginals(n: int, rng: np.random.Generator, p_range: tuple[float, float]) -> np.ndarray:
    lo, hi = p_range
    if not (0 < lo <= hi < 1):
        raise LatentError(f"p_range is {p_range}; use 0 < low <= high < 1, e.g. (0.6, 0.97)")
    return rng.uniform(lo, hi, size=n)


def _smooth_marginals(
    kernel: np.ndarray, rng: np.random.Generator, p_range: tuple[float, float]
) -> np.ndarray:
    """Marginals that vary smoothly over the family: a draw of the same kernel's Gaussian
    process, squashed into `p_range`, so near-identical sentences get near-equal odds.
    """
    _marginals(0, rng, p_range)  # validates p_range
    lo, hi = p_range
    g = np.linalg.cholesky(kernel) @ rng.standard_normal(kernel.shape[0])
    return lo + (hi - lo) * ndtr(g)


#: How a repeated text is avoided: random nudges of the latent point, NUDGE_TRIES per radius,
#: the radius starting at NUDGE_START (latent units) and growing by NUDGE_GROWTH, at most
#: NUDGE_RADII radii. The first nudges are far smaller than a family's steps, so a nudged
#: statement stays among its neighbours (same topic, one slot changed).
NUDGE_START = 0.04
NUDGE_GROWTH = 1.15
NUDGE_TRIES = 2
NUDGE_RADII = 80


def fresh_text(
    decoder: Decoder,
    z: np.ndarray,
    rng: np.random.Generator,
    used: set[str] | None,
    *,
    negate: bool = False,
) -> tuple[np.ndarray, str]:
    """The (rounded) point and its text, nudged to a nearby seeded point whose text is not in
    `used`; the text is added to `used`. With `used` None, z and its text as they are.

    Deterministic under `rng`; raises a one-line LatentError when the decoder has no new text
    near z (a decoder with too little variety for the world asked of it).
    """
    start = np.asarray(z, dtype=float)
    point = np.round(start, LATENT_DECIMALS)
    text = decoder.decode(point, negate=negate)
    if used is None:
        return point, text
    radius = NUDGE_START
    for _ in range(NUDGE_RADII):
        if text not in used:
            break
        for _ in range(NUDGE_TRIES):
            step = rng.standard_normal(start.size) * (radius / np.sqrt(start.size))
            point = np.round(start + step, LATENT_DECIMALS)
            text = decoder.decode(point, negate=negate)
            if text not in used:
                break
        radius *= NUDGE_GROWTH
    if text in used:
        raise LatentError(
            f"the decoder gave no new text near a point (the last was {text!r}); "
            "use fewer statements or a decoder with more variety"
        )
    used.add(text)
    return point, text


def _ids(n: int, id_prefix: str, ids: Sequence[str] | None) -> list[str]:
    if ids is None:
        return [f"{id_prefix}{i + 1}" for i in range(n)]
    if len(ids) != n:
        raise LatentError(f"got {len(ids)} ids for {n} statements; give one id per statement")
    return list(ids)


def family_block(
    decoder: Decoder,
    points: np.ndarray,
    rng: np.random.Generator,
    *,
    flips: Sequence[int] = (),
    name: str | None = None,
    id_prefix: str = "f",
    ids: Sequence[str] | None = None,
    length_scale: float = DEFAULT_LENGTH_SCALE,
    noise: float = DEFAULT_NOISE,
    p_range: tuple[float, float] = DEFAULT_P_RANGE,
    used: set[str] | None = None,
) -> GaussianBlock:
    """A Gaussian block of the statements decoded at `points` (rows), kernel-correlated.

    Ordinary statement i is true iff X_i > c_i with P = p_i in `p_range` (smooth over the
    family); the positions in `flips` carry the text of opposite meaning, flip=True and the
    same threshold, so they are true with probability 1 - p_i. Points are rounded first, so
    the stored latent point decodes to the stored text. With `used` (the texts of the world so
    far), a point whose text is taken is nudged to a nearby fresh one (`fresh_text`) before
    the kernel is computed, so every text is new. `trap` is "flip" when there is any flip.
    """
    pts = np.round(np.asarray(points, dtype=float), LATENT_DECIMALS)
    if pts.ndim != 2 or pts.shape[0] == 0 or pts.shape[1] != decoder.dim:
        raise LatentError(
            f"points have shape {pts.shape}; give an (n, {decoder.dim}) array with n >= 1"
        )
    n = pts.shape[0]
    flip_set = set(flips)
    if len(flip_set) != len(flips) or any(not 0 <= f < n for f in flip_set):
        raise LatentError(f"flips {list(flips)} must be distinct positions in 0..{n - 1}")
    names = _ids(n, id_prefix, ids)
    texts = []
    for i in range(n):
        pts[i], text = fresh_text(decoder, pts[i], rng, used, negate=i in flip_set)
        texts.append(text)
    kernel = kernel_covariance(pts, length_scale, noise)
    c = thresholds_for(_smooth_marginals(kernel, rng, p_range))
    cov = np.round(kernel, COV_DECIMALS)
    statements = [
        GaussianStatement(
            id=names[i],
            text=texts[i],
            threshold=float(c[i]),
            flip=i in flip_set,
            latent=[float(x) for x in pts[i]],
        )
        for i in range(n)
    ]
    return GaussianBlock(
        name=name,
        trap="flip" if flip_set else None,
        statements=statements,
        covariance=cov.tolist(),
    )


def independent_block(
    decoder: Decoder,
    points: np.ndarray,
    rng: np.random.Generator,
    *,
    name: str | None = None,
    id_prefix: str = "i",
    ids: Sequence[str] | None = None,
    p_range: tuple[float, float] = DEFAULT_P_RANGE,
    used: set[str] | None = None,
) -> GaussianBlock:
    """Statements at unrelated points with identity covariance: truly independent truths.

    With `used`, texts already in the world are avoided as in `family_block`.
    """
    pts = np.round(np.asarray(points, dtype=float), LATENT_DECIMALS)
    if pts.ndim != 2 or pts.shape[0] == 0 or pts.shape[1] != decoder.dim:
        raise LatentError(
            f"points have shape {pts.shape}; give an (n, {decoder.dim}) array with n >= 1"
        )
    n = pts.shape[0]
    names = _ids(n, id_prefix, ids)
    texts = []
    for i in range(n):
        pts[i], text = fresh_text(decoder, pts[i], rng, used)
        texts.append(text)
    c = thresholds_for(_marginals(n, rng, p_range))
    statements = [
        GaussianStatement(
            id=names[i],
            text=texts[i],
            threshold=float(c[i]),
            latent=[float(x) for x in pts[i]],
        )
        for i in range(n)
    ]
    return GaussianBlock(name=name, statements=statements, covariance=np.eye(n).tolist())
