"""Mimics: learners joined to samplers, learned from natural books, and their fine-tuning.

A mimic of class `MimicClass(order=k, genre_memory=…, alpha=…)` is an order-k Markov chain
over the book's tokens (the setting, then the events, then END) with add-alpha smoothing;
with `genre_memory` every context also holds the book's setting, so the class contains the
natural world (whose events depend on the genre and the previous event) as soon as k ≥ 1.
Without it, and k < the book length, the class does not contain the truth: the mimic cannot
merge with the world, however much data it sees. The smoothed estimate is the posterior
mean of a Dirichlet(alpha) prior on each row of the chain.

The mimic knows the format: a book has at least one event (END never comes first) and ends
after `max_events` events (that END is forced, so it is neither learned nor predicted).
Every probability below is exact: the mimic's sampling distribution is evaluated on the
enumeration of all books.

Fine-tuning (seed 000, "Operators can control mimics"): the KL-regularised objective
E_pi[r] - beta·KL(pi ‖ pi0) is maximised by pi_beta ∝ pi0·exp(r/beta) (Korbak, Perez and
Buckley). With r = b(x) a predicate the text controls, pi_beta → P(X | b = 1) as beta → 0;
with r = rho(x) = P(objective achieved | x) that the world decides, pi_beta → P(X | X ∈ X_F),
the forcing set where rho = 1, not P(X | objective achieved).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from latent.errors import LatentError
from latent.mimic_world import (
    END,
    N_EVENTS,
    N_GENRES,
    Books,
    all_books,
)

#: Tokens in contexts: events 0..5, settings 6..8, the padding before the start 9.
_SETTING0 = N_EVENTS
_PAD = N_EVENTS + N_GENRES
_BASE = _PAD + 1
#: Outcomes a context predicts: the events and END.
N_OUT = N_EVENTS + 1
#: Highest Markov order (a chain of order max_events sees the whole book).
MAX_ORDER = 6


@dataclass(frozen=True)
class MimicClass:
    """A model class with a capacity knob: the Markov order and whether the genre is kept."""

    order: int
    genre_memory: bool
    alpha: float = 0.5

    def __post_init__(self) -> None:
        if not 0 <= self.order <= MAX_ORDER:
            raise LatentError(f"mimic order must be 0..{MAX_ORDER}, got {self.order}")
        if not self.alpha >= 0:
            raise LatentError(f"smoothing alpha must be ≥ 0, got {self.alpha}")

    @property
    def name(self) -> str:
        return f"{'genre-' if self.genre_memory else ''}markov{self.order}"

    @classmethod
    def parse(cls, spec: str, alpha: float = 0.5) -> MimicClass:
        """'markov1', 'genre-markov1' (also 'm1', 'g1')."""
        s = spec.strip().lower()
        for prefix, mem in (("genre-markov", True), ("markov", False), ("g", True), ("m", False)):
            if s.startswith(prefix) and s[len(prefix) :].isdigit():
                return cls(int(s[len(prefix) :]), mem, alpha)
        raise LatentError(
            f"unknown mimic class {spec!r}: use markovK or genre-markovK (K = 0..6), e.g. g1"
        )

    def contains_truth(self, max_events: int) -> bool:
        """Whether the natural world (genre + previous event) is a member of the class."""
        if self.genre_memory:
            return self.order >= 1
        # without the genre in the context, only a chain that still sees the setting works
        return self.order >= max_events


@dataclass(frozen=True)
class _Design:
    """Every prediction a book makes, flattened: the book, the context (compact id), the
    outcome, and whether it is the first event (END is impossible there)."""

    book: np.ndarray
    ctx: np.ndarray
    out: np.ndarray
    first: np.ndarray
    n_ctx: int


_DESIGNS: dict[tuple[int, bool, int], _Design] = {}


def _design(cls: MimicClass, books: Books) -> _Design:
    key = (cls.order, cls.genre_memory, books.max_events)
    if key in _DESIGNS:
        return _DESIGNS[key]
    m, big_l, k = books.size, books.max_events, cls.order
    n = books.length
    # the token stream before each prediction: setting, then events (padded with _PAD)
    if cls.genre_memory:
        stream = np.full((m, k + big_l), _PAD, dtype=np.int64)
        stream[:, k:] = np.where(books.events >= 0, books.events, _PAD)
    else:
        stream = np.full((m, k + 1 + big_l), _PAD, dtype=np.int64)
        stream[:, k] = _SETTING0 + books.genre
        stream[:, k + 1 :] = np.where(books.events >= 0, books.events, _PAD)
    ctx_raw = np.zeros((m, big_l), dtype=np.int64)
    out = np.full((m, big_l), -1, dtype=np.int64)
    for t in range(big_l):
        # predicting event t (0-based) or END in its place
        if cls.genre_memory:
            window = stream[:, t : t + k]
            code = books.genre.copy()
        else:
            window = stream[:, t + 1 : t + 1 + k]
            code = np.zeros(m, dtype=np.int64)
        for j in range(k):
            code = code * _BASE + window[:, j]
        ctx_raw[:, t] = code
        out[:, t] = np.where(t < n, books.events[:, t], np.where(t == n, END, -1))
    valid = out >= 0
    uniq, inv = np.unique(ctx_raw[valid], return_inverse=True)
    book = np.broadcast_to(np.arange(m)[:, None], out.shape)[valid]
    first = np.broadcast_to((np.arange(big_l) == 0)[None, :], out.shape)[valid]
    d = _Design(book, inv.ravel(), out[valid], first, int(uniq.size))
    _DESIGNS[key] = d
    return d


@dataclass(frozen=True)
class Mimic:
    """A fitted mimic: its class, the data size, and its exact sampling distribution.

    log_probs : (M,) log P_mimic(book) over the enumeration `all_books(max_events)`.
    """

    cls: MimicClass
    n_train: float
    log_probs: np.ndarray

    @property
    def probs(self) -> np.ndarray:
        return np.exp(self.log_probs)


def fit_mimic(cls: MimicClass, counts: np.ndarray, max_events: int) -> Mimic:
    """Train a mimic on books given as (M,) counts (or expected counts: any weights ≥ 0).

    Returns its exact sampling distribution over every book. With alpha = 0 a context never
    seen predicts uniformly (an arbitrary convention for the population limit).
    """
    books = all_books(max_events)
    if counts.shape != (books.size,):
        raise LatentError(f"counts must have shape ({books.size},), got {counts.shape}")
    d = _design(cls, books)
    flat = d.ctx * N_OUT + d.out
    table = np.bincount(flat, weights=counts[d.book], minlength=d.n_ctx * N_OUT)
    table = table.reshape(d.n_ctx, N_OUT)
    a = cls.alpha
    row_all = table.sum(axis=1, keepdims=True) + N_OUT * a
    row_first = table[:, :END].sum(axis=1, keepdims=True) + N_EVENTS * a
    with np.errstate(divide="ignore", invalid="ignore"):
        q_all = np.where(row_all > 0, (table + a) / row_all, 1.0 / N_OUT)
        q_first = np.where(row_first > 0, (table + a) / row_first, 1.0 / N_EVENTS)
        lq_all, lq_first = np.log(q_all), np.log(q_first)
    genre_counts = np.bincount(books.genre, weights=counts, minlength=N_GENRES) + a
    with np.errstate(divide="ignore", invalid="ignore"):
        total = genre_counts.sum()
        lg = np.log(genre_counts / total) if total > 0 else np.full(N_GENRES, -np.log(N_GENRES))
    terms = np.where(d.first, lq_first.ravel()[flat], lq_all.ravel()[flat])
    lp = lg[books.genre] + np.bincount(d.book, weights=terms, minlength=books.size)
    return Mimic(cls, float(counts.sum()), lp)


# ---------------------------------------------------------------------------------------
# Fine-tuning
# ---------------------------------------------------------------------------------------


def finetune(probs0: np.ndarray, reward: np.ndarray, beta: float) -> np.ndarray:
    """(M,) pi_beta ∝ pi0·exp(r/beta), the maximiser of E_pi[r] − beta·KL(pi ‖ pi0).

    beta = 0 is the limit: pi0 restricted to where r is largest on pi0's support (for a
    predicate, P(X | b = 1); for a world reward with a non-empty forcing set,
    P(X | X ∈ X_F)). Computed in log space, so small beta does not overflow.
    """
    if beta < 0 or not np.isfinite(beta):
        raise LatentError(f"beta must be ≥ 0 and finite, got {beta}")
    support = probs0 > 0
    if not support.any():
        raise LatentError("the base distribution is zero everywhere")
    rmax = reward[support].max()
    if beta == 0:
        w = np.where(support & (reward == rmax), probs0, 0.0)
    else:
        with np.errstate(divide="ignore"):
            w = np.where(support, np.exp(np.log(probs0) + (reward - rmax) / beta), 0.0)
    return w / w.sum()


def conditional(probs: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """(M,) P(X | event) where P(event | x) = weight(x) (a 0/1 indicator or a probability)."""
    w = probs * weight
    s = w.sum()
    if s <= 0:
        raise LatentError("cannot condition on an event of probability 0")
    return w / s


def kl_objective(pi: np.ndarray, probs0: np.ndarray, reward: np.ndarray, beta: float) -> float:
    """E_pi[r] − beta·KL(pi ‖ pi0), the fine-tuning objective (−inf off pi0's support)."""
    on = pi > 0
    if (probs0[on] == 0).any():
        return -np.inf
    kl = float(np.sum(pi[on] * (np.log(pi[on]) - np.log(probs0[on]))))
    return float(np.sum(pi * reward)) - beta * kl


# ---------------------------------------------------------------------------------------
# Distributions of coarse features, the operator, distances
# ---------------------------------------------------------------------------------------


def push(probs: np.ndarray, code: np.ndarray, cells: int) -> np.ndarray:
    """(cells,) distribution of a coarse feature Z = g(X) under `probs` (the push-forward)."""
    return np.bincount(code, weights=probs, minlength=cells)


def tv(p: np.ndarray, q: np.ndarray) -> float:
    """Total variation distance, max over events A of |p(A) − q(A)|."""
    return 0.5 * float(np.abs(p - q).sum())


def operator_forecast(z_counts: np.ndarray, prior: float = 0.5) -> np.ndarray:
    """The operator's Bayesian forecast of the next book's Z from the Z she has seen:
    Dirichlet(prior) posterior predictive over the cells of Z, (count + prior)/(N + prior·K).

    Her class (every distribution over the finite cells) contains the truth, and both she and
    any mimic with full support give positive probability to every cell: common support, so
    merging of opinions applies.
    """
    a = z_counts + prior
    return a / a.sum()
