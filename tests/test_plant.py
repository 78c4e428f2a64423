"""Planted blocks checked by brute-force enumeration over their outcomes."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_bounds import blocks, brute_known, brute_prob, random_block

from latent import bounds
from latent.errors import LatentError
from latent.plant import d4_block, extremal_block, parity_block, plant_world
from latent.world import DiscreteBlock, World

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_d4_same_low_order_different_triple() -> None:
    trap, innocent = d4_block("t"), d4_block("i", innocent=True)
    assert brute_known(trap, 2) == pytest.approx(brute_known(innocent, 2))
    assert set(brute_known(trap, 2).values()) == {0.5, 0.25}
    assert brute_prob(trap, (0, 1, 2)) == 0.0
    assert brute_prob(innocent, (0, 1, 2)) == pytest.approx(0.25)
    assert trap.trap == "d4" and innocent.trap is None


@pytest.mark.parametrize("m", [2, 3, 5, 8])
def test_parity_looks_independent_below_m(m: int) -> None:
    blk = parity_block(m, "p")
    for sub, p in brute_known(blk, m - 1).items():
        assert p == pytest.approx(0.5 ** len(sub), rel=1e-12)
    assert brute_prob(blk, tuple(range(m))) == 0.0


@SETTINGS
@given(block=blocks, order=st.integers(1, 3), extreme=st.sampled_from(["min", "max"]))
def test_extremal_keeps_marginals_and_attains_bound(
    block: DiscreteBlock, order: int, extreme: str
) -> None:
    m = len(block.statements)
    order = min(order, m)
    out = extremal_block(block, order, extreme)  # type: ignore[arg-type]
    before, after = brute_known(block, order), brute_known(out, order)
    for sub in before:
        assert after[sub] == pytest.approx(before[sub], abs=1e-9)
    lo, hi = bounds.sharp_bounds(m, before)
    p_all = brute_prob(out, tuple(range(m)))
    assert p_all == pytest.approx(lo if extreme == "min" else hi, abs=1e-8)
    assert [s.id for s in out.statements] == [s.id for s in block.statements]
    assert out.trap == "extremal"


def test_plant_world_report() -> None:
    big = random_block(7, 14, 10, 0.9)
    world = World(blocks=[d4_block("i", innocent=True), parity_block(4, "p"), big])
    new, rep = plant_world(world, 2, "min")
    assert rep.replaced == [0, 1] and rep.kept == [2]
    assert rep.pz_after <= rep.pz_before + 1e-12
    assert new.blocks[2] == big
    for old, blk in zip(world.blocks[:2], new.blocks[:2], strict=True):
        assert isinstance(old, DiscreteBlock) and isinstance(blk, DiscreteBlock)
        for sub, p in brute_known(old, 2).items():
            assert brute_prob(blk, sub) == pytest.approx(p, abs=1e-9)
    assert math.isclose(brute_prob(new.blocks[0], (0, 1, 2)), 0.0, abs_tol=1e-9)  # type: ignore[arg-type]


def test_extremal_of_gaussian_keeps_pairs() -> None:
    from test_bounds import gaussian_block

    from latent.nway import block_known

    g = gaussian_block(5, 6, "g")
    before = block_known(g, 2)
    for extreme in ("min", "max"):
        out = extremal_block(g, 2, extreme)  # type: ignore[arg-type]
        after = brute_known(out, 2)
        for sub, p in before.items():
            assert after[sub] == pytest.approx(p, abs=1e-9)
    with pytest.raises(LatentError):
        extremal_block(g, 4, "min")


@pytest.mark.parametrize(("m", "order"), [(12, 2), (9, 3)])
def test_extremal_at_the_size_limit_matches_the_dense_lp(m: int, order: int) -> None:
    """At the largest sizes plant accepts, the planted block keeps every ≤K-way probability
    within 1e-9 (brute-force sums) and its P(all) is the dense LP's optimum (HiGHS on the
    full constraint matrix, not the column-free interior point plant uses)."""
    from test_bounds import brute_lp

    block = random_block(100 + m, m, 40, 0.8)
    before = brute_known(block, order)
    lo, hi = brute_lp(m, before)
    for extreme, target in (("min", lo), ("max", hi)):
        out = extremal_block(block, order, extreme)  # type: ignore[arg-type]
        after = brute_known(out, order)
        assert max(abs(after[s] - p) for s, p in before.items()) <= 1e-9
        assert brute_prob(out, tuple(range(m))) == pytest.approx(target, abs=1e-8)
        assert [s.text for s in out.statements] == [s.text for s in block.statements]


def test_plant_a_generated_gaussian_family_keeps_triples() -> None:
    """A generated family (kernel covariance, a flip) planted at order 3: its singles, pairs
    and triples, recomputed by brute-force sums over the planted outcomes, equal the
    Gaussian closed forms within 1e-9, and P(all) moves the way it was asked."""
    from latent.generate import generate_world
    from latent.nway import block_known
    from latent.pz import block_pz

    world = generate_world(seed=4, statements=30, families=3, flips=2)
    fam = next(b for b in world.blocks if b.kind == "gaussian" and len(b.statements) <= 12)
    before = block_known(fam, 3)
    truth = 10.0 ** (block_pz(fam).log10_pz or -math.inf)
    for extreme in ("min", "max"):
        out = extremal_block(fam, 3, extreme)  # type: ignore[arg-type]
        after = brute_known(out, 3)
        assert max(abs(after[s] - p) for s, p in before.items()) <= 1e-9
        p_all = brute_prob(out, tuple(range(len(fam.statements))))
        assert p_all <= truth * 1.01 if extreme == "min" else p_all >= truth * 0.99
