"""Texts carry no tell: no word finds flips or traps, every text is new, meaning is kept.

The keyword test pools many hard-preset worlds. For every word w that occurs in at least one
flip, let n_w be the number of statements containing w and f_w the number of flips among
them; under "words tell nothing", f_w is about Binomial(n_w, r), r the pooled share of flips.
The one-sided p-value P(Binomial(n_w, r) >= f_w), Bonferroni-corrected over the words tested,
must stay above 0.01. Statements of one family share words, so flip counts are more spread
than binomial: the test errs towards false alarms, never towards missing a tell. The same
test is run for planted counterexample statements. Today's texts give a smallest corrected
p-value of about 1.5 for flips (60 worlds) and 0.4 for traps (30 worlds); the texts before
this test ("Jupiter is not ...", "Coin 3 landed heads.") gave 1e-68 on the word "not" (10
worlds) and 5e-134 on "or".
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from scipy.stats import binom

from latent.decoder import LEADS, NEGATING_LEADS, TOPICS, BuiltinDecoder, Reading, Topic
from latent.generate import DECODED_TRAPS_FROM, generate_world
from latent.world import DiscreteBlock, GaussianBlock, World

#: The hard, debate and practice presets (statements, families, counterexamples, flips).
HARD = (400, 8, 6, 4)
DEBATE = (60, 3, 2, 0)
PRACTICE = (12, 2, 1, 0)

#: Words and phrases that negate what follows. The reader below is written from English, not
#: from the decoder: each negating construction must contain exactly one of these.
NEGATORS = re.compile(
    r"\b(not|hardly|no means|no way|rarely|seldom|never|cannot|fail|fails|failed|false|"
    r"myth|nobody|no one|wrong|untrue|no truth)\b",
    re.IGNORECASE,
)
WORD = re.compile(r"[a-z0-9']+")


def meaning(text: str, topic: Topic, pair: int) -> bool:
    """What a careful reader makes of a sentence of `topic`: True if it says the topic's claim
    (pair[0]), False if it says the opposite. One side of the pair must occur in the text;
    each negator found reverses the side's meaning."""
    claim, opposite = topic.pairs[pair]
    has = [bool(re.search(rf"\b{re.escape(side)}(?!\w)", text)) for side in (claim, opposite)]
    assert sum(has) == 1, (text, topic.pairs[pair])
    says_claim = has[0]
    return says_claim != (len(NEGATORS.findall(text)) % 2 == 1)


def hard_worlds(n: int, start: int = 0) -> list[World]:
    return [generate_world(s, *HARD) for s in range(start, start + n)]


def statements_with_flag(worlds: list[World], flagged: str) -> list[tuple[set[str], bool]]:
    """(the words of each statement, whether it is a flip / a counterexample statement)."""
    rows = []
    for w in worlds:
        for b in w.blocks:
            for st in b.statements:
                flag = (
                    bool(getattr(st, "flip", False))
                    if flagged == "flip"
                    else isinstance(b, DiscreteBlock)
                )
                rows.append((set(WORD.findall(st.text.lower())), flag))
    return rows


def keyword_tell(rows: list[tuple[set[str], bool]]) -> tuple[float, str, int, int, float]:
    """The word most over-represented among flagged statements: (Bonferroni-corrected one-sided
    binomial p-value, word, flagged statements with it, statements with it, base rate)."""
    base = sum(f for _, f in rows) / len(rows)
    count: Counter[str] = Counter()
    flagged: Counter[str] = Counter()
    for words, f in rows:
        count.update(words)
        if f:
            flagged.update(words)
    tested = [(float(binom.sf(flagged[w] - 1, count[w], base)), w) for w in flagged]
    p, word = min(tested)
    return p * len(tested), word, flagged[word], count[word], base


# --- the done-means of issue 16, item 3


def test_no_word_finds_flips_more_often_than_chance() -> None:
    worlds = hard_worlds(40)
    rows = statements_with_flag(worlds, "flip")
    assert sum(f for _, f in rows) == 40 * HARD[3]
    p, word, f, n, base = keyword_tell(rows)
    assert p > 0.01, f"{word!r}: {f} of {n} statements with it are flips (base rate {base:.3f})"


def test_no_word_finds_counterexample_statements_more_often_than_chance() -> None:
    rows = statements_with_flag(hard_worlds(20, start=100), "trap")
    rows += statements_with_flag([generate_world(s, *DEBATE) for s in range(60)], "trap")
    # worlds dealt with hidden structure (latent/shadow.py): every block is fair bits
    rows += statements_with_flag([generate_world(s, *HARD, hidden=s) for s in range(10)], "trap")
    p, word, f, n, base = keyword_tell(rows)
    assert p > 0.01, f"{word!r}: {f} of {n} statements with it are traps (base rate {base:.3f})"


def test_the_keyword_test_finds_a_planted_tell() -> None:
    """The same test on the same worlds, with "not" added to every flip, must fire."""
    rows = statements_with_flag(hard_worlds(10), "flip")
    marked = [(words | {"not"} if f else words, f) for words, f in rows]
    p, word, *_ = keyword_tell(marked)
    assert p < 1e-6 and word == "not"


SIZES = [
    (PRACTICE, range(40)),
    (DEBATE, range(40)),
    (HARD, range(12)),
    ((2000, 20, 10, 20), range(2)),
    ((2000, 0, 0, 0), range(2, 3)),
    ((2000, 60, 40, 200), range(3, 4)),
    ((150, 40, 0, 40), range(5)),
]


@pytest.mark.parametrize(("size", "seeds"), SIZES)
def test_every_text_in_a_world_is_unique(size: tuple[int, int, int, int], seeds: range) -> None:
    for seed in seeds:
        texts = [st.text for b in generate_world(seed, *size).blocks for st in b.statements]
        dup = [t for t, k in Counter(texts).items() if k > 1]
        assert not dup, (seed, dup[:3])


def test_same_seed_same_bytes_in_another_process() -> None:
    """Byte-identical 2,000-statement worlds across processes (another hash seed)."""
    code = (
        "import hashlib, sys; from latent.generate import generate_world; "
        "w = generate_world(5, 2000, families=20, counterexamples=10, flips=20); "
        "sys.stdout.write(hashlib.sha256(w.to_json().encode()).hexdigest())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    here = generate_world(5, 2000, families=20, counterexamples=10, flips=20).to_json()
    assert out.stdout == hashlib.sha256(here.encode()).hexdigest()


# --- meaning


def test_topic_table_keeps_negation_to_the_verbs_and_leads() -> None:
    for t in TOPICS:
        for part in (*t.subjects, *t.tails, *(side for pair in t.pairs for side in pair)):
            assert not NEGATORS.search(part), (t.name, part)
        for claim, opposite in t.pairs:
            assert claim != opposite and claim not in opposite and opposite not in claim
            for side in (claim, opposite):
                found = re.compile(rf"\b{re.escape(side)}(?!\w)")
                assert not any(found.search(part) for part in (*t.subjects, *t.tails)), side
        assert len(set(t.pairs)) == len(t.pairs)


@pytest.mark.parametrize("topic", range(len(TOPICS)), ids=[t.name for t in TOPICS])
def test_every_wording_means_what_it_should(topic: int) -> None:
    """Every subject, verb, pair, tail, style and lead, plain and negated, ordinary and flip:
    the reader finds the claim exactly when the statement is not a flip."""
    t = TOPICS[topic]
    seen: set[str] = set()
    for verb in range(len(t.verbs)):
        styles = range(len(t.styles(verb)))
        leads = range(max(len(LEADS), len(NEGATING_LEADS)))
        # every pair with every style and lead; subjects and tails cycle through all theirs
        for pair, style, lead in itertools.product(range(len(t.pairs)), styles, leads):
            subject = (pair + lead) % len(t.subjects)
            tail = (style + lead) % len(t.tails)
            for negated, flip in itertools.product((False, True), repeat=2):
                r = Reading(topic, subject, verb, pair, tail, lead, negated, style)
                text = t.render(r, negate=flip)
                assert text[0].isupper() and text.endswith(".") and "  " not in text
                assert meaning(text, t, pair) == (not flip), text
                seen.add(text)
    # Distinct readings give distinct texts except where a slot is unused (plain wording
    # ignores the style; a negating lead replaces the lead).
    assert len(seen) > 100


def test_generated_statements_mean_what_their_truth_says() -> None:
    dec = BuiltinDecoder()
    for seed in range(6):
        w = generate_world(seed, *HARD)
        for b in w.blocks:
            if not isinstance(b, GaussianBlock):
                continue
            for st in b.statements:
                assert st.latent is not None
                r = dec.locate(np.array(st.latent))
                assert meaning(st.text, TOPICS[r.topic], r.pair) == (not st.flip), st.text


def test_half_of_all_statements_and_half_of_all_flips_are_worded_with_a_negation() -> None:
    rows = statements_with_flag(hard_worlds(20, start=200), "flip")
    neg = {"not", "hardly", "means", "way", "rarely", "seldom", "never", "cannot", "fail"}
    neg |= {"fails", "failed", "false", "myth", "nobody", "one", "wrong", "untrue", "truth"}
    ordinary = [bool(words & neg) for words, f in rows if not f]
    flips = [bool(words & neg) for words, f in rows if f]
    assert 0.4 < np.mean(ordinary) < 0.6
    # 80 flips: a share of 1/2 lies in (0.3, 0.7) with probability > 0.99
    assert 0.3 < np.mean(flips) < 0.7


# --- counterexample blocks


def test_counterexamples_read_like_other_statements_from_the_debate_size_on() -> None:
    subjects = tuple(s.lower() for t in TOPICS for s in t.subjects)
    for size in (DEBATE, HARD):
        assert size[0] >= DECODED_TRAPS_FROM
        w = generate_world(9, *size)
        assert w.meta.settings["trap_texts"] == "decoded"
        for b in w.blocks:
            if isinstance(b, DiscreteBlock):
                for st in b.statements:
                    assert any(s in st.text.lower() for s in subjects), st.text
    practice = generate_world(9, *PRACTICE)
    assert practice.meta.settings["trap_texts"] == "themes"
    themed = [b for b in practice.blocks if isinstance(b, DiscreteBlock)]
    assert themed and all(" or " in st.text or "{" not in st.text for st in themed[0].statements)


def test_counterexample_texts_do_not_depend_on_the_kind_of_block() -> None:
    """Innocent and impossible D4 blocks and parity blocks draw their words alike: over many
    worlds, the share of negated wordings and the mean length do not differ by kind."""
    by_kind: dict[str, list[str]] = {"d4": [], "innocent": [], "parity": []}
    for seed in range(40):
        for b in generate_world(seed, 60, families=2, counterexamples=6).blocks:
            if isinstance(b, DiscreteBlock):
                kind = b.trap or "innocent"
                by_kind["d4" if kind == "d4" else kind].extend(st.text for st in b.statements)
    negated = {k: np.mean([bool(NEGATORS.search(t)) for t in v]) for k, v in by_kind.items()}
    length = {k: np.mean([len(t.split()) for t in v]) for k, v in by_kind.items()}
    assert all(len(v) >= 150 for v in by_kind.values())
    # each share has a standard error below 0.045 (n >= 150): 0.15 is over three of them
    assert max(negated.values()) - min(negated.values()) < 0.15, negated
    assert max(length.values()) - min(length.values()) < 1.5, length
