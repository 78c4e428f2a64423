"""How a built-in debater speaks: the evidence it may cite (items), the ways to argue
with it (moves), answers to the other side's last speech, and the words around the evidence.

The words depend only on the direction a side argues; each kind of evidence is one neutral
sentence; how many citations of which kinds is drawn the same way for every side (see
`debate.builtin`).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from debate.builtin_analysis import (
    GROUP_SKEW,
    TOGETHER_LIFT,
    WINDOW,
    Analysis,
    Group,
    safe_log,
)
from debate.fmt import fmt_p as fmt
from debate.models import Argument, Citation, ProbCitation, StatementCitation
from debate.protocol import DebaterView
from debate.verify import Oracle


def relation(x: float, ref: float) -> str:
    """Where `x` sits relative to `ref`, in words that stay true: "close to" within 2x,
    "above"/"below", "far above"/"far below" from 100x."""
    if x <= 0 or ref <= 0:
        return "below" if x < ref else "above" if x > ref else "close to"
    r = math.log10(x / ref)
    if abs(r) < math.log10(2):
        return "close to"
    if r > 0:
        return "far above" if r >= 2 else "above"
    return "far below" if r <= -2 else "below"


@dataclass
class Item:
    """One piece of evidence a speech cites, with the sentence that presents it."""

    key: frozenset[str]
    cites: list[Citation]
    text: str


#: What a speech says around its evidence: depends only on the direction it argues (+1 up,
#: -1 down), never on the kind of evidence or on whether the evidence supports it, so the
#: words of a speech carry nothing the claims and the cited numbers do not.
FRAME: dict[int, tuple[str, str]] = {
    +1: (
        "The facts below lift P(Z) above my opponent's {o}.",
        "My opponent's {o} is too low: it does not fit these facts.",
    ),
    -1: (
        "The facts below pull P(Z) down, below my opponent's {o}.",
        "My opponent's {o} is too high: it does not fit these facts.",
    ),
}

#: The same, for a speaker with no other side (a consultant, whose view gives its own claim
#: as the other's): the direction is taken against the product, and no opponent is named.
ALONE: dict[int, tuple[str, str]] = {
    +1: (
        "The facts below lift P(Z) above the product.",
        "That is why P(Z) is about {o}: these facts fit it.",
    ),
    -1: (
        "The facts below pull P(Z) down, below the product.",
        "That is why P(Z) is about {o}: these facts fit it.",
    ),
}


def direction_of(view: DebaterView, an: Analysis) -> int:
    """Which way a speech argues: up (+1) or down (-1) from the other side's claim, or, with
    no other side (both claims equal), from the product."""
    other = view.opponent_claim if view.opponent_claim != view.claim else an.independence
    return 1 if view.claim > other else -1


#: Sentences any speech may close with (chosen the same way for every side), so that the
#: length of a speech follows a seeded target rather than the kind of evidence it cites.
FILLERS = (
    "Every number I cite is the oracle's own, checked by the engine.",
    "You can check any of these with a query of your own.",
    "Weigh the evidence, not how sure either of us sounds.",
    "None of this needs more than a few joint probabilities to check.",
    "The statements' own probabilities are on your screen already.",
    "Look at which statements each side chooses to cite, and which it leaves out.",
    "A few low-order numbers can mislead; read what they do and do not show.",
    "Ask yourself which of the two numbers these facts fit better.",
)


#: Characters of evidence per citation that every kind aims at, so that how long a speech is
#: follows how many citations it makes, whatever their kind.
PER_CITE = 95

#: The three kinds of evidence a speech cites, each presented in one neutral sentence (the
#: numbers and the texts are the evidence; the sentence says nothing about what they mean):
#: a pair's probability, a group's pair and triple, two statements cited by text.
KINDS = ("group", "words", "pair")


def _pair_item(an: Analysis, i: int, j: int) -> Item:
    a, b = an.ids[i], an.ids[j]
    p, q = float(an.pm[i, j]), an.single[a] * an.single[b]
    text = f"P({a} and {b}) = {fmt(p)}; their own probabilities multiply to {fmt(q)}."
    return Item(frozenset((a, b)), [ProbCitation(ids=[a, b], claimed=float(f"{p:.6g}"))], text)


def _words_item(an: Analysis, i: int, j: int) -> Item:
    """Two statements cited by text, to be read side by side: whether they say the same,
    the opposite or unrelated things is for the judge to read."""
    a, b = an.ids[i], an.ids[j]
    text = f"Read {a} beside {b}: what does each say of the other?"
    return Item(frozenset((a, b)), [StatementCitation(id=a), StatementCitation(id=b)], text)


def _group_item(g: Group) -> Item:
    """A group: one of its pairs and its triple, with the product of its own probabilities."""
    a, b, c = g.ids
    (ab, p_ab), _, _ = g.pairs
    cites: list[Citation] = [
        ProbCitation(ids=ab, claimed=float(f"{p_ab:.6g}")),
        ProbCitation(ids=list(g.ids), claimed=float(f"{g.p:.6g}")),
    ]
    text = (
        f"P({a} and {b}) = {fmt(p_ab)}, and P({a}, {b} and {c}) = {fmt(g.p)}; "
        f"the three own probabilities multiply to {fmt(g.expect)}."
    )
    return Item(frozenset(g.ids), cites, text)


def _group_pairs(g: Group, an: Analysis) -> list[Item]:
    """A group's pairs alone (each looks independent), without the triple."""
    return [_pair_item(an, an.index[x], an.index[y]) for (x, y), _ in g.pairs]


#: Candidates a move builds per speech: enough to fill a window after what was cited before,
#: and the same bound for every move, so that no strategy computes much more than another.
BUILD = 3 * WINDOW


@dataclass
class Move:
    """A way to argue: evidence of one kind that pushes P(Z) one way relative to the other
    side's claim (+1 up, -1 down, 0 towards the product, usable when that is true)."""

    kind: str
    effect: int
    items: Callable[[Analysis], list[Item]]
    #: Whether the move is possible at all in this world (a liar only invents structure of a
    #: kind the world has: a hidden negation where there are negations, a trap among groups).
    gate: Callable[[Analysis], bool] = lambda an: True


def _pairs(src: str) -> Callable[[Analysis], list[Item]]:
    return lambda an: [_pair_item(an, i, j) for i, j in getattr(an, src)[:BUILD]]


def _words(src: str) -> Callable[[Analysis], list[Item]]:
    return lambda an: [_words_item(an, i, j) for i, j in getattr(an, src)[:BUILD]]


def _groups(*srcs: str) -> Callable[[Analysis], list[Item]]:
    return lambda an: [_group_item(g) for src in srcs for g in getattr(an, src)[:BUILD]][:BUILD]


def _hidden(src: str) -> Callable[[Analysis], list[Item]]:
    """The innocent-looking pairs of groups whose triple would tell otherwise."""
    return lambda an: [it for g in getattr(an, src)[:BUILD] for it in _group_pairs(g, an)][:BUILD]


MOVES: dict[str, Move] = {
    # what is there, cited as it is
    "links": Move("pair", +1, _pairs("together")),
    "paraphrase": Move("words", +1, _words("together")),
    "anti": Move("group", +1, _groups("antis")),
    "plain": Move("group", +1, _groups("plain")),
    "flat": Move("pair", 0, _pairs("flat")),
    "trap": Move("group", -1, _groups("traps")),
    "negation": Move("words", -1, _words("apart")),
    "apart": Move("pair", -1, _pairs("apart")),
    # misreadings: hide what is there, or offer what is not there as if it were
    "hide-trap": Move("pair", +1, _hidden("traps")),
    "hide-anti": Move("pair", -1, _hidden("antis")),
    "hide-flip": Move("words", +1, _words("apart")),
    "invent-flip": Move("words", -1, _words("together"), lambda an: bool(an.apart)),
    "invent-trap": Move("group", -1, _groups("plain", "antis")),
}


def _already(view: DebaterView) -> set[frozenset[str]]:
    """Evidence this debater has cited before (so later speeches bring something new)."""
    done: set[frozenset[str]] = set()
    for t in view.transcript:
        if t.speaker == view.side:
            for c in t.citations:
                done.add(frozenset(c.ids))
    return done


def _citable(view: DebaterView, item: Item) -> bool:
    """Whether the rules let a debater cite all of an item: orders within the limit, and
    never P(Z) itself."""
    n = len(view.statements)
    return all(
        len(c.ids) <= view.rules.max_order and not (len(c.ids) == n > 1)
        for c in item.cites
        if isinstance(c, ProbCitation)
    )


def _fit(text: str, limit: int) -> str:
    """Keep a speech within the character limit, at a sentence boundary where possible."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    stop = cut.rfind(". ")
    return cut[: stop + 1] if stop > limit // 2 else cut.rstrip() + "…"


def _rng(view: DebaterView) -> np.random.Generator:
    """The speech's own dice: seeded by what the speaker sees, the same way for every side."""
    key = f"{view.side}|{view.phase}|{view.round}|{view.claim!r}|{view.opponent_claim!r}"
    key += "|" + ",".join(s.id for s in view.statements[:8])
    return np.random.default_rng(zlib.crc32(key.encode()))


def _opponent_cites(view: DebaterView) -> tuple[list[str], list[list[str]]]:
    """The statements and the probabilities the other side cited in its last speech."""
    last = next((t for t in reversed(view.transcript) if t.speaker != view.side), None)
    if last is None:
        return [], []
    ok = [c for c in last.citations if c.status == "ok"]
    return [c.ids[0] for c in ok if c.kind == "statement"], [c.ids for c in ok if c.kind == "prob"]


def answer(view: DebaterView, an: Analysis, oracle: Oracle) -> list[tuple[int, str, Item]]:
    """What the other side's last speech left out, as (effect, kind, item).

    Two statements cited by text are tested by their joint probability (paraphrases hold
    together, negations do not); a pair cited inside a planted-looking group by the group's
    triple. Every built-in asks the same queries here and keeps what points its way.
    """
    stated, probs = _opponent_cites(view)
    out: list[tuple[int, str, Item]] = []
    for x, y in zip(stated[::2], stated[1::2], strict=False):
        if x == y or oracle.check([x, y]) is not None or x not in an.index or y not in an.index:
            continue
        oracle.prob([x, y])
        i, j = an.index[x], an.index[y]
        lift = float(an.lift[i, j])
        if lift < math.log(0.9):
            out.append((-1, "pair", _pair_item(an, i, j)))
        elif lift > TOGETHER_LIFT:
            out.append((+1, "pair", _pair_item(an, i, j)))
    cited = {frozenset(ids) for ids in probs}
    for g in an.groups:
        if frozenset(g.ids) in cited or not any(frozenset(ids) in cited for ids, _ in g.pairs):
            continue
        if oracle.check(g.ids) is not None:
            continue
        oracle.prob(g.ids)
        out.append((-1 if g.skew < -GROUP_SKEW else +1, "group", _group_item(g)))
    return out


def c_ids(c: Citation) -> list[str]:
    return [c.id] if isinstance(c, StatementCitation) else list(c.ids)


def chosen_cites(chosen: list[Item]) -> list[Citation]:
    return [c for it in chosen for c in it.cites]


def _quota(an: Analysis, want: int, rng: np.random.Generator) -> dict[str, int]:
    """How many items of each kind a speech of `want` citations makes: drawn from what the
    world offers every side alike (its groups), never from which side speaks or what it
    argues, so that the mix of a speech tells nothing."""
    groups = 1 if an.groups and want >= 3 else 0
    if an.groups and want >= 6:
        groups += int(rng.integers(0, 2))
    words = int(rng.integers(0, 2)) if want - 2 * groups >= 2 else 0
    return {"group": groups, "words": words, "pair": max(want - 2 * (groups + words), 0)}


def usable(view: DebaterView, an: Analysis, move: Move) -> bool:
    """Whether a move argues this claim without contradicting it."""
    if not move.gate(an):
        return False
    direction = direction_of(view, an)
    if move.effect:
        return move.effect == direction
    # "nearer the product than the other side" must be true of the claim
    p = an.independence
    return p > 0 and abs(safe_log(view.claim / p)) < abs(safe_log(view.opponent_claim / p))


def speak(
    view: DebaterView,
    an: Analysis,
    answers: list[tuple[int, str, Item]],
    moves: list[Move],
) -> Argument:
    """One speech: `want` citations drawn the same way for every side, each kind filled
    first with answers to the other side and the strategy's `moves` that point the way of
    the claim, then with plain facts that argue neither way."""
    rng = _rng(view)
    k = view.rules.citations_per_turn
    # How many citations, and how many items of each kind: drawn the same way for every
    # side, then each kind filled with the strategy's evidence of that kind.
    want = int(rng.integers(max(1, k - 2), k + 1)) if k else 0
    quota = _quota(an, want, rng)
    direction = direction_of(view, an)
    done = _already(view)
    stated, probs = _opponent_cites(view)
    theirs = set(stated).union(*map(set, probs)) if probs or stated else set()
    chosen: list[Item] = []

    def take(kind: str, items: list[Item]) -> None:
        items = [
            it
            for it in items
            if _citable(view, it) and not all(frozenset(c_ids(c)) in done for c in it.cites)
        ]
        # The strongest few, in a seeded order (so two sides that cite the same kind of
        # evidence at once do not cite the same items), touching the other side's first.
        window = items[:WINDOW]
        noise = rng.uniform(0, WINDOW / 2, size=len(window))
        score = [r + noise[r] - (WINDOW if it.key & theirs else 0) for r, it in enumerate(window)]
        for r in np.argsort(score, kind="stable"):
            it = window[int(r)]
            cited = {frozenset(c_ids(c)) for c in chosen_cites(chosen)}
            fresh = not any(frozenset(c_ids(c)) in cited for c in it.cites)
            if quota[kind] > 0 and fresh and all(it.key != c.key for c in chosen):
                chosen.append(it)
                quota[kind] -= 1

    for kind in KINDS:
        for effect, what, item in answers:
            if effect == direction and what == kind:
                take(kind, [item])
        for move in moves:
            if move.kind == kind:
                take(kind, move.items(an))
    # What is left is filled with plain facts of the same kinds that argue neither way.
    take("group", _groups("plain", "antis", "traps")(an))
    take("words", [_words_item(an, i, j) for i, j in an.flat[:BUILD]])
    quota["pair"] += 2 * (quota["group"] + quota["words"])
    take("pair", [_pair_item(an, i, j) for i, j in an.flat[:BUILD]])
    if not chosen:
        quota["pair"] = max(quota["pair"], 1)
        take("pair", [
            Item(frozenset([s]), [ProbCitation(ids=[s], claimed=float(f"{p:.6g}"))],
                 f"P({s}) = {fmt(p)}.")
            for s, p in sorted(an.single.items(), key=lambda kv: kv[1])
        ])  # fmt: skip
    return compose(view, an, chosen, rng)


def compose(
    view: DebaterView, an: Analysis, chosen: list[Item], rng: np.random.Generator
) -> Argument:
    """The speech's words around the chosen evidence, in a seeded order and to a seeded
    length that follows the citation count alone."""
    n = len(an.ids)
    direction = direction_of(view, an)
    frame = FRAME[direction] if view.opponent_claim != view.claim else ALONE[direction]
    intro, close = (x.format(o=fmt(view.opponent_claim)) for x in frame)
    lines = [
        f"P(Z) is about {fmt(view.claim)}. Multiplying the {n} statement"
        f"{'' if n == 1 else 's'}' own probabilities gives {fmt(an.independence)}, and "
        f"my claim is {relation(view.claim, an.independence)} that product.",
        intro,
    ]
    # The evidence in a seeded order, so the order of its kinds tells nothing either.
    chosen = [chosen[int(r)] for r in rng.permutation(len(chosen))]
    lines += [it.text for it in chosen]
    limit = view.rules.char_limit
    # A seeded length for the whole speech, from its citation count alone: fillers make
    # up the difference, so length tells nothing the citation count does not.
    base = len(lines[0]) + len(close) + 110
    cites = chosen_cites(chosen)
    target = min(base + PER_CITE * len(cites) + rng.uniform(60, 220), 0.97 * limit)
    size = sum(len(x) + 1 for x in lines) + len(close)
    for filler in rng.permutation(len(FILLERS)):
        extra = FILLERS[int(filler)]
        if size + len(extra) + 1 <= target:
            lines.append(extra)
            size += len(extra) + 1
    lines.append(close)
    return Argument(
        text=_fit(" ".join(lines), limit), citations=cites[: view.rules.citations_per_turn]
    )
