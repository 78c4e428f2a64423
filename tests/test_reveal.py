"""The reveal's text (render_reveal is pure): what a player reads about the truth."""

from __future__ import annotations

import math
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from rich.text import Text

from debate.baselines import Baselines, baselines
from debate.protocol import Decision
from debate.rounds import Secret, preset
from debate.scoring import log10_error, score
from latent.bounds import truth_outside
from tui.game import Reveal, evidence_of, judge_round, prepare_round
from tui.game_store import GameStore
from tui.screens.reveal import TRUTH_OUTSIDE, WORDS, render_reveal


def _reveal(truth: float, lower: float, upper: float, outside: bool | None = None) -> Reveal:
    """A reveal whose `truth_outside` is the core's answer for an exact truth (or `outside`)."""
    return Reveal(
        estimate=1e-3,
        interval=None,
        credence_a=None,
        truth=truth,
        log10_truth=math.log10(truth) if truth > 0 else None,
        scores=score(1e-3, truth),
        baselines=Baselines(independence=1e-3, maxent=None, lower=lower, upper=upper),
        truth_outside=truth_outside(truth, lower, upper) if outside is None else outside,
        traps=[],
        honest_side=None,
        specs={},
        claims=None,
        evidence_count=3,
    )


def _plain(truth: float, lower: float, upper: float, outside: bool | None = None) -> list[str]:
    rnd: Any = SimpleNamespace(seed=7)
    rv = _reveal(truth, lower, upper, outside)
    return Text.from_markup(render_reveal(rnd, rv, {})).plain.splitlines()


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


@pytest.mark.parametrize(
    ("truth", "outside"),
    [
        (1e-2 * 1.05, False),  # 5% above the range: an estimate within its error
        (2e-4, True),  # well inside, yet the core says outside
    ],
)
def test_the_reveal_shows_the_cores_verdict_not_its_own(truth: float, outside: bool) -> None:
    """The UI never compares probabilities: it says what `Reveal.truth_outside` (the core's
    `latent.bounds.truth_outside`) says, even where its own reading of the numbers would
    differ."""
    lines = _plain(truth, 1e-4, 1e-2, outside)
    assert [s for s in lines if TRUTH_OUTSIDE in s] == ([f"  {TRUTH_OUTSIDE}"] if outside else [])


@pytest.mark.parametrize(
    ("se", "sigmas", "outside"),
    [
        (0.0, 0.0, False),  # an exact truth on the upper end
        (0.0, 1.0, True),  # an exact truth past it by 1e-3 orders (0.23%): a fault
        (1e-3, 2.0, False),  # an estimate 2 of its standard errors past it: its error
        (1e-3, 6.0, True),  # 6 are more than its error (the margin is 4)
    ],
)
def test_an_estimated_truth_within_its_error_of_the_range_is_not_a_fault(
    tmp_path: Path, se: float, sigmas: float, outside: bool
) -> None:
    """A game round whose truth is an estimate (large Gaussian blocks) keeps its standard
    error from dealing to the reveal: `judge_round` asks the core with it. A truth placed
    `sigmas` standard errors (or, exact, 1e-3 orders of magnitude) above the upper end of
    the range the judge's evidence allows, computed here from that evidence."""
    settings = preset("practice", seed=3, judge="tester")
    store = GameStore(tmp_path / "game.db")
    sid = store.start_session(settings)
    rnd = prepare_round(settings, 1, store, sid)
    evidence = evidence_of(rnd, [])
    bl = baselines([s.id for s in rnd.statements], evidence)
    assert 0 < bl.upper < 0.9  # room above it for the truth
    lt = math.log10(bl.upper) + (sigmas * se if se else sigmas * 1e-3)
    rnd = rnd.model_copy(update={"secret": Secret(truth=10.0**lt, log10_truth=lt, log10_stderr=se)})
    rv = judge_round(rnd, Decision(estimate=0.01), evidence, 1.0, store)
    store.close()
    assert (rv.baselines.lower, rv.baselines.upper) == (bl.lower, bl.upper)
    assert rv.truth_outside is outside
    lines = Text.from_markup(render_reveal(rnd, rv, {})).plain.splitlines()
    assert (f"  {TRUTH_OUTSIDE}" in lines) is outside


@pytest.mark.parametrize("resume", [False, True])
def test_a_resumed_round_keeps_its_truths_standard_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, resume: bool
) -> None:
    """The truth's standard error is stored with the round (migration 008), so a round
    resumed from the store judges "outside the range" as the round dealt did: a truth
    2 standard errors above the evidence's upper end is within its error either way
    (with the error forgotten, as before, the resumed round called it a fault)."""
    import tui.game as game

    settings = preset("practice", seed=3, judge="tester")
    probe = GameStore(tmp_path / "probe.db")
    first = prepare_round(settings, 1, probe, probe.start_session(settings))
    probe.close()
    bl = baselines([s.id for s in first.statements], evidence_of(first, []))
    se = 1e-3
    lt = math.log10(bl.upper) + 2 * se
    assert truth_outside(10.0**lt, bl.lower, bl.upper, 0.0)  # a fault without its error
    real = game.deal_round

    def estimated(*a: Any, **kw: Any) -> Any:
        dealt = real(*a, **kw)
        secret = Secret(truth=10.0**lt, log10_truth=lt, log10_stderr=se)
        return dealt.model_copy(update={"secret": secret})

    monkeypatch.setattr(game, "deal_round", estimated)
    store = GameStore(tmp_path / "game.db")
    sid = store.start_session(settings)
    rnd = prepare_round(settings, 1, store, sid)
    if resume:
        store.close()
        store = GameStore(tmp_path / "game.db")
        (public,) = store.open_rounds(sid)
        rnd = game.resume_round(settings, public, store.round_secret(public["id"]))
        assert rnd.resumed and rnd.secret.truth == 10.0**lt
    assert rnd.secret.log10_stderr == se
    rv = judge_round(rnd, Decision(estimate=0.01), evidence_of(rnd, []), 1.0, store)
    store.close()
    assert (rv.baselines.lower, rv.baselines.upper) == (bl.lower, bl.upper)
    assert not rv.truth_outside


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


@pytest.mark.parametrize("name", ["practice", "debate"])
def test_a_dealt_round_keeps_its_truths_standard_error(name: str) -> None:
    """Game worlds have Gaussian blocks whose P(all) is an estimate: the round's secret
    carries its standard error (the world's own, from latent.pz) for the reveal's check."""
    from debate.rounds import deal_round
    from latent.pz import world_pz

    for seed in range(2):
        dealt = deal_round(preset(name, seed=1), seed)
        pz = world_pz(dealt.world)
        assert dealt.secret.truth == pz.pz
        assert dealt.secret.log10_stderr == pz.log10_pz_stderr > 0


@pytest.mark.parametrize(
    ("estimate", "said"), [(1e-3, "0.001: too high"), (0.0, "0: exactly right")]
)
def test_a_truth_of_exactly_zero_shows_no_floored_error(estimate: float, said: str) -> None:
    """P(Z) = 0 exactly: a log10 error is undefined (the scoring floor, 1e-300, would show
    ~300 orders of magnitude, for the judge and for each baseline); the reveal says so and
    what was answered, as stats counts such rounds apart (store.stats.zero_truth)."""
    rnd: Any = SimpleNamespace(seed=7)
    rv = _reveal(0.0, 0.0, 1e-2).model_copy(
        update={"estimate": estimate, "scores": score(estimate, 0.0)}
    )
    assert rv.scores.log10_error > 290 or estimate == 0  # what the old reveal printed
    text = Text.from_markup(render_reveal(rnd, rv, {})).plain
    lines = text.splitlines()
    assert lines[0].startswith("P(Z) = 0 ")
    assert lines[1] == f"P(Z) is exactly 0: a log10 error is not defined; you answered {said}"
    assert "orders of magnitude" not in text and "(error " not in text
    assert "  independence 0.001 (no log10 error: P(Z) = 0)" in lines
    assert not re.search(r"\b(29\d|30\d)\.\d\d\b", text)  # no floored error anywhere
    assert all(len(s) <= 78 for s in lines)


def test_an_exact_truth_above_zero_keeps_its_error() -> None:
    lines = _plain(2e-4, 1e-4, 1e-2)
    assert lines[1].startswith(f"error {log10_error(1e-3, 2e-4):.2f} orders of magnitude")
    assert not [s for s in lines if "not defined" in s]


def test_the_baselines_are_explained_under_their_names() -> None:
    """ "independence" and "max entropy" are jargon: each has a short line right under it."""
    lines = _plain(2e-4, 1e-4, 1e-2)
    for name in ("independence", "max entropy"):
        at = next(i for i, s in enumerate(lines) if s.startswith(f"  {name} "))
        assert lines[at + 1] == f"    {WORDS[name]}"
    assert "multiplied" in WORDS["independence"]
    assert "least-committal" in WORDS["max entropy"]
    regret = next(s for s in lines if s.startswith("regret "))
    assert "log score lost" in regret
    assert all(len(s) <= 78 for s in lines)
