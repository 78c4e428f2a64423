"""M_Z: decoders that turn a point of the latent space into an English statement.

The built-in decoder is offline, deterministic under its seed and smooth: the nearest topic
anchor picks a topic (latent/data/topics.toml), and each slot (subject, verb, polar pair,
tail, lead, wording, negation style) picks one of an ordered list of variants from the
projection of (z - anchor) on a fixed direction. Neighbouring variants are paraphrases or small
changes, so a small step in latent space changes a slot or two, and a long straight path
eventually switches topic.

Every topic is a polar claim: a pair (claim, opposite) of antonyms. Half of the latent space
words its sentence plainly ("a husky is a large dog") and half with a negation around the
opposite ("a husky is by no means a small dog", "it is a myth that a husky is a small dog"):
the same meaning. `negate` keeps every slot and swaps the meaning ("a husky is a small dog",
"a husky is by no means a large dog"). So an ordinary statement and a flip draw their words
from the same distribution, and no word finds flips; only reading for meaning does. Truth never
comes from a decoder; it comes from the world model.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from importlib.resources import files
from typing import Protocol, runtime_checkable

import numpy as np

from latent.errors import LatentError

#: Latent distance between two consecutive variant boundaries along a slot direction: the
#: content slots (subject, verb, pair, tail) change often along a path, so neighbours differ
#: in a word or two; the lead, the wording and its style change half as often, so a family
#: reads alike over several steps.
SLOT_STEP = 0.15
FRAME_STEP = 0.3
_STEPS = np.array([SLOT_STEP] * 4 + [FRAME_STEP] * 3)


@runtime_checkable
class Decoder(Protocol):
    """Anything that maps a latent point of dimension `dim` to a sentence (and its negation)."""

    dim: int

    def decode(self, z: np.ndarray, *, negate: bool = False) -> str:
        """The statement at `z`; with `negate`, one of the opposite meaning."""
        ...


@dataclass(frozen=True)
class Verb:
    """A verb group and its negated forms (each a drop-in replacement for `plain`)."""

    plain: str
    negations: tuple[str, ...]


#: Leads that keep the claim of the sentence they lead. The empty lead is repeated so that
#: about half of all sentences have none.
LEADS: tuple[str, ...] = (
    "",
    "",
    "",
    "",
    "It is true that ",
    "It is a fact that ",
    "It is well known that ",
    "Most people know that ",
    "Most sources agree that ",
    "Everyone knows that ",
)

#: Leads that negate the sentence they lead: one of the negation styles.
NEGATING_LEADS: tuple[str, ...] = (
    "It is not true that ",
    "It is false that ",
    "It is a myth that ",
    "Nobody believes that ",
    "No one would say that ",
    "It is wrong to say that ",
    "It is untrue that ",
    "There is no truth in the claim that ",
)

#: A style slot that stands for "negate with a negating lead" rather than in the verb.
LEAD_STYLE = ""

_COPULAS = frozenset({"is", "are", "was", "were"})


def _negations(spec: str, habitual: bool) -> tuple[str, ...]:
    """The negated forms of a verb spec ("is", "can", "makes|make", "built|build|past").

    Every form keeps the meaning "not <verb>" (with "rarely"/"seldom" only for habitual,
    generic claims, where they mean "as a rule not").
    """
    parts = spec.split("|")
    if len(parts) == 1 and spec in _COPULAS:
        out = [f"{spec} not", f"{spec} hardly", f"{spec} by no means", f"{spec} in no way"]
        return (
            (*out, f"{spec} rarely", f"{spec} seldom", f"{spec} never") if habitual else tuple(out)
        )
    if spec == "can":
        out = ["cannot", "can hardly", "can never", "can in no way"]
        return (*out, "can rarely", "can seldom") if habitual else tuple(out)
    if len(parts) == 3 and parts[2] == "past":
        surface, base = parts[0], parts[1]
        return (f"did not {base}", f"never {surface}", f"failed to {base}")
    if len(parts) == 2:
        surface, base = parts
        third = surface != base
        do, fail = ("does", "fails") if third else ("do", "fail")
        out = [f"{do} not {base}", f"never {surface}", f"{fail} to {base}"]
        if habitual:
            out += [f"rarely {surface}", f"seldom {surface}", f"hardly ever {surface}"]
        return tuple(out)
    raise LatentError(
        f"verb {spec!r} in the topic table: use is/are/was/were, can, 'makes|make' "
        "or 'built|build|past'"
    )


@dataclass(frozen=True)
class Reading:
    """The discrete content of a sentence: one variant per slot, the wording and its style.

    `negated` says the sentence is worded with a negation (a negated verb or a negating
    lead) around the opposite side of its polar pair, so it means the same as the plain
    wording; it is chosen by the latent point alone, never by whether the statement is a
    flip.
    """

    topic: int
    subject: int
    verb: int
    pair: int
    tail: int
    lead: int
    negated: bool
    style: int

    @property
    def slots(self) -> tuple[int, ...]:
        return (self.subject, self.verb, self.pair, self.tail, self.lead, int(self.negated))


@dataclass(frozen=True)
class Topic:
    """A polar claim and its variants: subject, verb, pair (claim, opposite), tail.

    An ordinary statement says the claim (pair[0]) or the negation of the opposite
    (pair[1]); a flip says the opposite or the negation of the claim.
    """

    domain: str
    name: str
    habitual: bool
    subjects: tuple[str, ...]
    verbs: tuple[Verb, ...]
    pairs: tuple[tuple[str, str], ...]
    tails: tuple[str, ...]

    def styles(self, verb: int) -> tuple[str, ...]:
        """The negation styles of a verb: its negated forms, then the negating lead twice."""
        return (*self.verbs[verb].negations, LEAD_STYLE, LEAD_STYLE)

    def render(self, r: Reading, negate: bool = False) -> str:
        """The sentence of a reading; `negate` says the opposite (what a flip says)."""
        opposite = negate != r.negated
        complement = self.pairs[r.pair][1 if opposite else 0]
        verb = self.verbs[r.verb]
        lead = LEADS[_tri(r.lead, len(LEADS))]
        verb_text = verb.plain
        if r.negated:
            style = self.styles(r.verb)[_tri(r.style, len(self.styles(r.verb)))]
            if style == LEAD_STYLE:
                lead = NEGATING_LEADS[_tri(r.lead, len(NEGATING_LEADS))]
            else:
                verb_text = style
        body = f"{self.subjects[r.subject]} {verb_text} {complement}{self.tails[r.tail]}."
        out = lead + body
        return out[0].upper() + out[1:]


def _load_topics() -> tuple[Topic, ...]:
    """The topic table from latent/data/topics.toml (see its header for the rules)."""
    raw = tomllib.loads(files("latent").joinpath("data/topics.toml").read_text("utf-8"))
    out = []
    for t in raw["topic"]:
        habitual = bool(t["habitual"])
        out.append(
            Topic(
                domain=t["domain"],
                name=t["name"],
                habitual=habitual,
                subjects=tuple(t["subjects"]),
                verbs=tuple(Verb(v.split("|", 1)[0], _negations(v, habitual)) for v in t["verbs"]),
                pairs=tuple((p[0], p[1]) for p in t["pairs"]),
                tails=tuple(t["tails"]),
            )
        )
    return tuple(out)


TOPICS: tuple[Topic, ...] = _load_topics()
#: Latent directions per topic: subject, verb, pair, tail, lead, wording, style.
N_DIRECTIONS = 7


def _tri(k: int, n: int) -> int:
    """Fold integer cells onto 0..n-1 back and forth (0,1,..,n-1,n-2,..,1,0,..).

    Adjacent cells always give adjacent variants, so a small move never jumps from the last
    variant to the first.
    """
    if n == 1:
        return 0
    period = 2 * (n - 1)
    r = k % period
    return r if r < n else period - r


class BuiltinDecoder:
    """Offline template decoder: deterministic under `seed`, smooth in the latent point."""

    def __init__(self, seed: int = 0, dim: int = 8) -> None:
        if dim < 2:
            raise LatentError(f"decoder dim is {dim}; use a latent dimension of at least 2")
        self.seed = seed
        self.dim = dim
        rng = np.random.default_rng([seed, 20240817])
        n = len(TOPICS)
        a = rng.standard_normal((n, dim))
        # Anchors on the shell where N(0, I) points live, so every topic gets a fair share.
        self._anchors = a / np.linalg.norm(a, axis=1, keepdims=True) * math.sqrt(dim)
        d = rng.standard_normal((n, N_DIRECTIONS, dim))
        self._dirs = d / np.linalg.norm(d, axis=2, keepdims=True)
        self._offsets = rng.uniform(0.0, 1.0, size=(n, N_DIRECTIONS))
        # projection of each topic's anchor on its own directions, (topics, N_DIRECTIONS)
        self._dir_anchor = np.einsum("tkd,td->tk", self._dirs, self._anchors)

    @property
    def topics(self) -> tuple[Topic, ...]:
        return TOPICS

    def _point(self, z: np.ndarray) -> np.ndarray:
        p = np.asarray(z, dtype=float)
        if p.shape != (self.dim,):
            raise LatentError(
                f"latent point has shape {p.shape}; the decoder expects a vector of {self.dim}"
            )
        if not np.isfinite(p).all():
            raise LatentError("latent point has a non-finite coordinate; use finite numbers")
        return p

    def locate(self, z: np.ndarray) -> Reading:
        """The reading at z: topic, one variant per slot, the wording and its style.

        Each slot is a cell along its own direction, folded onto the variants so that
        adjacent cells give adjacent variants; the wording is the parity of its cell, so
        about half of all points (and half of the points of any long path) are worded
        with a negation.
        """
        p = self._point(z)
        # every anchor has the same norm, so the nearest is the one of largest dot product
        t = int(np.argmax(self._anchors @ p))
        topic = TOPICS[t]
        proj = self._dirs[t] @ p - self._dir_anchor[t]
        cells = np.floor(proj / _STEPS + self._offsets[t]).astype(int).tolist()
        subject, verb, pair, tail, lead, wording, style = cells
        return Reading(
            topic=t,
            subject=_tri(subject, len(topic.subjects)),
            verb=_tri(verb, len(topic.verbs)),
            pair=_tri(pair, len(topic.pairs)),
            tail=_tri(tail, len(topic.tails)),
            lead=lead,
            negated=wording % 2 == 1,
            style=style,
        )

    def topic(self, z: np.ndarray) -> Topic:
        """The topic whose anchor is nearest to z."""
        return TOPICS[self.locate(z).topic]

    def decode(self, z: np.ndarray, *, negate: bool = False) -> str:
        """A grammatical statement for z; `negate` gives one of opposite meaning (same slots)."""
        r = self.locate(z)
        return TOPICS[r.topic].render(r, negate)
