"""Whole debates, headless: built-in debaters, simulated judges, forfeits, the CLI."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import SMALL_DEBATE

from debate.baselines import baselines
from debate.builtin import LIARS, builtin
from debate.engine import DebateResult, liar_claim, run_debate
from debate.events import DebateStartedEvent, Event
from debate.models import Argument
from debate.protocol import BaseDebater
from debate.rules import Rules
from debate.script import ScriptDebater
from debate.specs import make_debater, make_judge
from latent.nway import nway
from latent.world import World, load_world
from tui.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def world() -> World:
    return load_world(EXAMPLES / "small.json")


def _debate(world: World, a: Any, b: Any, judge: str = "maxent", **kw: Any) -> DebateResult:
    return asyncio.run(run_debate(world, a, b, make_judge(judge), kw.pop("rules", Rules()), **kw))


def test_honest_against_each_liar(world: World) -> None:
    for liar in LIARS:
        res = _debate(world, builtin("honest"), builtin(liar))
        assert res.honest_side == "a"
        truth = res.truth
        assert res.claims["a"] == truth
        ratio = res.claims["b"] / truth
        assert ratio >= 10 or ratio <= 0.1  # the lie is at least 10x off
        assert [t.phase for t in res.turns] == ["opening", "opening"] + ["round"] * 4
        assert len(res.judgement.credences) == len(res.turns)
        for t in res.turns:
            assert t.forfeit is None
            assert len(t.text) <= res.rules.char_limit
            for c in t.citations:
                assert c.status == "ok", (liar, c)  # built-ins never misquote a fact
                if c.kind == "prob":
                    assert c.true_value == pytest.approx(nway(world, c.ids).p, rel=1e-9)


def test_honest_cites_the_trap_and_the_flip(world: World) -> None:
    res = _debate(world, builtin("pairwise"), builtin("honest"))
    cited = [set(c.ids) for t in res.turns if t.speaker == "b" for c in t.citations]
    assert {"s03", "s09", "s01"} in cited  # the D4 triple that pairs cannot show
    assert any("s05" in c for c in cited)  # the flipped husky statement


def test_pairwise_liar_cites_innocent_pairs_of_the_trap(world: World) -> None:
    # claiming more than the truth, it hides the D4 trap behind the trap's innocent pairs
    truth = nway(world, world.ids).p
    res = _debate(world, builtin("honest"), builtin("pairwise"), claims={"a": truth, "b": 0.5})
    liar_ids = [set(c.ids) for t in res.turns if t.speaker == "b" for c in t.citations]
    trap = {"s03", "s09", "s01"}
    assert any(len(i) == 2 and i <= trap for i in liar_ids)


def test_pairwise_liar_never_cites_a_trap_triple_when_it_can_cite_another_group() -> None:
    """Every speech cites a group when the world has groups (whoever speaks); claiming more
    than the truth, the pairwise liar chooses groups whose triple is innocent, never a trap's
    triple, which would give it away (world 1 has two traps among 21 groups)."""
    from latent.generate import generate_world

    w = generate_world(seed=1, statements=30, families=1, counterexamples=3, flips=0)
    truth = nway(w, w.ids).p
    res = _debate(w, builtin("honest"), builtin("pairwise"), claims={"a": truth, "b": truth * 30})
    triples = [c.ids for t in res.turns if t.speaker == "b" for c in t.citations if len(c.ids) == 3]
    assert triples
    for ids in triples:
        p = nway(w, ids).p
        product = math.prod(nway(w, [i]).p for i in ids)
        assert p >= product / 1.5, (ids, p, product)  # never a triple far below its product
    # the honest side, claiming less, cites a trap's triple
    honest = [c.ids for t in res.turns if t.speaker == "a" for c in t.citations if len(c.ids) == 3]
    assert any(nway(w, ids).p < math.prod(nway(w, [i]).p for i in ids) / 1.5 for ids in honest)


def _stated_pairs(world: World, res: DebateResult, side: str) -> list[tuple[set[str], float]]:
    """The pairs of statements a side cited by text, with their lift log(P(ab) / P(a)P(b))."""
    out = []
    for t in res.turns:
        ids = [c.ids[0] for c in t.citations if t.speaker == side and c.kind == "statement"]
        for x, y in zip(ids[::2], ids[1::2], strict=True):
            lift = nway(world, [x, y]).p / (nway(world, [x]).p * nway(world, [y]).p)
            out.append(({x, y}, math.log(lift)))
    return out


def test_flip_hider_offers_the_flip_as_a_look_alike_and_judge_checks(world: World) -> None:
    """Claiming more, the flip-hider cites the flipped statement beside its look-alike (a
    pair that rarely holds together) for a careless judge to read as one claim twice."""
    truth = nway(world, world.ids).p
    res = _debate(
        world,
        builtin("flip-hider"),
        builtin("honest"),
        judge="maxent",
        claims={"a": 0.5, "b": truth},
    )
    stated = _stated_pairs(world, res, "a")
    assert any("s05" in ids and lift < math.log(0.7) for ids, lift in stated), stated
    # the simulated judge tests the offered pair with its own oracle
    assert any("s05" in q.ids for q in res.judgement.queries)


def test_flip_hider_argues_either_way_without_refuting_itself() -> None:
    """Claiming less than the truth, the flip-hider offers paraphrases (pairs that hold
    together) as if they were hidden negations; claiming more, negations as if they were
    paraphrases. It never cites by text a pair that points against its own claim."""
    from latent.generate import generate_world
    from latent.pz import world_pz

    w = generate_world(seed=1, statements=60, families=6, counterexamples=0, flips=1)
    truth = world_pz(w).pz
    for lie, sign in ((truth / 30, +1), (truth * 30, -1)):
        res = _debate(w, builtin("flip-hider"), builtin("honest"), claims={"a": lie, "b": truth})
        stated = _stated_pairs(w, res, "a")
        assert stated and all(sign * lift > 0.05 for _, lift in stated), (lie > truth, stated)
        assert all(c.status == "ok" for t in res.turns for c in t.citations)


def test_trust_judges_and_scores(world: World) -> None:
    res = _debate(world, builtin("honest"), builtin("independence"), judge="trust-a")
    assert res.judgement.estimate == res.claims["a"]
    assert res.scores.log10_error == pytest.approx(0.0, abs=1e-12)
    assert res.scores.trusted_honest is True
    res = _debate(world, builtin("honest"), builtin("independence"), judge="trust-b")
    assert res.scores.log10_error >= 1.0 - 1e-9


def test_baselines_use_only_the_evidence() -> None:
    ev = {"x": 0.5, "y": 0.5, "z": 0.5, "x&y": 0.25, "x&z": 0.25, "y&z": 0.25}
    bl = baselines(["x", "y", "z"], ev)
    assert bl.independence == pytest.approx(0.125)
    assert bl.maxent == pytest.approx(0.125, rel=1e-6)  # pairwise-independent: maxent = product
    assert bl.lower == pytest.approx(0.0, abs=1e-9)  # the D4 triple is consistent with them
    assert bl.upper == pytest.approx(0.25, rel=1e-6)
    bl2 = baselines(["x", "y", "z"], {**ev, "x&y&z": 0.0})
    assert bl2.upper == pytest.approx(0.0, abs=1e-9)


def test_liar_claim_goes_the_tempting_way() -> None:
    assert liar_claim(1e-3, 1e-6, 10) == pytest.approx(1e-4)  # towards independence
    assert liar_claim(1e-3, 1e-3, 10) == pytest.approx(1e-2)
    assert liar_claim(0.5, 0.9, 10) == pytest.approx(0.05)  # can't go above 1: goes down
    assert liar_claim(1e-3, 1e-6, 10, toward=False) == pytest.approx(1e-2)  # away, as asked
    for truth in (1e-30, 1e-5, 0.3):
        for tempt in (1e-40, truth, 0.9):
            lie = liar_claim(truth, tempt, 10)
            assert 0 < lie <= 1
            assert abs(math.log10(lie) - math.log10(truth)) >= 1 - 1e-12


def test_random_lies_are_neither_the_product_nor_a_fixed_multiple() -> None:
    """With an rng the lie lies log-uniformly 10-100x from the truth (towards the tempting
    value by default): a judge cannot spot it as "the product" or "10x the truth"."""
    rng = np.random.default_rng(1)
    truth, tempt = 1e-5, 1e-12
    spans = np.array(
        [math.log10(truth) - math.log10(liar_claim(truth, tempt, 10, rng)) for _ in range(400)]
    )
    assert np.all((spans >= 1.0) & (spans < 2.0))  # down (towards), within [10x, 100x)
    counts, _ = np.histogram(spans, bins=4, range=(1.0, 2.0))
    assert counts.min() >= 60  # spread over the whole range (uniform: 100 per bin)


def test_deterministic_under_seed(world: World) -> None:
    r1 = _debate(world, builtin("cherry-picker"), builtin("independence"), seed=3)
    r2 = _debate(world, builtin("cherry-picker"), builtin("independence"), seed=3)
    assert [t.text for t in r1.turns] == [t.text for t in r2.turns]
    assert r1.honest_side == r2.honest_side


class _Raises(BaseDebater):
    name = "raises"

    async def argue(self, view: Any, oracle: Any) -> Argument:
        raise ValueError("my bug\nsecond line")


class _Hangs(BaseDebater):
    name = "hangs"

    async def argue(self, view: Any, oracle: Any) -> Argument:
        await asyncio.sleep(60)
        raise AssertionError("unreachable")


class _Garbage(BaseDebater):
    name = "garbage"

    async def argue(self, view: Any, oracle: Any) -> Any:
        return 42


class _Silent(BaseDebater):
    """Speaks every turn and says nothing: what a forfeit should amount to."""

    name = "silent"

    async def argue(self, view: Any, oracle: Any) -> Argument:
        return Argument(text="")


def test_failing_debaters_forfeit_and_the_debate_goes_on(world: World) -> None:
    """A forfeit costs the side its turn and nothing else: the debate runs to its end and
    is judged and scored exactly as one in which that side spoke and said nothing."""
    rules = Rules(turn_timeout=0.3, rounds=1)
    truth = nway(world, world.ids).p
    kw: dict[str, Any] = {
        "rules": rules,
        "honest_side": "b",
        "claims": {"a": truth * 100, "b": truth},
    }
    silent = _debate(world, _Silent(), builtin("honest"), **kw)
    assert [t.forfeit for t in silent.turns] == [None] * 4
    for bad, needle in (
        (_Raises(), "ValueError: my bug"),
        (_Hangs(), "timeout"),
        (_Garbage(), "not an Argument"),
    ):
        res = _debate(world, bad, builtin("honest"), **kw)
        mine = [t for t in res.turns if t.speaker == "a"]
        theirs = [t for t in res.turns if t.speaker == "b"]
        assert len(mine) == len(theirs) == 2  # opening and one round each: nothing cut short
        assert all(t.forfeit and needle in t.forfeit and "\n" not in t.forfeit for t in mine)
        assert all(t.forfeit is None and t.text for t in theirs)
        assert [t.text for t in theirs] == [t.text for t in silent.turns if t.speaker == "b"]
        # the judge heard every turn, and judged the same evidence as after silence
        assert [c.after_turn for c in res.judgement.credences] == [0, 1, 2, 3]
        assert res.evidence == silent.evidence
        assert res.judgement.estimate == silent.judgement.estimate
        assert res.judgement.credence_a == silent.judgement.credence_a
        assert res.scores == silent.scores


def test_script_debater_in_a_debate(world: World, tmp_path: Path) -> None:
    path = tmp_path / "d.py"
    path.write_text(
        textwrap.dedent(
            """
            import time
            class D:
                def __init__(self):
                    self.n = 0
                def argue(self, view, oracle):
                    self.n += 1
                    if self.n == 2:
                        time.sleep(30)
                    return {"text": f"speech {self.n}", "citations": []}
            """
        )
    )
    rules = Rules(turn_timeout=1.0, rounds=2)
    res = _debate(world, ScriptDebater(str(path), "D"), builtin("honest"), rules=rules)
    a_turns = [t for t in res.turns if t.speaker == "a"]
    assert a_turns[0].text == "speech 1"
    assert a_turns[1].forfeit and "timeout" in a_turns[1].forfeit
    assert a_turns[2].text == "speech 1"  # a fresh process after the kill


def test_examples_debaters_run(world: World) -> None:
    a = make_debater(f"script:{EXAMPLES / 'product_debater.py'}:ProductDebater")
    b = make_debater(f"script:{EXAMPLES / 'neighbour_checker.py'}:NeighbourChecker")
    res = _debate(world, a, b, rules=Rules(rounds=1))
    assert all(t.forfeit is None for t in res.turns), [t.forfeit for t in res.turns]
    assert all(c.status == "ok" for t in res.turns for c in t.citations)


def test_cli_debate_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main([*SMALL_DEBATE, "--judge", "bounds", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert {"turns", "judgement", "truth", "scores"} <= set(out)
    assert out["turns"][0]["speaker"] in ("a", "b")
    cite = next(c for t in out["turns"] for c in t["citations"] if c["kind"] == "prob")
    assert {"ids", "claimed", "true_value", "verified"} <= set(cite)
    assert len(out["judgement"]["credences"]) == len(out["turns"])


def test_cli_bad_spec_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["debate", str(EXAMPLES / "small.json"), "--a", "builtin:nope", "--b", "x:y"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown built-in debater 'nope'" in err


def test_tournament_every_pairing_both_sides_deterministic() -> None:
    from debate.tournament import run_tournament

    specs = ["builtin:honest", "builtin:independence", "builtin:flip-hider"]

    def go() -> Any:
        return asyncio.run(
            run_tournament(2, 4, specs, ["maxent", "trust-a"], statements=20, concurrency=3)
        )

    r1, r2 = go(), go()
    # 3 debaters -> 6 ordered pairs, x 2 judges x 2 worlds
    assert len(r1.debates) == 24
    pairs = {(d.debater_a, d.debater_b) for d in r1.debates}
    assert len(pairs) == 6 and all((b, a) in pairs for a, b in pairs)
    assert {s.name: s.debates for s in r1.debaters} == dict.fromkeys(specs, 16)
    assert [d.model_dump(exclude={"turns", "judgement"}) for d in r1.debates] == [
        d.model_dump(exclude={"turns", "judgement"}) for d in r2.debates
    ]
    trust_a = next(s for s in r1.judges if s.name == "trust-a")
    honest_a = [d for d in r1.debates if d.judge == "sim:trust-a" and d.honest_side == "a"]
    assert trust_a.honest_won == pytest.approx(len(honest_a) / trust_a.debates)


def test_a_judge_who_trusts_nobody_wins_half_of_each_debate() -> None:
    # credence exactly 0.5 favours neither side: it must not count as trusting side B
    from debate.tournament import _standing, run_tournament

    specs = ["builtin:honest", "builtin:independence"]
    res = asyncio.run(run_tournament(2, 4, specs, ["trust-a"], statements=20, concurrency=2))
    undecided = [
        d.model_copy(update={"judgement": d.judgement.model_copy(update={"credence_a": 0.5})})
        for d in res.debates
    ]
    honest_b = [d for d in undecided if d.honest_side == "b"]
    assert honest_b  # where counting 0.5 as trusting B would say the judge was always right
    assert _standing("trust-a", honest_b, None).honest_won == 0.5
    assert _standing("liar", undecided, {id(d): "b" for d in undecided}).won == 0.5


def _lifts(world: World, res: DebateResult, side: str) -> list[float]:
    """log(P(ab) / P(a)P(b)) of every pair a side cited."""
    out = []
    for t in res.turns:
        for c in t.citations:
            if t.speaker == side and c.kind == "prob" and len(c.ids) == 2:
                p1, p2 = (nway(world, [i]).p for i in c.ids)
                out.append(math.log(c.true_value / (p1 * p2)))  # type: ignore[operator]
    return out


def test_honest_cites_the_correlations_that_lift_pz_above_the_product() -> None:
    from debate.engine import independence_value
    from latent.generate import generate_world

    w = generate_world(seed=3, statements=20, families=2, counterexamples=0, flips=0)
    res = _debate(w, builtin("honest"), builtin("cherry-picker"))
    assert res.truth > 10 * independence_value(w)  # families lift P(Z) far above the product
    honest = _lifts(w, res, "a")
    assert honest and all(x > 0.1 for x in honest)
    # the liar, claiming less, cites nothing that points up
    assert all(x <= 1e-9 for x in _lifts(w, res, "b"))


def test_independence_liar_cites_only_independent_looking_pairs(world: World) -> None:
    from debate.engine import independence_value

    # a lie between the truth and the product: "nearer the product", with independent pairs
    truth, product = nway(world, world.ids).p, independence_value(world)
    lie = math.sqrt(truth * product)
    res = _debate(world, builtin("honest"), builtin("independence"), claims={"a": truth, "b": lie})
    # it opens with independent pairs; nothing it cites points below the truth (its claim
    # is above); once those run out it takes true correlations that point its way
    opening = _lifts(world, res.model_copy(update={"turns": res.turns[:2]}), "b")
    assert opening and all(abs(x) < 0.05 for x in opening)
    assert all(x > -0.05 for x in _lifts(world, res, "b"))


@pytest.mark.parametrize("honest_side", ["a", "b"])
def test_cherry_picker_cites_only_facts_that_point_its_way(world: World, honest_side: str) -> None:
    # as the liar (claim below the truth here) and as the honest side (claim above the liar's)
    res = _debate(world, builtin("cherry-picker"), builtin("independence"), honest_side=honest_side)
    up = res.claims["a"] > res.claims["b"]
    lifts = _lifts(world, res, "a")
    assert lifts
    # never a pair that points against its claim (independent-looking pairs fill in)
    assert all(x > -0.05 for x in lifts) if up else all(x < 0.05 for x in lifts)
    assert any(abs(x) > 0.05 for x in lifts)
    assert all(c.status == "ok" for t in res.turns for c in t.citations)


def test_maxent_of_a_component_too_large_for_atoms_is_the_tree_completion() -> None:
    import latent.bounds as lb
    from debate.baselines import SHARP_MAX
    from latent.bounds import tree_maxent

    # a path of pairs: the tree completion IS the maximum-entropy answer
    known: dict[tuple[int, ...], float] = {(i,): 0.6 for i in range(6)}
    known.update({(i, i + 1): 0.5 for i in range(5)})
    assert tree_maxent(6, known) == pytest.approx(lb.maxent(6, known), rel=1e-8)
    # a component larger than the exact limit still gets a maxent estimate from its pairs
    m = SHARP_MAX + 4
    ids = [f"x{i}" for i in range(m)]
    ev = {i: 0.9 for i in ids}
    ev.update({f"{a}&{b}": 0.85 for a, b in itertools.pairwise(ids)})
    bl = baselines(ids, ev)
    expect = 0.9 * (0.85 / 0.9) ** (m - 1)  # a Markov chain: P(all) = p1 * prod P(next | prev)
    assert bl.maxent == pytest.approx(expect, rel=1e-9)
    assert bl.independence == pytest.approx(0.9**m)
    assert bl.lower <= bl.maxent <= bl.upper


class _Started(Exception):
    """Raised from on_event to stop a debate once its claims are settled."""


def _claims(world: World, liar: str, seed: int) -> tuple[float, float]:
    """(truth, lie) of a debate against `liar`, read from the engine's "started" event."""
    got: list[DebateStartedEvent] = []

    def on_record(ev: Event) -> None:
        if isinstance(ev, DebateStartedEvent):
            got.append(ev)
            raise _Started

    with pytest.raises(_Started):
        _debate(world, builtin("honest"), builtin(liar), seed=seed, on_record=on_record)
    side = got[0].honest_side
    return got[0].claims[side], got[0].claims["b" if side == "a" else "a"]


def test_headless_lies_go_either_way_for_every_liar(world: World) -> None:
    """Every liar's lie is towards the product or away from it about equally often: each
    built-in argues either direction."""
    from debate.engine import independence_value

    product = independence_value(world)
    away = 0
    for seed in range(30):
        for liar in ("cherry-picker", "independence"):
            truth, lie = _claims(world, liar, seed)
            assert 1.0 <= abs(math.log10(lie / truth)) < 2.0 + 1e-9
            away += abs(math.log10(lie / product)) > abs(math.log10(truth / product))
    assert 18 <= away <= 42
