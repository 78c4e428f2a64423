"""The world generator and its families: counts, determinism, hidden structure, correlation."""

from __future__ import annotations

import itertools
import json
import time

import numpy as np
import pytest
from test_texts import meaning

from latent.decoder import TOPICS, BuiltinDecoder
from latent.errors import LatentError
from latent.families import (
    family_block,
    flip_positions,
    fresh_text,
    kernel_covariance,
    neighbourhood,
    path,
)
from latent.generate import GENERATOR, generate_world
from latent.world import DiscreteBlock, GaussianBlock, World, parse_world


def reads_as_flip(dec: BuiltinDecoder, latent: list[float] | None, text: str) -> bool:
    """What a careful reader makes of the text: the opposite of its topic's claim."""
    assert latent is not None
    r = dec.locate(np.array(latent))
    return not meaning(text, TOPICS[r.topic], r.pair)


def families_of(world: World) -> list[GaussianBlock]:
    return [
        b
        for b in world.blocks
        if isinstance(b, GaussianBlock) and b.name is not None and b.name.startswith("family")
    ]


def jaccard(a: str, b: str) -> float:
    x, y = set(a.lower().split()), set(b.lower().split())
    return len(x & y) / len(x | y)


def truth_samples(block: GaussianBlock, n: int, seed: int) -> np.ndarray:
    """Monte Carlo truth values (n, statements) of a Gaussian block."""
    x = np.random.default_rng(seed).standard_normal((n, len(block.statements)))
    x = x @ np.linalg.cholesky(block.cov).T
    c = np.array([st.threshold for st in block.statements])
    return (x > c) != block.flips


# --- families


def test_path_and_neighbourhood_shapes() -> None:
    p = path(np.zeros(8), np.ones(8), 5)
    assert p.shape == (5, 8)
    assert np.allclose(p[0], 0) and np.allclose(p[-1], 1)
    assert np.allclose(np.diff(p, axis=0), 0.25)
    nb = neighbourhood(np.zeros(8), 200, 0.5, np.random.default_rng(0))
    assert nb.shape == (200, 8)
    assert 0.4 < float(np.mean(np.linalg.norm(nb, axis=1))) < 0.6


def test_kernel_covariance_near_high_far_low_and_definite() -> None:
    pts = np.vstack([path(np.zeros(8), np.full(8, 0.1), 3), np.full((1, 8), 3.0)])
    k = kernel_covariance(pts)
    assert np.allclose(np.diag(k), 1.0) and np.allclose(k, k.T)
    assert k[0, 1] >= 0.9 and k[1, 2] >= 0.9
    assert k[0, 3] < 0.01
    assert np.linalg.eigvalsh(k)[0] >= 0.02 - 1e-12
    # Identical points: still positive definite thanks to the nugget.
    assert np.linalg.eigvalsh(kernel_covariance(np.zeros((5, 8))))[0] > 0


def test_flip_positions_never_adjacent() -> None:
    rng = np.random.default_rng(0)
    for n in range(3, 30):
        for k in range(n // 3 + 1):
            pos = flip_positions(n, k, rng)
            assert len(pos) == k and all(0 <= p < n for p in pos)
            assert all(b - a >= 2 for a, b in itertools.pairwise(pos))
    with pytest.raises(LatentError):
        flip_positions(5, 2, rng)


def test_family_block_flips_and_latents() -> None:
    dec = BuiltinDecoder()
    pts = path(np.zeros(8), np.full(8, 0.5), 9)
    blk = family_block(dec, pts, np.random.default_rng(0), flips=[4], name="f", id_prefix="x")
    assert blk.trap == "flip"
    assert [st.flip for st in blk.statements] == [i == 4 for i in range(9)]
    for st in blk.statements:
        assert st.latent is not None
        assert st.text == dec.decode(np.array(st.latent), negate=st.flip)
        assert reads_as_flip(dec, st.latent, st.text) == st.flip
    assert family_block(dec, pts, np.random.default_rng(0)).trap is None
    with pytest.raises(LatentError):
        family_block(dec, pts, np.random.default_rng(0), flips=[9])


def test_used_texts_are_avoided_by_small_nudges() -> None:
    dec = BuiltinDecoder()
    # a path so slow that most steps would repeat the text before
    pts = path(np.zeros(8), np.full(8, 0.05), 30)
    assert len({dec.decode(p) for p in pts}) < 15
    used: set[str] = set()
    blk = family_block(dec, pts, np.random.default_rng(0), flips=[10], used=used)
    texts = [st.text for st in blk.statements]
    assert len(set(texts)) == 30 and used == set(texts)
    for st, p in zip(blk.statements, pts, strict=True):
        assert st.latent is not None
        assert st.text == dec.decode(np.array(st.latent), negate=st.flip)
        assert np.linalg.norm(np.array(st.latent) - p) < 0.5
    assert min(blk.cov[i, i + 1] for i in range(29)) > 0.85


def test_a_decoder_without_variety_gets_a_one_line_error() -> None:
    class Same:
        dim = 8

        def decode(self, z: np.ndarray, *, negate: bool = False) -> str:
            return "The same words."

    used = {"The same words."}
    with pytest.raises(LatentError, match="no new text") as info:
        fresh_text(Same(), np.zeros(8), np.random.default_rng(0), used)
    assert "\n" not in str(info.value)


def test_family_marginals_in_range() -> None:
    from scipy.special import ndtr

    dec = BuiltinDecoder()
    pts = neighbourhood(np.zeros(8), 40, 0.4, np.random.default_rng(1))
    blk = family_block(dec, pts, np.random.default_rng(2))
    p = ndtr(-np.array([st.threshold for st in blk.statements]))
    assert np.all((p > 0.6 - 1e-6) & (p < 0.97 + 1e-6))


# --- generator


def test_same_seed_same_bytes_other_seed_other_world() -> None:
    def make(seed: int) -> str:
        return generate_world(seed, 300, families=6, counterexamples=4, flips=5).to_json()

    a = make(7)
    assert a == make(7)
    assert a != make(8)
    meta = json.loads(a)["meta"]
    assert meta["seed"] == 7 and meta["generator"].startswith(GENERATOR)
    assert meta["settings"]["families"] == 6 and meta["settings"]["flips"] == 5


@pytest.mark.parametrize(
    ("m", "f", "c", "k"), [(1, 0, 0, 0), (10, 2, 1, 2), (40, 5, 3, 6), (500, 12, 7, 30)]
)
def test_counts_exactly_as_requested(m: int, f: int, c: int, k: int) -> None:
    w = generate_world(11, m, families=f, counterexamples=c, flips=k)
    assert w.n_statements == m
    assert len(families_of(w)) == f
    discrete = [b for b in w.blocks if isinstance(b, DiscreteBlock)]
    assert len(discrete) == c
    flips = [st for b in families_of(w) for st in b.statements if st.flip]
    assert len(flips) == k
    dec = BuiltinDecoder()
    assert all(reads_as_flip(dec, st.latent, st.text) for st in flips)
    for b in families_of(w):
        assert b.trap == ("flip" if any(st.flip for st in b.statements) else None)
        assert len(b.statements) >= 3
    independents = [b for b in w.blocks if isinstance(b, GaussianBlock) and b.name == "independent"]
    assert all(not np.any(b.cov - np.eye(len(b.statements))) for b in independents)


def test_counterexamples_mix_d4_variants_and_parity_with_natural_texts() -> None:
    w = generate_world(5, 60, counterexamples=6)
    discrete = [b for b in w.blocks if isinstance(b, DiscreteBlock)]
    names = " ".join(b.name or "" for b in discrete)
    assert "impossible" in names and "innocent" in names and "parity" in names
    for b in discrete:
        for st in b.statements:
            assert st.text[0].isupper() and st.text.endswith(".")
            assert not st.text.startswith("tmp")
    texts = [st.text for b in discrete for st in b.statements]
    assert len(set(texts)) == len(texts)


def test_ids_are_opaque_and_shuffled_across_blocks() -> None:
    w = generate_world(3, 400, families=8, counterexamples=4, flips=6)
    ids = [st.id for b in w.blocks for st in b.statements]
    assert sorted(ids) == [f"s{i:04d}" for i in range(1, 401)]
    nums = np.array([int(i[1:]) for i in ids])
    # File order and id order are unrelated.
    assert abs(np.corrcoef(np.arange(len(nums)), nums)[0, 1]) < 0.2
    consecutive = total = 0
    for b in families_of(w):
        n = [int(st.id[1:]) for st in b.statements]
        consecutive += sum(abs(x - y) == 1 for x, y in itertools.pairwise(n))
        total += len(n) - 1
    assert consecutive / total < 0.1
    flip_ids = [int(st.id[1:]) for b in families_of(w) for st in b.statements if st.flip]
    assert max(flip_ids) - min(flip_ids) > 100


def test_path_neighbours_read_alike_and_correlate() -> None:
    w = generate_world(21, 600, families=15, flips=0)
    near_sim, near_cov, far_cov = [], [], []
    for b in families_of(w):
        if "path" not in (b.name or ""):
            continue
        texts = [st.text for st in b.statements]
        near_sim += [jaccard(x, y) for x, y in itertools.pairwise(texts)]
        near_cov += [b.cov[i, i + 1] for i in range(len(texts) - 1)]
        far_cov.append(b.cov[0, -1])
    assert min(near_cov) >= 0.9
    # neighbours share most words; statements of different families share few
    assert np.median(near_sim) >= 0.5
    fams = families_of(w)
    apart = [
        jaccard(a.statements[0].text, b.statements[0].text) for a, b in itertools.pairwise(fams)
    ]
    assert np.median(apart) < 0.25
    assert min(far_cov) < 0.3  # long paths reach nearly independent statements
    # Independent statements: far apart in latent space, so the kernel would give ~0.
    lat = [
        st.latent
        for b in w.blocks
        if isinstance(b, GaussianBlock) and b.name == "independent"
        for st in b.statements
    ]
    k = kernel_covariance(np.array(lat[:200], dtype=float))
    assert float(np.median(k[np.triu_indices(200, 1)])) < 0.01


def test_truth_of_neighbours_correlates_and_flips_anticorrelate() -> None:
    """Monte Carlo, 40,000 draws: standard error of a correlation <= 0.005; margins >= 0.1."""
    w = generate_world(2, 200, families=4, flips=6)
    pos_corr: list[float] = []
    flip_corr: list[float] = []
    for b in families_of(w):
        if "path" not in (b.name or ""):
            continue
        t = truth_samples(b, 40_000, seed=0).astype(float)
        r = np.corrcoef(t.T)
        for i in range(len(b.statements) - 1):
            pair = (b.statements[i].flip, b.statements[i + 1].flip)
            (flip_corr if any(pair) else pos_corr).append(r[i, i + 1])
    assert pos_corr and flip_corr
    assert np.mean(pos_corr) > 0.3 and min(pos_corr) > 0.1
    assert max(flip_corr) < -0.1


def test_two_thousand_statements_validate_quickly_and_vary() -> None:
    t0 = time.perf_counter()
    w = generate_world(1, 2000, families=20, counterexamples=10, flips=20)
    text = w.to_json()
    again = parse_world(json.loads(text))
    elapsed = time.perf_counter() - t0
    assert again.n_statements == 2000 and again.to_json() == text
    assert elapsed < 5.0
    plain = generate_world(9, 2000)
    texts = [st.text for b in plain.blocks for st in b.statements]
    assert len(set(texts)) == len(texts)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"statements": 0}, "statements"),
        ({"statements": 2001}, "statements"),
        ({"statements": 10, "flips": 1}, "families"),
        ({"statements": 10, "families": 3, "counterexamples": 2}, "raise statements"),
        ({"statements": 12, "families": 2, "flips": 5}, "lower flips"),
        ({"statements": 10, "families": -1}, "families"),
        ({"statements": 10.5}, "whole number"),
        ({"statements": True}, "whole number"),
    ],
)
def test_bad_options_give_one_line_errors(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(LatentError, match=fragment) as info:
        generate_world(0, **kwargs)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)
