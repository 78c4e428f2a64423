"""The protocol as a judge meets it: openings, rounds, the judge's say, rules files, P(Z)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from bad_files import write_case

from debate.baselines import baselines
from debate.builtin import builtin
from debate.engine import DebateResult, run_debate
from debate.errors import DebateError
from debate.models import Argument, ProbCitation
from debate.protocol import Action, BaseDebater, DebaterView, Decision, JudgeView
from debate.rules import Rules, load_rules
from debate.specs import make_judge
from debate.verify import Oracle, verify_argument
from latent.world import World, load_world

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def world() -> World:
    return load_world(EXAMPLES / "small.json")


@pytest.fixture(scope="module")
def d4_only(tmp_path_factory: pytest.TempPathFactory) -> World:
    """The planted D4 block alone: its triple IS P(Z) (= 0)."""
    data = json.loads((EXAMPLES / "d4.json").read_text())
    data["blocks"] = data["blocks"][:1]
    path = tmp_path_factory.mktemp("w") / "d4only.json"
    path.write_text(json.dumps(data))
    return load_world(path)


class _Recorder(BaseDebater):
    """Says its own name, and remembers every view it was given."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.views: list[DebaterView] = []

    async def argue(self, view: DebaterView, oracle: Oracle) -> Argument:
        self.views.append(view)
        await asyncio.sleep(0.01)  # both openings are in flight at once
        return Argument(text=f"speech of {self.name} #{len(self.views)}")


class _Scripted:
    """A judge that answers a fixed action after each turn (then 'continue')."""

    honest = None
    name = "scripted"

    def __init__(self, actions: dict[int, Action]) -> None:
        self.actions = actions
        self.seen = 0

    async def observe(self, view: JudgeView, oracle: Oracle) -> tuple[float, Action]:
        self.seen = len(view.transcript)
        return 0.5, self.actions.get(len(view.transcript) - 1, "continue")

    async def decide(self, view: JudgeView, oracle: Oracle) -> Decision:
        return Decision(estimate=0.01)


def _run(world: World, a: Any, b: Any, judge: Any, rules: Rules) -> DebateResult:
    return asyncio.run(run_debate(world, a, b, judge, rules, honest_side="a"))


def test_openings_are_simultaneous_then_rounds_see_everything(world: World) -> None:
    a, b = _Recorder("A"), _Recorder("B")
    res = _run(world, a, b, _Scripted({}), Rules(rounds=2))
    assert [(t.speaker, t.phase, t.round) for t in res.turns] == [
        ("a", "opening", 0),
        ("b", "opening", 0),
        ("a", "round", 1),
        ("b", "round", 1),
        ("a", "round", 2),
        ("b", "round", 2),
    ]
    # neither opening saw the other's; each later speech sees all earlier ones
    assert a.views[0].transcript == [] and b.views[0].transcript == []
    assert [len(v.transcript) for v in a.views] == [0, 2, 4]
    assert [len(v.transcript) for v in b.views] == [0, 3, 5]
    assert "speech of A #1" in b.views[1].transcript[0].text
    # each side gets its own claim, and the other's as the opponent's
    assert a.views[0].claim == res.claims["a"] == b.views[0].opponent_claim


def test_credence_after_every_turn_with_timestamps(world: World) -> None:
    t0 = time.time()
    res = _run(world, builtin("honest"), builtin("independence"), make_judge("maxent"), Rules())
    creds = res.judgement.credences
    assert [c.after_turn for c in creds] == [t.index for t in res.turns]
    assert all(t0 <= c.at <= time.time() for c in creds)
    assert [c.at for c in creds] == sorted(c.at for c in creds)


@pytest.mark.parametrize(
    ("actions", "rules", "phases"),
    [
        ({0: "end"}, Rules(rounds=2), ["opening", "opening"]),  # both openings heard
        ({1: "end"}, Rules(rounds=2), ["opening", "opening"]),
        ({2: "end"}, Rules(rounds=2), ["opening", "opening", "round"]),
        ({5: "more"}, Rules(rounds=2, max_rounds=3), ["opening"] * 2 + ["round"] * 6),
        ({5: "more", 7: "more"}, Rules(rounds=2, max_rounds=3), ["opening"] * 2 + ["round"] * 6),
        ({1: "more"}, Rules(rounds=0, max_rounds=1), ["opening"] * 2 + ["round"] * 2),
        ({1: "more"}, Rules(rounds=0, max_rounds=0), ["opening"] * 2),
    ],
)
def test_judge_ends_early_or_asks_for_more_up_to_the_maximum(
    world: World, actions: dict[int, Action], rules: Rules, phases: list[str]
) -> None:
    res = _run(world, _Recorder("A"), _Recorder("B"), _Scripted(actions), rules)
    assert [t.phase for t in res.turns] == phases
    assert len(res.judgement.credences) == len(res.turns)


def test_rules_summary_is_one_line_with_every_limit() -> None:
    r = Rules(rounds=3, char_limit=500, citations_per_turn=4, citation_budget=9, judge_budget=7)
    s = r.summary()
    assert "\n" not in s
    for part in ("3 rounds", "500 chars", "4 citations", "9 per debater", "order ≤ 3", "7 queries"):
        assert part in s


def test_rules_load_from_toml(tmp_path: Path) -> None:
    assert load_rules(EXAMPLES / "rules.toml") == Rules()
    assert load_rules(None) == Rules()
    p = tmp_path / "r.toml"
    p.write_text("[rules]\nrounds = 1\nmax_order = 2\n")
    assert (load_rules(p).rounds, load_rules(p).max_order) == (1, 2)
    p.write_text("char_limit = 300\n")  # the [rules] table is optional
    assert load_rules(p).char_limit == 300


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("rounds = = 1", "not valid TOML"),
        ("bogus = 1", "bogus: unknown rule"),
        ('rounds = "two"', "rounds: Input should be a valid integer"),
        ("rounds = 5\nmax_rounds = 2", "max_rounds (2) must be at least rounds (5)"),
        ("rules = 5", "[rules] must be a table"),
        ("max_order = 0", "max_order"),
        (b"\xff\xfe\x00", "not a text file"),
        (None, "cannot read the rules file"),  # a directory
    ],
)
def test_bad_rules_file_is_one_clear_line(tmp_path: Path, content: Any, needle: str) -> None:
    p = write_case(tmp_path / "rules.toml", content)
    with pytest.raises(DebateError) as exc:
        load_rules(p)
    assert needle in str(exc.value) and "\n" not in str(exc.value)
    with pytest.raises(DebateError, match="no such rules file"):
        load_rules(tmp_path / "missing.toml")


def test_pz_itself_is_never_citable_nor_queried_by_the_judge(d4_only: World) -> None:
    whole = ["A", "B", "C"]
    speech, used = verify_argument(
        Argument(text="x", citations=[ProbCitation(ids=whole, claimed=0.0)]),
        d4_only,
        Rules(max_order=3),
        10,
    )
    c = speech.citations[0]
    assert c.status == "rejected" and "P(Z) itself" in (c.reason or "")
    assert c.true_value is None and used == 1
    judge_oracle = Oracle(d4_only, max_order=3, budget=5)
    with pytest.raises(DebateError, match=r"P\(Z\) itself"):
        judge_oracle.prob(whole)
    assert judge_oracle.used == 0
    # a debater's own oracle may: it defends a claim about P(Z) anyway
    assert Oracle(d4_only, max_order=3, whole_ok=True).prob(whole) == 0.0


def test_builtins_never_cite_pz_itself(d4_only: World) -> None:
    res = _run(d4_only, builtin("honest"), builtin("pairwise"), make_judge("bounds"), Rules())
    for t in res.turns:
        assert t.forfeit is None
        assert all(c.status == "ok" for c in t.citations)
        assert all(len(c.ids) < 3 for c in t.citations)


def test_a_known_zero_gives_an_upper_bound_of_exactly_zero() -> None:
    ev = {"x": 0.5, "y": 0.5, "z": 0.5, "x&y": 0.25, "x&z": 0.25, "y&z": 0.25, "x&y&z": 0.0}
    bl = baselines(["x", "y", "z", "w"], {**ev, "w": 0.9})
    assert bl.upper == 0.0 and bl.lower == 0.0
    # and in a debate: the bounds judge then sides with the honest claim of 0
    d4 = load_world(EXAMPLES / "d4.json")  # P(Z) = 0 through the planted triple
    res = asyncio.run(
        run_debate(d4, builtin("honest"), builtin("pairwise"), make_judge("bounds"), Rules())
    )
    assert res.truth == 0.0 and res.judgement.estimate == 0.0
    assert res.scores.trusted_honest is True and res.scores.log10_error == 0.0


def test_the_whole_debate_citation_budget_is_spent_then_citations_are_dropped(
    world: World,
) -> None:
    rules = Rules(citation_budget=8, citations_per_turn=6, rounds=2)
    res = _run(world, builtin("honest"), builtin("independence"), make_judge("maxent"), rules)
    for side in ("a", "b"):
        cites = [c for t in res.turns if t.speaker == side for c in t.citations]
        counted = [c for c in cites if c.status != "dropped"]
        dropped = [c for c in cites if c.status == "dropped"]
        assert len(counted) == 8 and dropped
        assert all(c.reason == "over the debater's citation budget" for c in dropped)
        assert all(c.true_value is None for c in dropped)
        # once the budget is spent, every later citation is dropped
        assert all(c.status == "dropped" for c in cites[cites.index(dropped[0]) :])
