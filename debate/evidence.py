"""What the evidence a judge saw says about P(Z), without knowing the world's blocks.

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
    parent = {s: s for s in ids}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for key in keys:
        for other in key[1:]:
            ra, rb = find(key[0]), find(other)
            if ra != rb:
                parent[rb] = ra
    comps: dict[str, list[str]] = {}
    for s in ids:
        comps.setdefault(find(s), []).append(s)
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
        me = ind if m == 1 or not any(len(k) > 1 for k in known) else tree_maxent(m, known)
    return ind, lo, hi, me


def _pair_information(pa: float, pb: float, pab: float) -> float | None:
    """Mutual information of two events from P(a), P(b), P(a and b); None if inconsistent."""
    cells = [(pab, pa, pb), (pa - pab, pa, 1 - pb), (pb - pab, 1 - pa, pb)]
    cells.append((1 - pa - pb + pab, 1 - pa, 1 - pb))
    if any(c < -1e-12 for c, _, _ in cells):
        return None
    return sum(c * math.log(c / (x * y)) for c, x, y in cells if c > 0 and x > 0 and y > 0)


def tree_maxent(m: int, known: dict[tuple[int, ...], float]) -> float | None:
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
    root = list(range(m))

    def find(x: int) -> int:
        while root[x] != x:
            root[x] = root[root[x]]
            x = root[x]
        return x

    log_p = sum(math.log(p) for p in ps)
    for _, i, j, pab in edges:
        ri, rj = find(i), find(j)
        if ri == rj:
            continue
        root[rj] = ri
        if pab <= 0:
            return 0.0
        log_p += math.log(pab) - math.log(ps[i]) - math.log(ps[j])
    return math.exp(log_p)


def baselines(ids: list[str], evidence: dict[str, float]) -> Baselines:
    """Independence, maximum entropy and the range the evidence allows for P(all ids)."""
    known_ids = {tuple(sorted(k.split("&"))): v for k, v in evidence.items()}
    known_ids = {k: v for k, v in known_ids.items() if all(s in set(ids) for s in k)}
    comps = _components(ids, [k for k in known_ids if len(k) > 1])
    log_ind = 0.0
    log_me: float | None = 0.0
    upper = 1.0
    miss = 0.0  # Boole: P(not all) <= sum over components of P(component not all)
    for comp in comps:
        pos = {s: i for i, s in enumerate(comp)}
        known = {
            tuple(sorted(pos[s] for s in k)): v
            for k, v in known_ids.items()
            if all(s in pos for s in k)
        }
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
