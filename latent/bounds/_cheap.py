"""Cheap bounds for any block size: independence, Fréchet, Hunter–Worsley."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Generic

import numpy as np

from latent.bounds._common import T, _pad_hi, _pad_lo, check_known


def independence(m: int, known: Mapping[tuple[int, ...], float]) -> float:
    """Product of the singleton probabilities: what P(all) would be if nothing correlated.

    A statement whose singleton is unknown counts as 0.5 (a coin flip: no information).
    """
    k = check_known(m, known)
    return math.prod(k.get((i,), 0.5) for i in range(m))


def log10_independence(m: int, known: Mapping[tuple[int, ...], float]) -> float | None:
    """log10 of `independence` without underflow; None when a singleton is 0."""
    k = check_known(m, known)
    ps = [k.get((i,), 0.5) for i in range(m)]
    if min(ps) <= 0:
        return None
    return math.fsum(math.log10(p) for p in ps)


def frechet(m: int, known: Mapping[tuple[int, ...], float]) -> tuple[float, float]:
    """Fréchet bounds on P(all).

    lower = max(0, sum p_i - (m - 1)) when every singleton is known (else 0);
    upper = the smallest known probability, since P(all) <= P(any subset all true).
    """
    k = check_known(m, known)
    singles = [k.get((i,)) for i in range(m)]
    lo = 0.0
    if all(p is not None for p in singles):
        lo = max(0.0, math.fsum(p for p in singles if p is not None) - (m - 1))
    hi = min(k.values(), default=1.0)
    return _pad_lo(lo, float(m)), _pad_hi(hi)


class DisjointSets(Generic[T]):
    """Union-find over hashable items: the spanning forests of Hunter–Worsley and Chow–Liu,
    and the components of a judge's evidence."""

    def __init__(self, items: Iterable[T]) -> None:
        self.parent: dict[T, T] = {x: x for x in items}

    def find(self, x: T) -> T:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: T, b: T) -> bool:
        """Join the sets of a and b; False if they were one already (an edge would close a
        cycle)."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        self.parent[rb] = ra
        return True


def hunter_worsley(m: int, known: Mapping[tuple[int, ...], float]) -> float:
    """Hunter–Worsley lower bound on P(all), through the complements.

    P(all) = 1 - P(union of the complements F_i) and, for any forest over the statements,
    P(union F) <= sum_i P(F_i) - sum_(edges ij) P(F_i ∩ F_j). The forest is a maximum-weight
    spanning forest over the known pairs with weights P(F_i ∩ F_j) = 1 - p_i - p_j + p_ij.
    A statement with unknown singleton contributes P(F_i) <= 1 and no edges.
    """
    k = check_known(m, known)
    q = np.ones(m)
    has = np.zeros(m, dtype=bool)
    for i in range(m):
        if (i,) in k:
            q[i] = 1.0 - k[(i,)]
            has[i] = True
    pairs = [(key, p) for key, p in k.items() if len(key) == 2 and has[key[0]] and has[key[1]]]
    total = math.fsum(q)
    if pairs:
        ij = np.array([key for key, _ in pairs], dtype=np.int64)
        w = 1.0 - (1.0 - q[ij[:, 0]]) - (1.0 - q[ij[:, 1]]) + np.array([p for _, p in pairs])
        w = np.maximum(w, 0.0)
        order = np.argsort(-w, kind="stable")
        forest = DisjointSets(range(m))
        tree = 0.0
        for e in order:
            if w[e] <= 0:
                break
            if forest.union(int(ij[e, 0]), int(ij[e, 1])):
                tree += float(w[e])
        total -= tree
    return _pad_lo(1.0 - min(1.0, total), float(m))
