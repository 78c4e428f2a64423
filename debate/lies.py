"""The liar's claim: the one place a round's lie (and the liar who argues it) is chosen.

Every path that deals a round (the game, `pzjudge debate`, `pzjudge tournament`, studies)
gets its lie from `deal_lie`, called once in `debate.rounds.deal_sides`. Today the lie is
`liar_claim` of the truth, towards the independence product or away from it with equal
odds, so that neither "the claim nearer the product" nor "the claim farther from it"
tells a judge who lies.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel

from debate.builtin import LIARS, can_argue, lie_goes_up
from debate.rules import Rules
from debate.views import independence_value
from latent.world import World

#: A liar spec meaning "a built-in liar drawn per round, among those that can argue the lie".
RANDOM_LIAR = "random-liar"


class Lie(BaseModel):
    """A round's lie: the spec that argues it and the P(Z) it claims."""

    spec: str
    claim: float
    #: Whether the lie goes towards the independence product (False: away from it).
    toward: bool


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
    world: World,
    truth: float,
    liar: str,
    rules: Rules,
    rng: np.random.Generator,
    *,
    tempting: float | None = None,
) -> Lie:
    """The lie of a round of `world` whose P(Z) is `truth`, argued by `liar` (a spec, or
    `RANDOM_LIAR` for a built-in liar that can argue it, drawn with `rng`).

    Deterministic under `rng`. `tempting` (the independence product) is computed from the
    world unless given.
    """
    if tempting is None:
        tempting = independence_value(world)
    toward = bool(rng.random() < 0.5)
    if liar == RANDOM_LIAR:
        names = [n for n in LIARS if can_argue(n, truth, tempting, toward)]
        liar = "builtin:" + names[int(rng.integers(len(names)))]
    elif not can_argue(liar, truth, tempting, toward):
        toward = True  # this liar can only argue towards the product
    claim = liar_claim(truth, tempting, rules.lie_factor, rng, toward)
    return Lie(spec=liar, claim=claim, toward=toward)
