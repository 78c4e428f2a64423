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

import math
from collections.abc import Callable

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
    else:
        world = source if isinstance(source, World) else source(seed, None)
        pz: WorldPZ | None = None
        if truth is None:
            pz = world_pz(world)
            truth, log10_truth, se = pz.pz, pz.log10_pz, pz.log10_pz_stderr
        else:
            log10_truth = math.log10(truth) if truth > 0 else None
        if isinstance(source, World):
            found = shadow_of(world, rng, rules.lie_factor, truth=pz)
            if found is not None:
                shadow, how = found[1].pz, "redrawn"
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
