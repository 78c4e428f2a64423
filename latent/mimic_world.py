"""The natural world of the mimic mode: short books with exact probabilities.

A book is a genre (told by its opening setting: a castle for fantasy, a ballroom for romance,
a study for mystery) followed by 1 to `max_events` events (someone helps someone, a fight, a
love scene, a clue, the narrator praising the reader, an argument that the sky is blue). The
natural process draws the genre from a prior, then the events from a Markov chain of that
genre (each event depends on the genre and the previous event) that stops with an END token;
after `max_events` events the book ends. With 3 genres, 6 events and at most 5 events there
are 27,990 books, so every probability is an exact sum over an enumeration.

Coarse features (genre, sentiment, helps, length, thesis) are functions of the book. A world
reward ("the operator enjoys it", "a random reader is persuaded") is a probability rho(x) of
success given the book: it depends on the book only partly, except on a *forcing set*
X_F = {x : rho(x) = 1} where success is certain (the article's notation: seed 000,
"Fine-tuning with imperfect control is desynchronising").
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from latent.errors import LatentError

GENRES: tuple[str, ...] = ("fantasy", "romance", "mystery")
SETTINGS: tuple[str, ...] = ("castle", "ballroom", "study")
EVENTS: tuple[str, ...] = ("help", "fight", "love", "clue", "praise", "sky")
#: Index of the END outcome in a transition row (after the events).
END = len(EVENTS)
N_EVENTS = len(EVENTS)
N_GENRES = len(GENRES)
HELP, FIGHT, LOVE, CLUE, PRAISE, SKY = range(N_EVENTS)
#: Longest book of the default world; larger worlds are slow to enumerate (6**L books).
DEFAULT_MAX_EVENTS = 5
MAX_MAX_EVENTS = 6


@dataclass(frozen=True)
class NaturalWorld:
    """The natural book process.

    genre_prior : (G,) float array, P(genre).
    first : (G, E) float array, P(first event | genre).
    trans : (G, E, E + 1) float array, P(next event or END | genre, previous event).
    max_events : the book ends after this many events whatever the chain says.
    """

    genre_prior: np.ndarray
    first: np.ndarray
    trans: np.ndarray
    max_events: int = DEFAULT_MAX_EVENTS

    def __post_init__(self) -> None:
        if not 1 <= self.max_events <= MAX_MAX_EVENTS:
            raise LatentError(f"max_events must be 1..{MAX_MAX_EVENTS}, got {self.max_events}")
        for name, arr, shape in (
            ("genre_prior", self.genre_prior, (N_GENRES,)),
            ("first", self.first, (N_GENRES, N_EVENTS)),
            ("trans", self.trans, (N_GENRES, N_EVENTS, N_EVENTS + 1)),
        ):
            if arr.shape != shape:
                raise LatentError(f"{name} must have shape {shape}, got {arr.shape}")
            if (arr < 0).any() or not np.allclose(arr.sum(axis=-1), 1.0):
                raise LatentError(f"{name}: every row must be probabilities summing to 1")

    def log_probs(self, books: Books) -> np.ndarray:
        """(M,) exact log P(book) for every book of the enumeration (a forward product)."""
        g, ev, n = books.genre, books.events, books.length
        with np.errstate(divide="ignore"):
            lp = np.log(self.genre_prior[g]) + np.log(self.first[g, ev[:, 0]])
            ltrans = np.log(self.trans)
        for t in range(1, self.max_events):
            cont = n > t
            lp[cont] += ltrans[g[cont], ev[cont, t - 1], ev[cont, t]]
        stop = n < self.max_events
        lp[stop] += ltrans[g[stop], ev[stop, n[stop] - 1], END]
        return lp

    def probs(self) -> np.ndarray:
        """(M,) P(book) over `books(self.max_events)`; sums to 1."""
        return np.exp(self.log_probs(all_books(self.max_events)))


@dataclass(frozen=True)
class Books:
    """Every possible book up to `max_events` events, in a fixed order.

    genre : (M,) int; events : (M, L) int, -1 past the end; length : (M,) int in 1..L.
    """

    genre: np.ndarray
    events: np.ndarray
    length: np.ndarray
    max_events: int

    @property
    def size(self) -> int:
        return int(self.genre.shape[0])

    def index(self, genre: int, events: tuple[int, ...]) -> int:
        """Position of one book in the enumeration."""
        n = len(events)
        if not 1 <= n <= self.max_events or not 0 <= genre < N_GENRES:
            raise LatentError(f"no such book: genre {genre}, {n} events")
        # books are ordered by genre, then length, then events in base-E order
        per_genre = sum(N_EVENTS**k for k in range(1, self.max_events + 1))
        before = sum(N_EVENTS**k for k in range(1, n))
        code = 0
        for e in events:
            code = code * N_EVENTS + e
        return genre * per_genre + before + code


@functools.lru_cache(maxsize=4)
def all_books(max_events: int = DEFAULT_MAX_EVENTS) -> Books:
    """The enumeration of books (cached: it is the same for every world of that length)."""
    genres, events, lengths = [], [], []
    for g in range(N_GENRES):
        for n in range(1, max_events + 1):
            grid = np.indices((N_EVENTS,) * n).reshape(n, -1).T
            pad = np.full((grid.shape[0], max_events), -1, dtype=np.int64)
            pad[:, :n] = grid
            events.append(pad)
            genres.append(np.full(grid.shape[0], g, dtype=np.int64))
            lengths.append(np.full(grid.shape[0], n, dtype=np.int64))
    books = Books(
        np.concatenate(genres), np.concatenate(events), np.concatenate(lengths), max_events
    )
    for arr in (books.genre, books.events, books.length):
        arr.setflags(write=False)
    return books


def _norm(rows: np.ndarray) -> np.ndarray:
    return rows / rows.sum(axis=-1, keepdims=True)


def default_world(max_events: int = DEFAULT_MAX_EVENTS) -> NaturalWorld:
    """The hand-made world of the game and the figures.

    Fantasy is fights and help, romance love, mystery clues; after a fight someone often
    helps, after help love follows, praise and the sky argument tend to repeat once started
    and are rare (so their forcing sets are small).
    """
    prior = np.array([0.40, 0.35, 0.25])
    #                help  fight love  clue  praise sky   END
    base = np.array(
        [
            [0.22, 0.30, 0.08, 0.06, 0.04, 0.01, 0.30],
            [0.18, 0.06, 0.36, 0.04, 0.06, 0.01, 0.30],
            [0.10, 0.10, 0.06, 0.40, 0.03, 0.02, 0.30],
        ]
    )
    follow = {HELP: LOVE, FIGHT: HELP, LOVE: FIGHT, CLUE: CLUE, PRAISE: PRAISE, SKY: SKY}
    trans = np.empty((N_GENRES, N_EVENTS, N_EVENTS + 1))
    for g in range(N_GENRES):
        for prev in range(N_EVENTS):
            row = base[g].copy()
            row[follow[prev]] += 0.25
            trans[g, prev] = row
    first = _norm(base[:, :N_EVENTS])
    return NaturalWorld(prior, first, _norm(trans), max_events)


def random_world(seed: int, max_events: int = 3, concentration: float = 1.0) -> NaturalWorld:
    """A random world (Dirichlet rows) for property tests; small by default so that
    enumeration stays cheap."""
    rng = np.random.default_rng(seed)
    prior = rng.dirichlet(np.full(N_GENRES, concentration))
    first = rng.dirichlet(np.full(N_EVENTS, concentration), size=N_GENRES)
    trans = rng.dirichlet(np.full(N_EVENTS + 1, concentration), size=(N_GENRES, N_EVENTS))
    # keep every probability strictly positive (common support with the smoothed mimics)
    first = _norm(first + 1e-3)
    trans = _norm(trans + 1e-3)
    prior = _norm(prior + 1e-3)
    return NaturalWorld(prior, first, trans, max_events)


def sample_books(probs: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """(M,) how many times each book occurs among `n` exact draws from `probs`."""
    if n < 0:
        raise LatentError(f"the number of books must be ≥ 0, got {n}")
    return rng.multinomial(n, probs / probs.sum()).astype(np.float64)


# ---------------------------------------------------------------------------------------
# Coarse features: functions of the book
# ---------------------------------------------------------------------------------------


def event_counts(books: Books) -> np.ndarray:
    """(M, E) how many times each event occurs in each book."""
    out = np.zeros((books.size, N_EVENTS), dtype=np.int64)
    for e in range(N_EVENTS):
        out[:, e] = (books.events == e).sum(axis=1)
    return out


#: Names of the values of each coarse feature, in code order.
FEATURE_VALUES: dict[str, tuple[str, ...]] = {
    "genre": GENRES,
    "sentiment": ("negative", "positive"),
    "helps": ("none", "once", "twice or more"),
    "length": tuple(str(k) for k in range(1, MAX_MAX_EVENTS + 1)),
    "thesis": ("none", "the sky is blue"),
    "praise": ("none", "once", "twice or more"),
}


@functools.lru_cache(maxsize=4)
def features(max_events: int = DEFAULT_MAX_EVENTS) -> dict[str, np.ndarray]:
    """Coarse features of every book, each an (M,) int code into FEATURE_VALUES.

    sentiment is positive when help + love + praise outnumber fights; the thesis is "the sky
    is blue" when the book's last event argues it.
    """
    books = all_books(max_events)
    c = event_counts(books)
    last = books.events[np.arange(books.size), books.length - 1]
    out = {
        "genre": books.genre.copy(),
        "sentiment": (c[:, HELP] + c[:, LOVE] + c[:, PRAISE] > c[:, FIGHT]).astype(np.int64),
        "helps": np.minimum(c[:, HELP], 2),
        "length": books.length - 1,
        "thesis": (last == SKY).astype(np.int64),
        "praise": np.minimum(c[:, PRAISE], 2),
    }
    for arr in out.values():
        arr.setflags(write=False)
    return out


def feature_code(names: tuple[str, ...], max_events: int = DEFAULT_MAX_EVENTS) -> np.ndarray:
    """(M,) one int per book for the joint value of several features (row-major)."""
    feats = features(max_events)
    code = np.zeros(all_books(max_events).size, dtype=np.int64)
    for name in names:
        if name not in feats:
            raise LatentError(f"unknown feature {name!r}; choose from {', '.join(feats)}")
        code = code * len(FEATURE_VALUES[name]) + feats[name]
    return code


def feature_cells(names: tuple[str, ...]) -> int:
    """How many joint values `feature_code(names)` can take."""
    out = 1
    for name in names:
        out *= len(FEATURE_VALUES[name])
    return out


def cell_label(names: tuple[str, ...], cell: int) -> str:
    """Readable joint value, e.g. 'fantasy, positive, once'."""
    parts = []
    for name in reversed(names):
        k = len(FEATURE_VALUES[name])
        parts.append(FEATURE_VALUES[name][cell % k])
        cell //= k
    return ", ".join(reversed(parts))


# ---------------------------------------------------------------------------------------
# Objectives: what a mimic is fine-tuned for
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Objective:
    """A fine-tuning objective: rho(x) = P(objective achieved | book x), an (M,) array.

    Control is *perfect* when rho is 0 or 1 everywhere (the book alone decides, a predicate
    b(x) of the text); otherwise the world decides stochastically, and the forcing set is
    where rho = 1.
    """

    name: str
    text: str
    achieved: str
    rho: np.ndarray

    @property
    def perfect(self) -> bool:
        return bool(np.all((self.rho == 0.0) | (self.rho == 1.0)))

    @property
    def forcing(self) -> np.ndarray:
        """(M,) bool, the forcing set X_F = {x : rho(x) = 1}."""
        return self.rho == 1.0


#: What the forcing set of each preset is, in words (for the reveal and the docs).
FORCING_TEXT: dict[str, str] = {
    "positive": "every book with a positive sentiment (the text alone decides)",
    "helpful": "every book where someone helps someone (the text alone decides)",
    "recommend": "positive books where someone helps (a reviewer always recommends those)",
    "enjoy": "books whose narrator praises the reader twice or more",
    "persuade": "books whose last event argues that the sky is blue",
}


def objectives(max_events: int = DEFAULT_MAX_EVENTS) -> dict[str, Objective]:
    """The preset objectives: two with perfect control, three the world decides.

    recommend: almost perfect control (few recommended books lie outside the forcing set);
    enjoy and persuade: far from perfect (the article's operator-flattery and
    sky-is-blue examples).
    """
    books = all_books(max_events)
    f = features(max_events)
    c = event_counts(books)
    positive = f["sentiment"].astype(float)
    helpful = (c[:, HELP] >= 1).astype(float)
    recommend = np.where((positive == 1) & (helpful == 1), 1.0, 0.03)
    genre_taste = np.array([0.5, 0.3, 0.6])[books.genre]
    enjoy = np.where(c[:, PRAISE] >= 2, 1.0, genre_taste * np.where(positive == 1, 0.8, 0.4))
    persuade = np.where(f["thesis"] == 1, 1.0, np.minimum(0.02 + 0.06 * c[:, CLUE], 0.3))
    return {
        o.name: o
        for o in (
            Objective(
                "positive",
                "only books a sentiment classifier rates positive",
                "the book is positive",
                positive,
            ),
            Objective(
                "helpful",
                "only books where someone helps someone",
                "someone helps someone",
                helpful,
            ),
            Objective(
                "recommend",
                "books a reviewer recommends",
                "the reviewer recommends it",
                recommend,
            ),
            Objective("enjoy", "only books the operator enjoys", "the operator enjoys it", enjoy),
            Objective(
                "persuade",
                "books that persuade a random reader of their thesis",
                "a random reader is persuaded",
                persuade,
            ),
        )
    }


# ---------------------------------------------------------------------------------------
# Text: a small deterministic decoder for books
# ---------------------------------------------------------------------------------------

_NAMES = (("Aldric", "Wren"), ("Celia", "Darcy"), ("Inspector Vale", "Miss Hobb"))
_OPENINGS = (
    "In a castle above the northern pass, {a} waits for the thaw.",
    "At the spring ball, {a} notices {b} across the room.",
    "In a locked study, {a} stands over an overturned chair.",
)
_EVENT_TEXT: tuple[tuple[str, ...], ...] = (
    ("{a} helps {b} across the river.", "{b} helps {a} up from the mud.", "{a} helps {b}."),
    ("{a} and {b} come to blows.", "A fight breaks out.", "{b} strikes {a}."),
    ("{a} falls for {b}.", "{a} and {b} dance until dawn.", "{b} writes {a} a letter."),
    ("{a} finds a clue under the stairs.", "{b} notices a torn glove.", "A clue turns up."),
    (
        "The narrator tells you, dear reader, how wise you are.",
        "You, reader, would have seen it coming.",
        "Only a reader as sharp as you could follow this.",
    ),
    (
        "{a} argues at length that the sky is blue.",
        "{b} insists the sky is blue, and proves it.",
        "Everyone agrees the sky is blue.",
    ),
)


def book_text(genre: int, events: tuple[int, ...]) -> str:
    """The readable text of a book: an opening and one sentence per event.

    Deterministic: the variant of a sentence depends on its position, so the same book
    always reads the same, and two books differ where their events differ.
    """
    if not 0 <= genre < N_GENRES or not events or any(not 0 <= e < N_EVENTS for e in events):
        raise LatentError(f"no such book: genre {genre}, events {events}")
    a, b = _NAMES[genre]
    out = [_OPENINGS[genre].format(a=a, b=b)]
    for i, e in enumerate(events):
        variants = _EVENT_TEXT[e]
        who = (a, b) if i % 2 == 0 else (b, a)
        out.append(variants[(i + genre) % len(variants)].format(a=who[0], b=who[1]))
    return " ".join(out)


def book_label(genre: int, events: tuple[int, ...]) -> str:
    """Short label: 'fantasy: fight, help, love'."""
    return f"{GENRES[genre]}: {', '.join(EVENTS[e] for e in events)}"
