"""The liar's claim: the one place a round's lie (and the liar who argues it) is chosen.

Every path that deals a debate (the game, `pzjudge debate`, `pzjudge tournament`, studies)
gets its world, truth and lie from `deal_lie`, called once in `debate.rounds.deal_sides`.

The lie is the P(Z) of a *shadow world* (latent/shadow.py, docs/validity.md). A generated
round's world is one of two worlds that show the same statements and singletons and differ
only in hidden structure (how strongly each family is correlated, which variant each
planted block is); a coin picks the real one, and the liar claims the other's P(Z). The two
are exchangeable given everything shown, so no rule on where the claims sit (lower, higher,
nearer the product…) tells the honest side. A world given as such (a file) gets a shadow
with its own hidden structure re-drawn, a weaker guarantee; a world with nothing hidden
falls back to `liar_claim`.
"""

from __future__ import annotations

import json
import math
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel

from debate.builtin import LIARS, can_argue, lie_goes_up
from debate.rules import Rules
from debate.views import independence_value
from latent.pz import WorldPZ, world_pz
from latent.shadow import deal_world, shadow_of
from latent.world import World

#: A liar spec meaning "a built-in liar drawn per round, among those that can argue the lie".
RANDOM_LIAR = "random-liar"

#: Makes a round's world from its seed and a hidden seed (`latent.generate.generate_world`
#: with the round's options; hidden None: the plain draw of the seed).
WorldMaker = Callable[[int, int | None], World]


class Lie(BaseModel):
    """A debate's world and truth, the lie, and the spec that argues it."""

    #: The world the round is played in (made here when `deal_lie` got a `WorldMaker`).
    world: World
    truth: float
    log10_truth: float | None
    #: The standard error of log10_truth (0 when exact, or when the truth was given).
    log10_stderr: float = 0.0
    #: The liar's claimed P(Z).
    claim: float
    spec: str
    #: Whether the lie goes towards the independence product (False: away from it).
    toward: bool
    #: Where the claim comes from: "pair" (a generated round's shadow, exchangeable with
    #: the truth), "redrawn" (a given world's re-drawn shadow) or "fallback" (`liar_claim`).
    source: str = "fallback"


def liar_claim(
    truth: float,
    tempting: float,
    factor: float,
    rng: np.random.Generator | None = None,
    toward: bool = True,
) -> float:
    """A false P(Z) between `factor` and `factor`² times away from the truth.

    Towards the `tempting` value (what low-order reasoning suggests: independence), or away
    from it. With `rng` the distance is log-uniform in that range, so the lie is neither the
    tempting value itself nor a fixed multiple of the truth (either would tell a judge which
    claim is false); without it, exactly `factor`. A lie that would leave [0, 1] goes down.
    """
    if truth <= 0:
        return min(1.0, max(tempting, 1e-6))
    up = lie_goes_up(truth, tempting, toward)
    span = math.log10(factor) * (1.0 + (float(rng.random()) if rng is not None else 0.0))
    lie = truth * 10.0 ** (span if up else -span)
    if lie > 1.0:
        lie = truth * 10.0**-span
    return lie


@dataclass(frozen=True)
class _Shadowed:
    """What `deal_lie` computed for a given world before its rng is used again: the world's
    P(Z) (when the truth was not given), its shadow's P(Z) (None: no shadow), and the rng's
    state after `shadow_of` drew the shadow."""

    truth: WorldPZ | None
    shadow: float | None
    state: Mapping[str, Any]


#: id(world) -> (a weak reference to that world, its dealt shadows by `_shadow_key`). Keyed
#: by identity, not content: hashing a world's text costs as much as a small P(Z); the
#: weak reference tells a reused id from the same world, and a finalizer drops the entry.
_SHADOWS: dict[int, tuple[weakref.ReferenceType[World], dict[tuple[Any, ...], _Shadowed]]] = {}
_CACHE_ON: ContextVar[bool] = ContextVar("deal_cache_on", default=True)


@dataclass
class DealCacheInfo:
    """How often `deal_lie` reused a given world's shadow (hits) or drew it (misses)."""

    hits: int = 0
    misses: int = 0


_INFO = DealCacheInfo()


def deal_cache_info() -> DealCacheInfo:
    """Hits and misses of the given-world cache since the process started (or `clear`)."""
    return DealCacheInfo(_INFO.hits, _INFO.misses)


def clear_deal_cache() -> None:
    """Forget every cached shadow and reset the counts."""
    _SHADOWS.clear()
    _INFO.hits = _INFO.misses = 0


@contextmanager
def deal_cache_off() -> Iterator[None]:
    """Inside this block (and the asyncio tasks it starts) `deal_lie` neither reads nor fills
    the cache: what a benchmark compares against, and what a test checks results against."""
    token = _CACHE_ON.set(False)
    try:
        yield
    finally:
        _CACHE_ON.reset(token)


def _shadow_key(
    seed: int, factor: float, truth: float | None, rng: np.random.Generator
) -> tuple[Any, ...]:
    """Everything besides the world that decides `_Shadowed`: the rng's whole state (which
    shadow is drawn), the lie factor, and whether (and which) truth was given."""
    state = json.dumps(rng.bit_generator.state, sort_keys=True)
    return (seed, factor, truth, state)


def _shadowed(
    world: World, seed: int, rules: Rules, rng: np.random.Generator, truth: float | None
) -> _Shadowed:
    """The world's P(Z) (unless `truth` is given) and its re-drawn shadow's, leaving `rng` in
    the state `shadow_of` leaves it. A tournament deals one world to every pairing with the
    same seed, so the result is kept per world object for this process: a hit sets the
    rng to the stored state, so everything drawn after it is what a fresh deal draws."""
    key = _shadow_key(seed, rules.lie_factor, truth, rng) if _CACHE_ON.get() else None
    slot = _SHADOWS.get(id(world)) if key is not None else None
    if slot is not None and slot[0]() is world and key in slot[1]:
        hit = slot[1][key]
        rng.bit_generator.state = hit.state
        _INFO.hits += 1
        return hit
    pz = world_pz(world) if truth is None else None
    found = shadow_of(world, rng, rules.lie_factor, truth=pz)
    out = _Shadowed(
        truth=pz,
        shadow=found[1].pz if found is not None else None,
        state=rng.bit_generator.state,
    )
    if key is not None:
        if slot is None or slot[0]() is not world:
            slot = (weakref.ref(world), {})
            _SHADOWS[id(world)] = slot
            weakref.finalize(world, _forget, id(world), slot[0])
        slot[1][key] = out
        _INFO.misses += 1
    return out


def _forget(ident: int, ref: weakref.ReferenceType[World]) -> None:
    """Drop a dead world's entry (unless its id was already taken by a newer world)."""
    slot = _SHADOWS.get(ident)
    if slot is not None and slot[0] is ref:
        del _SHADOWS[ident]


def deal_lie(
    source: World | WorldMaker,
    seed: int,
    liar: str,
    rules: Rules,
    rng: np.random.Generator,
    *,
    truth: float | None = None,
    tempting: float | None = None,
) -> Lie:
    """The world, truth and lie of a debate dealt from `seed`, argued by `liar` (a spec, or
    `RANDOM_LIAR` for a built-in liar, drawn with `rng`, among those that can argue a lie
    in its direction).

    `source` is a `WorldMaker` for a generated round: the world and its shadow are a pair
    from `latent.shadow.deal_world` (the truth is the real one's P(Z), given `truth` is
    ignored). Or it is the round's world (a world file, or a bare world given to
    `run_debate`): its shadow is re-drawn (`latent.shadow.shadow_of`). With nothing to
    re-draw, the lie is `liar_claim`'s. Deterministic in (source, seed, rng).

    A given world's P(Z) and shadow are kept per world object in this process (a
    tournament deals each world to every pairing with the same seed): a second deal with the
    same world, seed, lie factor, truth and rng state reuses them and leaves `rng` as the
    first left it, so the lie, liar and direction are those a fresh deal gives.
    """
    shadow: float | None = None
    how = "fallback"
    log10_truth: float | None
    se = 0.0
    pair = None
    if not isinstance(source, World):
        pair = deal_world(source, seed, rules.lie_factor)
    if pair is not None:
        world, truth, log10_truth = pair.real, pair.truth.pz, pair.truth.log10_pz
        se = pair.truth.log10_pz_stderr
        shadow, how = pair.lie.pz, "pair"
    elif isinstance(source, World):
        world = source
        dealt = _shadowed(world, seed, rules, rng, truth)
        if dealt.truth is not None:
            pz = dealt.truth
            truth, log10_truth, se = pz.pz, pz.log10_pz, pz.log10_pz_stderr
        else:
            assert truth is not None  # given: `_shadowed` computes P(Z) only without it
            log10_truth = math.log10(truth) if truth > 0 else None
        if dealt.shadow is not None:
            shadow, how = dealt.shadow, "redrawn"
    else:
        world = source(seed, None)
        if truth is None:
            pz = world_pz(world)
            truth, log10_truth, se = pz.pz, pz.log10_pz, pz.log10_pz_stderr
        else:
            log10_truth = math.log10(truth) if truth > 0 else None
    if tempting is None:
        tempting = independence_value(world)
    if shadow is not None:
        toward = (shadow > truth) == (tempting >= truth)
    else:
        toward = bool(rng.random() < 0.5)
    if liar == RANDOM_LIAR:
        # once every liar argues both ways this is any liar, whatever the direction
        names = [n for n in LIARS if can_argue(n, truth, tempting, toward)] or list(LIARS)
        liar = "builtin:" + names[int(rng.integers(len(names)))]
    elif shadow is None and not can_argue(liar, truth, tempting, toward):
        toward = True  # this liar can only argue towards the product
    claim = (
        shadow if shadow is not None else liar_claim(truth, tempting, rules.lie_factor, rng, toward)
    )
    return Lie(
        world=world,
        truth=truth,
        log10_truth=log10_truth,
        log10_stderr=se,
        claim=claim,
        spec=liar,
        toward=toward,
        source=how,
    )
