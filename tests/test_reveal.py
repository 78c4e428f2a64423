"""The reveal's text (render_reveal is pure): what a player reads about the truth."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import pytest
from rich.text import Text

from debate.baselines import Baselines
from debate.scoring import score
from tui.game import Reveal
from tui.screens.reveal import TRUTH_OUTSIDE, render_reveal


def _reveal(truth: float, lower: float, upper: float) -> Reveal:
    return Reveal(
        estimate=1e-3,
        interval=None,
        credence_a=None,
        truth=truth,
        log10_truth=math.log10(truth) if truth > 0 else None,
        scores=score(1e-3, truth),
        baselines=Baselines(independence=1e-3, maxent=None, lower=lower, upper=upper),
        traps=[],
        honest_side=None,
        specs={},
        claims=None,
        evidence_count=3,
    )


def _plain(truth: float, lower: float, upper: float) -> list[str]:
    rnd: Any = SimpleNamespace(seed=7)
    return Text.from_markup(render_reveal(rnd, _reveal(truth, lower, upper), {})).plain.splitlines()


@pytest.mark.parametrize(
    ("truth", "outside"),
    [
        (2e-4, False),
        (1e-4, False),  # on the lower end
        (1e-2, False),  # on the upper end
        (1e-2 * (1 + 1e-10), False),  # past it by rounding only
        (1e-4 * (1 - 1e-10), False),
        (1e-2 * 1.001, True),
        (9.99e-5, True),
        (0.0, True),
    ],
)
def test_a_truth_outside_the_evidence_range_is_said_in_words(truth: float, outside: bool) -> None:
    lines = _plain(truth, 1e-4, 1e-2)
    at = next(i for i, s in enumerate(lines) if "the evidence allowed anything in" in s)
    assert "(!)" not in lines[at]
    said = [s for s in lines if TRUTH_OUTSIDE in s]
    assert said == ([f"  {TRUTH_OUTSIDE}"] if outside else [])
    if outside:
        assert lines[at + 1] == f"  {TRUTH_OUTSIDE}"  # right under the range it speaks of
    assert all(len(s) <= 78 for s in lines[at : at + 2])  # fits the 80-column screen


def test_an_impossible_truth_within_an_impossible_range_is_not_flagged() -> None:
    assert not [s for s in _plain(0.0, 0.0, 0.0) if TRUTH_OUTSIDE in s]


def test_the_reveal_names_every_planted_block_of_a_dealt_world() -> None:
    """A debate-preset world has planted blocks; the reveal names each one, trap or not
    (the lie may have been a trap where the real block is innocent), and says which."""
    from debate.rounds import deal_round, preset
    from latent.shadow import planted_variant
    from latent.world import DiscreteBlock
    from tui.game import traps_of

    for seed in range(6):
        world = deal_round(preset("debate"), seed).world
        planted = [b for b in world.blocks if isinstance(b, DiscreteBlock)]
        assert planted
        kinds = {t.block: t.kind for t in traps_of(world)}
        for b in planted:
            v = planted_variant(b)
            expect = {"low": b.trap, "high": "planted-high"}.get(v or "", "planted-independent")
            assert kinds[b.name or ""] == expect, (seed, b.name, v)
