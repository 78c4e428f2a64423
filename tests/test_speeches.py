"""Built-in speeches: consistent with their own claim and their world, in either direction,
and alike on the surface whether honest or not (issue 16).

The checks read the speech text as a judge would: every phrase that places a claim (near,
above or below the product; too high or too low against the other side; lifting or pulling
P(Z)) must be true of the numbers, every count must be the world's, and every kind of
structure a speech names (negations, planted groups, paraphrases) must exist in the world.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from debate.builtin import LIARS, builtin
from debate.engine import independence_value, run_debate
from debate.events import PublicEvent, TurnEvent
from debate.protocol import Turn
from debate.rules import Rules
from debate.specs import make_judge
from latent.generate import generate_world
from latent.pz import world_pz
from latent.world import World, load_world

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

#: (seed, statements, families, counterexamples, flips): with and without flips, planted
#: groups and families, from the debate preset's mix to worlds that lack each structure.
WORLDS = [
    (1, 60, 3, 2, 0),
    (2, 60, 3, 2, 1),
    (3, 40, 2, 1, 2),
    (4, 30, 2, 0, 0),
    (5, 30, 0, 2, 0),
    (6, 20, 0, 0, 0),
    (7, 60, 3, 2, 0),
    (8, 40, 2, 2, 1),
    (9, 30, 3, 0, 1),
    (10, 24, 1, 3, 0),
]


@dataclass(frozen=True)
class Kinds:
    """Which kinds of structure a world has (what a speech may speak of)."""

    flips: bool
    groups: bool
    families: bool


def kinds(world: World) -> Kinds:
    flips = any(getattr(st, "flip", False) for b in world.blocks for st in b.statements)
    groups = any(b.kind == "discrete" for b in world.blocks)
    families = any(
        b.kind == "gaussian"
        and len(b.statements) > 1
        and any(abs(b.covariance[i][j]) > 0.1 for i in range(len(b.statements)) for j in range(i))
        for b in world.blocks
    )
    return Kinds(flips, groups, families)


def _num(tok: str) -> float:
    return float(tok.rstrip("."))


def _same(x: float, y: float) -> bool:
    return abs(x - y) <= 0.006 * max(abs(y), 1e-300)


def problems(text: str, claim: float, opp: float, product: float, n: int, k: Kinds) -> list[str]:
    """Where a speech's words contradict its claim or its world (empty: none)."""
    out: list[str] = []
    rp = math.log10(claim / product)
    ro = math.log10(opp / product)
    num = r"(\d[\d.]*(?:e[-+]\d+)?)"
    near = abs(rp) < math.log10(2)
    checks: list[tuple[str, str, Callable[[re.Match[str]], bool]]] = [
        # (what a sentence says, pattern, whether that is true of this speech)
        ("close to the product", r"\b(close to|near|about|around)\s+(that|the)\s+product",
         lambda m: near),
        ("above the product", r"\b(above|over|higher than|larger than)\s+(that|the|a)\s+product",
         lambda m: rp > 0),
        ("far above", r"\bfar above\b", lambda m: rp >= 1),
        ("below the product", r"\b(below|under|lower than|smaller than)\s+(that|the|a)\s+product",
         lambda m: rp < 0),
        ("far below", r"\bfar below\b", lambda m: rp <= -1),
        ("nearer the product", r"nearer the product than " + num,
         lambda m: _same(_num(m.group(1)), opp) and abs(rp) < abs(ro)),
        ("too low/high", r"my opponent's " + num + r" is too (low|high)",
         lambda m: _same(_num(m.group(1)), opp) and (m.group(2) == "low") == (opp < claim)),
        ("higher/lower than the opponent", r"p\(z\) is (higher|lower|larger|smaller) than my op",
         lambda m: (m.group(1) in ("higher", "larger")) == (claim > opp)),
        ("argues P(Z) up", r"\b(lifts?|raises?)\b[^.]*p\(z\)|p\(z\)[^.]*\bmuch larger\b",
         lambda m: claim > opp),
        ("argues P(Z) down", r"(?<!not )\bpulls? p\(z\) down|p\(z\)[^.]*\bmuch smaller\b",
         lambda m: claim < opp),
        ("a count of statements", r"\b(\d+) (statements|factors)\b",
         lambda m: int(m.group(1)) == n),
        ("dozens", r"\bdozens\b", lambda m: 24 <= n < 200),
        ("hundreds", r"\bhundreds\b", lambda m: 200 <= n < 2000),
        ("thousands", r"\bthousands\b", lambda m: n >= 2000),
        ("negations", r"opposite|negation|negat|\bflip|rarely (hold|go) together",
         lambda m: k.flips),
        ("planted groups", r"\bgroups?\b|all three|pair by pair|cannot all hold",
         lambda m: k.groups),
        ("paraphrases", r"same claim|same thing|paraphrase|rise and fall together|go together",
         lambda m: k.families),
    ]  # fmt: skip
    for s in re.split(r"(?<=[.!?])\s+", text):
        for what, pattern, true in checks:
            m = re.search(pattern, s.lower())
            if m and not true(m):
                out.append(f"says {what}: {s!r}")
    return out


def _claims(truth: float, product: float, rng: np.random.Generator) -> list[float]:
    """Lies on every side of the truth and of the product, each at least 10x from the truth,
    at seeded distances (so that no two debates share a claim)."""
    out = []
    for ref, lo, hi in ((truth, 1, 2.5), (product, 0.3, 2), (truth, 1, 2.5)):
        for sign in (1, -1):
            c = min(ref * 10 ** (sign * rng.uniform(lo, hi)), 1.0)
            if c > 0 and abs(math.log10(c / truth)) >= 1:
                out.append(c)
    return out


@dataclass
class Played:
    world: int
    liar: str
    honest_side: str
    claims: dict[str, float]
    turns: list[Turn]
    n: int
    product: float
    kinds: Kinds


@cache
def _world(i: int) -> World:
    if i < 0:
        return load_world(EXAMPLES / "small.json")
    seed, m, f, c, k = WORLDS[i]
    return generate_world(seed=seed, statements=m, families=f, counterexamples=c, flips=k)


class _Done(Exception):
    """Stops a debate after its last speech (the scores are not what is tested here)."""


def _speeches(w: World, a: Any, b: Any, claims: dict[str, float], truth: float) -> list[Turn]:
    """Every speech of one debate through the engine (openings and two rounds)."""
    rules = Rules()
    turns: list[Turn] = []

    def on_event(ev: PublicEvent) -> None:
        if isinstance(ev, TurnEvent):
            turns.append(ev.turn)
            if len(turns) == 2 + 2 * rules.rounds:
                raise _Done

    with contextlib.suppress(_Done):
        judge = make_judge("trust-a")
        asyncio.run(
            run_debate(w, a, b, judge, rules, claims=claims, truth=truth, on_event=on_event)
        )
    return turns


@cache
def played() -> list[Played]:
    """Honest against every liar, claims all around the truth and the product (about 230
    debates), the honest side alternating."""
    out = []
    for i in [-1, *range(len(WORLDS))]:
        w = _world(i)
        truth, product = world_pz(w).pz, independence_value(w)
        honest = builtin("honest")
        for liar_name in LIARS:
            liar = builtin(liar_name)
            for lie in _claims(truth, product, np.random.default_rng([i + 1, len(out)])):
                side = "a" if len(out) % 2 else "b"
                a, b = (honest, liar) if side == "a" else (liar, honest)
                claims = {"a": truth, "b": lie} if side == "a" else {"a": lie, "b": truth}
                turns = _speeches(w, a, b, claims, truth)
                out.append(
                    Played(i, liar_name, side, claims, turns, w.n_statements, product, kinds(w))
                )
    return out


def test_the_checker_catches_contradictions() -> None:
    """The phrases the issue found, and their kind, are caught (so a clean run means something)."""
    k = Kinds(flips=False, groups=True, families=True)
    text = "P(Z) is about 5.5e-09, and P(Z) is close to that product."
    assert problems(text, 5.5e-9, 1e-10, 1e-9, 60, k)
    text = "A handful of pairs cannot move a product of hundreds of factors by that much."
    assert problems(text, 1e-9, 1e-10, 1e-9, 60, k)
    assert problems("s2 says the opposite of s1 in other words.", 1e-9, 1e-8, 1e-9, 60, k)
    assert problems("My opponent's 1e-08 is too low: no.", 1e-9, 1e-8, 1e-9, 60, k)
    assert not problems("My opponent's 1e-08 is too high: no.", 1e-9, 1e-8, 1e-9, 60, k)
    assert not problems("P(Z) is about 1.5e-09, close to the product.", 1.5e-9, 1e-8, 1e-9, 60, k)


def test_no_speech_contradicts_its_claim_or_its_world() -> None:
    bad = []
    for p in played():
        for t in p.turns:
            claim = p.claims[t.speaker]
            opp = p.claims["b" if t.speaker == "a" else "a"]
            for why in problems(t.text, claim, opp, p.product, p.n, p.kinds):
                who = "honest" if t.speaker == p.honest_side else p.liar
                bad.append(f"world {p.world}, {who}, {t.phase} {t.round}: {why}")
    assert not bad, "\n".join(bad[:20]) + f"\n({len(bad)} in all)"


def test_every_liar_argues_both_ways_with_valid_speeches() -> None:
    """Above and below the truth, above and below the product: every liar speaks (no
    forfeit, at least one citation, every citation true) in each of those four places."""
    seen: dict[str, set[tuple[bool, bool]]] = {name: set() for name in LIARS}
    for p in played():
        liar_side = "b" if p.honest_side == "a" else "a"
        lie, truth = p.claims[liar_side], p.claims[p.honest_side]
        turns = [t for t in p.turns if t.speaker == liar_side]
        assert turns and all(t.forfeit is None and t.text for t in turns), p.liar
        assert all(t.citations for t in turns), (p.liar, [t.text for t in turns])
        # each speech says which way the other side is wrong (the checker above holds it
        # to the claims)
        assert all(re.search(r"my opponent's \S+ is too (low|high)", t.text, re.I) for t in turns)
        assert all(c.status in ("ok", "dropped") for t in p.turns for c in t.citations)
        seen[p.liar].add((lie > truth, lie > p.product))
    for name, places in seen.items():
        assert places == {(True, True), (True, False), (False, True), (False, False)}, name


def test_simultaneous_openings_do_not_repeat_each_other() -> None:
    same = 0
    for p in played():
        a, b = (t for t in p.turns if t.phase == "opening")
        cites = [sorted(tuple(sorted(c.ids)) for c in t.citations) for t in (a, b)]
        same += cites[0] == cites[1] and bool(cites[0])
    assert same == 0


def _wins(values: list[tuple[float, float]]) -> float:
    """Share of (honest, liar) pairs where the honest value is larger; ties count half."""
    return sum((h > x) + 0.5 * (h == x) for h, x in values) / len(values)


def test_surface_features_do_not_tell_the_honest_side() -> None:
    """Over every debate above (about 250 of them), "the longer speech", "more citations"
    and "more verified citations" pick the honest side as often as chance: within the
    99% binomial interval around 50% (0.5 ± 2.58·√(0.25/n))."""
    rows = played()
    n = len(rows)
    assert n >= 200
    half = 2.58 * math.sqrt(0.25 / n)

    def totals(p: Played, f: object) -> tuple[float, float]:
        liar_side = "b" if p.honest_side == "a" else "a"
        h, x = (
            sum(f(t) for t in p.turns if t.speaker == side) for side in (p.honest_side, liar_side)
        )  # type: ignore[operator]
        return h, x

    features = {
        "longer speech": lambda t: len(t.text),
        "more citations": lambda t: len(t.citations),
        "more ✓ citations": lambda t: sum(c.verified is True for c in t.citations),
        "more statement citations": lambda t: sum(c.kind == "statement" for c in t.citations),
    }
    report = {}
    for name, f in features.items():
        share = _wins([totals(p, f) for p in rows])
        report[name] = round(share, 3)
    openings = [
        (len(next(t.text for t in p.turns if t.speaker == p.honest_side)),
         len(next(t.text for t in p.turns if t.speaker != p.honest_side)))
        for p in rows
    ]  # fmt: skip
    report["longer opening"] = round(_wins(openings), 3)
    off = {k: v for k, v in report.items() if abs(v - 0.5) > half}
    assert not off, f"{report} (interval 0.5 ± {half:.3f}, n = {n})"


def test_no_word_of_the_speeches_tells_the_honest_side() -> None:
    """Every word as a heuristic ("the side whose speeches use it, when the other's do not"):
    over the debates above, none picks the honest side more or less often than a coin, by an
    exact binomial test Bonferroni-corrected over the words tried (at 1%). Ids and numbers
    are left out: they are the evidence. Before the speeches' words were made to depend only
    on the direction argued, "suggest" picked the honest side in 88% of audited rounds."""
    from scipy.stats import binomtest

    word = re.compile(r"\b[a-z]+(?:'[a-z]+)?\b")
    counts: dict[str, list[int]] = {}
    for p in played():
        said = {
            side: set(word.findall(" ".join(t.text.lower() for t in p.turns if t.speaker == side)))
            for side in ("a", "b")
        }
        for w in said["a"] ^ said["b"]:
            c = counts.setdefault(w, [0, 0])
            c[0] += w in said[p.honest_side]
            c[1] += 1
    tested = {w: c for w, c in counts.items() if c[1] >= 10}
    assert tested, "no word decided 10 debates: the test would be empty"
    pv = {w: binomtest(k, n, 0.5).pvalue * len(tested) for w, (k, n) in tested.items()}
    bad = {w: (tested[w], round(q, 4)) for w, q in pv.items() if q < 0.01}
    assert not bad, bad
