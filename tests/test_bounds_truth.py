"""World bounds and `pzjudge bounds` against a truth computed without the code under test.

The bounds never see the truth (issue 17): here the truth comes from the world's own fields
by brute force (discrete blocks: a sum over outcomes) or from scipy's Genz integration
(Gaussian blocks, absolute error <= 1e-8 requested), and the bounds themselves are checked
against closed forms (order 1: Fréchet) and a dense LP over the order-K binomial moments
(large discrete blocks), written here with scipy's linprog.
"""

from __future__ import annotations

import json
import math
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.optimize import linprog
from test_bounds import _scipy_truth, brute_lp, brute_prob, gaussian_block, random_block

from latent import bounds
from latent.world import DiscreteBlock, GaussianBlock, World, save_world
from tui.cli import main

#: Stated tolerance of scipy's Genz integration for the Gaussian references below.
GENZ_REL, GENZ_ABS = 1e-4, 1e-8


def _renamed(block: DiscreteBlock | GaussianBlock, prefix: str) -> Any:
    stmts = [s.model_copy(update={"id": f"{prefix}{j}"}) for j, s in enumerate(block.statements)]
    return block.model_copy(update={"statements": stmts, "name": prefix})


def _truth(block: DiscreteBlock | GaussianBlock) -> float:
    if isinstance(block, DiscreteBlock):
        return brute_prob(block, tuple(range(len(block.statements))))
    return _scipy_truth(block)


def _contains(lo: float, hi: float, truth: float, block: Any) -> bool:
    """lo <= truth <= hi, with the reference's own error for a Gaussian block."""
    if isinstance(block, DiscreteBlock):
        return lo <= truth <= hi
    slack = GENZ_REL * truth + GENZ_ABS
    return lo <= truth + slack and truth - slack <= hi


def moment_lp(block: DiscreteBlock, order: int) -> tuple[float, float]:
    """Min and max of P(N = m) over distributions of N = number of true statements with the
    block's binomial moments S_k = E[C(N, k)], k <= order: the dense LP, raw rows."""
    m = len(block.statements)
    sets = [set(s.outcomes) for s in block.statements]
    n_true = {o: sum(o in s for s in sets) for o in block.outcomes}
    s = [
        math.fsum(p * math.comb(n_true[o], k) for o, p in block.outcomes.items())
        for k in range(order + 1)
    ]
    rows = [[float(math.comb(j, k)) for j in range(m + 1)] for k in range(order + 1)]
    c = np.zeros(m + 1)
    c[m] = 1.0
    lo = linprog(c, A_eq=rows, b_eq=s, bounds=(0, None), method="highs")
    hi = linprog(-c, A_eq=rows, b_eq=s, bounds=(0, None), method="highs")
    assert lo.status == 0 and hi.status == 0
    return float(lo.fun), -float(hi.fun)


def mixed_world() -> World:
    from latent.plant import d4_block, parity_block

    return World(
        blocks=[
            d4_block("a"),
            _renamed(random_block(7, 5, 9, 0.7), "r"),
            parity_block(5, "p"),
            _renamed(random_block(3, 20, 25, 0.9), "big"),
            gaussian_block(0, 3, "g"),
            gaussian_block(1, 5, "h"),
        ]
    )


@pytest.mark.parametrize("order", [1, 2, 3])
def test_world_bounds_contain_an_independent_truth(order: int) -> None:
    world = mixed_world()
    wb = bounds.world_bounds(world, order)
    truths = [_truth(b) for b in world.blocks]
    for blk, res, t in zip(world.blocks, wb.blocks, truths, strict=True):
        assert _contains(res.lower, res.upper, t, blk), (res.name, res.lower, t, res.upper)
        assert not res.truth_outside
        # the reported truth is latent.pz's, not clipped: it agrees with the reference
        assert res.truth == pytest.approx(t, rel=1e-2 if isinstance(blk, GaussianBlock) else 1e-12)
    truth = math.prod(truths)
    assert wb.lower <= truth * (1 + 1e-3) and truth * (1 - 1e-3) <= wb.upper
    assert not wb.truth_outside


@pytest.mark.parametrize("order", [1, 2, 3])
def test_small_blocks_at_world_level_equal_the_dense_atom_lp(order: int) -> None:
    world = mixed_world()
    wb = bounds.world_bounds(world, order)
    for blk, res in zip(world.blocks, wb.blocks, strict=True):
        if not isinstance(blk, DiscreteBlock) or len(blk.statements) > 8:
            continue
        m = len(blk.statements)
        known = {
            sub: brute_prob(blk, sub)
            for k in range(1, min(order, m) + 1)
            for sub in combinations(range(m), k)
        }
        lo, hi = brute_lp(m, known)
        assert res.lower == pytest.approx(lo, abs=1e-7) and res.upper == pytest.approx(hi, abs=1e-7)


def test_large_discrete_block_at_order_one_is_frechet() -> None:
    """Singletons alone allow [max(0, sum p_i - (m-1)), min p_i] and nothing tighter: a
    bound below min p_i would use information the judge does not have (the order K+1 bug
    gave 0.208 instead of 0.777 here)."""
    blk = random_block(3, 20, 25, 0.9)
    m = len(blk.statements)
    ps = [brute_prob(blk, (i,)) for i in range(m)]
    res = bounds.world_bounds(World(blocks=[blk]), 1).blocks[0]
    assert res.order_used == 1
    assert res.upper == pytest.approx(min(ps), rel=1e-9)
    assert res.lower == pytest.approx(max(0.0, math.fsum(ps) - (m - 1)), abs=1e-12)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_large_discrete_block_against_the_dense_moment_lp(order: int) -> None:
    """m = 20 (no atom LP): the bounds are at least as tight as the order-K moment LP, no
    tighter than the moment LP and the known k-way probabilities together allow, and hold
    the brute-force truth."""
    blk = random_block(3, 20, 25, 0.9)
    m = len(blk.statements)
    res = bounds.world_bounds(World(blocks=[blk]), order).blocks[0]
    lo, hi = moment_lp(blk, order)
    # Fréchet upper: P(all) <= every known probability (singletons and, from K=2, pairs)
    known_min = min(
        brute_prob(blk, sub)
        for k in range(1, min(order, 2) + 1)
        for sub in combinations(range(m), k)
    )
    assert res.upper == pytest.approx(min(hi, known_min), rel=1e-6, abs=1e-9)
    assert res.lower >= lo - 1e-9
    truth = brute_prob(blk, tuple(range(m)))
    assert res.lower <= truth <= res.upper
    assert truth - res.lower > 1e-3  # the lower bound is not the upper one in disguise
    assert not res.truth_outside


def test_a_wrong_bound_is_flagged_not_widened(monkeypatch: pytest.MonkeyPatch) -> None:
    """If the bound computation were wrong, the truth is reported outside, not absorbed."""
    from latent.plant import d4_block

    world = World(blocks=[d4_block("a", innocent=True)])
    truth = brute_prob(world.blocks[0], (0, 1, 2))
    assert truth > 0
    monkeypatch.setattr(bounds._blocks, "sharp_bounds", lambda m, known: (3 * truth, 4 * truth))
    wb = bounds.world_bounds(world, 2)
    assert (wb.lower, wb.upper) == (3 * truth, 4 * truth)  # not widened to the truth
    assert wb.truth == pytest.approx(truth, rel=1e-12)  # not clipped into the range
    assert wb.blocks[0].truth_outside and wb.truth_outside


def test_the_rounding_margin_is_small() -> None:
    """Outside means beyond TRUTH_MARGIN_REL (exact truths): 1e-9 relative, not more."""
    f = bounds._truth_outside
    assert bounds.TRUTH_MARGIN_REL <= 1e-9
    assert not f(math.log10(0.5 * (1 + 5e-10)), 0.0, math.log10(0.25), math.log10(0.5))
    assert f(math.log10(0.5 * (1 + 1e-8)), 0.0, math.log10(0.25), math.log10(0.5))
    assert f(math.log10(0.25 * (1 - 1e-8)), 0.0, math.log10(0.25), math.log10(0.5))
    assert f(-40.0, 0.0, None, None)  # a possible Z above an upper bound of exactly 0
    assert f(None, 0.0, -300.0, 0.0)  # an impossible Z and a lower bound of 1e-300
    assert not f(None, 0.0, None, -5.0) and not f(-300.0, 0.0, None, -299.0)
    # an estimate 2 standard errors out is within its error; 6 are not
    se = 0.01
    assert not f(-2.0 + 2 * se, se, -3.0, -2.0)
    assert f(-2.0 + 6 * se, se, -3.0, -2.0)


def _write_world(world: World, path: Path) -> Path:
    save_world(world, path)
    return path


def test_cli_bounds_contain_an_independent_truth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`pzjudge bounds --order K --json`: every block's range holds the truth computed from
    the file's own fields (brute force / scipy), and so does the world's."""
    world = mixed_world()
    path = _write_world(world, tmp_path / "w.json")
    raw = json.loads(path.read_text())
    truths = []
    for b in raw["blocks"]:
        if b["kind"] == "discrete":
            sets = [set(s["outcomes"]) for s in b["statements"]]
            truths.append(
                math.fsum(p for o, p in b["outcomes"].items() if all(o in s for s in sets))
            )
        else:
            truths.append(_scipy_truth(GaussianBlock.model_validate(b)))
    for order in ("1", "2", "3"):
        assert main(["bounds", str(path), "--order", order, "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["truth_outside"] is False
        for b, t, blk in zip(out["blocks"], truths, world.blocks, strict=True):
            assert _contains(b["lower"], b["upper"], t, blk), (order, b["name"], b, t)
            assert b["truth_outside"] is False
        truth = math.prod(truths)
        assert out["lower"] <= truth * (1 + 1e-3) and truth * (1 - 1e-3) <= out["upper"]


def test_cli_flags_a_truth_outside_the_evidence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Evidence someone typed in that is not the world's: the truth escapes the range and the
    output says so (text and JSON) rather than stretching the range over it."""
    from latent.plant import d4_block

    path = _write_world(World(blocks=[d4_block("a", innocent=True)]), tmp_path / "w.json")
    ids = [s.id for s in d4_block("a", innocent=True).statements]
    ev = tmp_path / "ev.json"
    ev.write_text(json.dumps([{"ids": [ids[0]], "p": 0.01}]))
    assert main(["bounds", str(path), "--known", str(ev)]) == 0
    text = capsys.readouterr().out
    assert "TRUTH OUTSIDE" in text and "note: the truth lies outside these bounds" in text
    assert main(["bounds", str(path), "--known", str(ev), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["truth_outside"] is True and out["upper"] <= 0.01 * (1 + 1e-9) < out["truth"]
    ev.write_text(json.dumps([[ids[0]], [ids[0], ids[1]]]))  # the oracle's own values
    assert main(["bounds", str(path), "--known", str(ev)]) == 0
    assert "outside" not in capsys.readouterr().out.lower()
