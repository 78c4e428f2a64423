"""P(Z) and the oracle at the world level, against independent computations."""

from __future__ import annotations

import json
import math
from itertools import combinations, product
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import multivariate_normal, norm

from latent.errors import LatentError
from latent.nway import block_known, nway, pair_matrix
from latent.pz import world_pz
from latent.sampling import sample_truth
from latent.world import World, load_world, parse_world
from tui.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _brute_discrete(block: dict[str, Any], ids: list[str]) -> float:
    stmts = {s["id"]: set(s["outcomes"]) for s in block["statements"]}
    return math.fsum(p for o, p in block["outcomes"].items() if all(o in stmts[i] for i in ids))


def test_example_world_pz_is_product_of_independent_blocks() -> None:
    w = load_world(EXAMPLES / "small.json")
    res = world_pz(w)
    raw = json.loads((EXAMPLES / "small.json").read_text())
    # discrete: brute force over outcomes
    d4 = _brute_discrete(raw["blocks"][1], ["s03", "s09", "s01"])
    # independent Gaussian: product of normal tails
    ind = math.prod(norm.sf(t) for t in (-1.5, -2.0, -1.8))
    # husky family: scipy's Genz integration is accurate at m=4 and P ≈ 1e-2
    fam = raw["blocks"][0]
    cov = np.array(fam["covariance"])
    sign = np.array([-1.0 if s.get("flip") else 1.0 for s in fam["statements"]])
    thr = np.array([s["threshold"] for s in fam["statements"]])
    # E_i = {sign_i (X_i - c_i) > 0}  <=>  -sign_i X_i < -sign_i c_i
    s_cov = cov * np.outer(sign, sign)
    # abseps 1e-10 at P ~ 1.5e-2: scipy's own error is below 1e-8 relative
    gauss = multivariate_normal(mean=np.zeros(4), cov=s_cov, abseps=1e-10, releps=0).cdf(
        -sign * thr
    )
    expect = d4 * ind * gauss
    # as accurate as the estimate says it is: 4 of its standard errors (~0.14% here)
    rel_se = res.log10_pz_stderr * math.log(10)
    assert abs(res.pz / expect - 1) <= 4 * rel_se + 1e-6
    assert 0 < res.log10_pz_stderr < 1e-3
    assert res.blocks[1].log10_pz == pytest.approx(math.log10(0.02), abs=1e-12)
    assert res.blocks[1].exact and res.blocks[2].exact


def test_monte_carlo_agrees_with_every_pair_and_the_whole(tmp_path: Path) -> None:
    """400k joint draws: each pair, each block's P(all) and P(Z) within 5 binomial standard
    errors. P(Z) ~ 2.7e-4 is rare in 400k draws (5 SE = ±48%), so it is also checked as the
    product of the blocks' frequencies (independent blocks): 5 SE = ±8.5%. The 0.5% the
    estimate claims is checked against scipy in the test above."""
    w = load_world(EXAMPLES / "small.json")
    ids, truth = sample_truth(w, 400_000, rng=11)
    n = truth.shape[0]
    pm = pair_matrix(w, ids)
    for i, j in combinations(range(len(ids)), 2):
        f = truth[:, i] & truth[:, j]
        p = pm[i, j]
        assert abs(f.mean() - p) < 5 * math.sqrt(p * (1 - p) / n) + 1e-9, (ids[i], ids[j])
    res = world_pz(w)
    pz = res.pz
    freq = truth.all(axis=1).mean()
    assert abs(freq - pz) < 5 * math.sqrt(pz * (1 - pz) / n)
    start, rel_var, prod = 0, 0.0, 1.0
    for block, b in zip(w.blocks, res.blocks, strict=True):
        cols = truth[:, start : start + len(block.statements)]
        start += len(block.statements)
        f, p = float(cols.all(axis=1).mean()), 10**b.log10_pz
        assert abs(f - p) < 5 * math.sqrt(p * (1 - p) / n), block.name
        prod *= f
        rel_var += (1 - p) / (n * p)
    assert abs(prod / pz - 1) < 5 * math.sqrt(rel_var)
    assert 5 * math.sqrt(rel_var) < 0.1


def test_nway_across_blocks_is_a_product() -> None:
    w = load_world(EXAMPLES / "small.json")
    a = nway(w, ["s03", "s09"]).p
    b = nway(w, ["s07", "s04"]).p
    both = nway(w, ["s03", "s07", "s09", "s04"])
    assert both.p == pytest.approx(a * b, rel=1e-12)
    assert both.exact  # pairs are closed forms, so the product is too


def test_nway_errors() -> None:
    w = load_world(EXAMPLES / "small.json")
    with pytest.raises(LatentError, match="unknown statement id 'zz'"):
        nway(w, ["s03", "zz"])
    with pytest.raises(LatentError, match="listed twice"):
        nway(w, ["s03", "s03"])


def test_impossible_world_has_zero_pz_and_null_log() -> None:
    w = load_world(EXAMPLES / "d4.json")
    res = world_pz(w)
    assert res.pz == 0.0 and res.log10_pz is None
    assert nway(w, ["A", "B", "C"]).log10_p is None


def _discrete_world(probs: list[float], members: list[list[int]]) -> World:
    outcomes = {str(k): p for k, p in enumerate(probs)}
    return parse_world(
        {
            "blocks": [
                {
                    "kind": "discrete",
                    "outcomes": outcomes,
                    "statements": [
                        {"id": f"e{i}", "text": f"event {i}", "outcomes": [str(k) for k in m]}
                        for i, m in enumerate(members)
                    ],
                }
            ]
        }
    )


@st.composite
def discrete_worlds(draw: st.DrawFn) -> World:
    k = draw(st.integers(2, 8))
    raw = draw(st.lists(st.integers(1, 20), min_size=k, max_size=k))
    probs = [r / sum(raw) for r in raw]
    probs[-1] = 1.0 - math.fsum(probs[:-1])
    m = draw(st.integers(1, 5))
    members = [
        draw(st.lists(st.integers(0, k - 1), min_size=1, max_size=k, unique=True)) for _ in range(m)
    ]
    return _discrete_world(probs, members)


@settings(max_examples=60, deadline=None)
@given(discrete_worlds())
def test_all_is_at_most_every_nway_probability(w: World) -> None:
    pz = world_pz(w).pz
    ids = w.ids
    for k in range(1, len(ids) + 1):
        for sub in combinations(ids, k):
            assert pz <= nway(w, list(sub)).p + 1e-15


@settings(max_examples=40, deadline=None)
@given(discrete_worlds())
def test_block_known_matches_brute_force(w: World) -> None:
    block = w.blocks[0]
    known = block_known(block, 3)
    probs = block.probs
    mem = block.membership
    for sub, p in known.items():
        brute = math.fsum(probs[o] for o in range(len(probs)) if all(mem[i, o] for i in sub))
        assert p == pytest.approx(brute, abs=1e-15)


def test_gaussian_triples_by_enumeration_of_signs() -> None:
    """P(all three) from inclusion–exclusion over sign patterns sums to 1 (consistency)."""
    cov = [[1.0, 0.6, -0.3], [0.6, 1.0, 0.2], [-0.3, 0.2, 1.0]]
    patterns = []
    for flips in product([False, True], repeat=3):
        w = parse_world(
            {
                "blocks": [
                    {
                        "kind": "gaussian",
                        "statements": [
                            {"id": f"x{i}", "text": "t", "threshold": t, "flip": f}
                            for i, (t, f) in enumerate(zip([0.3, -0.5, 1.1], flips, strict=True))
                        ],
                        "covariance": cov,
                    }
                ]
            }
        )
        patterns.append(nway(w, ["x0", "x1", "x2"]).p)
    assert math.fsum(patterns) == pytest.approx(1.0, abs=1e-12)


def test_cli_prob_and_nway_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prob", str(EXAMPLES / "small.json"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"pz", "log10_pz", "log10_pz_stderr", "blocks"} <= set(out)
    assert all("log10_pz" in b for b in out["blocks"])
    assert out["pz"] == pytest.approx(10 ** out["log10_pz"])
    assert main(["nway", str(EXAMPLES / "small.json"), "s03", "s09", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    raw = json.loads((EXAMPLES / "small.json").read_text())
    brute = _brute_discrete(raw["blocks"][1], ["s03", "s09"])  # 0.265, by summation
    assert out["ids"] == ["s03", "s09"] and out["p"] == pytest.approx(brute, rel=1e-12)
    assert out["log10_p"] == pytest.approx(math.log10(brute), rel=1e-12)


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        '{"blocks": [{"kind": "discrete", "outcomes": {"a": 0.3},'
        ' "statements": [{"id": "x", "text": "t", "outcomes": ["a"]}]}]}'
    )
    assert main(["prob", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(bad) in err and "sum to 1" in err
    assert main(["nway", str(EXAMPLES / "small.json"), "nope"]) == 2
    assert "unknown statement id 'nope'" in capsys.readouterr().err


def _dup_world(flip: bool) -> World:
    cov = [[1, 1.0, 0.5, 0.2], [1.0, 1, 0.5, 0.2], [0.5, 0.5, 1, 0.3], [0.2, 0.2, 0.3, 1]]
    stmts = [
        {"id": "a", "text": "a", "threshold": 0.3},
        {"id": "b", "text": "b", "threshold": 0.3, "flip": flip},
        {"id": "c", "text": "c", "threshold": -1.0},
        {"id": "d", "text": "d", "threshold": -1.0},
    ]
    return parse_world({"blocks": [{"kind": "gaussian", "statements": stmts, "covariance": cov}]})


def test_exact_negation_makes_pz_zero_and_duplicate_changes_nothing() -> None:
    """A statement and its exact negation (r = 1, flipped) cannot both hold; an exact
    duplicate (r = 1, not flipped) adds nothing: compare with the block without it."""
    assert world_pz(_dup_world(True)).pz == 0.0
    dup = world_pz(_dup_world(False))
    cov3 = np.array([[1, 0.5, 0.2], [0.5, 1, 0.3], [0.2, 0.3, 1]])
    ref = multivariate_normal(mean=np.zeros(3), cov=cov3).cdf(np.array([-0.3, 1.0, 1.0]))
    assert dup.pz == pytest.approx(ref, rel=5e-3)
