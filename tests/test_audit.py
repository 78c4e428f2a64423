"""The audit: heuristics against a coin, on rounds dealt as the game deals them."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from debate import rounds
from debate.audit import (
    DEBATE_HEURISTICS,
    HEURISTICS,
    AuditSpec,
    RoundFacts,
    SideFacts,
    WorldOptions,
    deal_round,
    keyword_test,
    markdown,
    render,
    report,
    run_audit,
    tally,
    wilson,
)
from debate.rounds import DealtRound
from tui.cli import main

SMALL = WorldOptions(statements=12, families=2, counterexamples=1, flips=0)


def leaky_dealer(spec: AuditSpec, i: int) -> DealtRound:
    """A deliberately leaky deal: the lie is always 10x below the truth."""
    d = deal_round(spec, i)
    assert d.claims is not None
    liar = "b" if d.secret.honest_side == "a" else "a"
    d.claims[liar] = d.secret.truth / 10
    return d


def test_wilson_bounds_solve_the_score_equation() -> None:
    # Wilson's bounds are the two roots p of (k/n - p)^2 = z^2 p (1 - p) / n
    z = 1.959963984540054
    for k, n in [(0, 10), (3, 10), (50, 100), (97, 100), (10, 10)]:
        lo, hi = wilson(k, n)
        for p in (lo, hi):
            assert (k / n - p) ** 2 == pytest.approx(z * z * p * (1 - p) / n, abs=1e-12)
        assert lo <= k / n <= hi
    assert wilson(0, 0) == (0.0, 1.0)


def test_tally_flags_only_an_interval_without_half() -> None:
    assert not tally("coin", [True, False] * 20).flagged
    assert tally("leak", [True] * 30 + [False] * 5).flagged
    t = tally("judge", [True] * 30, reference=True)
    assert not t.flagged and t.rate == 1.0
    ties = tally("ties", [None, None, True, False])
    assert (ties.decided, ties.ties, ties.rate) == (2, 2, 0.5)


def test_a_leaky_liar_is_flagged() -> None:
    spec = AuditSpec(world=SMALL, judges=["maxent"], rounds=16, seed=3)
    rep = run_audit(spec, dealer=leaky_dealer)
    allg = rep.groups[0]
    assert allg.group == "all rounds" and allg.rounds == 16
    by = {t.name: t for t in allg.heuristics}
    assert set(by) == set(HEURISTICS) | set(DEBATE_HEURISTICS)
    assert by["higher claim"].rate == 1.0 and by["higher claim"].flagged
    assert by["lower claim"].rate == 0.0 and by["lower claim"].flagged
    assert "all rounds: higher claim" in rep.flagged
    # each liar drawn has its own group, and the groups add up to all rounds
    assert sum(g.rounds for g in rep.groups[1:]) == 16
    assert all(g.group.startswith("builtin:") for g in rep.groups[1:])
    assert [t.name for t in allg.judges] == ["judge maxent"]
    assert "! higher claim" in render(rep)
    row = next(r for r in markdown(rep).splitlines() if r.startswith("| higher claim |"))
    assert "!**" in row.split("|")[2]  # flagged over all rounds
    assert row.count("|") == len(rep.groups) + 2  # a column per group


def test_a_claims_only_audit_deals_the_played_audits_rounds() -> None:
    # the same seeds deal the same claims whether or not the debates are played; without a
    # debate only what is seen before it is tested, and a leak in the claims still shows
    spec = AuditSpec(world=SMALL, judges=["maxent"], rounds=6, seed=5)
    played = run_audit(spec)
    quick = AuditSpec(world=SMALL, judges=["maxent"], rounds=6, seed=5, claims_only=True)
    dealt = run_audit(quick)
    for g, h in zip(played.groups, dealt.groups, strict=True):
        assert (g.group, g.rounds) == (h.group, h.rounds)
        same = {t.name: t.honest for t in g.heuristics if t.name in HEURISTICS}
        assert same == {t.name: t.honest for t in h.heuristics}
    allg = dealt.groups[0]
    assert {t.name for t in allg.heuristics} == set(HEURISTICS)
    assert allg.keywords == [] and allg.judges == []
    assert "claims only" in render(dealt)
    leak = run_audit(quick.model_copy(update={"rounds": 16}), dealer=leaky_dealer)
    assert "all rounds: higher claim" in leak.flagged


def test_audited_rounds_are_the_games_rounds() -> None:
    spec = AuditSpec(world=SMALL, rounds=1, seed=5)
    one, two = deal_round(spec, 4), deal_round(spec, 4)
    assert one.claims == two.claims and one.world.to_json() == two.world.to_json()
    game = rounds.deal_round(rounds.preset("custom", **SMALL.model_dump(), debate=True), one.seed)
    assert game.world.to_json() == one.world.to_json()
    assert (game.claims, game.secret) == (one.claims, one.secret)
    sides = [deal_round(spec, i).secret.honest_side for i in range(40)]
    assert 10 <= sides.count("a") <= 30


def _facts(i: int, honest: str, words_a: list[str], words_b: list[str]) -> RoundFacts:
    def side(claim: float, words: list[str]) -> SideFacts:
        return SideFacts(
            claim=claim,
            chars=100,
            citations=2,
            verified=2,
            seconds=0.1,
            cited_words=words,
            speech_words=[],
        )

    return RoundFacts(
        index=i,
        seed=i,
        liar="builtin:x",
        honest_side=honest,  # type: ignore[arg-type]
        truth=1e-3,
        product=1e-3,
        maxent_free=1e-3,
        first_speaker="a",
        sides={"a": side(1e-3, words_a), "b": side(1e-2, words_b)},
        credence_a={"maxent": 0.5},
    )


def test_a_keyword_that_marks_the_honest_side_is_flagged_after_bonferroni() -> None:
    rounds = []
    for i in range(60):
        honest = "a" if i % 2 else "b"
        # "not" always sits on the honest side; a hundred other words fall at random
        noise = [f"w{(i * 7 + k) % 100}" for k in range(5)]
        wa = (["not"] if honest == "a" else []) + noise[:3]
        wb = (["not"] if honest == "b" else []) + noise[2:]
        rounds.append(_facts(i, honest, wa, wb))
    kt = keyword_test("word in cited statements", rounds, "cited_words")
    assert kt.worst is not None and kt.worst.name.endswith("'not'")
    assert kt.flagged and kt.p_adjusted is not None and kt.p_adjusted < 1e-10
    # the same word split evenly between honest and liar is not flagged
    even = [_facts(i, "a" if i % 2 else "b", ["not"] if i % 4 < 2 else [], []) for i in range(60)]
    ke = keyword_test("even", even, "cited_words")
    assert not ke.flagged and ke.worst is not None and ke.worst.rate == pytest.approx(0.5)


def test_side_a_heuristic_counts_the_coin() -> None:
    rounds = [_facts(i, "a" if i < 15 else "b", [], []) for i in range(20)]
    rep = report(AuditSpec(judges=["maxent"], rounds=20), rounds)
    by = {t.name: t for t in rep.groups[0].heuristics}
    assert by["side A"].honest == 15 and by["side A"].decided == 20
    # every claim is lower on side a here, so "lower claim" is the same as side A
    assert by["lower claim"].honest == 15
    assert math.isclose(by["higher claim"].rate or 0, 0.25)
    # a judge with credence exactly 0.5 decides nothing
    assert rep.groups[0].judges[0].decided == 0


def test_cli_audit_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    saved = tmp_path / "rounds.jsonl"
    args = ["audit", "--preset", "practice", "--rounds", "4", "--workers", "1"]
    code = main([*args, "--judge", "maxent", "--json", "--save", str(saved)])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    # the saved rounds give the same report without playing again
    assert len(saved.read_text().splitlines()) == 1 + 4  # the spec, then each round
    assert main([*args, "--json", "--load", str(saved)]) == 0
    assert json.loads(capsys.readouterr().out)["groups"] == out["groups"]
    # loaded without the options, the report still names the world the rounds came from
    assert main(["audit", "--load", str(saved)]) == 0
    assert capsys.readouterr().out.startswith("Audit of preset practice: 4 rounds, seed 0; 12 ")
    assert main(["audit", "--markdown", "--load", str(saved)]) == 0
    assert capsys.readouterr().out.startswith("| heuristic | all rounds (4) |")
    assert main(["audit", "--load", str(tmp_path / "none.jsonl")]) == 2
    assert out["spec"]["world"]["statements"] == 12 and out["spec"]["rounds"] == 4
    assert out["groups"][0]["group"] == "all rounds"
    names = {t["name"] for t in out["groups"][0]["heuristics"]}
    assert {"lower claim", "claim nearer the product", "side A"} <= names
    # --claims-only deals without debates: the claim rows only, no judges
    assert main([*args, "--claims-only", "--json"]) == 0
    quick = json.loads(capsys.readouterr().out)
    assert quick["spec"]["claims_only"] and quick["groups"][0]["judges"] == []
    assert {t["name"] for t in quick["groups"][0]["heuristics"]} == set(HEURISTICS)


def test_cli_audit_bad_liar_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["audit", "--rounds", "2", "--workers", "1", "--liar", "builtin:nope"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("pzjudge: error:") and err.count("\n") == 1


def test_holm_rejects_step_down_as_computed_by_hand() -> None:
    from debate.audit import holm

    # sorted: d 0.005 <= 0.05/4, a 0.01 <= 0.05/3, c 0.03 > 0.05/2: stop (b is not reached)
    tests = [("a", 0.01), ("b", 0.04), ("c", 0.03), ("d", 0.005)]
    assert holm(tests) == ["d", "a"]
    assert holm([("x", 0.06)]) == [] and holm([("x", 0.05)]) == ["x"]


def test_a_borderline_row_is_flagged_alone_but_not_family_wise() -> None:
    """15 of 20 (exact p = 0.041) excludes 50% on its own row but not after correcting for
    the report's tests; 20 of 20 (p = 1.9e-6) survives the correction."""
    rounds = [_facts(i, "a" if i < 15 else "b", [], []) for i in range(20)]
    rep = report(AuditSpec(judges=["maxent"], rounds=20), rounds)
    side_a = next(t for t in rep.groups[0].heuristics if t.name == "side A")
    assert side_a.p_value == pytest.approx(2 * sum(math.comb(20, k) for k in range(15, 21)) / 2**20)
    assert "all rounds: side A" in rep.flagged and rep.familywise == []
    assert "no heuristic tells" in render(rep).splitlines()[-1]
    rounds = [_facts(i, "a", [], []) for i in range(20)]
    rep = report(AuditSpec(judges=["maxent"], rounds=20), rounds)
    assert "all rounds: side A" in rep.familywise
    assert "TELLS" in render(rep).splitlines()[-1]
