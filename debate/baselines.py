"""Baselines: what the evidence a judge saw says about P(Z), without knowing the world's blocks.

The judge knows some n-way probabilities (cited, queried, and the free single ones) and
nothing else: not which statements are independent of which. The baselines here use
exactly that: statements tied by some known joint probability form components; maximum
entropy makes components independent (it is exactly the max-ent solution; a component too
large for the exact one over 2^m atoms gets the Chow–Liu tree completion), and the
sharp bounds are combined across components by Boole's inequality (valid for every
distribution that matches the evidence).
"""

from __future__ import annotations

import math
from functools import lru_cache

from pydantic import BaseModel

import latent.bounds as lb

#: Components larger than this get Fréchet / Hunter–Worsley instead of the exact LP.
SHARP_MAX = 12


class Baselines(BaseModel):
    """Estimates and the allowed range of P(Z) from the evidence alone."""

    independence: float
    maxent: float | None
    lower: float
    upper: float


def _components(ids: list[str], keys: list[tuple[str, ...]]) -> list[list[str]]:
    sets = lb.DisjointSets(ids)
    for key in keys:
        for other in key[1:]:
            sets.union(key[0], other)
    comps: dict[str, list[str]] = {}
    for s in ids:
        comps.setdefault(sets.find(s), []).append(s)
    return list(comps.values())


@lru_cache(maxsize=4096)
def _component(
    m: int, items: tuple[tuple[tuple[int, ...], float], ...]
) -> tuple[float, float, float, float | None]:
    """(independence, lower, upper, maxent) of one component: cached, because a judge asks
    after every turn and most components' evidence has not changed since the last time."""
    known = dict(items)
    ind = lb.independence(m, known)
    if m <= SHARP_MAX and any(len(k) > 1 for k in known):
        lo, hi = lb.sharp_bounds(m, known)
        me = lb.maxent(m, known)
    else:
        lo, hi = lb.frechet(m, known)
        if m > 1:
            lo = max(lo, lb.hunter_worsley(m, known))
        me = ind if m == 1 or not any(len(k) > 1 for k in known) else lb.tree_maxent(m, known)
    return ind, lo, hi, me


@lru_cache(maxsize=1 << 16)
def _lone(p: float | None) -> tuple[float, float, float, float | None]:
    """`_component` of a statement tied to no other, known to be true with probability `p`
    (None: not known), by the same arithmetic without the general machinery. A world of
    10,000 statements has 10,000 of these per judgement, more than `_component`'s cache
    holds, and through the general path they cost a second per judgement."""
    k = lb.check_known(1, {} if p is None else {(0,): p})
    q = k.get((0,))
    ind = 0.5 if q is None else q
    # frechet(1, k): the lower end is the one singleton when known; the upper, the smallest
    # known value; maxent of one statement is its independence value
    lo = lb._pad_lo(0.0 if q is None else max(0.0, q), 1.0)
    return ind, lo, lb._pad_hi(1.0 if q is None else q), ind


def baselines(ids: list[str], evidence: dict[str, float]) -> Baselines:
    """Independence, maximum entropy and the range the evidence allows for P(all ids)."""
    known_ids = {tuple(sorted(k.split("&"))): v for k, v in evidence.items()}
    idset = set(ids)
    known_ids = {k: v for k, v in known_ids.items() if all(s in idset for s in k)}
    comps = _components(ids, [k for k in known_ids if len(k) > 1])
    log_ind = 0.0
    log_me: float | None = 0.0
    upper = 1.0
    miss = 0.0  # Boole: P(not all) <= sum over components of P(component not all)
    # each known set lies inside one component: bucket them once (looking every set up
    # for every component took seconds per call on 400 statements)
    comp_of = {s: c for c, comp in enumerate(comps) for s in comp}
    bucket: dict[int, list[tuple[tuple[str, ...], float]]] = {}
    for k, v in known_ids.items():
        bucket.setdefault(comp_of[k[0]], []).append((k, v))
    for c, comp in enumerate(comps):
        if len(comp) == 1:
            own = bucket.get(c)
            ind, lo, hi, me = _lone(own[0][1] if own else None)
        else:
            pos = {s: i for i, s in enumerate(comp)}
            known = {tuple(sorted(pos[s] for s in k)): v for k, v in bucket.get(c, [])}
            ind, lo, hi, me = _component(len(comp), tuple(sorted(known.items())))
        log_ind += math.log(ind) if ind > 0 else -math.inf
        upper = min(upper, hi)
        miss += 1.0 - lo
        if log_me is not None:
            log_me = None if me is None else (log_me + math.log(me) if me > 0 else -math.inf)
    # P(all) is at most any known joint probability of a subset. The LP says so too, but
    # only up to its tolerance: a known impossibility (0) must give 0, not 1e-15, or a
    # judge taking the geometric middle lands hundreds of orders of magnitude away.
    upper = min([upper, *known_ids.values()])
    lower = min(max(0.0, 1.0 - miss), upper)
    return Baselines(
        independence=math.exp(log_ind),
        maxent=None if log_me is None else math.exp(log_me),
        lower=lower,
        upper=upper,
    )
