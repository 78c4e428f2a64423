"""The deal cache: a given world's P(Z) and shadow are dealt once per process, and every
deal after the first gives what a fresh deal gives, down to the rng's later draws."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import timeless

from debate.lies import (
    RANDOM_LIAR,
    clear_deal_cache,
    deal_cache_info,
    deal_cache_off,
    deal_lie,
)
from debate.rounds import preset
from debate.rules import Rules
from debate.tournament import TournamentResult, Watcher, run_tournament, tournament_worlds
from latent.world import DiscreteBlock, DiscreteStatement, World, load_world

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _die() -> World:
    """A fair die: nothing hidden to re-draw, yet `shadow_of` draws from the rng on every
    try before giving up, so the lie and its direction come from the rng it leaves."""
    faces = [str(i) for i in range(1, 7)]
    return World(
        blocks=[
            DiscreteBlock(
                outcomes=dict.fromkeys(faces, 1 / 6),
                statements=[
                    DiscreteStatement(id="low", text="The die shows at most 4", outcomes=faces[:4]),
                    DiscreteStatement(
                        id="odd", text="The die shows an odd number", outcomes=faces[::2]
                    ),
                ],
            )
        ]
    )


def _deal(world: World, seed: int, truth: float | None) -> tuple[dict[str, Any], list[float]]:
    """A deal as `run_debate` makes it (one coin drawn first): the lie apart from its world
    (which must be the one given), and what the rng draws after it."""
    rng = np.random.default_rng(seed)
    rng.random()
    lie = deal_lie(world, seed, RANDOM_LIAR, Rules(), rng, truth=truth)
    assert lie.world is world
    return lie.model_dump(exclude={"world"}), rng.random(4).tolist()


def _world(name: str) -> World:
    """ "game": a practice round's world (its shadow is re-drawn); "small": a file whose
    re-drawn shadows never differ enough (the rng is spent trying); "die": nothing hidden."""
    if name == "game":
        return tournament_worlds(1, 3, settings=preset("practice"))[0]
    return _die() if name == "die" else load_world(EXAMPLES / f"{name}.json")


@pytest.mark.parametrize("name", ["game", "small", "die"])
@pytest.mark.parametrize("truth", [None, 0.05])
def test_a_cached_deal_is_a_fresh_deal(name: str, truth: float | None) -> None:
    world = _world(name)
    clear_deal_cache()
    with deal_cache_off():
        fresh = [_deal(world, seed, truth) for seed in (3, 4)]
    assert deal_cache_info().misses == deal_cache_info().hits == 0
    for _ in range(3):
        again = [_deal(world, seed, truth) for seed in (3, 4)]
        assert again == fresh
    # the first pass filled one entry per seed, the two others read them
    assert (deal_cache_info().misses, deal_cache_info().hits) == (2, 4)
    want = "redrawn" if name == "game" else "fallback"
    assert all(lie["source"] == want for lie, _ in fresh)


def test_the_cache_tells_a_given_truth_from_none_and_worlds_apart() -> None:
    clear_deal_cache()
    world = _world("game")
    twin = _world("game")  # equal, but another object: dealt anew
    with deal_cache_off():
        want_none, want_given = _deal(world, 5, None), _deal(world, 5, 0.02)
    assert _deal(world, 5, None) == want_none
    assert _deal(world, 5, 0.02) == want_given
    assert want_given[0]["truth"] == 0.02 and want_none[0]["truth"] != 0.02
    assert _deal(twin, 5, None) == want_none
    assert (deal_cache_info().misses, deal_cache_info().hits) == (3, 0)
    assert _deal(twin, 5, None) == want_none
    assert deal_cache_info().hits == 1


def _tournament() -> tuple[TournamentResult, list[str]]:
    ids: list[str] = []

    class _Ids:
        def on_event(self, event: object) -> None:
            pass

        def on_result(self, result: object) -> None:
            pass

        def on_error(self, exc: BaseException) -> None:
            pass

    def watch(world: World, did: str) -> Watcher:
        ids.append(did)
        return _Ids()

    res = asyncio.run(
        run_tournament(
            2,
            3,
            ["builtin:honest", "builtin:pairwise", "builtin:independence"],
            ["maxent"],
            settings=preset("practice"),
            concurrency=3,
            watch=watch,
        )
    )
    return res, sorted(ids)


def test_a_tournament_gives_the_same_debates_with_and_without_the_cache() -> None:
    clear_deal_cache()
    with deal_cache_off():
        before, ids_before = _tournament()
    assert deal_cache_info().misses == 0
    after, ids_after = _tournament()
    n = len(after.debates)
    assert n == 12 and ids_after == ids_before and len(set(ids_after)) == n
    # one deal per world, every other pairing on it reads the cache
    assert (deal_cache_info().misses, deal_cache_info().hits) == (2, n - 2)
    for old, new in zip(before.debates, after.debates, strict=True):
        assert new.claims == old.claims
        assert new.honest_side == old.honest_side
        assert new.truth == old.truth and new.log10_truth == old.log10_truth
    assert timeless(after.model_dump(mode="json")) == timeless(before.model_dump(mode="json"))
