"""The built-in decoder: deterministic, grammatical, smooth along paths, varied overall."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from latent.decoder import LEADS, TOPICS, BuiltinDecoder, Decoder, Reading, Topic
from latent.errors import LatentError
from latent.families import path

NEGATION = re.compile(
    r"\b(not|cannot|rarely|seldom|never|hardly|no|fail|fails|failed|myth|false|nobody|wrong|"
    r"untrue)\b"
)


def word_edits(a: str, b: str) -> int:
    """Levenshtein distance between two sentences, counted in words."""
    x, y = a.split(), b.split()
    row = list(range(len(y) + 1))
    for i, u in enumerate(x, 1):
        prev, row[0] = row[0], i
        for j, v in enumerate(y, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (u != v))
    return row[-1]


def test_is_a_decoder_and_deterministic_under_seed() -> None:
    a, b, other = BuiltinDecoder(seed=3), BuiltinDecoder(seed=3), BuiltinDecoder(seed=4)
    assert isinstance(a, Decoder)
    zs = np.random.default_rng(0).standard_normal((50, 8))
    assert [a.decode(z) for z in zs] == [b.decode(z) for z in zs]
    assert [a.decode(z) for z in zs] != [other.decode(z) for z in zs]


def test_several_domains_with_several_topics() -> None:
    domains: dict[str, int] = {}
    for t in TOPICS:
        domains[t.domain] = domains.get(t.domain, 0) + 1
    assert len(domains) >= 5
    assert all(n >= 4 for n in domains.values())


@pytest.mark.parametrize("topic", TOPICS, ids=[t.name for t in TOPICS])
def test_every_variant_renders_a_sentence_and_its_opposite(topic: Topic) -> None:
    t = TOPICS.index(topic)
    for verb in range(len(topic.verbs)):
        slots = [range(len(topic.subjects)), range(len(topic.pairs)), range(len(topic.tails))]
        for subject, pair, tail in itertools.product(*slots):
            for negated in (False, True):
                r = Reading(t, subject, verb, pair, tail, 0, negated, 0)
                pos, neg = topic.render(r, False), topic.render(r, True)
                for s in (pos, neg):
                    assert s[0].isupper() and s.endswith(".") and "  " not in s and "{" not in s
                assert pos != neg
                # the same wording either way: a negation in both or in neither
                assert bool(NEGATION.search(pos)) == bool(NEGATION.search(neg)) == negated


def test_leads_keep_proper_nouns_capitalised() -> None:
    by_name = {t.name: t for t in TOPICS}
    lead = LEADS.index("It is true that ")
    husky = by_name["husky"].render(Reading(0, 0, 0, 0, 0, lead, False, 0))
    paris = by_name["paris"].render(Reading(0, 0, 0, 0, 0, lead, False, 0))
    assert husky.startswith("It is true that a husky is")
    assert paris.startswith("It is true that Paris is")


def test_negate_keeps_every_slot_and_the_wording() -> None:
    dec = BuiltinDecoder()
    for z in np.random.default_rng(1).standard_normal((200, 8)):
        pos, neg = dec.decode(z), dec.decode(z, negate=True)
        assert pos != neg
        # Same topic, slots and wording: only the side of the polar pair differs.
        assert word_edits(pos, neg) <= 6
        assert bool(NEGATION.search(pos)) == bool(NEGATION.search(neg))


def test_nearby_points_decode_alike() -> None:
    dec = BuiltinDecoder()
    rng = np.random.default_rng(2)
    zs = rng.standard_normal((300, 8))
    same = [dec.decode(z) == dec.decode(z + 1e-3 * rng.standard_normal(8)) for z in zs]
    assert np.mean(same) >= 0.97


def test_paths_change_gradually_then_switch_topic() -> None:
    dec = BuiltinDecoder()
    rng = np.random.default_rng(3)
    edits, slot_changes, switched = [], [], 0
    for _ in range(100):
        a = rng.standard_normal(8)
        d = rng.standard_normal(8)
        pts = path(a, a + 0.15 * 11 * d / np.linalg.norm(d), 12)
        where = [dec.locate(p) for p in pts]
        texts = [dec.decode(p) for p in pts]
        steps = zip(where[:-1], where[1:], texts[:-1], texts[1:], strict=True)
        for r0, r1, x, y in steps:
            if r0.topic != r1.topic:
                switched += 1
                continue
            edits.append(word_edits(x, y))
            slot_changes.append(sum(u != v for u, v in zip(r0.slots, r1.slots, strict=True)))
    assert np.mean(edits) <= 4.0
    changes = np.array(slot_changes)
    assert np.mean(changes <= 1) >= 0.6 and np.mean(changes <= 2) >= 0.85
    assert 0 < switched < 0.15 * 1100
    # A long path ends somewhere else entirely.
    a, b = rng.standard_normal(8), rng.standard_normal(8)
    long = [dec.decode(p) for p in path(a, b, 30)]
    assert long[0] != long[-1]
    assert len(set(long)) >= 4


def test_two_thousand_random_points_are_nearly_all_distinct() -> None:
    dec = BuiltinDecoder()
    zs = np.random.default_rng(4).standard_normal((2000, 8))
    texts = [dec.decode(z) for z in zs]
    assert len(set(texts)) / len(texts) >= 0.9
    assert {dec.topic(z).domain for z in zs[:300]} == {t.domain for t in TOPICS}


@pytest.mark.parametrize(
    "z", [np.zeros(7), np.zeros((2, 8)), np.array([np.nan] + [0.0] * 7)], ids=str
)
def test_bad_points_are_refused(z: np.ndarray) -> None:
    with pytest.raises(LatentError):
        BuiltinDecoder().decode(z)


def test_bad_dimension_is_refused() -> None:
    with pytest.raises(LatentError, match="dim"):
        BuiltinDecoder(dim=1)
