"""Blocks and worlds: the best valid combination per block, the product over a world's
blocks, and the truth beside them (compared, never used)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np
from pydantic import BaseModel

from latent.bounds._atoms import _supersum, sharp_bounds
from latent.bounds._cheap import frechet, hunter_worsley, log10_independence
from latent.bounds._common import (
    GAUSS_MAX_ORDER,
    MAX_ATOM_M,
    MAX_SUBSETS,
    TRUTH_MARGIN_REL,
    Known,
    _pad_hi,
)
from latent.bounds._maxent import maxent
from latent.bounds._moments import (
    _hyper_matrix,
    _moments_to_hyper,
    _prekopa,
    binomial_moments,
    count_distribution,
)
from latent.errors import LatentError
from latent.world import DiscreteBlock, GaussianBlock, World


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


def truth_outside(truth: float, lower: float, upper: float, log10_stderr: float = 0.0) -> bool:
    """`_truth_outside` for probabilities: whether `truth` (estimated with `log10_stderr`,
    0 when exact) lies outside a range [lower, upper] computed from evidence alone by
    more than rounding. The one test for every range, the judge's baselines' included."""
    return _truth_outside(_log10(truth), log10_stderr, _log10(lower), _log10(upper))


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
