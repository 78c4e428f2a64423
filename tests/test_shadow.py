"""Shadow worlds: hidden structure changes P(Z) and nothing shown for free."""

from __future__ import annotations

import math
from itertools import combinations, product
from pathlib import Path

import numpy as np
import pytest
from scipy.special import ndtr

from latent.decoder import BuiltinDecoder
from latent.families import family_block, path
from latent.generate import generate_world
from latent.nway import nway
from latent.plant import d4_block
from latent.pz import world_pz
from latent.shadow import (
    VARIANTS,
    bit_positions,
    deal_pair,
    deal_world,
    has_hidden,
    mix,
    planted_outcomes,
    replant,
    shadow_of,
    with_hidden,
)
from latent.world import DiscreteBlock, GaussianBlock, World, load_world


def _subset_prob(outcomes: dict[str, float], bits: tuple[int, ...]) -> float:
    """Brute force: the total probability of the strings with every listed bit set."""
    return math.fsum(p for s, p in outcomes.items() if all(s[b] == "1" for b in bits))


@pytest.mark.parametrize("m", [3, 4, 5, 6])
@pytest.mark.parametrize("variant", VARIANTS)
def test_planted_variants_agree_below_order_m(m: int, variant: str) -> None:
    eps = 0.01
    out = planted_outcomes(m, variant, eps)  # type: ignore[arg-type]
    assert math.fsum(out.values()) == pytest.approx(1.0, abs=1e-12)
    assert all(p >= 0 for p in out.values())
    for k in range(1, m):
        for sub in combinations(range(m), k):
            assert _subset_prob(out, sub) == pytest.approx(2.0**-k, abs=1e-12)
    want = {"low": eps * 2.0**-m, "independent": 2.0**-m, "high": 2.0 ** -(m - 1)}[variant]
    assert _subset_prob(out, tuple(range(m))) == pytest.approx(want, rel=1e-12)


def test_three_bit_variants_match_the_d4_blocks() -> None:
    # the D4 trap (A={1,2}, B={1,3}, C={2,3}): singles 1/2, pairs 1/4, triple 0;
    # fair coins: triple 1/8; the innocent D4 (C'={1,4}): triple 1/4
    def d4_moments(block: DiscreteBlock) -> list[float]:
        probs = block.outcomes
        sets = [set(s.outcomes) for s in block.statements]
        out = []
        for k in (1, 2, 3):
            for sub in combinations(range(3), k):
                common = set.intersection(*(sets[i] for i in sub))
                out.append(math.fsum(probs[o] for o in common))
        return out

    trap, innocent = d4_block("t", innocent=False), d4_block("i", innocent=True)
    low = planted_outcomes(3, "low", 0.0)
    high = planted_outcomes(3, "high")
    coins = planted_outcomes(3, "independent")

    def moments(out: dict[str, float]) -> list[float]:
        return [_subset_prob(out, sub) for k in (1, 2, 3) for sub in combinations(range(3), k)]

    assert moments(low) == pytest.approx(d4_moments(trap), abs=1e-12)
    assert moments(high) == pytest.approx(d4_moments(innocent), abs=1e-12)
    assert moments(coins)[:6] == pytest.approx(d4_moments(trap)[:6], abs=1e-12)
    assert moments(coins)[6] == pytest.approx(1 / 8)


def _bits_block(m: int, variant: str = "low", eps: float = 0.02) -> DiscreteBlock:
    out = planted_outcomes(m, variant, eps)  # type: ignore[arg-type]
    order = list(range(m))[::-1]  # statement i is bit m-1-i: positions must be found
    return DiscreteBlock.model_validate(
        {
            "outcomes": out,
            "statements": [
                {
                    "id": f"x{i}",
                    "text": f"Lamp {i} is lit.",
                    "outcomes": [o for o in out if o[b] == "1"],
                }
                for i, b in enumerate(order)
            ],
        }
    )


def test_replant_keeps_ids_texts_and_every_lower_order_probability() -> None:
    block = _bits_block(4)
    assert bit_positions(block) == [3, 2, 1, 0]
    before = World(blocks=[block])
    for variant in VARIANTS:
        after = World(blocks=[replant(block, variant, 0.01)])
        assert [s.text for s in after.blocks[0].statements] == [s.text for s in block.statements]
        for k in range(1, 4):
            for sub in combinations(before.ids, k):
                assert nway(after, list(sub)).p == pytest.approx(
                    nway(before, list(sub)).p, abs=1e-12
                )
    p_all = {v: nway(World(blocks=[replant(block, v, 0.01)]), before.ids).p for v in VARIANTS}
    assert p_all == pytest.approx({"low": 0.01 / 16, "independent": 1 / 16, "high": 1 / 8})


def test_bit_positions_refuses_blocks_it_cannot_replant() -> None:
    assert bit_positions(d4_block("d", innocent=False)) is None  # outcomes 1..4, not bits
    biased = {"".join(s): (0.4 if s[0] == "1" else 0.6) / 4 for s in product("01", repeat=3)}
    block = DiscreteBlock.model_validate(
        {
            "outcomes": biased,
            "statements": [
                {"id": f"y{b}", "text": "t", "outcomes": [o for o in biased if o[b] == "1"]}
                for b in range(3)
            ],
        }
    )
    assert bit_positions(block) is None
    with pytest.raises(ValueError):
        replant(block, "high")


def _family(seed: int = 0, n: int = 6) -> GaussianBlock:
    dec = BuiltinDecoder()
    rng = np.random.default_rng(seed)
    start = rng.standard_normal(dec.dim)
    return family_block(dec, path(start, start + 0.2 * (n - 1) / np.sqrt(dec.dim), n), rng)


def test_mixing_keeps_singletons_and_spans_independence_to_the_original() -> None:
    fam = _family()
    ids = [s.id for s in fam.statements]
    base = World(blocks=[fam])
    singles = [ndtr(-s.threshold) for s in fam.statements]  # unit variances: closed form
    for lam in (0.0, 0.3, 0.8, 1.0):
        w = World(blocks=[mix(fam, lam)])
        for sid, p in zip(ids, singles, strict=True):
            assert nway(w, [sid]).p == pytest.approx(p, rel=1e-12)
        assert np.linalg.eigvalsh(np.array(w.blocks[0].covariance)).min() > 0
    # λ = 0: independent, so P(all) is the product of the singles (closed form)
    assert world_pz(World(blocks=[mix(fam, 0.0)])).pz == pytest.approx(math.prod(singles), rel=1e-3)
    assert mix(fam, 1.0).covariance == fam.covariance
    # λ between: P(all) between those two (positively correlated statements)
    mid = world_pz(World(blocks=[mix(fam, 0.5)])).pz
    assert math.prod(singles) < mid < world_pz(base).pz


def test_mixing_a_block_already_used_changes_its_p_all() -> None:
    fam = _family(seed=2)
    before = world_pz(World(blocks=[fam])).pz  # fills the block's cached matrices
    after = world_pz(World(blocks=[mix(fam, 0.0)])).pz
    singles = [ndtr(-s.threshold) for s in fam.statements]
    assert after == pytest.approx(math.prod(singles), rel=1e-3) and after < before / 2


def test_mixing_keeps_the_variances_of_a_file_covariance() -> None:
    cov = [[2.0, 1.2, 0.3], [1.2, 1.5, 0.2], [0.3, 0.2, 0.5]]
    block = GaussianBlock.model_validate(
        {
            "statements": [{"id": f"g{i}", "text": "t", "threshold": 0.3 * i} for i in range(3)],
            "covariance": cov,
        }
    )
    w0, w1 = World(blocks=[block]), World(blocks=[mix(block, 0.25)])
    for sid in w0.ids:
        assert nway(w1, [sid]).p == pytest.approx(nway(w0, [sid]).p, rel=1e-12)
    assert np.diag(mix(block, 0.25).covariance).tolist() == [2.0, 1.5, 0.5]


OPTS = {"statements": 30, "families": 2, "counterexamples": 2, "flips": 1}


def test_hidden_seeds_change_p_z_but_nothing_shown() -> None:
    worlds = [generate_world(seed=11, hidden=h, **OPTS) for h in range(6)]
    first = worlds[0]
    for w in worlds[1:]:
        assert w.ids == first.ids
        assert [w.statement(i).text for i in w.ids] == [first.statement(i).text for i in w.ids]
        for sid in w.ids:
            assert nway(w, [sid]).p == pytest.approx(nway(first, [sid]).p, abs=1e-12)
    assert len({round(world_pz(w).log10_pz or 0, 6) for w in worlds}) > 1
    again = generate_world(seed=11, hidden=3, **OPTS)
    assert again.to_json() == worlds[3].to_json()
    assert again.meta is not None and again.meta.settings["hidden"] == 3
    # the hidden path makes every counterexample a block of fair bits
    planted = [b for b in first.blocks if isinstance(b, DiscreteBlock)]
    assert len(planted) == 2 and all(bit_positions(b) is not None for b in planted)


def test_without_hidden_the_generator_is_unchanged() -> None:
    w = generate_world(seed=11, **OPTS)
    assert w.meta is not None and "hidden" not in w.meta.settings


def test_deal_pair_is_exchangeable() -> None:
    # the real world is the lower of the two in about half the deals (Monte Carlo: 160
    # deals, the count is Binomial(160, 1/2) if exchangeable: 80 ± 6.3; allow ±4.5 SD)
    lower = 0
    nearer = 0
    small = {"statements": 12, "families": 2, "counterexamples": 1, "flips": 0}
    for seed in range(160):
        pair = deal_world(lambda v, h: generate_world(seed=v, hidden=h, **small), seed, 10.0)
        assert pair is not None
        lt, ll = pair.truth.log10_pz, pair.lie.log10_pz
        assert lt is not None and ll is not None and abs(lt - ll) >= 1.0
        lower += lt < ll
        ps = [nway(pair.real, [i]).p for i in pair.real.ids]
        prod = math.fsum(math.log10(p) for p in ps)
        nearer += abs(lt - prod) < abs(ll - prod)
        # the shadow shows exactly what the real world shows
        assert [pair.shadow.statement(i).text for i in pair.real.ids] == [
            pair.real.statement(i).text for i in pair.real.ids
        ]
    assert 52 <= lower <= 108
    assert 52 <= nearer <= 108


def test_deal_is_reproducible_and_gives_up_without_hidden_structure() -> None:
    def gen(v: int, h: int) -> World:
        return generate_world(seed=v, hidden=h, **OPTS)

    one, two = deal_world(gen, 5, 10.0), deal_world(gen, 5, 10.0)
    assert one is not None and two is not None
    assert one.real.to_json() == two.real.to_json() and one.lie.pz == two.lie.pz
    flat = generate_world(seed=1, statements=10)  # independents only
    assert not has_hidden(flat)
    assert deal_world(lambda v, h: generate_world(seed=v, statements=10, hidden=h), 1, 10.0) is None
    assert deal_pair(lambda h: flat, np.random.default_rng(0), 10.0, tries=3) is None


def test_a_file_world_gets_a_redrawn_shadow() -> None:
    world = generate_world(seed=4, **OPTS)  # as if loaded from a file
    found = shadow_of(world, np.random.default_rng(0), 10.0)
    assert found is not None
    shadow, pz = found
    assert abs((pz.log10_pz or 0) - (world_pz(world).log10_pz or 0)) >= 1.0
    for sid in world.ids:
        assert nway(shadow, [sid]).p == pytest.approx(nway(world, [sid]).p, abs=1e-12)
    assert shadow_of(generate_world(seed=1, statements=10), np.random.default_rng(0), 10.0) is None
    assert with_hidden(world, np.random.default_rng(1)).ids == world.ids


def test_a_debate_round_lies_with_its_shadow() -> None:
    from debate import rounds

    settings = rounds.preset("custom", **OPTS, debate=True)
    dealt = rounds.deal_round(settings, 123)
    assert dealt.world.meta is not None and "hidden" in dealt.world.meta.settings
    assert dealt.claims is not None and dealt.secret.honest_side is not None
    truth = dealt.secret.truth
    liar = "b" if dealt.secret.honest_side == "a" else "a"
    assert dealt.claims[dealt.secret.honest_side] == truth
    assert abs(math.log10(dealt.claims[liar] / truth)) >= 1.0
    # the lie is the P(Z) of a world that shows the same: re-deal it and compare
    again = rounds.deal_round(settings, 123)
    assert again.claims == dealt.claims and again.world.to_json() == dealt.world.to_json()
    # a round without a debate keeps the generator's plain world
    solo = rounds.deal_round(rounds.preset("practice"), 123)
    assert solo.world.meta is not None and "hidden" not in solo.world.meta.settings


def test_deal_lie_uses_a_pair_then_a_redrawn_shadow_then_the_old_lie() -> None:
    from debate.lies import deal_lie
    from debate.rules import Rules

    rules = Rules()

    def make(v: int, h: int | None) -> World:
        return generate_world(seed=v, hidden=h, **OPTS)

    paired = deal_lie(make, 4, "random-liar", rules, np.random.default_rng(0))
    assert paired.source == "pair" and paired.spec.startswith("builtin:")
    assert paired.world.meta is not None and "hidden" in paired.world.meta.settings
    assert paired.truth == world_pz(paired.world).pz
    assert abs(math.log10(paired.claim / paired.truth)) >= 1.0
    world = generate_world(seed=4, **OPTS)  # a world given as such (a file)
    truth = world_pz(world).pz
    redrawn = deal_lie(world, 4, "random-liar", rules, np.random.default_rng(0))
    assert redrawn.source == "redrawn" and redrawn.world is world and redrawn.truth == truth
    assert abs(math.log10(redrawn.claim / truth)) >= 1.0
    flat = generate_world(seed=1, statements=10)
    t_flat = world_pz(flat).pz
    old = deal_lie(flat, 1, "builtin:cherry-picker", rules, np.random.default_rng(0))
    assert old.source == "fallback" and 10.0 <= max(old.claim / t_flat, t_flat / old.claim) <= 100.0
    # P(Z) = 0 (an unsoftened D4 trap): nothing to hide it in, and no crash
    zero = World(blocks=[d4_block("z", innocent=False), *flat.blocks])
    assert world_pz(zero).pz == 0.0
    lie0 = deal_lie(zero, 1, "random-liar", rules, np.random.default_rng(0))
    assert lie0.claim > 0 and lie0.source == "fallback"


def test_planted_variant_reads_each_replanted_variant_back() -> None:
    """What the reveal says of a planted block: the variant replant built, read back from
    the block's own outcomes (P(all) computed here by nway, independently)."""
    from latent.shadow import planted_variant

    for m in (3, 4, 5):
        block = _bits_block(m)
        for variant in VARIANTS:
            planted = replant(block, variant, 0.01)
            p_all = nway(World(blocks=[planted]), [s.id for s in planted.statements]).p
            assert planted_variant(planted) == variant, (m, variant, p_all * 2**m)
    # a block that is not m fair bits (the D4 die of the example world) has no variant
    die = load_world(Path(__file__).parent.parent / "examples" / "small.json").blocks[1]
    assert isinstance(die, DiscreteBlock) and planted_variant(die) is None
