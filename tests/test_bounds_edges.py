"""Edges of latent/bounds/ that a mutation run of it found unchecked (docs/testing.md).

Each value is known by hand: Fréchet's closed forms, products of singles, binomial
coefficients, exact messages."""

from __future__ import annotations

import math

import numpy as np
import pytest

from latent import bounds
from latent.errors import LatentError
from latent.plant import d4_block
from latent.world import DiscreteBlock, DiscreteStatement, World


@pytest.fixture(scope="module")
def world() -> World:
    """A trap D4 (aA, aB, aC) and an innocent one (bA, bB, bC): every single 1/2."""
    return World(blocks=[d4_block("a"), d4_block("b", innocent=True)])


def _coins(m: int, prefix: str = "c") -> DiscreteBlock:
    """m independent fair coins as one discrete block (2^m outcomes)."""
    return DiscreteBlock(
        outcomes={f"{o}": 1 / 2**m for o in range(2**m)},
        statements=[
            DiscreteStatement(
                id=f"{prefix}{i}", text="t", outcomes=[f"{o}" for o in range(2**m) if o >> i & 1]
            )
            for i in range(m)
        ],
    )


def test_union_find_says_whether_it_joined() -> None:
    ds = bounds.DisjointSets(range(5))
    assert ds.union(0, 1) and not ds.union(1, 0)
    assert ds.union(2, 3) and ds.union(0, 3)
    assert not ds.union(1, 2)  # 1-0-3-2: an edge 1-2 would close a cycle
    assert ds.find(1) == ds.find(2) != ds.find(4) == 4


@pytest.mark.parametrize("p", [-0.1, 1.1, float("nan"), -1.0, 2.0])
def test_evidence_outside_zero_one_is_refused_with_the_reason(world: World, p: float) -> None:
    with pytest.raises(LatentError) as e:
        bounds.bounds_from_known(world, {("aA",): 0.5, ("aA", "aB"): p})
    assert str(e.value) == f"evidence ['aA', 'aB'] has probability {p}; use a number in [0, 1]"


def test_evidence_a_rounding_past_zero_or_one_is_clipped(world: World) -> None:
    over = bounds.bounds_from_known(world, {("aA",): 1 + 1e-9, ("bA",): 1 + 1e-10})
    assert over.blocks[0].independence == over.blocks[1].independence == 0.25  # 1 * 1/2 * 1/2
    under = bounds.bounds_from_known(world, {("aA",): -1e-9})
    assert under.blocks[0].independence == 0.0 and under.blocks[0].upper == 0.0


def test_evidence_given_twice(world: World) -> None:
    with pytest.raises(LatentError) as e:
        bounds.bounds_from_known(world, {("aA", "aB"): 0.25, ("aB", "aA"): 0.3})
    assert str(e.value) == "evidence ['aB', 'aA'] is given twice with different values"
    same = bounds.bounds_from_known(world, {("aA", "aB"): 0.25, ("aB", "aA"): 0.25 + 1e-10})
    assert same.blocks[0].upper == pytest.approx(0.25, rel=1e-6)


def test_an_empty_subset_is_skipped_and_the_rest_still_read(world: World) -> None:
    ev = {("aA",): 0.6, ("bA",): 0.3}
    a, b = bounds.bounds_from_known(world, {(): 0.3} | ev), bounds.bounds_from_known(world, ev)
    assert a.model_dump() == b.model_dump()
    assert a.independence == pytest.approx(0.6 * 0.25 * 0.3 * 0.25, rel=1e-12)


def test_evidence_across_blocks_caps_the_world_and_the_rest_is_still_read(world: World) -> None:
    """P(Z) <= P(aA and bA) = 0.1, below the product of the blocks' upper bounds
    (min single: 0.6 * 0.5); the singles after it still count."""
    wb = bounds.bounds_from_known(world, {("aA", "bA"): 0.1, ("aA",): 0.6, ("bA",): 0.5})
    assert wb.blocks[0].upper == pytest.approx(0.6, rel=1e-6)
    assert wb.upper == pytest.approx(0.1, rel=1e-6)
    assert wb.log10_upper == pytest.approx(-1.0, abs=1e-6)
    assert wb.independence == pytest.approx(0.6 * 0.25 * 0.5 * 0.25, rel=1e-12)
    zero = bounds.bounds_from_known(world, {("aA", "bA"): 0.0})
    assert zero.upper == 0.0 and zero.log10_upper is None


def test_a_block_without_evidence_allows_anything(world: World) -> None:
    b = bounds.bounds_from_known(world, {("aA",): 0.5}).blocks[1]
    assert (b.lower, b.upper, b.order_used, b.independence) == (0.0, 1.0, 0, 0.125)


def test_small_blocks_use_the_sharp_lp_and_maxent_of_singles_is_their_product(
    world: World,
) -> None:
    wb = bounds.bounds_from_known(world, {("aA",): 0.6, ("aB",): 0.7, ("bC",): 0.2})
    assert [b.method for b in wb.blocks] == ["sharp-lp", "sharp-lp"]
    # with only single probabilities the maximum-entropy distribution is independence
    assert wb.blocks[0].maxent == pytest.approx(0.6 * 0.7 * 0.5, rel=1e-8)
    assert wb.maxent == pytest.approx(0.6 * 0.7 * 0.5 * 0.5 * 0.5 * 0.2, rel=1e-8)


def test_fourteen_statements_still_get_the_sharp_lp() -> None:
    """MAX_ATOM_M = 14 is included; with singles only the sharp range is Fréchet's:
    [max(0, sum p - (m - 1)), min p]."""
    block = _coins(14)
    ps = [0.9 + 0.005 * i for i in range(14)]
    wb = bounds.bounds_from_known(World(blocks=[block]), {(f"c{i}",): p for i, p in enumerate(ps)})
    b = wb.blocks[0]
    assert b.method == "sharp-lp"
    assert b.upper == pytest.approx(min(ps), rel=1e-6)
    assert b.lower == pytest.approx(max(0.0, sum(ps) - 13), abs=1e-6)


def test_a_large_block_with_a_single_missing() -> None:
    """Above 14 statements: a missing single counts 1/2 in independence and means no
    binomial moments (no Prékopa), not an error."""
    block = _coins(15)
    ev = {(f"c{i}",): 0.5 for i in range(1, 15)}  # c0 missing
    b = bounds.bounds_from_known(World(blocks=[block]), ev).blocks[0]
    assert "prekopa" not in b.method and b.method.startswith("frechet")
    assert b.independence == 0.5**15
    assert b.upper == pytest.approx(0.5, rel=1e-6) and b.lower == 0.0


def test_binomial_moment_bounds_input() -> None:
    with pytest.raises(LatentError) as e:
        bounds.binomial_moment_bounds(3, [1.1, 0.5])
    assert str(e.value) == "binomial moments must start with S_0 = 1; pass [1, S_1, ..., S_K]"
    with pytest.raises(LatentError, match="must start with S_0 = 1"):
        bounds.binomial_moment_bounds(3, [])
    assert bounds.binomial_moment_bounds(3, [1.0]) == (0.0, 1.0)  # nothing known
    with pytest.raises(LatentError) as e:
        bounds.binomial_moment_bounds(2, [1.0, 1.0, 0.25, 0.125])
    assert str(e.value) == "3 binomial moments given for 2 statements; pass at most 2"
    # every moment of 3 fair coins: S_3 is P(all) itself, 1/8
    lo, hi = bounds.binomial_moment_bounds(3, [1.0, 1.5, 0.75, 0.125])
    assert lo == pytest.approx(0.125, abs=1e-9) and hi == pytest.approx(0.125, abs=1e-9)
    with pytest.raises(LatentError) as e:
        bounds.binomial_moments(3, {(0,): 0.5}, 1)
    assert str(e.value) == "binomial moment S_1 needs subset (1,); add it"


def test_binomial_moments_of_a_discrete_block_are_exact() -> None:
    """All 40 statements true with probability 1/2: S_k = C(40, k) / 2 for k >= 1 (S_0 = 1),
    an exact double for k <= 30 (the coefficients are rounded to integers there)."""
    block = DiscreteBlock(
        outcomes={"all": 0.5, "none": 0.5},
        statements=[DiscreteStatement(id=f"s{i}", text="t", outcomes=["all"]) for i in range(40)],
    )
    s = bounds.binomial_moments_discrete(block, 31)
    assert len(s) == 32  # S_0..S_31, no more
    assert s[:31] == [1.0] + [math.comb(40, k) / 2 for k in range(1, 31)]
    assert s[31] == pytest.approx(math.comb(40, 31) / 2, rel=1e-12)


def test_frechet_closed_forms() -> None:
    ps = {(0,): 0.9, (1,): 0.8, (2,): 0.95}
    lo, hi = bounds.frechet(3, ps)
    assert lo == pytest.approx(0.9 + 0.8 + 0.95 - 2, abs=1e-9) and hi == pytest.approx(0.8)
    lo, hi = bounds.frechet(3, {(0,): 0.9, (1,): 0.8, (0, 2): 0.7})  # a single missing
    assert lo == 0.0 and hi == pytest.approx(0.7)
    assert bounds.frechet(3, {}) == (0.0, 1.0)


def test_hunter_worsley_closed_form() -> None:
    """p_i = 0.9, p_01 = p_12 = 0.85, p_02 = 0.8: complements q_i = 0.1 and q_ij = 0.05,
    0.05, 0; the best tree takes 01 and 12, so P(some complement) <= 0.3 - 0.1 and
    P(all) >= 0.8 (Boole's inequality alone gives 0.7)."""
    known = {(0,): 0.9, (1,): 0.9, (2,): 0.9, (0, 1): 0.85, (1, 2): 0.85, (0, 2): 0.8}
    assert bounds.hunter_worsley(3, known) == pytest.approx(0.8, abs=1e-9)
    singles = {k: v for k, v in known.items() if len(k) == 1}
    assert bounds.hunter_worsley(3, singles) == pytest.approx(0.7, abs=1e-9)


def test_count_distribution_has_every_count() -> None:
    """The trap D4: outcomes 1, 2, 3 make two statements true, outcome 4 none."""
    assert bounds.count_distribution(d4_block("a")).tolist() == [0.25, 0.0, 0.75, 0.0]


def test_a_large_discrete_block_at_order_two_uses_each_pair() -> None:
    """Twenty statements: the smallest pair probability (brute force) caps P(all) far below
    what the pairs' sum (the binomial moments) allows."""
    from itertools import combinations

    from test_bounds import brute_prob, random_block

    block = random_block(0, 20, 12, 0.7)
    min_pair = min(brute_prob(block, p) for p in combinations(range(20), 2))
    b = bounds.block_bounds(block, 2)
    _, moments_hi = bounds.binomial_moment_bounds(20, bounds.binomial_moments_discrete(block, 2))
    assert min_pair < moments_hi / 10
    assert b.upper == pytest.approx(min_pair, rel=1e-6)


def test_a_gaussian_block_of_independent_parts_is_bounded_part_by_part() -> None:
    """Identity covariance: three independent statements, P(all) = Φ(0) Φ(-0.5) Φ(1) in
    closed form (a flip holds below its threshold); knowing the pairs pins it exactly."""
    from latent.world import GaussianBlock, GaussianStatement

    def phi(x: float) -> float:
        return 0.5 * math.erfc(-x / math.sqrt(2))

    block = GaussianBlock(
        name="three",
        statements=[
            GaussianStatement(id="g0", text="t", threshold=0.0),
            GaussianStatement(id="g1", text="t", threshold=0.5),
            GaussianStatement(id="g2", text="t", threshold=1.0, flip=True),
        ],
        covariance=[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
    )
    truth = phi(0.0) * phi(-0.5) * phi(1.0)
    b = bounds.world_bounds(World(blocks=[block]), 2).blocks[0]
    assert b.method == "3 independent parts: sharp-lp" and b.name == "three"
    assert b.lower == pytest.approx(truth, rel=1e-9) and b.upper == pytest.approx(truth, rel=1e-9)
    assert b.maxent == pytest.approx(truth, rel=1e-9) and not b.truth_outside


def test_proportional_fitting_reaches_the_product_or_says_none() -> None:
    """From the uniform start, fitting P(s0) = 0.3 and P(s1) = 0.6 gives the independent
    distribution over the atoms (none, s0, s1, both); a cell the start rules out that the
    constraint needs gives None."""
    masks, p = np.array([1, 2]), np.array([0.3, 0.6])
    w = bounds._ipf(2, masks, p, np.full(4, 0.25), 1e-12)
    assert w is not None
    assert w.tolist() == pytest.approx([0.7 * 0.4, 0.3 * 0.4, 0.7 * 0.6, 0.3 * 0.6], abs=1e-12)
    assert bounds._ipf(2, masks, p, np.array([0.5, 0.0, 0.5, 0.0]), 1e-12) is None


def test_proportional_fitting_keeps_a_cell_already_at_a_certain_value() -> None:
    """A cylinder whose mass is already exactly 0 (or 1) and is asked to be 0 (or 1) is left
    as it is: not an infeasibility (only 0 asked to become positive, or 1 to shrink, is)."""
    masks = np.array([1])
    assert bounds._ipf(1, masks, np.array([1.0]), np.array([0.0, 1.0]), 1e-12).tolist() == [0, 1]
    assert bounds._ipf(1, masks, np.array([0.0]), np.array([1.0, 0.0]), 1e-12).tolist() == [1, 0]
    assert bounds._ipf(1, masks, np.array([0.5]), np.array([1.0, 0.0]), 1e-12) is None
    assert bounds._ipf(1, masks, np.array([0.5]), np.array([0.0, 1.0]), 1e-12) is None


def _mutual_information(pa: float, pb: float, pab: float) -> float:
    """I(A; B) in nats from the 2x2 table, written out cell by cell."""
    table = {
        (1, 1): pab,
        (1, 0): pa - pab,
        (0, 1): pb - pab,
        (0, 0): 1.0 - pa - pb + pab,
    }
    marg_a, marg_b = {1: pa, 0: 1.0 - pa}, {1: pb, 0: 1.0 - pb}
    return sum(c * math.log(c / (marg_a[a] * marg_b[b])) for (a, b), c in table.items() if c > 0)


def test_pair_information_is_the_mutual_information_of_the_table() -> None:
    from latent.bounds._maxent import _pair_information

    for pa, pb, pab in [(0.5, 0.4, 0.3), (0.3, 0.6, 0.05), (0.2, 0.7, 0.14), (0.9, 0.8, 0.8)]:
        assert _pair_information(pa, pb, pab) == pytest.approx(
            _mutual_information(pa, pb, pab), rel=1e-12, abs=1e-15
        )
    assert _pair_information(0.2, 0.7, 0.14) == pytest.approx(0.0, abs=1e-15)  # independent
    assert _pair_information(0.3, 0.4, 0.35) is None  # P(a and b) above P(a)
    assert _pair_information(0.6, 0.7, 0.2) is None  # below P(a) + P(b) - 1


def test_tree_maxent_keeps_the_most_informative_spanning_tree() -> None:
    """Chow–Liu by brute force: among all spanning trees of 4 statements over their 6 known
    pairs, the one of largest total mutual information (unique here); maximum entropy on a
    tree is prod p_i prod_(ij in tree) p_ij / (p_i p_j)."""
    from itertools import combinations

    p = [0.5, 0.4, 0.3, 0.6]
    lift = {(0, 1): 1.3, (0, 2): 0.7, (0, 3): 1.1, (1, 2): 1.5, (1, 3): 0.9, (2, 3): 1.2}
    known: dict[tuple[int, ...], float] = {(i,): p[i] for i in range(4)}
    known.update({(i, j): p[i] * p[j] * f for (i, j), f in lift.items()})
    info = {e: _mutual_information(p[e[0]], p[e[1]], known[e]) for e in lift}
    assert len({round(v, 12) for v in info.values()}) == 6

    def spans(edges: tuple[tuple[int, int], ...]) -> bool:
        reach = {0}
        for _ in range(4):
            reach |= {b for a, b in edges if a in reach} | {a for a, b in edges if b in reach}
        return reach == {0, 1, 2, 3}

    trees = [t for t in combinations(sorted(lift), 3) if spans(t)]
    assert len(trees) == 16  # Cayley: 4^(4-2)
    best = max(trees, key=lambda t: sum(info[e] for e in t))
    expect = math.prod(p) * math.prod(known[e] / (p[e[0]] * p[e[1]]) for e in best)
    assert bounds.tree_maxent(4, known) == pytest.approx(expect, rel=1e-12)
    # only a tree's worth of pairs: the product over exactly those
    chain = {k: v for k, v in known.items() if len(k) == 1 or k in ((0, 1), (1, 2), (2, 3))}
    assert bounds.tree_maxent(4, chain) == pytest.approx(
        known[(0, 1)] * known[(1, 2)] * known[(2, 3)] / (p[1] * p[2]), rel=1e-12
    )
    # no pairs: the product of the singles; an unknown single: None; a zero: 0
    assert bounds.tree_maxent(4, {(i,): p[i] for i in range(4)}) == pytest.approx(math.prod(p))
    assert bounds.tree_maxent(4, {(i,): p[i] for i in range(3)}) is None
    assert bounds.tree_maxent(2, {(0,): 0.0, (1,): 0.5}) == 0.0
    # a pair inside the tree that is impossible: P(all) = 0
    assert bounds.tree_maxent(2, {(0,): 0.5, (1,): 0.4, (0, 1): 0.0}) == 0.0
    # an inconsistent pair is left out, not used
    bad = {(0,): 0.5, (1,): 0.4, (0, 1): 0.45}
    assert bounds.tree_maxent(2, bad) == pytest.approx(0.2, rel=1e-12)


def test_the_unscaled_moment_lp_gives_the_closed_forms() -> None:
    """The benchmark's comparison LP: with S_1 alone, Fréchet's [max(0, S_1 - (m - 1)),
    S_1 / m]; with every moment of 2 statements, P(all) = S_2 exactly."""
    lo, hi = bounds.binomial_moment_bounds_unscaled(3, [1.0, 2.4])
    assert (lo, hi) == (pytest.approx(0.4, abs=1e-9), pytest.approx(0.8, abs=1e-9))
    lo, hi = bounds.binomial_moment_bounds_unscaled(3, [1.0, 1.2])
    assert (lo, hi) == (pytest.approx(0.0, abs=1e-9), pytest.approx(0.4, abs=1e-9))
    lo, hi = bounds.binomial_moment_bounds_unscaled(2, [1.0, 0.9, 0.3])
    assert lo == pytest.approx(0.3, abs=1e-9) and hi == pytest.approx(0.3, abs=1e-9)
    assert bounds.binomial_moment_bounds_unscaled(2, [1.0, 2.5]) is None  # infeasible


def test_a_failed_moment_lp_gives_the_trivial_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    """When HiGHS returns no point, the certified LP falls back to [0, 1], never a guess."""
    from types import SimpleNamespace

    import latent.bounds._moments as mom

    monkeypatch.setattr(mom, "linprog", lambda *a, **k: SimpleNamespace(x=None, status=2))
    mat, rhs, c = np.eye(2), np.array([0.5, 0.5]), np.array([0.0, 1.0])
    assert mom._certified_lp(mat, rhs, c, "min") == 0.0
    assert mom._certified_lp(mat, rhs, c, "max") == 1.0


def test_maxent_of_a_certain_statement_rules_out_every_atom_without_it() -> None:
    """P(s0) = 1: the atoms where s0 is false get exactly 0 (removed before the fit, not
    driven towards 0 by a multiplier running off to infinity); the rest is s1's 0.3."""
    w = bounds.maxent_distribution(2, {(0,): 1.0, (1,): 0.3})
    assert w is not None
    # atoms by bit: none, s0 only, s1 only, both
    assert w[0] == 0.0 and w[2] == 0.0
    assert w.tolist() == pytest.approx([0.0, 0.7, 0.0, 0.3], abs=1e-12)


def test_newton_alone_solves_an_interior_maxent(monkeypatch: pytest.MonkeyPatch) -> None:
    """Newton's method reaches an interior solution by itself; proportional fitting is only
    the fallback when it stalls. With the fallback switched off, three statements with all
    singles and pairs are still fitted (each constraint to 1e-10)."""
    import latent.bounds._maxent as mx

    def no_fallback(*args: object, **kwargs: object) -> None:
        raise AssertionError("Newton stalled on an interior problem")

    monkeypatch.setattr(mx, "_ipf", no_fallback)
    known = {(0,): 0.5, (1,): 0.4, (2,): 0.3, (0, 1): 0.25, (1, 2): 0.15, (0, 2): 0.16}
    w = mx.maxent_distribution(3, known)
    assert w is not None
    for key, p in known.items():
        mask = sum(1 << i for i in key)
        assert sum(w[a] for a in range(8) if a & mask == mask) == pytest.approx(p, abs=1e-10)


def test_maxent_falls_back_to_proportional_fitting() -> None:
    """With no Newton step allowed, the fallback fits alone: two statements with their
    pair fix the four atoms, (1 - pa - pb + pab, pa - pab, pb - pab, pab)."""
    pa, pb, pab = 0.5, 0.4, 0.3
    w = bounds.maxent_distribution(2, {(0,): pa, (1,): pb, (0, 1): pab}, max_iter=0)
    assert w is not None
    assert w.tolist() == pytest.approx([1 - pa - pb + pab, pa - pab, pb - pab, pab], abs=1e-10)


def test_gaussian_order_is_cut_where_the_subsets_exceed_the_limit() -> None:
    """10 statements: 10 singles + 45 pairs = 55 subsets at order 2, + 120 triples = 175."""
    from latent.bounds._blocks import _gauss_order

    assert _gauss_order(10, 2, 55) == 2 and _gauss_order(10, 2, 54) == 1
    assert _gauss_order(10, 3, 175) == 3 and _gauss_order(10, 3, 174) == 2
    assert _gauss_order(10, 5, 10**6) == bounds.GAUSS_MAX_ORDER == 3
    assert _gauss_order(2, 3, 10**6) == 2 and _gauss_order(10, 2, 1) == 1


def test_a_large_block_reports_its_independence_value() -> None:
    """A discrete block past the sharp LP's size (16 statements, each true on one of two
    equally likely outcomes): its independence value is the product of the singles."""
    m = 16
    assert m > bounds.MAX_ATOM_M
    block = DiscreteBlock(
        outcomes={"x": 0.5, "y": 0.5},
        statements=[
            DiscreteStatement(id=f"s{i}", text=f"s{i}", outcomes=["x" if i % 4 else "y"])
            for i in range(m)
        ],
    )
    b = bounds.block_bounds(block, 1)
    assert b.independence == pytest.approx(0.5**m, rel=1e-12)
    assert b.log10_independence == pytest.approx(m * math.log10(0.5), rel=1e-12)


def test_the_world_truths_standard_error_adds_the_blocks_in_quadrature() -> None:
    """Independent blocks' estimates have independent errors: the world's log10 standard
    error is the root of the sum of the blocks' squares (small.json: one estimated block)."""
    from pathlib import Path

    from latent.world import load_world

    w = load_world(Path(__file__).resolve().parent.parent / "examples" / "small.json")
    wb = bounds.world_bounds(w, 2)
    ses = [b.truth_log10_stderr for b in wb.blocks]
    assert any(se > 0 for se in ses)
    assert wb.truth_log10_stderr == pytest.approx(math.sqrt(sum(se * se for se in ses)), rel=1e-12)


def test_a_position_past_the_block_is_refused_with_its_range() -> None:
    """Positions run 0..m-1: m itself is outside (one past the end), and the message says
    the range to use."""
    with pytest.raises(LatentError) as e:
        bounds.check_known(3, {(0, 3): 0.1})
    assert str(e.value) == "known subset (0, 3) has a position outside 0..2; fix it"
    with pytest.raises(LatentError, match=r"^known subset \(-1,\) has a position outside 0\.\.2"):
        bounds.check_known(3, {(-1,): 0.1})
    assert bounds.check_known(3, {(2, 0): 0.1}) == {(0, 2): 0.1}


def test_a_worlds_logs_are_the_sums_of_its_blocks() -> None:
    """Two blocks of two fair coins: every figure of each block is 1/4 (the pairs say they
    are independent), so the world's truth and maximum entropy are 1/16, logs included."""
    w = World(blocks=[_coins(2, "a"), _coins(2, "b")])
    wb = bounds.world_bounds(w, 2)
    want = math.log10(1 / 16)
    assert wb.maxent == pytest.approx(1 / 16, rel=1e-9)
    assert wb.log10_maxent == pytest.approx(want, rel=1e-9)
    assert wb.log10_truth == pytest.approx(want, rel=1e-12)
    assert wb.log10_lower == pytest.approx(want, rel=1e-6)
    assert wb.log10_upper == pytest.approx(want, rel=1e-6)


def test_maxent_newton_refuses_a_step_that_does_not_lower_the_dual(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The line search of max-ent's Newton method keeps a step only when the dual
    log Z(lambda) - lambda.p falls by at least 1e-4 t |g.step| (Armijo), else halves it.
    Four statements, each 1/2, with P(all four) = q, constraints on the singles and the
    quadruple: as q falls from 0.47 to 0.4 the full first step from lambda = 0 (uniform
    atoms) goes from lowering the dual to raising it (on random problems of up to 5
    statements no trial step left the dual within 1e-3 |t g.step| of where it was, so a
    loosened test decided the same), and this test finds the q (about 0.435) where the
    full step leaves the dual exactly where it was, with its own dual,
    gradient and Hessian written out below. There the full step must be refused. One Newton
    iteration (`max_iter=1`), the proportional-fitting fallback switched off so that the
    iterate comes back as it is (a test seam); lambda is read back from the atoms:
    log(w_a / w_none) is the sum of the lambdas of the constraints inside atom a."""
    from scipy.optimize import brentq
    from scipy.special import logsumexp

    import latent.bounds._maxent as mx

    keys = [(0,), (1,), (2,), (3,), (0, 1, 2, 3)]
    inside = np.array([[float(all(a >> i & 1 for i in k)) for a in range(16)] for k in keys])

    def dual(lam: np.ndarray, p: np.ndarray) -> float:
        return float(logsumexp(lam @ inside) - lam @ p)

    def newton_step(p: np.ndarray) -> tuple[np.ndarray, float]:
        q0 = np.full(16, 1 / 16)
        e = inside @ q0
        grad = e - p
        hess = (inside * q0) @ inside.T - np.outer(e, e)
        step = -np.linalg.solve(hess, grad)
        return step, float(grad @ step)

    def probs(q: float) -> np.ndarray:
        return np.array([0.5, 0.5, 0.5, 0.5, q])

    def rise(q: float) -> float:
        step, _ = newton_step(probs(q))
        return dual(step, probs(q)) - dual(np.zeros(5), probs(q))

    assert rise(0.47) < 0 < rise(0.4)
    q = brentq(rise, 0.4, 0.47, xtol=1e-15)
    p = probs(q)
    step, slope = newton_step(p)
    assert slope < 0 and abs(rise(q)) < 1e-6 * abs(slope)

    monkeypatch.setattr(mx, "_ipf", lambda m, masks, p, w, tol: w)
    w = mx.maxent_distribution(4, dict(zip(keys, p.tolist(), strict=True)), max_iter=1)
    assert w is not None and np.all(w > 0)
    theta = np.log(w / w[0])
    lam = np.array([theta[1], theta[2], theta[4], theta[8], 0.0])
    lam[4] = theta[15] - lam[:4].sum()
    np.testing.assert_allclose(theta, lam @ inside, atol=1e-9)  # the family's form
    t = float(lam @ step / (step @ step))
    np.testing.assert_allclose(lam, t * step, atol=1e-9)  # a multiple of the Newton step
    assert t < 1.0, "the full step, which does not lower the dual, was kept"
    assert dual(lam, p) <= dual(np.zeros(5), p) + 1e-4 * t * slope
