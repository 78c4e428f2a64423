"""M_Z: decoders that turn a point of the latent space into an English statement.

The built-in decoder is offline, deterministic under its seed and smooth: the nearest topic
anchor picks a sentence template, and each slot of the template picks one of an ordered list of
variants from the projection of (z - anchor) on a fixed direction. Neighbouring variants are
paraphrases or small changes of meaning, so a small step in latent space changes at most a slot
or two, and a long straight path eventually switches topic. Truth never comes from a decoder;
it comes from the world model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from latent.errors import LatentError

#: Latent distance between two consecutive variant boundaries along a slot direction.
SLOT_STEP = 0.3


@runtime_checkable
class Decoder(Protocol):
    """Anything that maps a latent point of dimension `dim` to a sentence (and its negation)."""

    dim: int

    def decode(self, z: np.ndarray, *, negate: bool = False) -> str:
        """The statement at `z`; with `negate`, the same statement negated."""
        ...


@dataclass(frozen=True)
class Topic:
    """A sentence template; `{k}` is slot k, a variant "pos|neg" carries its own negation.

    `negated` is the template of the negation; it is None when every negation is carried by
    the variants of some slot (then the template is shared).
    """

    domain: str
    name: str
    text: str
    negated: str | None
    slots: tuple[tuple[str, ...], ...]

    def render(self, choice: tuple[int, ...], negate: bool = False, lead: int = 0) -> str:
        """The sentence for one variant per slot, led by the hedge `LEADS[lead]`."""
        parts = []
        for slot, k in zip(self.slots, choice, strict=True):
            pos, _, neg = slot[k].partition("|")
            parts.append(neg if negate and neg else pos)
        template = self.negated if negate and self.negated is not None else self.text
        body = " ".join(template.format(*parts).split())
        prefix = LEADS[lead]
        if prefix and body.split(" ", 1)[0] not in _PROPER:
            body = body[0].lower() + body[1:]
        out = prefix + body
        return out[0].upper() + out[1:]


#: Sentence-level leads, ordered; each keeps the claim of the sentence it leads. The empty lead
#: is repeated so that about half of all sentences have none.
LEADS: tuple[str, ...] = (
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

#: First words that stay capitalised after a lead.
_PROPER = frozenset(
    {"Paris", "DNA", "Mount", "Iceland", "Tokyo", "Apollo", "Johannes", "Mars", "Saturn", "Jupiter"}
    | {"China's"}
)


def _t(domain: str, name: str, text: str, negated: str | None, *slots: list[str]) -> Topic:
    return Topic(domain, name, text, negated, tuple(tuple(s) for s in slots))


# Variants are ordered: neighbours differ a little (a paraphrase, a nuance), far ones more.
TOPICS: tuple[Topic, ...] = (
    # --- animals
    _t(
        "animals",
        "husky",
        "A husky is {0}, {1} dog that {2}.",
        "A husky is not {0}, {1} dog that {2}.",
        ["a large", "a big", "a fairly big", "a medium-sized", "a sturdy", "a strong"],
        ["fluffy", "furry", "thick-coated", "shaggy", "friendly", "playful"],
        [
            "looks quite like a wolf",
            "looks a lot like a wolf",
            "is very similar to a wolf",
            "resembles a wolf",
            "was bred to pull sleds",
            "loves to pull sleds in the snow",
            "is happiest in cold weather",
        ],
    ),
    _t(
        "animals",
        "honeybees",
        "Honeybees {0} honey from {1} that they {2}.",
        "Honeybees do not {0} honey from {1} that they {2}.",
        ["make", "produce", "create", "slowly make", "carefully produce", "store"],
        [
            "the nectar of flowers",
            "flower nectar",
            "nectar",
            "sweet nectar",
            "nectar and pollen",
            "plant sugars",
        ],
        [
            "gather from flowers",
            "collect from flowers",
            "collect all summer",
            "carry back to the hive",
            "bring back to the hive",
            "find in meadows",
            "find in gardens",
        ],
    ),
    _t(
        "animals",
        "octopus",
        "An octopus can {0} {1} to {2}.",
        "An octopus cannot {0} {1} to {2}.",
        ["change", "quickly change", "rapidly change", "alter", "shift", "adjust"],
        [
            "the color of its skin",
            "its skin color",
            "its color",
            "the color and texture of its skin",
            "its skin texture",
            "its body pattern",
        ],
        [
            "hide from predators",
            "blend into the rocks",
            "blend into its surroundings",
            "hide on the sea floor",
            "sneak up on crabs",
            "surprise its prey",
            "signal to other octopuses",
        ],
    ),
    _t(
        "animals",
        "elephants",
        "Elephants {0} use their trunks to {1} {2}.",
        "Elephants do not {0} use their trunks to {1} {2}.",
        ["often", "regularly", "commonly", "routinely", "usually", "typically"],
        [
            "drink water",
            "suck up water",
            "spray water on their backs",
            "spray dust on their backs",
            "pick up food",
            "pick up small objects",
            "reach high branches",
        ],
        [
            "every day",
            "many times a day",
            "on hot days",
            "in the dry season",
            "in the wild",
            "when they are young",
        ],
    ),
    _t(
        "animals",
        "penguins",
        "Penguins are {0} birds that {1} {2}.",
        "Penguins are not {0} birds that {1} {2}.",
        ["flightless", "flightless sea", "flightless marine", "ocean-going", "black-and-white"],
        ["swim", "dive", "hunt", "catch fish", "feed", "spend most of their lives"],
        [
            "in cold southern waters",
            "in icy water",
            "in the Southern Ocean",
            "near Antarctica",
            "along rocky coasts",
            "in large colonies",
        ],
    ),
    _t(
        "animals",
        "cats",
        "Cats {0} sleep {1} {2}.",
        "Cats do not {0} sleep {1} {2}.",
        ["usually", "typically", "often", "commonly", "generally"],
        [
            "for most of the day",
            "twelve hours a day",
            "more than twelve hours a day",
            "for long stretches",
            "in short naps",
            "during the day",
        ],
        [
            "in a warm spot",
            "in a sunny spot",
            "near a window",
            "on soft blankets",
            "curled up in a ball",
            "with one eye open",
        ],
    ),
    # --- food
    _t(
        "food",
        "tomatoes",
        "Ripe tomatoes are {0} {1}{2}.",
        None,
        ["usually|rarely", "typically|seldom", "mostly|rarely", "often|seldom", "generally|rarely"],
        ["red", "bright red", "deep red", "red or orange", "orange-red", "a glossy red"],
        ["", " and juicy", " and soft", " and sweet", " and a little soft", " when picked"],
    ),
    _t(
        "food",
        "bread",
        "Most bread is {0} from {1}{2}.",
        "Most bread is not {0} from {1}{2}.",
        ["made", "baked", "prepared", "produced", "usually made"],
        [
            "wheat flour",
            "flour",
            "wheat flour and water",
            "flour, water and yeast",
            "flour and yeast",
            "a yeasted dough",
            "a dough of flour and water",
        ],
        ["", " in a hot oven", " in an oven", " at home", " in bakeries", " every morning"],
    ),
    _t(
        "food",
        "chili",
        "{0} get their {1} from {2}.",
        "{0} do not get their {1} from {2}.",
        [
            "chili peppers",
            "hot peppers",
            "fresh chili peppers",
            "red chili peppers",
            "small chili peppers",
            "dried chili peppers",
        ],
        ["heat", "spicy heat", "burning taste", "fiery taste", "spiciness", "sharp bite"],
        [
            "capsaicin",
            "a chemical called capsaicin",
            "a compound called capsaicin",
            "oils near their seeds",
            "the pale ribs inside",
            "their seeds",
        ],
    ),
    _t(
        "food",
        "coffee",
        "{0} can help people {1} {2}.",
        "{0} cannot help people {1} {2}.",
        ["coffee", "a cup of coffee", "strong coffee", "black coffee", "a mug of coffee"],
        ["stay awake", "feel alert", "stay alert", "feel more awake", "focus", "wake up"],
        [
            "in the morning",
            "early in the day",
            "at work",
            "for a few hours",
            "after lunch",
            "during long drives",
        ],
    ),
    _t(
        "food",
        "rice",
        "{0} is {1} staple food {2}.",
        "{0} is not {1} staple food {2}.",
        ["rice", "white rice", "boiled rice", "steamed rice", "rice grown in flooded fields"],
        ["the main", "a main", "an important", "a major", "a common", "the most common"],
        [
            "in much of Asia",
            "across Asia",
            "in China and India",
            "in Japan",
            "in West Africa",
            "for billions of people",
        ],
    ),
    _t(
        "food",
        "cheese",
        "Cheese is made by {0} milk with {1}{2}.",
        "Cheese is not made by {0} milk with {1}{2}.",
        ["curdling", "souring", "thickening", "setting", "fermenting"],
        ["rennet", "enzymes", "rennet and salt", "bacteria", "lactic bacteria", "lemon juice"],
        [
            "",
            " and then aging it",
            " and pressing the curds",
            " and draining the whey",
            " in large vats",
            " over several days",
        ],
    ),
    # --- places
    _t(
        "places",
        "paris",
        "Paris is {0} city on the {1}, {2}.",
        "Paris is not {0} city on the {1}, {2}.",
        ["a large", "a big", "a historic", "a busy", "a beautiful", "an old"],
        ["Seine", "river Seine", "banks of the Seine", "Seine river"],
        [
            "famous for the Eiffel Tower",
            "known for the Eiffel Tower",
            "known for its museums",
            "famous for its cafes",
            "home to the Louvre",
            "the capital of France",
        ],
    ),
    _t(
        "places",
        "sahara",
        "The Sahara is {0} desert that covers {1} of {2}.",
        "The Sahara is not {0} desert that covers {1} of {2}.",
        ["a hot", "a vast", "a huge", "a dry", "a sandy", "a very dry"],
        ["much", "most", "a large part", "a third", "a huge area", "the north"],
        ["North Africa", "northern Africa", "the African continent", "Africa"],
    ),
    _t(
        "places",
        "amazon",
        "The Amazon river {0} through {1} {2}.",
        None,
        [
            "flows|does not flow",
            "runs|does not run",
            "winds|does not wind",
            "passes|does not pass",
            "travels|does not travel",
        ],
        ["the rainforest", "thick rainforest", "the jungle", "dense jungle", "Brazil"],
        [
            "to the Atlantic",
            "to the Atlantic Ocean",
            "on its way to the sea",
            "before reaching the sea",
            "for thousands of kilometers",
            "for over six thousand kilometers",
        ],
    ),
    _t(
        "places",
        "tokyo",
        "Tokyo is {0} {1} in {2}.",
        "Tokyo is not {0} {1} in {2}.",
        ["a huge", "an enormous", "a busy", "a crowded", "a modern", "a vast"],
        ["city", "capital city", "metropolis", "port city", "capital"],
        ["Japan", "eastern Japan", "Asia", "East Asia", "the Kanto region"],
    ),
    _t(
        "places",
        "everest",
        "Mount Everest is {0} mountain {1}{2}.",
        "Mount Everest is not {0} mountain {1}{2}.",
        ["the highest", "the tallest", "the loftiest", "a very high", "a famous", "an icy"],
        [
            "on Earth",
            "in the world",
            "in Asia",
            "in the Himalayas",
            "on the border of Nepal and China",
        ],
        [
            "",
            ", rising above 8,800 meters",
            ", over 8,000 meters tall",
            ", often climbed in May",
            ", with a snowy peak",
        ],
    ),
    _t(
        "places",
        "iceland",
        "Iceland is {0} island with {1} and {2}.",
        "Iceland is not {0} island with {1} and {2}.",
        ["a cold", "a volcanic", "a rugged", "a small", "a northern", "a windy"],
        ["many volcanoes", "active volcanoes", "hot springs", "geysers", "glaciers"],
        [
            "few trees",
            "long winters",
            "bright summer nights",
            "black sand beaches",
            "a small population",
        ],
    ),
    # --- science
    _t(
        "science",
        "boiling",
        "At sea level, water {0} at {1}{2}.",
        None,
        [
            "boils|does not boil",
            "starts to boil|does not start to boil",
            "comes to a boil|does not come to a boil",
            "turns to steam|does not turn to steam",
        ],
        [
            "100 degrees Celsius",
            "about 100 degrees Celsius",
            "212 degrees Fahrenheit",
            "a hundred degrees",
            "roughly 100 degrees",
        ],
        ["", " when heated", " in an open pot", " in a kettle", " under normal pressure"],
    ),
    _t(
        "science",
        "light",
        "Light {0} {1} than sound{2}.",
        None,
        [
            "travels|does not travel",
            "moves|does not move",
            "goes|does not go",
            "spreads|does not spread",
        ],
        ["much faster", "far faster", "faster", "a million times faster", "a lot faster"],
        ["", " through air", " in air", " on a stormy day", " over long distances"],
    ),
    _t(
        "science",
        "photosynthesis",
        "Green plants {0} sunlight to make {1}{2}.",
        "Green plants do not {0} sunlight to make {1}{2}.",
        ["use", "capture", "absorb", "harness", "rely on"],
        ["sugar", "sugars", "food", "their food", "energy-rich sugar", "glucose"],
        [
            "",
            " from air and water",
            " from carbon dioxide and water",
            " in their leaves",
            " during the day",
        ],
    ),
    _t(
        "science",
        "magnets",
        "{0} {1} each other {2}.",
        "{0} do not {1} each other {2}.",
        [
            "opposite magnetic poles",
            "unlike magnetic poles",
            "the north and south poles of two magnets",
            "a north pole and a south pole",
        ],
        ["attract", "pull on", "draw in", "cling to", "snap toward"],
        [
            "strongly",
            "quite strongly",
            "when they are close",
            "when brought close",
            "even through paper",
            "through thin wood",
        ],
    ),
    _t(
        "science",
        "dna",
        "DNA {0} {1} {2}.",
        None,
        [
            "carries|does not carry",
            "stores|does not store",
            "holds|does not hold",
            "encodes|does not encode",
            "contains|does not contain",
        ],
        [
            "the genetic instructions",
            "genetic instructions",
            "genetic information",
            "hereditary information",
            "the recipe",
        ],
        [
            "for living things",
            "for every living cell",
            "of most organisms",
            "passed from parents to children",
            "that cells use to make proteins",
            "used to build proteins",
        ],
    ),
    _t(
        "science",
        "ice",
        "Ice {0} on {1} water{2}.",
        None,
        [
            "floats|does not float",
            "stays afloat|does not stay afloat",
            "sits|does not sit",
            "rests|does not rest",
        ],
        ["liquid", "cold", "fresh", "still", "sea"],
        ["", ", since it is less dense", " in winter", " in lakes and ponds", " in a glass"],
    ),
    # --- history
    _t(
        "history",
        "romans",
        "The Romans built {0} {1} across {2}.",
        "The Romans did not build {0} {1} across {2}.",
        ["long", "many", "stone", "straight", "paved", "great"],
        ["roads", "aqueducts", "bridges", "roads and bridges", "walls", "forts"],
        ["their empire", "Europe", "much of Europe", "Britain", "Gaul", "North Africa"],
    ),
    _t(
        "history",
        "pyramids",
        "{0} were built {1} as tombs for {2}.",
        "{0} were not built {1} as tombs for {2}.",
        [
            "the pyramids of Giza",
            "the great pyramids",
            "the Giza pyramids",
            "the largest Egyptian pyramids",
        ],
        [
            "over 4,000 years ago",
            "more than 4,000 years ago",
            "about 4,500 years ago",
            "long ago",
            "thousands of years ago",
        ],
        ["pharaohs", "Egyptian kings", "kings", "the pharaohs", "rulers of Egypt"],
    ),
    _t(
        "history",
        "apollo",
        "Apollo 11 {0} on the Moon in {1}{2}.",
        None,
        [
            "landed|did not land",
            "touched down|did not touch down",
            "set down|did not set down",
            "arrived|did not arrive",
        ],
        ["July 1969", "1969", "the summer of 1969", "the late 1960s"],
        [
            "",
            " with two astronauts",
            ", carrying Neil Armstrong",
            ", watched by millions",
            " after four days in space",
        ],
    ),
    _t(
        "history",
        "gutenberg",
        "Johannes Gutenberg {0} {1} in {2}.",
        None,
        [
            "built|did not build",
            "developed|did not develop",
            "invented|did not invent",
            "made|did not make",
            "introduced|did not introduce",
        ],
        [
            "a printing press",
            "a movable-type printing press",
            "printing with movable type",
            "a new kind of press",
            "a metal type press",
        ],
        ["the 1400s", "the fifteenth century", "about 1440", "the 1440s", "Germany", "Mainz"],
    ),
    _t(
        "history",
        "great-wall",
        "{0} was built {1} to {2}.",
        "{0} was not built {1} to {2}.",
        [
            "the Great Wall of China",
            "the Great Wall",
            "China's Great Wall",
            "the long Great Wall of China",
        ],
        [
            "over many centuries",
            "over centuries",
            "in many stages",
            "by several dynasties",
            "across many dynasties",
        ],
        [
            "protect against invaders",
            "keep out invaders",
            "keep out raiders from the north",
            "defend the northern border",
            "guard the northern frontier",
            "control trade and travel",
        ],
    ),
    _t(
        "history",
        "industrial",
        "The Industrial Revolution {0} in {1} {2}.",
        None,
        [
            "began|did not begin",
            "started|did not start",
            "took off|did not take off",
            "got going|did not get going",
        ],
        ["Britain", "Great Britain", "England", "northern England"],
        [
            "in the 1700s",
            "in the eighteenth century",
            "around 1760",
            "with steam engines",
            "with cotton mills",
            "with new machines",
        ],
    ),
    # --- space
    _t(
        "space",
        "mars",
        "Mars is {0}, {1} planet {2}.",
        "Mars is not {0}, {1} planet {2}.",
        ["a cold", "a small", "a distant", "a dry"],
        ["dusty", "rocky", "reddish", "red", "barren"],
        [
            "with a thin atmosphere",
            "with a very thin atmosphere",
            "with polar ice caps",
            "with huge volcanoes",
            "with two small moons",
        ],
    ),
    _t(
        "space",
        "sun",
        "The Sun is {0} star that {1} {2}.",
        "The Sun is not {0} star that {1} {2}.",
        ["a medium-sized", "an ordinary", "a yellow", "an average", "a middle-aged", "a hot"],
        ["shines", "burns", "glows", "gives off light"],
        [
            "by fusing hydrogen",
            "by nuclear fusion",
            "for billions of years",
            "at the center of our solar system",
        ],
    ),
    _t(
        "space",
        "jupiter",
        "{0} is {1} planet in the solar system, {2}.",
        "{0} is not {1} planet in the solar system, {2}.",
        ["Jupiter", "the planet Jupiter", "giant Jupiter"],
        ["the largest", "the biggest", "the heaviest", "the most massive", "a giant"],
        [
            "with a Great Red Spot",
            "with a huge storm",
            "with dozens of moons",
            "with faint rings",
            "made mostly of gas",
            "made mostly of hydrogen",
        ],
    ),
    _t(
        "space",
        "tides",
        "The Moon's gravity {0} {1}{2}.",
        None,
        [
            "causes|does not cause",
            "drives|does not drive",
            "raises|does not raise",
            "produces|does not produce",
            "creates|does not create",
        ],
        ["ocean tides", "the tides", "tides", "high tides", "daily tides", "most tides"],
        ["", " on Earth", " along the coasts", " twice a day", " in the oceans"],
    ),
    _t(
        "space",
        "saturn",
        "Saturn is {0} by {1} rings made of {2}.",
        "Saturn is not {0} by {1} rings made of {2}.",
        ["surrounded", "circled", "ringed", "encircled", "wrapped"],
        ["bright", "wide", "thin", "flat", "broad", "beautiful"],
        ["ice", "ice and rock", "ice and dust", "chunks of ice", "icy particles", "rock and dust"],
    ),
)


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
        width = max(len(t.slots) for t in TOPICS) + 1  # the last direction picks the lead
        d = rng.standard_normal((n, width, dim))
        self._dirs = d / np.linalg.norm(d, axis=2, keepdims=True)
        self._offsets = rng.uniform(0.0, 1.0, size=(n, width))

    @property
    def topics(self) -> tuple[Topic, ...]:
        return TOPICS

    def _point(self, z: np.ndarray) -> np.ndarray:
        p = np.asarray(z, dtype=float)
        if p.shape != (self.dim,):
            raise LatentError(
                f"latent point has shape {p.shape}; the decoder expects a vector of {self.dim}"
            )
        if not np.all(np.isfinite(p)):
            raise LatentError("latent point has a non-finite coordinate; use finite numbers")
        return p

    def locate(self, z: np.ndarray) -> tuple[int, tuple[int, ...], int]:
        """(topic number, variant per slot, lead) at z: the discrete content of the sentence."""
        p = self._point(z)
        t = int(np.argmin(np.sum((self._anchors - p) ** 2, axis=1)))
        sizes = [len(s) for s in TOPICS[t].slots]
        sizes.append(len(LEADS))
        k = len(sizes)
        proj = self._dirs[t, :k] @ (p - self._anchors[t])
        cells = np.floor(proj / SLOT_STEP + self._offsets[t, :k]).astype(int)
        idx = [int(_tri(c, n)) for c, n in zip(cells, sizes, strict=True)]
        return t, tuple(idx[:-1]), idx[-1]

    def topic(self, z: np.ndarray) -> Topic:
        """The topic whose anchor is nearest to z."""
        return TOPICS[self.locate(z)[0]]

    def decode(self, z: np.ndarray, *, negate: bool = False) -> str:
        """A grammatical statement for z; `negate` gives its negation (same slots)."""
        t, choice, lead = self.locate(z)
        return TOPICS[t].render(choice, negate, lead)
