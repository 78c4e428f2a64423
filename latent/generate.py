"""The world generator: a seeded mix of families, planted counterexamples and independents.

`generate_world` is deterministic: the same seed and options give a byte-identical
`World.to_json()`. Statement ids ("s0001", ...) are a seeded permutation across all blocks,
so neither ids nor their order give away which statements form a family, a flip or a trap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import product
from typing import Any

import numpy as np

from latent.decoder import BuiltinDecoder, Decoder
from latent.errors import LatentError
from latent.families import (
    DEFAULT_LENGTH_SCALE,
    DEFAULT_NOISE,
    DEFAULT_P_RANGE,
    family_block,
    flip_positions,
    fresh_text,
    independent_block,
    max_flips,
    neighbourhood,
    path,
)
from latent.plant import d4_block, parity_block
from latent.shadow import with_hidden
from latent.world import Block, DiscreteBlock, World, WorldMeta

GENERATOR = "pzjudge.latent.generate"
#: 2: every text unique, negations worded like ordinary statements, trap texts decoded.
VERSION = 2
MAX_STATEMENTS = 2000
#: Smallest family and smallest counterexample block (a D4 block has exactly 3 statements).
MIN_FAMILY = 3
MIN_COUNTEREXAMPLE = 3
#: Share of the statements left after counterexamples that families aim to take.
FAMILY_SHARE = 0.6
#: Largest average family size the generator aims for; the rest become independents.
MAX_MEAN_FAMILY = 40
#: Independent statements are stored in blocks of at most this many (identity covariance).
INDEPENDENT_CHUNK = 50
#: Latent step between consecutive path points: small enough that most steps change at most
#: one slot of the sentence, and adjacent correlation stays >= 0.9.
PATH_STEP = (0.12, 0.25)
NEIGHBOURHOOD_RADIUS = (0.2, 0.45)
PARITY_SIZES = (3, 6)
#: Chance that all three statements of a planted "impossible" D4 block hold after all, so
#: that P(Z) > 0 (see _soften); the outcome that carries it. Parity blocks mix in the same
#: weight of the uniform distribution (see _soften_parity).
D4_EPS = (0.004, 0.03)
ALL_OUTCOME = "all"
#: How counterexample statements are worded: "themes" says each as a set of outcomes of a
#: theme (a die, a card, coins: a block reads as a block, which teaches); "decoded" decodes
#: each at its own random latent point like an independent statement, so that nothing in the
#: words sets a trap apart from the statements around it (nor a trap from an innocent twin).
TRAP_TEXTS = ("themes", "decoded")
#: Worlds of at least this many statements default to decoded trap texts (the debate and
#: hard presets); smaller ones (the practice preset) keep the themes.
DECODED_TRAPS_FROM = 40

#: Four-outcome themes for D4 blocks: a statement is a set of outcomes, said in words.
D4_THEMES: tuple[tuple[str, tuple[str, str, str, str]], ...] = (
    ("the mystery animal is", ("a husky", "a wolf", "a fox", "a coyote")),
    ("the four-sided die shows", ("1", "2", "3", "4")),
    ("the card drawn from the pile is", ("a heart", "a diamond", "a club", "a spade")),
    ("the fruit in the closed box is", ("an apple", "a pear", "a plum", "a peach")),
    ("the missing chess piece is", ("a knight", "a bishop", "a rook", "a queen")),
    ("the prize is behind", ("the red door", "the blue door", "the green door", "the gold door")),
    ("the spinner stops on", ("north", "east", "south", "west")),
    ("the new bicycle is painted", ("red", "blue", "green", "black")),
)
#: Themes for parity blocks; {k} is the item number.
PARITY_THEMES: tuple[str, ...] = (
    "coin {k} landed heads",
    "lamp {k} in the hallway is on",
    "switch {k} on the control panel is up",
    "card {k} in the row is face up",
    "door {k} along the corridor is open",
    "window {k} on the top floor is lit",
)


def _count(value: int, what: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise LatentError(f"{what} must be a whole number, got {value!r}")
    v = int(value)
    if v < low or (high is not None and v > high):
        span = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise LatentError(f"{what} is {v}; use a number {span}")
    return v


def generate_world(
    seed: int,
    statements: int,
    families: int = 0,
    counterexamples: int = 0,
    flips: int = 0,
    decoder: Decoder | None = None,
    hidden: int | None = None,
    trap_texts: str | None = None,
) -> World:
    """A world of exactly `statements` statements: `families` family blocks, `counterexamples`
    planted counterexample blocks and independents for the rest, with `flips` planted flips
    spread over the families. Every text is different from every other. `trap_texts` is one
    of TRAP_TEXTS; None picks "decoded" from DECODED_TRAPS_FROM statements on, else "themes".
    Raises a one-line LatentError when the counts cannot fit.

    With `hidden` (a seed), the structure a judge cannot see is drawn from its own stream
    (latent/shadow.py): every counterexample is a block of fair bits whose variant (trap,
    independent, all-together) is hidden, and each family's correlation strength is
    hidden; texts, thresholds and everything else come from `seed` alone, so two hidden
    seeds give two worlds that look the same.
    """
    seed = _count(seed, "seed", 0)
    m = _count(statements, "statements", 1, MAX_STATEMENTS)
    f = _count(families, "families", 0)
    c = _count(counterexamples, "counterexamples", 0)
    k = _count(flips, "flips", 0)
    style = (
        trap_texts
        if trap_texts is not None
        else ("decoded" if m >= DECODED_TRAPS_FROM else "themes")
    )
    if style not in TRAP_TEXTS:
        raise LatentError(f"trap_texts is {trap_texts!r}; use one of {', '.join(TRAP_TEXTS)}")
    if k > 0 and f == 0:
        raise LatentError(f"flips={k} needs families to plant them in; set families >= 1")
    need = MIN_FAMILY * f + MIN_COUNTEREXAMPLE * c
    if need > m:
        raise LatentError(
            f"{f} families and {c} counterexamples need at least {need} statements "
            f"(3 each) but statements={m}; raise statements or lower families/counterexamples"
        )
    dec: Decoder = decoder if decoder is not None else BuiltinDecoder()
    rng = np.random.default_rng(seed)

    kinds = _counterexample_kinds(c, m - MIN_FAMILY * f, rng)
    cx_total = sum(size for _, size in kinds)
    fam_sizes = _family_sizes(f, m - cx_total, k, rng)
    fam_flips = _spread_flips(fam_sizes, k, rng)

    perm = rng.permutation(m) + 1
    width = max(4, len(str(m)))
    ids = (f"s{int(p):0{width}d}" for p in perm)

    used: set[str] = set()
    blocks: list[Block] = []
    for j, (size, nflip) in enumerate(zip(fam_sizes, fam_flips, strict=True)):
        points, shape = _family_points(dec.dim, size, rng)
        blocks.append(
            family_block(
                dec,
                points,
                rng,
                flips=flip_positions(size, nflip, rng),
                name=f"family {j + 1} ({shape}, {size} statements)",
                ids=_take(ids, size),
                used=used,
            )
        )
    d4_count = 0
    parity_count = 0
    d4_order = rng.permutation(len(D4_THEMES))
    parity_order = rng.permutation(len(PARITY_THEMES))
    for kind, size in kinds:
        eps = float(rng.uniform(*D4_EPS))
        # drawn the same way whatever the block's kind, so its words never tell the kind
        decoded = _decoded_texts(dec, size, rng, used) if style == "decoded" else None
        if kind == "parity" or hidden is not None:
            plant = _Plant(_take(ids, size), eps, decoded, parity_count, parity_order)
            blocks.append(_parity(size, plant))
            parity_count += 1
        else:
            plant = _Plant(_take(ids, size), eps, decoded, d4_count, d4_order)
            blocks.append(_d4(kind == "d4_innocent", plant))
            d4_count += 1
    rest = m - sum(len(b.statements) for b in blocks)
    for start in range(0, rest, INDEPENDENT_CHUNK):
        n = min(INDEPENDENT_CHUNK, rest - start)
        blocks.append(
            independent_block(
                dec,
                rng.standard_normal((n, dec.dim)),
                rng,
                name="independent",
                ids=_take(ids, n),
                used=used,
            )
        )

    settings: dict[str, Any] = {
        "statements": m,
        "families": f,
        "counterexamples": c,
        "flips": k,
        "trap_texts": style,
        "decoder": type(dec).__name__,
        "decoder_dim": dec.dim,
        "length_scale": DEFAULT_LENGTH_SCALE,
        "noise": DEFAULT_NOISE,
        "p_range": list(DEFAULT_P_RANGE),
    }
    dseed = getattr(dec, "seed", None)
    if isinstance(dseed, int):
        settings["decoder_seed"] = dseed
    if hidden is not None:
        settings["hidden"] = _count(hidden, "hidden", 0)
    meta = WorldMeta(seed=seed, generator=f"{GENERATOR} {VERSION}", settings=settings)
    world = World(blocks=blocks, meta=meta)
    texts = [st.text for b in world.blocks for st in b.statements]
    if len(set(texts)) != len(texts):
        # themes are numbered by game and decoded texts are checked against `used`, so this
        # is a bug, never bad input
        raise LatentError("the generator repeated a statement text; please report the seed")
    return world if hidden is None else with_hidden(world, np.random.default_rng(hidden))


def _decoded_texts(dec: Decoder, n: int, rng: np.random.Generator, used: set[str]) -> list[str]:
    """n new texts decoded at independent random latent points (ordinary meaning)."""
    return [fresh_text(dec, z, rng, used)[1] for z in rng.standard_normal((n, dec.dim))]


def _take(ids: Iterator[str], n: int) -> list[str]:
    return [next(ids) for _ in range(n)]


def _counterexample_kinds(c: int, budget: int, rng: np.random.Generator) -> list[tuple[str, int]]:
    """C (kind, size) pairs mixing impossible D4, innocent D4 and parity, within `budget`."""
    kinds = [("d4", "parity", "d4_innocent")[i % 3] for i in range(c)]
    order = rng.permutation(c)
    out = []
    for i in order:
        kind = kinds[int(i)]
        lo, hi = PARITY_SIZES
        size = int(rng.integers(lo, hi + 1)) if kind == "parity" else MIN_COUNTEREXAMPLE
        out.append((kind, size))
    _shrink(out, budget)
    return out


def _shrink(items: list[tuple[str, int]], budget: int) -> None:
    """Lower the largest parity sizes (never below 3) until the total fits the budget."""
    while sum(s for _, s in items) > budget:
        j = max(range(len(items)), key=lambda i: items[i][1])
        if items[j][1] <= MIN_COUNTEREXAMPLE:
            return
        items[j] = (items[j][0], items[j][1] - 1)


def _family_sizes(f: int, budget: int, flips: int, rng: np.random.Generator) -> list[int]:
    """F varied sizes (each >= 3) summing to at most `budget`, with room for `flips` flips."""
    if f == 0:
        return []
    mean = int(np.clip(round(FAMILY_SHARE * budget / f), MIN_FAMILY, MAX_MEAN_FAMILY))
    lo, hi = max(MIN_FAMILY, mean // 2), max(MIN_FAMILY, (3 * mean) // 2)
    sizes = [int(s) for s in rng.integers(lo, hi + 1, size=f)]
    while sum(sizes) > budget:
        j = int(np.argmax(sizes))
        sizes[j] -= 1
    spare = budget - sum(sizes)
    j = 0
    while sum(max_flips(s) for s in sizes) < flips and spare > 0:
        # Grow the families that are one statement short of another flip first.
        j = min(range(f), key=lambda i: ((sizes[i] + 1) % 3 != 0, i))
        sizes[j] += 1
        spare -= 1
    capacity = sum(max_flips(s) for s in sizes)
    if flips > capacity:
        raise LatentError(
            f"flips={flips} do not fit: at most {capacity} fit in {f} families here "
            "(one flip per 3 family statements); lower flips or raise statements"
        )
    return sizes


def _spread_flips(sizes: list[int], flips: int, rng: np.random.Generator) -> list[int]:
    """Spread flips over families in proportion to what each can take, in a seeded order."""
    counts = [0] * len(sizes)
    caps = [max_flips(s) for s in sizes]
    order = [int(i) for i in rng.permutation(len(sizes))]
    for _ in range(flips):
        open_ = [i for i in order if counts[i] < caps[i]]
        j = min(open_, key=lambda i: counts[i] / caps[i])
        counts[j] += 1
    return counts


def _family_points(dim: int, n: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Latent points of one family: a short straight path (2/3) or a neighbourhood (1/3)."""
    start = rng.standard_normal(dim)
    if rng.random() < 2 / 3:
        direction = rng.standard_normal(dim)
        direction /= np.linalg.norm(direction)
        step = rng.uniform(*PATH_STEP)
        return path(start, start + direction * step * (n - 1), n), "path"
    return neighbourhood(start, n, float(rng.uniform(*NEIGHBOURHOOD_RADIUS)), rng), "neighbourhood"


def _game(j: int, size: int) -> Callable[[str], str]:
    """Sentence maker for the j-th block of a theme list of `size`: numbered past the first lap."""
    lap = j // size

    def say(clause: str) -> str:
        text = f"in game {lap + 1}, {clause}" if lap else clause
        return text[0].upper() + text[1:] + "."

    return say


def _or_list(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " or " + items[-1]


def _rebuild(block: DiscreteBlock, ids: list[str], texts: list[str] | None) -> DiscreteBlock:
    """The same block with our ids (and texts, when given), validated again."""
    data = block.model_dump()
    for i, st in enumerate(data["statements"]):
        st["id"] = ids[i]
        if texts is not None:
            st["text"] = texts[i]
    return DiscreteBlock.model_validate(data)


@dataclass(frozen=True)
class _Plant:
    """What a planted counterexample block is made from: its ids, its softening ε, the
    `decoded` texts (None: say it with a theme), and it being the j-th block of its kind, whose
    theme is `order[j]` (numbered in game 2, 3, … once the themes run out)."""

    ids: list[str]
    eps: float
    decoded: list[str] | None
    j: int
    order: np.ndarray

    @property
    def theme(self) -> int:
        return int(self.order[self.j % len(self.order)])

    def say(self, clause: str) -> str:
        return _game(self.j, len(self.order))(clause)


def _d4(innocent: bool, plant: _Plant) -> DiscreteBlock:
    """A D4 block from latent.plant, its statements said as sets of a theme's four items, or
    with the `decoded` texts when given."""
    eps = plant.eps
    # a softened block (eps > 0) is not impossible, and the reveal shows this name
    label = (
        "D4 (innocent)" if innocent else "D4 (impossible)" if eps == 0 else "D4 (nearly impossible)"
    )
    block = d4_block("tmp", innocent=innocent, name=label)
    subject, items = D4_THEMES[plant.theme]
    keys = list(block.outcomes)
    texts: list[str] | None = plant.decoded
    if texts is None and len(keys) == len(items):
        texts = []
        for st in block.statements:
            named = [items[keys.index(o)] for o in sorted(st.outcomes, key=keys.index)]
            texts.append(plant.say(f"{subject} {_or_list(named)}"))
    out = _rebuild(block, plant.ids, texts)
    return out if innocent else _soften(out, eps)


def _soften(block: DiscreteBlock, eps: float) -> DiscreteBlock:
    """Give an impossible D4 block a small chance ε that all three statements hold.

    P(all) = 0 would make P(Z) exactly 0 and every log score infinite. With an extra outcome
    (in every statement) of probability ε the pairs still look independent to within a
    factor 1 + O(ε), while P(all) = ε stays far below the independent 1/8.
    """
    data = block.model_dump()
    data["outcomes"] = {k: v * (1.0 - eps) for k, v in data["outcomes"].items()}
    data["outcomes"][ALL_OUTCOME] = eps
    for st in data["statements"]:
        st["outcomes"].append(ALL_OUTCOME)
    return DiscreteBlock.model_validate(data)


def _parity(m: int, plant: _Plant) -> DiscreteBlock:
    """A parity block from latent.plant; "item k is on" texts when statement k is bit k, or
    the `decoded` texts when given."""
    block = parity_block(m, "tmp", name=f"parity ({m} statements)")
    bits = _bit_of_each(block)
    texts: list[str] | None = plant.decoded
    if texts is None and bits is not None:
        theme = PARITY_THEMES[plant.theme]
        texts = [plant.say(theme.format(k=b + 1)) for b in bits]
    out = _rebuild(block, plant.ids, texts)
    eps = plant.eps
    return _soften_parity(out, eps) if eps > 0 and bits is not None else out


def _soften_parity(block: DiscreteBlock, eps: float) -> DiscreteBlock:
    """Mix a parity block with weight ε of the uniform distribution over all bit strings.

    Both parts give every set of at most m−1 statements probability 2^−size, so the mixture
    still looks exactly independent to order m−1; P(all) becomes ε·2^−m instead of 0.
    """
    data = block.model_dump()
    m = len(next(iter(data["outcomes"])))
    strings = ["".join(b) for b in product("01", repeat=m)]
    parity = data["outcomes"]
    data["outcomes"] = {o: (1 - eps) * parity.get(o, 0.0) + eps / 2**m for o in strings}
    bit = _bit_of_each(block) or list(range(m))
    for st, b in zip(data["statements"], bit, strict=True):
        st["outcomes"] = [o for o in strings if o[b] == "1"]
    return DiscreteBlock.model_validate(data)


def _bit_of_each(block: DiscreteBlock) -> list[int] | None:
    """If outcomes are 0/1 strings and statement i is "bit b_i is 1", the b_i; else None."""
    keys = list(block.outcomes)
    width = len(keys[0])
    if any(len(key) != width or set(key) - {"0", "1"} for key in keys):
        return None
    out = []
    for st in block.statements:
        have = set(st.outcomes)
        match = [b for b in range(width) if have == {key for key in keys if key[b] == "1"}]
        if not match:
            return None
        out.append(match[0])
    return out if len(set(out)) == len(out) else None
