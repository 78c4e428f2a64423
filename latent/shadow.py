"""Shadow worlds: hidden structure that leaves everything shown for free unchanged.

A liar's claim tells nothing only if, given everything the judge sees before the debate
(statement texts, their own probabilities, their product, the preset), the true P(Z) and
the lie are exchangeable. So a world's randomness is split in two:

- *visible*: texts, which statements form a family or a planted block, flips, thresholds
  (hence every statement's own probability): drawn by `latent.generate` from the seed;
- *hidden*: what changes P(all) but no single statement's probability: how strongly each
  Gaussian block is correlated (Σ → λΣ + (1−λ)·diag Σ, λ ~ U(0, 1), which keeps every
  variance and so every singleton), and which of three variants each planted block of
  m fair bits is (`VARIANTS`: every set of fewer than m statements has probability 2^-size
  in all three; P(all) is ε·2^-m, 2^-m or 2^-(m-1)).

`deal_pair` draws two hidden structures i.i.d. for one visible part, keeps them when their
P(Z)s differ by at least the lie factor, and lets a coin say which one is real. The other is
the *shadow*: the liar claims its P(Z). The pair's distribution is symmetric, so truth and
lie are exchangeable given the visible part, and any rule that looks only at it (lower
claim, nearer the product, …) picks the honest side half the time.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from itertools import combinations, product
from typing import Literal

import numpy as np

from latent.pz import WorldPZ, world_pz
from latent.world import Block, DiscreteBlock, DiscreteStatement, GaussianBlock, World

Variant = Literal["low", "independent", "high"]
VARIANTS: tuple[Variant, ...] = ("low", "independent", "high")
#: Range of the mixing weight λ of a Gaussian block's correlations (1: as generated).
LAMBDA_RANGE = (0.0, 1.0)
#: Weight ε of the uniform distribution mixed into the "low" variant, so P(all) > 0.
EPS_RANGE = (0.004, 0.03)
#: Largest planted block that is re-planted (2^m outcomes are enumerated).
MAX_BITS = 12
COV_DECIMALS = 10
#: Hidden pairs tried per visible part before `deal_pair` gives up.
TRIES = 32


def mix(block: GaussianBlock, lam: float, name: str | None = None) -> GaussianBlock:
    """The block with covariance λΣ + (1−λ)·diag Σ: the same variances, hence the same
    probability for every single statement, and correlations scaled by λ. Positive
    definite whenever Σ is (a convex combination of two such matrices). A new, validated
    block (a copy would keep the cached matrices of the old one)."""
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lambda must be in [0, 1], got {lam}")
    cov = np.asarray(block.covariance, dtype=float)
    d = np.diag(cov).copy()
    out = np.round(lam * cov, COV_DECIMALS)
    out[np.diag_indices_from(out)] = d
    data = block.model_dump()
    data["covariance"] = out.tolist()
    if name is not None:
        data["name"] = name
    return GaussianBlock.model_validate(data)


def bit_positions(block: DiscreteBlock) -> list[int] | None:
    """If the block is m fair bits (outcomes are 0/1 strings of width m, statement i is
    "bit b_i is 1", every set of fewer than m statements has probability 2^-size), the
    b_i; else None. Such a block can be re-planted without changing any of that."""
    m = len(block.statements)
    keys = list(block.outcomes)
    if not 2 <= m <= MAX_BITS or any(len(k) != m or set(k) - {"0", "1"} for k in keys):
        return None
    bits = []
    for st in block.statements:
        have = set(st.outcomes)
        match = [b for b in range(m) if have == {k for k in keys if k[b] == "1"}]
        if len(match) != 1:
            return None
        bits.append(match[0])
    if len(set(bits)) != m:
        return None
    probs = np.array([block.outcomes[k] for k in keys])
    ones = np.array([[k[b] == "1" for k in keys] for b in range(m)])
    for size in range(1, m):
        for sub in combinations(range(m), size):
            p = float(probs[ones[list(sub)].all(axis=0)].sum())
            if abs(p - 2.0**-size) > 1e-9:
                return None
    return bits


def planted_outcomes(m: int, variant: Variant, eps: float = 0.0) -> dict[str, float]:
    """Outcome probabilities over m-bit strings for a planted variant.

    "high": uniform on the strings whose number of ones has the parity of m (all-ones is
    one of them): P(all) = 2^-(m-1). "independent": uniform on all 2^m strings: 2^-m.
    "low": uniform on the other parity (no all-ones), mixed with weight ε of the uniform
    distribution: P(all) = ε·2^-m. In each, every set of fewer than m bits is uniform, so
    every k-way probability with k < m is 2^-k.
    """
    strings = ["".join(s) for s in product("01", repeat=m)]
    same = [s for s in strings if s.count("1") % 2 == m % 2]
    other = [s for s in strings if s.count("1") % 2 != m % 2]
    if variant == "high":
        return dict.fromkeys(same, 1.0 / len(same))
    if variant == "independent":
        return dict.fromkeys(strings, 1.0 / len(strings))
    base = dict.fromkeys(other, (1.0 - eps) / len(other))
    return {s: base.get(s, 0.0) + eps / len(strings) for s in strings if base.get(s, 0) or eps}


def planted_variant(block: DiscreteBlock) -> Variant | None:
    """Which variant a block of m fair bits is, read from P(all m): "low" below half of
    2^-m (a trap), "high" above 1.5 times it, else "independent"; None for any other block.
    What a reveal tells the player about the block, after the answer."""
    bits = bit_positions(block)
    if bits is None:
        return None
    m = len(bits)
    p_all = sum(p for k, p in block.outcomes.items() if all(k[b] == "1" for b in bits))
    if p_all < 0.5 * 2.0**-m:
        return "low"
    return "high" if p_all > 1.5 * 2.0**-m else "independent"


_NAMES: dict[Variant, str] = {
    "low": "planted trap: every smaller group fair, all {m} rarely together",
    "independent": "planted block: {m} independent fair bits",
    "high": "planted block: every smaller group fair, all {m} together twice as often",
}


def replant(block: DiscreteBlock, variant: Variant, eps: float = 0.0) -> DiscreteBlock:
    """The same statements (ids, texts, bit of each) on the `variant`'s outcomes. Needs a
    block `bit_positions` accepts (ValueError otherwise)."""
    bits = bit_positions(block)
    if bits is None:
        raise ValueError("only a block of m fair bits can be re-planted")
    m = len(bits)
    outcomes = planted_outcomes(m, variant, eps)
    return DiscreteBlock(
        name=_NAMES[variant].format(m=m),
        trap="parity" if variant == "low" else None,
        outcomes=outcomes,
        statements=[
            DiscreteStatement(id=st.id, text=st.text, outcomes=[o for o in outcomes if o[b] == "1"])
            for st, b in zip(block.statements, bits, strict=True)
        ],
    )


def has_hidden(world: World) -> bool:
    """Whether `with_hidden` can change anything: a correlated Gaussian block or a block of
    fair bits. Without either, P(Z) is fixed by what is shown and no lie can hide."""
    return any(
        _correlated(b) if isinstance(b, GaussianBlock) else bit_positions(b) is not None
        for b in world.blocks
    )


def _correlated(block: GaussianBlock) -> bool:
    cov = np.asarray(block.covariance, dtype=float)
    return bool(np.any(cov - np.diag(np.diag(cov))))


def with_hidden(world: World, rng: np.random.Generator, *, replant_bits: bool = True) -> World:
    """The world with a fresh hidden structure drawn from the prior: λ ~ U(LAMBDA_RANGE) for
    every correlated Gaussian block, and (with `replant_bits`) a uniform variant and an
    ε ~ U(EPS_RANGE) for every block of fair bits. Everything visible stays as it was."""
    blocks: list[Block] = []
    for b in world.blocks:
        if isinstance(b, GaussianBlock):
            if not _correlated(b):
                blocks.append(b)
                continue
            lam = float(rng.uniform(*LAMBDA_RANGE))
            name = f"{b.name or 'Gaussian block'}, correlations x{lam:.2f}"
            blocks.append(mix(b, lam, name))
            continue
        variant = VARIANTS[int(rng.integers(len(VARIANTS)))]
        eps = float(rng.uniform(*EPS_RANGE))
        ok = replant_bits and bit_positions(b) is not None
        blocks.append(replant(b, variant, eps) if ok else b)
    return World(blocks=blocks, meta=world.meta)


def _log10(res: WorldPZ) -> float:
    return res.log10_pz if res.log10_pz is not None else -math.inf


def far_enough(a: WorldPZ, b: WorldPZ, factor: float) -> bool:
    """Whether two P(Z)s differ by at least `factor` (a zero and a non-zero always do)."""
    la, lb = _log10(a), _log10(b)
    if la == lb:
        return False
    return abs(la - lb) >= math.log10(factor)


@dataclass
class Pair:
    """A dealt pair: the real world, its shadow, both P(Z)s, and the hidden pairs tried."""

    real: World
    shadow: World
    truth: WorldPZ
    lie: WorldPZ
    tries: int


def deal_pair(
    make: Callable[[int], World], rng: np.random.Generator, factor: float, tries: int = TRIES
) -> Pair | None:
    """Draw hidden seeds two at a time, build both worlds with `make(hidden_seed)` (the same
    visible part each time), keep the first pair whose P(Z)s differ by at least `factor`,
    and let a coin choose the real one. None when no pair in `tries` differs enough (the
    caller then draws another visible part): the rule is symmetric in the two draws, so
    the pair kept is exchangeable."""
    for t in range(tries):
        h = [int(x) for x in rng.integers(0, 2**62, size=2)]
        worlds = [make(h[0]), make(h[1])]
        pzs = [world_pz(w) for w in worlds]
        if far_enough(pzs[0], pzs[1], factor):
            real = int(rng.integers(2))
            return Pair(worlds[real], worlds[1 - real], pzs[real], pzs[1 - real], t + 1)
    return None


def shadow_of(
    world: World,
    rng: np.random.Generator,
    factor: float,
    tries: int = TRIES,
    *,
    truth: WorldPZ | None = None,
) -> tuple[World, WorldPZ] | None:
    """A shadow of a world that has no generator (a file): its hidden structure re-drawn
    (`with_hidden`) until P(Z) differs by at least `factor`; None if it never does (a world
    without correlated Gaussian blocks or fair-bit blocks has nothing to re-draw).

    Weaker than `deal_pair`: the file is the real world and only the shadow is drawn, so
    the two are not exchangeable (e.g. a file's strongly correlated family usually has a
    larger P(all) than a re-drawn one, whose λ is below 1). `truth` is the world's own
    `world_pz` when the caller has it already (on a huge world it costs seconds).
    """
    if truth is None:
        truth = world_pz(world)
    for _ in range(tries):
        shadow = with_hidden(world, rng)
        pz = world_pz(shadow)
        if far_enough(truth, pz, factor):
            return shadow, pz
    return None


def deal_world(
    generate: Callable[[int, int], World],
    seed: int,
    factor: float,
    *,
    redraws: int = 8,
    tries: int = TRIES,
) -> Pair | None:
    """A generated round's real world and its shadow: `generate(visible_seed, hidden_seed)`
    makes a world; the first visible seed is `seed`, and when no hidden pair of a visible
    part differs by `factor` another visible seed is drawn (up to `redraws` in all; the
    choice of visible part depends on the two hidden draws only symmetrically). None when
    the worlds have no hidden structure at all (see `has_hidden`) or nothing was found.
    Deterministic in (seed, factor)."""
    rng = np.random.default_rng([seed, 0x5AD0])
    vseed = seed
    for _ in range(redraws):
        if not has_hidden(generate(vseed, 0)):
            return None
        pair = deal_pair(partial(generate, vseed), rng, factor, tries)
        if pair is not None:
            return pair
        vseed = int(rng.integers(0, 2**31))
    return None
