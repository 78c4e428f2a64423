"""Brute-force references for the mimic mode: plain Python loops over books, dictionaries of
counts, ancestral sampling. Slow and simple on purpose; never the vectorised code under test.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict

import numpy as np

from latent.mimic import MimicClass
from latent.mimic_world import NaturalWorld

N_EVENTS = 6
END = 6
HELP, FIGHT, LOVE, CLUE, PRAISE, SKY = range(6)

Book = tuple[int, tuple[int, ...]]


def books(max_events: int) -> list[Book]:
    """Every book in the order of `latent.mimic_world.all_books` (genre, length, events)."""
    out = []
    for g in range(3):
        for n in range(1, max_events + 1):
            out.extend((g, ev) for ev in itertools.product(range(N_EVENTS), repeat=n))
    return out


def book_prob(world: NaturalWorld, book: Book) -> float:
    """P(book) by walking the chain one event at a time."""
    g, ev = book
    p = float(world.genre_prior[g]) * float(world.first[g, ev[0]])
    for prev, nxt in itertools.pairwise(ev):
        p *= float(world.trans[g, prev, nxt])
    if len(ev) < world.max_events:
        p *= float(world.trans[g, ev[-1], END])
    return p


def sample_chain(world: NaturalWorld, rng: np.random.Generator) -> Book:
    """One book by ancestral sampling (never looks at the enumeration)."""
    g = int(rng.choice(3, p=world.genre_prior))
    ev = [int(rng.choice(N_EVENTS, p=world.first[g]))]
    while len(ev) < world.max_events:
        nxt = int(rng.choice(N_EVENTS + 1, p=world.trans[g, ev[-1]]))
        if nxt == END:
            break
        ev.append(nxt)
    return g, tuple(ev)


def features(book: Book) -> dict[str, int]:
    """The coarse features, from their definitions in words."""
    g, ev = book
    c = Counter(ev)
    return {
        "genre": g,
        "sentiment": int(c[HELP] + c[LOVE] + c[PRAISE] > c[FIGHT]),
        "helps": min(c[HELP], 2),
        "length": len(ev) - 1,
        "thesis": int(ev[-1] == SKY),
        "praise": min(c[PRAISE], 2),
    }


def _contexts(cls: MimicClass, book: Book, max_events: int) -> list[tuple[tuple, int, bool]]:
    """(context, outcome, is_first) for each prediction the book makes after its genre."""
    g, ev = book
    out = []
    for t in range(len(ev) + 1):
        if t == max_events:
            break  # the END after max_events is forced, not predicted
        outcome = ev[t] if t < len(ev) else END
        if cls.genre_memory:
            hist = ["pad"] * cls.order + list(ev[:t])
            ctx = ("g", g, *hist[len(hist) - cls.order :]) if cls.order else ("g", g)
        else:
            hist = ["pad"] * cls.order + [("setting", g)] + list(ev[:t])
            ctx = tuple(hist[len(hist) - cls.order :]) if cls.order else ()
        out.append((ctx, outcome, t == 0))
    return out


def mimic_table(cls: MimicClass, data: dict[Book, float], max_events: int) -> tuple:
    """The mimic's counts: genres, and outcomes per context, from the training books."""
    table: dict[tuple, Counter] = defaultdict(Counter)
    genres: Counter = Counter()
    for b, w in data.items():
        genres[b[0]] += w
        for ctx, o, _ in _contexts(cls, b, max_events):
            table[ctx][o] += w
    return genres, table


def mimic_prob(
    cls: MimicClass, data: dict[Book, float], book: Book, max_events: int, table: tuple = ()
) -> float:
    """P_mimic(book) from counted contexts (add-alpha; END excluded for the first event).
    `table` is `mimic_table(cls, data, max_events)`, recounted when not given."""
    genres, counts = table or mimic_table(cls, data, max_events)
    a = cls.alpha
    total = sum(genres.values())
    p = (genres[book[0]] + a) / (total + 3 * a)
    for ctx, o, first in _contexts(cls, book, max_events):
        row = counts.get(ctx, Counter())
        if first:
            denom = sum(row[e] for e in range(N_EVENTS)) + N_EVENTS * a
        else:
            denom = sum(row.values()) + (N_EVENTS + 1) * a
        p *= (row[o] + a) / denom
    return p


def tv(p: dict, q: dict) -> float:
    keys = set(p) | set(q)
    return 0.5 * sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in keys)


def log_loss(coef: np.ndarray, x: np.ndarray, w: np.ndarray, l2: float) -> float:
    """Weighted mean log loss + l2 penalty of a softmax regression, one row at a time."""
    total = w.sum()
    val = 0.0
    for j in range(x.shape[0]):
        s = x[j] @ coef
        lz = max(s) + math.log(sum(math.exp(v - max(s)) for v in s))
        for g in range(w.shape[0]):
            if w[g, j]:
                val -= w[g, j] / total * (s[g] - lz)
    return val + 0.5 * l2 * float(np.sum(coef * coef))
