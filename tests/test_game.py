"""The game's round preparation: what the judge is shown must not tell who is honest."""

from __future__ import annotations

import math

import numpy as np

from debate.builtin import LIARS
from debate.models import Side
from debate.rounds import deal_sides
from latent.generate import generate_world
from tui.game import RANDOM_LIAR, SessionSettings, preset

#: Any world: the sides are dealt from the given truth and product.
WORLD = generate_world(seed=0, statements=3)


def pick_sides(
    s: SessionSettings, seed: int, truth: float, tempting: float
) -> tuple[Side, dict[Side, str], float]:
    """The honest side, the specs and the lie, dealt as the game deals round `seed`."""
    honest, specs, claims, _ = deal_sides(
        WORLD,
        seed,
        s.rules(),
        np.random.default_rng([seed, 7]),
        honest=s.debater_honest,
        liar=s.debater_liar,
        truth=truth,
        tempting=tempting,
    )
    assert claims[honest] == truth
    return honest, specs, claims["b" if honest == "a" else "a"]


def _settings(**over: object) -> SessionSettings:
    return preset("debate", **over)


def test_lies_go_either_way_from_the_product() -> None:
    """Over many rounds the lie is as often farther from the independence product as the
    truth is nearer: "pick the claim farther from the product" is a coin flip."""
    s = _settings()
    assert s.debater_liar == RANDOM_LIAR
    nearer_is_liar = 0
    n = 400
    for seed in range(n):
        truth, tempting = 10.0 ** -(5 + seed % 7), 10.0 ** -(3 + seed % 11)
        honest, specs, lie = pick_sides(s, seed, truth, tempting)
        span = abs(math.log10(lie) - math.log10(truth))
        assert 1.0 <= span < 2.0 + 1e-9 and 0 < lie <= 1
        liar_side = "b" if honest == "a" else "a"
        liar = specs[liar_side].removeprefix("builtin:")
        assert liar in LIARS and specs[honest] == s.debater_honest
        d_lie = abs(math.log10(lie) - math.log10(tempting))
        d_truth = abs(math.log10(truth) - math.log10(tempting))
        nearer_is_liar += d_lie < d_truth
    assert 0.4 * n <= nearer_is_liar <= 0.6 * n


def test_every_liar_goes_either_way_from_the_product() -> None:
    # every built-in argues either direction (debate.builtin.can_argue is always true)
    s = _settings(debater_liar="builtin:independence")
    ups = 0
    for seed in range(100):
        truth, tempting = 1e-8, 1e-3
        _, _, lie = pick_sides(s, seed, truth, tempting)
        ups += lie > truth
    assert 30 <= ups <= 70
