"""Bounds on P(all) checked against brute-force enumeration, not against themselves."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from latent import bounds
from latent.world import DiscreteBlock, DiscreteStatement, GaussianBlock, GaussianStatement, World

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def random_block(seed: int, m: int, n_out: int, density: float) -> DiscreteBlock:
    """A random discrete block: random outcome weights, random statements."""
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(n_out, 0.7))
    outs = {f"o{i}": float(x) for i, x in enumerate(p)}
    outs[f"o{n_out - 1}"] += 1.0 - math.fsum(outs.values())
    names = list(outs)
    return DiscreteBlock(
        outcomes=outs,
        statements=[
            DiscreteStatement(
                id=f"s{j}", text="t", outcomes=[o for o in names if rng.random() < density]
            )
            for j in range(m)
        ],
    )


def brute_prob(block: DiscreteBlock, idx: tuple[int, ...]) -> float:
    """P(all statements idx true) by looping over outcomes."""
    sets = [set(block.statements[i].outcomes) for i in idx]
    return math.fsum(p for o, p in block.outcomes.items() if all(o in s for s in sets))


def brute_known(block: DiscreteBlock, order: int) -> dict[tuple[int, ...], float]:
    m = len(block.statements)
    return {
        sub: brute_prob(block, sub)
        for k in range(1, order + 1)
        for sub in combinations(range(m), k)
    }


def brute_lp(m: int, known: dict[tuple[int, ...], float]) -> tuple[float, float]:
    """The atom LP written densely and solved directly (independent of column tricks)."""
    atoms = range(1 << m)
    rows = [[1.0] * (1 << m)]
    rhs = [1.0]
    for sub, p in known.items():
        rows.append([1.0 if all((a >> i) & 1 for i in sub) else 0.0 for a in atoms])
        rhs.append(p)
    c = np.zeros(1 << m)
    c[-1] = 1.0
    lo = linprog(c, A_eq=rows, b_eq=rhs, method="highs").fun
    hi = -linprog(-c, A_eq=rows, b_eq=rhs, method="highs").fun
    return float(lo), float(hi)


#: Random discrete blocks of 2 to 6 statements (tests/test_plant.py draws from them too).
blocks = st.builds(
    random_block,
    seed=st.integers(0, 10**6),
    m=st.integers(2, 6),
    n_out=st.integers(2, 12),
    density=st.floats(0.3, 0.95),
)


@SETTINGS
@given(block=blocks, order=st.integers(1, 3))
def test_every_bound_contains_truth(block: DiscreteBlock, order: int) -> None:
    m = len(block.statements)
    order = min(order, m)
    known = brute_known(block, order)
    truth = brute_prob(block, tuple(range(m)))
    lo, hi = bounds.frechet(m, known)
    assert lo <= truth <= hi
    assert bounds.hunter_worsley(m, known) <= truth
    plo, phi = bounds.binomial_moment_bounds(m, bounds.binomial_moments(m, known, order))
    assert plo <= truth <= phi
    slo, shi = bounds.sharp_bounds(m, known)
    assert slo <= truth <= shi
    assert truth <= min(known.values()) + 1e-15
    # sharp is the best (up to the interior-point stopping accuracy, ~1e-9)
    assert slo >= max(lo, plo, bounds.hunter_worsley(m, known)) - 1e-8
    assert shi <= min(hi, phi) + 1e-8


@SETTINGS
@given(block=blocks, order=st.integers(1, 3))
def test_sharp_bounds_equal_dense_lp(block: DiscreteBlock, order: int) -> None:
    m = len(block.statements)
    known = brute_known(block, min(order, m))
    slo, shi = bounds.sharp_bounds(m, known)
    blo, bhi = brute_lp(m, known)
    # valid always (certified from the dual); tight to the interior point's stopping
    # accuracy, seen up to ~3e-8 in degenerate cases
    assert slo <= blo + 1e-12 and shi >= bhi - 1e-12
    assert slo == pytest.approx(blo, abs=1e-7)
    assert shi == pytest.approx(bhi, abs=1e-7)


@SETTINGS
@given(block=blocks)
def test_discrete_moments_match_sums(block: DiscreteBlock) -> None:
    m = len(block.statements)
    known = brute_known(block, m)
    exact = bounds.binomial_moments_discrete(block, m)
    summed = bounds.binomial_moments(m, known, m)
    assert exact == pytest.approx(summed, rel=1e-9, abs=1e-12)


def test_prekopa_order_one_is_frechet() -> None:
    for m, s1 in [(5, 4.6), (10, 9.5), (1000, 999.2), (7, 2.0)]:
        lo, hi = bounds.binomial_moment_bounds(m, [1.0, s1])
        assert lo == pytest.approx(max(0.0, s1 - (m - 1)), abs=1e-9)
        assert hi == pytest.approx(s1 / m, abs=1e-9)  # min p_i is at most the mean


@pytest.mark.parametrize("m", [3, 5, 7])
def test_prekopa_order_two_equals_exchangeable_atom_lp(m: int) -> None:
    """For an exchangeable law the atom LP with symmetric data equals the moment LP."""
    rng = np.random.default_rng(m)
    pn = rng.dirichlet(np.ones(m + 1))  # P(N = n); atoms with n ones share it equally
    p1 = math.fsum(pn[n] * n / m for n in range(m + 1))
    p2 = math.fsum(pn[n] * n * (n - 1) / (m * (m - 1)) for n in range(m + 1))
    known = {(i,): p1 for i in range(m)} | {s: p2 for s in combinations(range(m), 2)}
    s = [1.0, m * p1, math.comb(m, 2) * p2]
    plo, phi = bounds.binomial_moment_bounds(m, s)
    blo, bhi = brute_lp(m, known)
    assert plo == pytest.approx(blo, abs=1e-8)
    assert phi == pytest.approx(bhi, abs=1e-8)


def test_prekopa_large_m_is_valid() -> None:
    from scipy.stats import betabinom

    m, k = 1000, 6
    pn = betabinom.pmf(np.arange(m + 1), m, 30, 2)
    s = [math.fsum(pn[n] * math.comb(n, j) for n in range(m + 1)) for j in range(k + 1)]
    lo, hi = bounds.binomial_moment_bounds(m, s)
    assert lo <= pn[m] <= hi
    assert hi < 0.2


@SETTINGS
@given(ps=st.lists(st.floats(0.05, 0.95), min_size=2, max_size=7))
def test_maxent_independent_world_is_product(ps: list[float]) -> None:
    m = len(ps)
    known = {
        sub: math.prod(ps[i] for i in sub) for k in (1, 2) for sub in combinations(range(m), k)
    }
    # maxent stops at constraint residuals ~1e-10, a relative ~1e-8 on small products
    assert bounds.maxent(m, known) == pytest.approx(math.prod(ps), rel=1e-6)
    assert bounds.independence(m, known) == pytest.approx(math.prod(ps), rel=1e-12)


@SETTINGS
@given(block=blocks, order=st.integers(1, 3))
def test_maxent_matches_constraints(block: DiscreteBlock, order: int) -> None:
    m = len(block.statements)
    known = brute_known(block, min(order, m))
    w = bounds.maxent_distribution(m, known)
    if w is None:  # allowed when the maxent point has implied zeros (documented)
        return
    assert w.min() >= 0 and w.sum() == pytest.approx(1.0)
    for sub, p in known.items():
        q = sum(w[a] for a in range(1 << m) if all((a >> i) & 1 for i in sub))
        assert q == pytest.approx(p, abs=1e-9)


def test_independence_unknown_singleton_is_half() -> None:
    assert bounds.independence(3, {(0,): 0.2}) == pytest.approx(0.2 * 0.25)


def test_tiny_inconsistency_is_tolerated() -> None:
    known = {(0,): 0.5 + 1e-13, (1,): 0.5, (0, 1): 0.25 - 1e-13}
    lo, hi = bounds.sharp_bounds(2, known)
    assert lo <= 0.25 <= hi


def test_world_bounds_contain_truth() -> None:
    from latent.plant import d4_block, parity_block

    world = World(
        blocks=[
            d4_block("a"),
            d4_block("b", innocent=True),
            parity_block(5, "p"),
            random_block(3, 20, 25, 0.9),
        ]
    )
    truths = [brute_prob(b, tuple(range(len(b.statements)))) for b in world.blocks]
    for order in (1, 2, 3):
        wb = bounds.world_bounds(world, order)
        assert wb.lower <= math.prod(truths) <= wb.upper and not wb.truth_outside
        for b, t in zip(wb.blocks, truths, strict=True):
            assert b.lower <= t <= b.upper and not b.truth_outside
            assert b.truth == pytest.approx(t, rel=1e-12)  # reported as is, never clipped
    wb = bounds.world_bounds(world, 2)
    assert wb.blocks[0].upper == pytest.approx(0.25)  # a D4 at order 2 cannot tell
    assert wb.blocks[3].method.startswith("frechet+hunter-worsley+prekopa")
    assert bounds.world_bounds(world, 3).blocks[0].upper == pytest.approx(0.0, abs=1e-9)


def test_bounds_from_known_by_id() -> None:
    from latent.plant import d4_block

    world = World(blocks=[d4_block("a"), d4_block("b", innocent=True)])
    ev = {("aA",): 0.5, ("aB",): 0.5, ("aA", "aB"): 0.25, ("aA", "bA"): 0.25, ("bC",): 0.5}
    wb = bounds.bounds_from_known(world, ev)
    truth = brute_prob(world.blocks[0], (0, 1, 2)) * brute_prob(world.blocks[1], (0, 1, 2))
    assert wb.lower <= truth <= wb.upper <= 0.25 + 1e-9 and not wb.truth_outside
    assert wb.blocks[1].independence == pytest.approx(0.5 * 0.5 * 0.5)


def gaussian_block(seed: int, m: int, prefix: str) -> GaussianBlock:
    """A kernel-correlated Gaussian block with a few flips."""
    rng = np.random.default_rng(seed)
    pts = rng.normal(size=(m, 2))
    d2 = ((pts[:, None] - pts[None]) ** 2).sum(-1)
    cov = 0.9 * np.exp(-d2 / 2) + 0.1 * np.eye(m)
    return GaussianBlock(
        statements=[
            GaussianStatement(
                id=f"{prefix}{i}",
                text="t",
                threshold=float(rng.normal() * 0.5),
                flip=bool(rng.random() < 0.2),
            )
            for i in range(m)
        ],
        covariance=cov.tolist(),
    )


def test_gaussian_world_bounds_invariant() -> None:
    world = World(blocks=[gaussian_block(0, 3, "a"), gaussian_block(1, 5, "b")])
    refs = [_scipy_truth(b) for b in world.blocks]
    for order in (1, 2, 3):
        wb = bounds.world_bounds(world, order)
        assert not wb.truth_outside
        for b, ref in zip(wb.blocks, refs, strict=True):
            assert b.lower <= ref * (1 + 1e-4) + 1e-8 and b.upper >= ref * (1 - 1e-4) - 1e-8
            assert not b.truth_outside
            assert b.order_used == min(order, b.n_statements)
    # a 3-statement block known to order 3 is pinned down
    b0 = bounds.world_bounds(world, 3).blocks[0]
    assert b0.upper - b0.lower < 1e-9


def test_gaussian_large_block_reduces_order() -> None:
    world = World(blocks=[gaussian_block(2, 30, "c")])
    wb = bounds.world_bounds(world, 3, max_subsets=1000)
    blk = wb.blocks[0]
    assert blk.order_used == 2 and "reduced" in blk.method
    assert blk.lower <= blk.truth <= blk.upper and not blk.truth_outside
    assert wb.maxent is None


chosen_lists = st.lists(
    st.lists(st.integers(0, 5), min_size=1, max_size=4, unique=True), min_size=0, max_size=12
)


@SETTINGS
@given(block=blocks, subsets=chosen_lists, seed=st.integers(0, 10**6))
def test_bounds_from_a_chosen_list_contain_truth_and_are_sharp(
    block: DiscreteBlock, subsets: list[list[int]], seed: int
) -> None:
    """A judge's evidence is a list, not "all up to K": the world-level bounds from any list
    contain the brute-force truth and equal the dense LP over exactly those subsets."""
    m = len(block.statements)
    keys = {tuple(sorted(i for i in s if i < m)) for s in subsets} - {()}
    known = {k: brute_prob(block, k) for k in keys}
    ev = {tuple(block.statements[i].id for i in k): p for k, p in known.items()}
    world = World(blocks=[block])
    wb = bounds.bounds_from_known(world, ev)
    truth = brute_prob(block, tuple(range(m)))
    assert wb.lower <= truth <= wb.upper
    blo, bhi = brute_lp(m, known) if known else (0.0, 1.0)
    assert wb.lower == pytest.approx(blo, abs=1e-7) and wb.upper == pytest.approx(bhi, abs=1e-7)
    ind = math.prod(known.get((i,), 0.5) for i in range(m))
    assert wb.independence == pytest.approx(ind, rel=1e-12)
    if wb.maxent is not None:
        assert blo - 1e-7 <= wb.maxent <= bhi + 1e-7


def test_bounds_from_a_chosen_list_of_a_large_block_and_across_blocks() -> None:
    """Above 14 statements the chosen-list path uses Fréchet and Hunter–Worsley (and
    Prékopa when every subset up to some size is given); a subset spanning two blocks caps
    the world's upper bound. All checked against brute-force sums."""
    big = random_block(11, 18, 30, 0.85)
    small = random_block(12, 3, 6, 0.6)
    small = DiscreteBlock(
        outcomes=small.outcomes,
        statements=[s.model_copy(update={"id": f"x{j}"}) for j, s in enumerate(small.statements)],
    )
    world = World(blocks=[big, small])
    m = len(big.statements)
    ids = [s.id for s in big.statements]
    singles = {(ids[i],): brute_prob(big, (i,)) for i in range(m)}
    pairs = {(ids[i], ids[j]): brute_prob(big, (i, j)) for i, j in [(0, 1), (2, 5), (3, 4)]}
    cross = {("s0", "x0"): brute_prob(big, (0,)) * brute_prob(small, (0,))}
    truth_big = brute_prob(big, tuple(range(m)))
    truth = truth_big * brute_prob(small, (0, 1, 2))
    for ev in (singles, singles | pairs, singles | pairs | cross):
        wb = bounds.bounds_from_known(world, ev)
        assert wb.lower <= truth <= wb.upper
        b0 = wb.blocks[0]
        assert b0.lower <= truth_big <= b0.upper and b0.method.startswith("frechet")
    every_pair = singles | {
        (ids[i], ids[j]): brute_prob(big, (i, j)) for i, j in combinations(range(m), 2)
    }
    b0 = bounds.bounds_from_known(world, every_pair).blocks[0]
    assert "prekopa(K=2)" in b0.method and b0.lower <= truth_big <= b0.upper
    capped = bounds.bounds_from_known(world, singles | cross)
    assert capped.upper <= cross[("s0", "x0")] * (1 + 1e-9)


def _scipy_truth(block: GaussianBlock) -> float:
    """P(all) of a Gaussian block straight from its file fields, by scipy's cdf: statement i
    holds iff s_i X_i > s_i c_i (s_i = -1 for a flip), i.e. -s_i X_i < -s_i c_i."""
    from scipy.stats import multivariate_normal

    s = np.array([-1.0 if st.flip else 1.0 for st in block.statements])
    c = np.array([st.threshold for st in block.statements])
    cov = np.asarray(block.covariance) * np.outer(s, s)
    mvn = multivariate_normal(
        mean=np.zeros(len(s)), cov=cov, allow_singular=True, abseps=1e-8, releps=1e-6
    )
    return float(mvn.cdf(-s * c))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), m=st.integers(2, 6), order=st.integers(1, 3))
def test_gaussian_block_bounds_contain_an_independent_truth(seed: int, m: int, order: int) -> None:
    """The bounds against scipy's value computed from the file fields (Genz, requested
    abseps 1e-8 and releps 1e-6; the checks allow 1e-4 relative and 1e-8 absolute)."""
    block = gaussian_block(seed, m, "g")
    ref = _scipy_truth(block)
    for b in (bounds.world_bounds(World(blocks=[block]), order).blocks[0],):
        assert b.lower <= ref * (1 + 1e-4) + 1e-8, (b.lower, ref)
        assert b.upper >= ref * (1 - 1e-4) - 1e-8, (b.upper, ref)
        assert b.truth == pytest.approx(ref, rel=1e-2, abs=1e-9)
        if order >= m:  # everything is known: the range collapses onto the truth
            assert b.upper - b.lower <= 1e-6 + 1e-6 * ref


def test_large_gaussian_block_bounds_contain_a_monte_carlo_truth() -> None:
    """A 20-statement block (Fréchet, Hunter–Worsley, Prékopa) against 400k samples."""
    base = gaussian_block(5, 20, "h")
    block = GaussianBlock(  # lower thresholds than gaussian_block's, so that P(all) ~ 1e-2
        statements=[st.model_copy(update={"threshold": -1.2}) for st in base.statements],
        covariance=base.covariance,
    )
    s = np.array([-1.0 if st.flip else 1.0 for st in block.statements])
    c = np.array([st.threshold for st in block.statements])
    x = np.random.default_rng(0).multivariate_normal(
        np.zeros(20), np.asarray(block.covariance), size=400_000
    )
    hit = np.all(s * x > s * c, axis=1)
    p, se = float(hit.mean()), float(hit.std() / math.sqrt(hit.size))
    for order in (1, 2, 3):
        b = bounds.world_bounds(World(blocks=[block]), order).blocks[0]
        assert b.lower <= p + 5 * se and b.upper >= p - 5 * se, (order, b, p, se)
        assert abs(b.truth - p) <= 5 * se + 1e-3 * p


def test_a_known_impossibility_gives_an_upper_bound_of_exactly_zero() -> None:
    """D4: A={1,2}, B={1,3}, C={2,3}. Knowing the triple (0), or a pair and the triple, the
    upper bound is 0 itself, not a rounding margin above it; a judge reads "impossible"."""
    d4 = {(0,): 0.5, (1,): 0.5, (2,): 0.5, (0, 1): 0.25, (0, 2): 0.25, (1, 2): 0.25}
    assert bounds.sharp_bounds(3, {**d4, (0, 1, 2): 0.0}) == (0.0, 0.0)
    # an impossible pair inside a larger block caps the LP's (padded) maximum at 0
    lo, hi = bounds.sharp_bounds(4, {(0,): 0.5, (1,): 0.5, (0, 1): 0.0, (2, 3): 0.3})
    assert (lo, hi) == (0.0, 0.0)
    # a possible subset still gets the outward rounding margin (never below the truth)
    _, hi = bounds.sharp_bounds(3, d4)
    assert 0.25 <= hi <= 0.25 + 1e-9
