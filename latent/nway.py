"""n-way probabilities: P(E_a ∩ E_b ∩ …) for any set of statements — the oracle.

Discrete blocks are exact sums. Gaussian blocks use closed forms for one, two and three
statements (latent.bvn, latent.tvn) and the minimax-tilting estimator (latent.mvn) beyond. A
set that spans several blocks is the product of its per-block parts, because blocks are
independent.
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
from pydantic import BaseModel
from scipy.special import log_ndtr

from latent import bvn, mvn, tvn
from latent.errors import LatentError
from latent.world import DiscreteBlock, GaussianBlock, World

Known = dict[tuple[int, ...], float]

#: Relative tolerance asked of the sampling estimator for subsets of four or more.
NWAY_REL_TOL = 1e-3


class NWay(BaseModel):
    """The oracle's answer for one set of statements."""

    ids: list[str]
    p: float
    #: log10 of p; None when p is exactly 0 (possible in discrete blocks).
    log10_p: float | None
    #: Standard error of log10_p; 0 when the value is exact or a closed form.
    log10_p_stderr: float
    #: True for exact sums and closed forms (one to three Gaussian statements).
    exact: bool


def block_log_prob(block: GaussianBlock | DiscreteBlock, idx: list[int]) -> tuple[float, float]:
    """Natural log of P(all statements at positions idx true), and its relative std error.

    An empty subset has probability 1. -inf is returned for an impossible event.
    """
    if not idx:
        return 0.0, 0.0
    if isinstance(block, DiscreteBlock):
        p = float(block.probs[block.membership[idx].all(axis=0)].sum())
        return (math.log(p) if p > 0 else -math.inf), 0.0
    r, h = block.orthant(idx)
    n = len(idx)
    if n == 1:
        return float(log_ndtr(-h[0])), 0.0
    if n == 2:
        return float(bvn.log_bvn_upper(h[0], h[1], r[0, 1])), 0.0
    if n == 3:
        corr = np.array([[r[0, 1], r[0, 2], r[1, 2]]])
        return float(np.asarray(tvn.log_tvn_upper(h[None, :], corr)).ravel()[0]), 0.0
    res = mvn.log_mvn_prob(r, h, np.full(n, np.inf), rel_tol=NWAY_REL_TOL)
    return res.log_p, res.rel_stderr


def block_prob(block: GaussianBlock | DiscreteBlock, idx: list[int]) -> float:
    """P(all statements at positions idx true) as a plain probability."""
    return math.exp(block_log_prob(block, idx)[0])


def block_known(block: GaussianBlock | DiscreteBlock, order: int) -> Known:
    """Every subset of size 1..order with its probability: what someone "knows" to order K.

    Vectorised for Gaussian pairs and triples; discrete blocks are exact for any order.
    """
    m = len(block.statements)
    order = min(order, m)
    out: Known = {}
    if isinstance(block, DiscreteBlock):
        mem = block.membership
        for k in range(1, order + 1):
            for sub in combinations(range(m), k):
                out[sub] = float(block.probs[mem[list(sub)].all(axis=0)].sum())
        return out
    r, h = block.orthant()
    p1 = np.exp(log_ndtr(-h))
    for i in range(m):
        out[(i,)] = float(p1[i])
    if order >= 2:
        p2 = np.exp(bvn.all_pairs_log(r, h))
        for i, j in combinations(range(m), 2):
            out[(i, j)] = float(p2[i, j])
    if order >= 3:
        p3 = np.exp(tvn.all_triples_log(r, h))
        for t, sub in enumerate(combinations(range(m), 3)):
            out[sub] = float(p3[t])
    for k in range(4, order + 1):
        for sub in combinations(range(m), k):
            out[sub] = block_prob(block, list(sub))
    return out


def nway(world: World, ids: list[str]) -> NWay:
    """The joint probability that every listed statement is true (the oracle)."""
    if not ids:
        raise LatentError("name at least one statement id")
    if len(set(ids)) != len(ids):
        dup = next(s for s in ids if ids.count(s) > 1)
        raise LatentError(f"statement id {dup!r} is listed twice; name each statement once")
    log_p = 0.0
    var10 = 0.0
    exact = True
    for b, idx in world.group(ids).items():
        lp, rel = block_log_prob(world.blocks[b], idx)
        log_p += lp
        var10 += (rel / math.log(10)) ** 2
        exact = exact and rel == 0.0
    p = math.exp(log_p) if log_p > -math.inf else 0.0
    return NWay(
        ids=list(ids),
        p=p,
        log10_p=None if log_p == -math.inf else log_p / math.log(10),
        log10_p_stderr=math.sqrt(var10),
        exact=exact,
    )


def singles(world: World) -> dict[str, float]:
    """Every statement's own probability, by id in world order: exactly `nway(world, [id]).p`
    (the same arithmetic, block by block), without a query per statement (10,000 queries
    took a second)."""
    out: dict[str, float] = {}
    for block in world.blocks:
        if isinstance(block, DiscreteBlock):
            mem, probs = block.membership, block.probs
            logs = []
            for i in range(len(block.statements)):
                p = float(probs[mem[i]].sum())
                logs.append(math.log(p) if p > 0 else -math.inf)
        else:
            logs = [float(x) for x in log_ndtr(-(block.std_thresholds * block.signs))]
        for st, lp in zip(block.statements, logs, strict=True):
            log_p = 0.0 + lp
            out[st.id] = math.exp(log_p) if log_p > -math.inf else 0.0
    return out


def pair_blocks(world: World, ids: list[str]) -> list[tuple[list[int], np.ndarray]]:
    """Every within-block pair's joint probability among the listed statements, block by
    block: [(positions in `ids`, ascending; their (k, k) pair matrix, diagonal P(a))].

    Pairs in different blocks are independent (P(ab) = P(a) P(b)), so this is everything
    `pair_matrix` says in memory linear in the statements for blocks of bounded size.
    """
    where = [world.locate(s) for s in ids]
    by_block: dict[int, list[int]] = {}
    for k, (b, _) in enumerate(where):
        by_block.setdefault(b, []).append(k)
    out: list[tuple[list[int], np.ndarray]] = []
    for b, ks in by_block.items():
        block = world.blocks[b]
        pos = [where[k][1] for k in ks]
        if isinstance(block, DiscreteBlock):
            mem = block.membership[pos].astype(float)
            sub = (mem * block.probs) @ mem.T
        else:
            r, h = block.orthant(pos)
            if len(pos) > 1:
                sub = np.exp(bvn.all_pairs_log(r, h))
            else:
                sub = np.exp(log_ndtr(-h)).reshape(1, 1)
        out.append((ks, sub))
    return out


def pair_matrix(world: World, ids: list[str]) -> np.ndarray:
    """P(a ∩ b) for every pair of the listed statements at once; the diagonal holds P(a).

    Vectorised per block (closed forms, `pair_blocks`), products across blocks; this is
    what a debater who queries every pair would learn, in one call. (n, n): for many
    statements, `pair_blocks` says the same in far less memory.
    """
    n = len(ids)
    single = np.empty(n)
    parts = pair_blocks(world, ids)
    out = np.empty((n, n))
    for ks, sub in parts:
        single[ks] = np.diag(sub)
        out[np.ix_(ks, ks)] = sub
    for b1, (k1, _) in enumerate(parts):
        for b2, (k2, _) in enumerate(parts):
            if b1 != b2:
                out[np.ix_(k1, k2)] = np.outer(single[k1], single[k2])
    return out
