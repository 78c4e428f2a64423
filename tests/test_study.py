"""Studies: protocols as conditions, the study file, counterbalancing, build, simulate,
report (numbers checked against direct computations from the stored rows)."""

from __future__ import annotations

import asyncio
import csv
import json
import math
import sqlite3
from collections import Counter
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from debate.errors import DebateError
from debate.judges import sim_judge
from debate.protocol import Decision, JudgeView
from debate.protocols import consultancy_credence, consultant_honest, run_protocol
from debate.rounds import deal_round, preset
from debate.study import (
    StudySpec,
    assignments,
    attention_failures,
    balanced_set,
    bootstrap_ci,
    calibration,
    deal_item,
    design_warnings,
    load_study,
    summarize,
)
from debate.verify import Oracle
from store.study import StudyDB
from store.study_ops import build_study, result_row, simulate_study, study_round
from tui.cli import main

STUDY = """
title = "tiny"
instructions = "Estimate P(Z)."
consent = "We store your estimates."
conditions = ["oracle", "consultancy", "debate", "offline"]
participants = 4
time_limit = 60
{items}
[attention]
condition = "oracle"
max_log10_error = 0.5
min_passed = 1
[[attention.items]]
p = 0.03
seed = 99
"""


def _items(n: int, preset_name: str = "practice") -> str:
    return "".join(f'[[items]]\npreset = "{preset_name}"\nseed = {20 + i}\n' for i in range(n))


def _spec(**over: object) -> StudySpec:
    base: dict[str, object] = {
        "title": "t",
        "conditions": ["oracle", "consultancy", "debate"],
        "items": [{"seed": i} for i in range(6)],
        "participants": 6,
    }
    return StudySpec.model_validate({**base, **over})


# ------------------------------------------------------------------ design


def test_latin_square_counterbalances_items_and_conditions() -> None:
    spec = _spec()
    k, n = len(spec.conditions), len(spec.items)
    full = balanced_set(spec)
    assert full == 6  # 3 conditions: a Williams design of 2k rows
    for sets in (1, 2):
        seen: Counter[tuple[int, str]] = Counter()
        for p in range(full * sets):
            rounds = assignments(spec, p)
            # every participant judges every item exactly once
            assert sorted(a.item for a in rounds) == list(range(n))
            assert [a.position for a in rounds] == list(range(1, n + 1))
            for a in rounds:
                seen[(a.item, a.condition)] += 1
            # and sees every condition equally often (k divides n)
            assert set(Counter(a.condition for a in rounds).values()) == {n // k}
        # each item appears in each condition equally often across full sets
        assert all(seen[(i, c)] == 2 * sets for i in range(n) for c in spec.conditions)


def _tables(
    spec: StudySpec, participants: int
) -> tuple[Counter[tuple[int, str]], Counter[tuple[int, str]], Counter[tuple[str, str]]]:
    """Item × condition, position × condition and (previous, next) condition counts of the
    P(Z) rounds (attention rounds skipped) of the first `participants` participants."""
    item_cond: Counter[tuple[int, str]] = Counter()
    pos_cond: Counter[tuple[int, str]] = Counter()
    carry: Counter[tuple[str, str]] = Counter()
    for p in range(participants):
        rounds = [a for a in assignments(spec, p) if not a.attention]
        for a in rounds:
            item_cond[(a.item, a.condition)] += 1
            pos_cond[(a.position, a.condition)] += 1
        for x, y in pairwise(rounds):
            carry[(x.condition, y.condition)] += 1
    return item_cond, pos_cond, carry


@pytest.mark.parametrize(("k", "full"), [(2, 2), (3, 6), (4, 4)])
@pytest.mark.parametrize("blocks", [1, 2])
def test_within_design_balances_conditions_by_item_position_and_carry_over(
    k: int, full: int, blocks: int
) -> None:
    conds = ["oracle", "consultancy", "debate", "offline"][:k]
    n = k * blocks
    spec = _spec(conditions=conds, items=[{"seed": i} for i in range(n)], participants=full)
    assert balanced_set(spec) == full and design_warnings(spec) == []
    for sets in (1, 2):
        item_cond, pos_cond, carry = _tables(spec, full * sets)
        per = full * sets // k
        # each item in each condition, and each condition at each position, equally often
        assert {item_cond[(i, c)] for i in range(n) for c in conds} == {per}
        positions = {pos for pos, _ in pos_cond}
        assert len(positions) == n
        assert {pos_cond[(pos, c)] for pos in positions for c in conds} == {per}
        # first-order carry-over: each condition follows each other one equally often, and
        # each follows itself equally often (block junctions)
        other = {carry[(a, b)] for a in conds for b in conds if a != b}
        same = {carry[(a, a)] for a in conds}
        assert len(other) == 1 and len(same) == 1
        assert sum(carry.values()) == full * sets * (n - 1)
        if blocks == 1:
            assert same == {0}


def test_two_conditions_do_not_tie_condition_to_position() -> None:
    spec = _spec(
        conditions=["oracle", "debate"], participants=2, items=[{"seed": i} for i in range(4)]
    )
    firsts = [assignments(spec, p)[0].condition for p in (0, 1)]
    assert sorted(firsts) == ["debate", "oracle"]


def test_item_order_within_conditions_varies_and_follows_the_seed() -> None:
    spec = _spec(items=[{"seed": i} for i in range(12)], participants=12)

    def orders(s: StudySpec) -> list[list[tuple[int, str]]]:
        return [[(a.item, a.condition) for a in assignments(s, p)] for p in range(12)]

    got = orders(spec)
    assert got == orders(_spec(items=[{"seed": i} for i in range(12)], participants=12))
    # participants p and p + 3 judge the same items under the same conditions (the lists
    # repeat every k), in orders that differ
    for p in range(9):
        assert sorted(got[p]) == sorted(got[p + 3])
    assert any(got[p] != got[p + 6] for p in range(6))
    other = orders(_spec(items=[{"seed": i} for i in range(12)], participants=12, seed=2))
    assert other != got


def test_design_warnings_say_the_set_size() -> None:
    spec = _spec(participants=4)
    (line,) = design_warnings(spec)
    assert "not a multiple of 6" in line and "sets of 6" in line and "\n" not in line
    spec = _spec(participants=6, items=[{"seed": i} for i in range(5)])
    (line,) = design_warnings(spec)
    assert "5 P(Z) items" in line
    assert design_warnings(_spec(design="between", participants=3)) == []


def test_between_subject_gives_one_condition_per_participant() -> None:
    spec = _spec(design="between")
    for p in range(6):
        conds = {a.condition for a in assignments(spec, p)}
        assert conds == {spec.conditions[p % 3]}


def test_attention_items_come_mid_sequence_under_their_condition() -> None:
    spec = _spec(attention={"items": [{"p": 0.1, "seed": 5}], "condition": "oracle"})
    rounds = assignments(spec, 1)
    checks = [a for a in rounds if a.attention]
    assert len(checks) == 1 and checks[0].position == 4 and checks[0].item == 6
    assert checks[0].condition == "oracle"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (
            'title = "x"\nconditions = ["debate"]\nitems = [{seed = 1}]\nfoo = 1\n',
            "foo: unknown key",
        ),
        ('title = "x"\nconditions = ["panel"]\nitems = [{seed = 1}]\n', "conditions.0"),
        ('title = "x"\nconditions = ["debate", "debate"]\nitems = [{seed = 1}]\n', "twice"),
        ('title = "x"\nconditions = ["debate"]\nitems = [{preset = "huge"}]\n', "unknown preset"),
        ('title = "x"\nconditions = ["debate"]\nitems = [{world = "no.json"}]\n', "not a file"),
        ('title = "x"\nconditions = ["debate"\n', "not valid TOML"),
    ],
)
def test_bad_study_files_are_one_line_errors(tmp_path: Path, text: str, needle: str) -> None:
    f = tmp_path / "s.toml"
    f.write_text(text)
    with pytest.raises(DebateError) as exc:
        load_study(f)
    assert needle in str(exc.value) and "\n" not in str(exc.value)


def test_cli_bad_study_file_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "s.toml"
    f.write_text('title = "x"\nconditions = []\nitems = [{seed = 1}]\n')
    assert main(["study", "build", str(f), "-o", str(tmp_path / "s.db")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pzjudge: error:") and "conditions" in err and "\n" not in err
    assert not (tmp_path / "s.db").exists()
    assert main(["study", "status", str(tmp_path / "none.db")]) == 2


def test_example_study_file_is_valid() -> None:
    spec = load_study(Path(__file__).parent.parent / "examples" / "study.toml")
    assert spec.participants % len(spec.conditions) == 0
    pz = [it for it in spec.items if it.kind == "pz"]
    assert len(pz) % len(spec.conditions) == 0
    assert any(it.kind == "mimic" for it in spec.items)


# ------------------------------------------------------------------ protocols


def test_consultant_is_honest_about_half_the_time() -> None:
    s = preset("practice", debate=True)
    n = 400
    honest = sum(consultant_honest(deal_round(s, seed)) for seed in range(n))
    # binomial(400, 1/2): sd 10; 4 sd either side
    assert abs(honest - n / 2) <= 40


def test_consultancy_credence_closed_form() -> None:
    # claim at the estimate: half an order (of a lie factor of 10) inside the midpoint
    assert consultancy_credence(0.01, 0.01, 10.0) == pytest.approx(1 / (1 + 10**-0.5))
    # claim 1.5 orders off: one order past the midpoint
    assert consultancy_credence(0.01, 10**-3.5, 10.0) == pytest.approx(1 / (1 + 10**1.0))


class _Spy:
    """A judge that records every view it is shown."""

    name = "spy"
    honest = None

    def __init__(self) -> None:
        self.views: list[JudgeView] = []

    async def observe(self, view: JudgeView, oracle: Oracle) -> tuple[float, str]:
        self.views.append(view)
        return 0.5, "continue"

    async def decide(self, view: JudgeView, oracle: Oracle) -> Decision:
        self.views.append(view)
        return Decision(estimate=0.5, credence_a=0.8)


def test_each_protocol_shows_what_it_should() -> None:
    s = preset("practice", debate=True)
    for seed in range(6):
        dealt = deal_round(s, seed)
        assert dealt.claims is not None and dealt.secret.honest_side is not None
        spy = _Spy()
        res = asyncio.run(run_protocol(dealt, "oracle", spy))  # type: ignore[arg-type]
        assert all(v.claims == {} and v.transcript == [] for v in spy.views)
        assert res.trusted_honest is None and res.honest_side is None

        spy = _Spy()
        res = asyncio.run(run_protocol(dealt, "consultancy", spy))  # type: ignore[arg-type]
        honest = consultant_honest(dealt)
        hs = dealt.secret.honest_side
        speaks = hs if honest else ("b" if hs == "a" else "a")
        for v in spy.views:
            assert v.claims == {"a": dealt.claims[speaks]}
            assert {t.speaker for t in v.transcript} <= {"a"}
        # credence 0.8 in the consultant: right exactly when the consultant is honest
        assert res.trusted_honest is honest
        assert res.log10_error == pytest.approx(
            abs(math.log10(0.5) - math.log10(dealt.secret.truth))
        )

        spy = _Spy()
        res = asyncio.run(run_protocol(dealt, "offline", spy))  # type: ignore[arg-type]
        assert spy.views[0].claims == dealt.claims
        assert len(spy.views[0].transcript) == len(res.turns) > 0
        assert res.trusted_honest is (hs == "a")


def test_simulated_judges_play_every_protocol() -> None:
    dealt = deal_round(preset("practice", debate=True), 3)
    for protocol in ("oracle", "consultancy", "debate", "offline"):
        for j in ("maxent", "bounds", "trust-a"):
            res = asyncio.run(run_protocol(dealt, protocol, sim_judge(j)))  # type: ignore[arg-type]
            assert 0.0 <= res.estimate <= 1.0 and not res.errors
    # trust-a in debate: right exactly when A is honest, and says A's claim
    res = asyncio.run(run_protocol(dealt, "debate", sim_judge("trust-a")))  # type: ignore[arg-type]
    assert res.trusted_honest is (dealt.secret.honest_side == "a")
    assert dealt.claims is not None and res.estimate == dealt.claims["a"]


class _SilentJudge:
    """A judge that follows the debate with credence 0.9 in A and then gives no answer."""

    name = "silent"

    async def observe(self, view: JudgeView, oracle: Oracle) -> tuple[float, str]:
        return 0.9, "continue"

    async def decide(self, view: JudgeView, oracle: Oracle) -> Decision:
        raise DebateError("the judge's reply was not JSON")


def test_a_judge_without_an_answer_is_scored_as_failed_not_as_a_coin() -> None:
    # the stand-in credence 0.5 is not the judge's: no trust score may be made of it
    dealt = deal_round(preset("practice", debate=True), 3)
    for protocol in ("oracle", "consultancy", "debate", "offline"):
        res = asyncio.run(run_protocol(dealt, protocol, _SilentJudge()))  # type: ignore[arg-type]
        assert res.judge_failed, protocol
        assert res.errors and "not JSON" in res.errors[-1]
        assert (res.credence_a, res.credence_honest) == (None, None), protocol
        assert (res.trusted_honest, res.trust_log_score) == (None, None), protocol
        assert 0.0 < res.estimate <= 1.0  # the evidence's product stands in
    ok = asyncio.run(run_protocol(dealt, "debate", sim_judge("trust-a")))  # type: ignore[arg-type]
    assert not ok.judge_failed and ok.credence_a is not None


# ------------------------------------------------------------------ statistics


def test_leaving_the_credence_at_a_half_cannot_lift_an_accuracy() -> None:
    # a participant sure of 2 rounds (right) who leaves 2 at 1/2 is as good as one who
    # guesses those 2: 3 of 4, not 2 of 2 (undecided left out) nor 2 of 4 (counted wrong)
    def row(credence: float, honest: str) -> dict[str, object]:
        return {
            "judge": "p1", "condition": "debate", "credence_a": credence,
            "honest_side": honest, "trusted_honest": None, "log10_error": 1.0,
            "truth": 0.1, "seconds": 1.0, "timed_out": 0,
        }  # fmt: skip

    rows = [row(0.9, "a"), row(0.2, "b"), row(0.5, "a"), row(0.5, "b")]
    (s,) = summarize(rows)
    assert s.accuracy == pytest.approx(3 / 4)
    # and the oracle (no sides) has no accuracy at all
    (o,) = summarize([{**row(0.5, "a"), "condition": "oracle", "credence_a": None}])
    assert o.accuracy is None


def test_calibration_murphy_identity_and_ece_by_hand() -> None:
    rng = np.random.default_rng(4)
    f = rng.random(300).tolist()
    o = [int(x) for x in (rng.random(300) < np.asarray(f) ** 2)]
    cal = calibration(f, o)
    assert cal is not None
    brier = sum((a - b) ** 2 for a, b in zip(f, o, strict=True)) / len(f)
    assert cal.brier == pytest.approx(brier)
    total = cal.reliability - cal.resolution + cal.uncertainty + cal.within_bin
    assert total == pytest.approx(brier, abs=1e-12)
    # two bins by hand: forecasts 0.15 ×2 (outcomes 0, 1) and 0.9 ×2 (1, 1)
    cal = calibration([0.15, 0.15, 0.9, 0.9], [0, 1, 1, 1])
    assert cal is not None
    assert cal.ece == pytest.approx(0.5 * abs(0.15 - 0.5) + 0.5 * abs(0.9 - 1.0))
    assert cal.within_bin == pytest.approx(0.0, abs=1e-15)


def test_bootstrap_interval_is_seeded_and_brackets_the_mean() -> None:
    x = [0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0]
    ci = bootstrap_ci(x, seed=3)
    assert ci == bootstrap_ci(x, seed=3)
    assert ci is not None and ci[0] < sum(x) / len(x) < ci[1]
    # normal approximation of the mean's sd: sqrt(p(1-p)/n) ≈ 0.17; the interval is ±~2 sd
    assert 0.45 < ci[1] - ci[0] < 0.85
    assert bootstrap_ci([1.0]) is None


# ------------------------------------------------------------------ build, simulate, report


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    d = tmp_path_factory.mktemp("study")
    f = d / "study.toml"
    f.write_text(STUDY.format(items=_items(4)))
    _, codes = build_study(f, d / "study.db")
    with StudyDB(d / "study.db") as db:
        simulate_study(db, ["maxent", "bounds", "trust-a"])
    return d, codes


def test_same_file_builds_identical_rounds(built: tuple[Path, list[str]]) -> None:
    d, codes = built
    _, again = build_study(d / "study.toml", d / "again.db")
    assert len(again) == len(codes) == 4 and set(again).isdisjoint(codes)
    with StudyDB(d / "study.db") as a, StudyDB(d / "again.db") as b:
        # identical but for when each recorded speech was made
        def timeless(rows: list[dict[str, object]]) -> list[dict[str, object]]:
            out = []
            for r in rows:
                turns = json.loads(str(r["transcript"] or "[]"))
                for t in turns:
                    t.pop("started_at"), t.pop("seconds")
                out.append({**r, "transcript": turns})
            return out

        assert timeless(a.items()) == timeless(b.items())
        assert [
            [(r["position"], r["item"], r["condition"]) for r in a.rounds_of(p["code"])]
            for p in a.participants()
        ] == [
            [(r["position"], r["item"], r["condition"]) for r in b.rounds_of(p["code"])]
            for p in b.participants()
        ]
        # the stored round is the one the pipeline deals, and play re-deals it
        dealt, turns = study_round(a, 0)
        row = a.item(0)
        assert dealt.secret.truth == row["truth"] and json.loads(row["claims"]) == dealt.claims
        assert turns  # offline is a condition: the transcript was recorded at build


def test_build_refuses_an_existing_database(built: tuple[Path, list[str]]) -> None:
    d, _ = built
    with pytest.raises(Exception, match="already exists"):
        build_study(d / "study.toml", d / "study.db")


def test_simulated_report_matches_the_stored_rows(
    built: tuple[Path, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    d, _ = built
    assert main(["study", "report", str(d / "study.db"), "-o", str(d / "rep"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    conn = sqlite3.connect(d / "study.db")
    # the attention rule, computed directly: passed when log10 error <= 0.5
    passed = {
        (j, p): c
        for j, p, c in conn.execute(
            "SELECT judge, participant, SUM(attention = 1 AND log10_error <= 0.5) "
            "FROM results GROUP BY judge, participant"
        )
    }
    failed = {k for k, c in passed.items() if c < 1}
    assert {(e["judge"], e["participant"]) for e in data["excluded"]} == failed
    rows = conn.execute(
        "SELECT judge, participant, condition, log10_error, trusted_honest FROM results "
        "WHERE attention = 0"
    ).fetchall()
    kept = [r for r in rows if (r[0], r[1]) not in failed]
    assert data["kept"] == len(kept)
    assert data["conditions"]
    for s in data["conditions"]:
        mine = [r for r in kept if r[0] == s["judge"] and r[2] == s["condition"]]
        assert s["rounds"] == len(mine)
        assert s["mean_log10_error"] == pytest.approx(sum(r[3] for r in mine) / len(mine))
        trusted = [r[4] for r in mine if r[4] is not None]
        if s["condition"] == "oracle":
            assert s["accuracy"] is None and not trusted
        else:
            assert s["accuracy"] == pytest.approx(sum(trusted) / len(trusted))
    for name, want in (("conditions.csv", data["conditions"]), ("by_item.csv", data["by_item"])):
        with (d / "rep" / name).open(newline="") as f:
            assert len(list(csv.DictReader(f))) == len(want) > 0
    for name in ("accuracy.png", "reliability.png"):
        assert (d / "rep" / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    page = (d / "rep" / "report.html").read_text()
    assert "data:image/png;base64," in page and "<script" not in page


def test_simulate_resumes_and_status_counts(
    built: tuple[Path, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    d, codes = built
    with StudyDB(d / "study.db") as db:
        assert simulate_study(db, ["maxent"]) == 0  # all already judged: nothing new
    assert main(["study", "status", str(d / "study.db"), "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert [p["code"] for p in st["participants"]] == codes
    for p in st["participants"]:
        assert p["rounds"] == 5 and p["judged"] == 0
        assert p["simulated"] == {"sim:bounds": 5, "sim:maxent": 5, "sim:trust-a": 5}


def test_debate_command_plays_every_protocol(capsys: pytest.CaptureFixture[str]) -> None:
    for protocol in ("oracle", "consultancy", "offline"):
        args = ["debate", "--seed", "5", "--preset", "practice", "--protocol", protocol]
        assert main([*args, "--judge", "trust-a", "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["protocol"] == protocol and out["seed"] == 5
        dealt = deal_round(preset("practice", debate=True), 5)
        assert out["truth"] == dealt.secret.truth
        assert len(out["claims"]) == {"oracle": 0, "consultancy": 1, "offline": 2}[protocol]
    assert (
        main(["debate", "--a", "builtin:honest", "--b", "builtin:pairwise", "--protocol", "oracle"])
        == 2
    )
    assert "drop --a and --b" in capsys.readouterr().err


def test_a_consultant_names_no_opponent_and_argues_against_the_product() -> None:
    """A consultant has no other side (its view gives its own claim as the other's): it
    never says "my opponent's …", and says it lifts P(Z) above the product exactly when its
    claim is above the product."""
    from debate.engine import independence_value

    for seed in range(4):
        dealt = deal_round(preset("debate", debate=True), seed)
        res = asyncio.run(run_protocol(dealt, "consultancy", sim_judge("maxent")))
        claim = res.claims["a"]
        product = independence_value(dealt.world)
        assert res.turns
        for t in res.turns:
            assert "opponent" not in t.text.lower(), t.text
            up = "lift P(Z) above the product" in t.text
            down = "pull P(Z) down, below the product" in t.text
            assert up != down and up == (claim > product), (claim, product, t.text[:200])


def test_build_says_the_balanced_set_and_warns_off_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "s.toml"
    text = STUDY.format(items=_items(3)).replace('"debate", "offline"]', '"debate"]')
    f.write_text(text.replace("participants = 4", "participants = 7"))
    assert main(["study", "build", str(f), "-o", str(tmp_path / "a.db")]) == 0
    out, err = capsys.readouterr()
    assert "balanced in sets of 6 participants" in out
    (line,) = err.strip().splitlines()
    assert line.startswith("pzjudge: warning: 7 participants is not a multiple of 6")
    f.write_text(text.replace("participants = 4", "participants = 6"))
    assert main(["study", "build", str(f), "-o", str(tmp_path / "b.db"), "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["balanced_set"] == 6 and err == ""


def test_the_study_seed_deals_other_rounds_and_the_same_seed_the_same(tmp_path: Path) -> None:
    text = STUDY.format(items=_items(3)).replace('"debate", "offline"]', '"debate"]')
    text = text.replace("participants = 4", "participants = 6")
    dbs = {}
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        f = tmp_path / f"{name}.toml"
        f.write_text(f"seed = {seed}\n" + text)
        build_study(f, tmp_path / f"{name}.db")
        with StudyDB(tmp_path / f"{name}.db") as db:
            orders = [
                [(r["item"], r["condition"]) for r in db.rounds_of(p["code"])]
                for p in db.participants()
            ]
            dbs[name] = (db.items(), orders)
    (a_items, a_orders), (b_items, b_orders), (c_items, _) = (
        dbs["a"],
        dbs["b"],
        dbs["c"],
    )
    assert a_items == b_items and a_orders == b_orders
    # the round seed is study seed × 10⁶ + item seed: what `pzjudge debate --seed` takes
    assert [it["seed"] for it in a_items] == [3_000_020, 3_000_021, 3_000_022, 3_000_099]
    assert [it["seed"] for it in c_items] == [4_000_020, 4_000_021, 4_000_022, 4_000_099]
    for x, y in zip(a_items[:3], c_items[:3], strict=True):  # the check's world is p's
        assert x["world_json"] != y["world_json"] and x["truth"] != y["truth"]
    for it in a_items[:3]:
        dealt = deal_round(preset("practice", debate=True), it["seed"])
        assert dealt.world.to_json() == it["world_json"] and dealt.secret.truth == it["truth"]


class _Blind:
    """An inattentive judge: answers without reading (a constant, or uniform at random)."""

    def __init__(self, name: str, answer: Callable[[], float]) -> None:
        self.name = name
        self.answer = answer

    async def observe(self, view: JudgeView, oracle: Oracle) -> tuple[float, str]:
        return 0.5, "end"

    async def decide(self, view: JudgeView, oracle: Oracle) -> Decision:
        return Decision(estimate=self.answer())


def test_attention_items_are_plain_from_one_statement_and_the_rule_reads_that() -> None:
    spec = _spec(
        attention={
            "items": [{"p": 0.03, "seed": 1}, {"p": 0.15, "seed": 2}],
            "condition": "oracle",
            "max_log10_error": 0.1,
        }
    )
    # one statement, shown with its own probability, which is P(Z)
    for it in spec.attention.items:
        dealt = deal_item(it)
        (st,) = dealt.statements
        assert st.p == pytest.approx(it.p) and dealt.secret.truth == pytest.approx(it.p)

    def rows_of(judge: Any, who: str) -> list[dict[str, Any]]:
        out = []
        for a in assignments(spec, 0):
            if not a.attention:
                continue
            item = spec.attention.items[a.item - len(spec.items)]
            res = asyncio.run(run_protocol(deal_item(item), a.condition, judge))
            out.append(result_row(who, a.model_dump(), res, time_limit=None))
        return out

    rng = np.random.default_rng(5)
    rows = rows_of(sim_judge("independence"), "reader")  # reads the one probability
    rows += rows_of(_Blind("half", lambda: 0.5), "half")
    for k in range(20):
        rows += rows_of(_Blind("random", lambda: float(rng.uniform())), f"random{k}")
    failed = attention_failures(rows, spec)
    assert ("sim:independence", "reader") not in failed
    assert failed[("half", "half")] == (0, 2)
    assert all(("random", f"random{k}") in failed for k in range(20))


@pytest.mark.parametrize(
    ("attention", "needle"),
    [
        ({"items": [{"preset": "practice", "seed": 5}]}, "give it p = its P"),
        ({"items": [{"p": 0.1, "world": "w.json"}]}, "takes no world"),
        ({"items": [{"p": 1.0}]}, "less than 1"),
    ],
)
def test_attention_items_must_be_plain(attention: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        _spec(attention=attention)
    with pytest.raises(ValueError, match="p is for attention items"):
        _spec(items=[{"p": 0.1}])


def test_an_item_with_a_recorded_transcript_is_judged_offline_from_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["debate", "--seed", "5", "--preset", "practice", "--json"]) == 0
    recorded = json.loads(capsys.readouterr().out)
    (tmp_path / "t.json").write_text(json.dumps(recorded))
    f = tmp_path / "s.toml"
    text = (
        'title = "t"\nconditions = ["oracle", "offline"]\nparticipants = 2\n'
        + _items(2)
        + '[[items]]\nname = "recorded"\npreset = "practice"\ntranscript = "t.json"\n'
    )
    f.write_text(text)
    build_study(f, tmp_path / "s.db")
    with StudyDB(tmp_path / "s.db") as db:
        row = db.item(2)
        assert json.loads(row["transcript"]) == recorded["turns"]
        assert row["honest_side"] == recorded["honest_side"]
        assert json.loads(row["claims"]) == recorded["claims"]
        assert row["truth"] == pytest.approx(recorded["truth"], rel=1e-12)
        # judged offline by everyone, outside the design
        for p in db.participants():
            (mine,) = [r for r in db.rounds_of(p["code"]) if r["item"] == 2]
            assert mine["condition"] == "offline" and mine["position"] == 3
        dealt, turns = study_round(db, 2)
        assert turns is not None and [t.text for t in turns] == [
            t["text"] for t in recorded["turns"]
        ]
        assert dealt.claims == recorded["claims"]
        assert dealt.secret.honest_side == recorded["honest_side"]
        simulate_study(db, ["trust-a"])
        got = [r for r in db.results() if r["item"] == 2]
        assert len(got) == 2 and {r["condition"] for r in got} == {"offline"}
        for r in got:
            assert json.loads(r["result_json"])["turns"] == json.loads(row["transcript"])

    # the transcript's world must be the item's; anything else is one line
    other = text.replace('preset = "practice"\ntranscript', 'preset = "debate"\ntranscript')
    for body, transcript, needle in (
        (other, recorded, "is not the world's found"),  # played on another preset's world
        (text, dict(recorded, world_sha256="0" * 64), "is not the world's found"),
        (text.replace('"oracle", "offline"', '"oracle", "debate"'), recorded, 'add "offline"'),
    ):
        (tmp_path / "t.json").write_text(json.dumps(transcript))
        f.write_text(body)
        with pytest.raises(DebateError) as exc:
            build_study(f, tmp_path / "x.db")
        assert needle in str(exc.value) and "\n" not in str(exc.value)
    (tmp_path / "t.json").write_text('{"turns": []}')
    f.write_text(text)
    with pytest.raises(DebateError, match="not a pzjudge debate --json output"):
        build_study(f, tmp_path / "x.db")
    assert not (tmp_path / "x.db").exists()


def test_an_export_row_with_transcripts_is_a_transcript_item_with_its_own_world(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "g.db")
    assert main(["debate", "--seed", "7", "--preset", "practice", "--db", db]) == 0
    out = str(tmp_path / "g.jsonl")
    assert main(["export", "--db", db, "--transcripts", "-o", out]) == 0
    capsys.readouterr()
    (row,) = [json.loads(line) for line in Path(out).read_text().splitlines()]
    (tmp_path / "t.json").write_text(json.dumps(row))
    f = tmp_path / "s.toml"
    # the row carries its world: no preset or world file is needed to find it
    text = 'title = "t"\nconditions = ["offline"]\nparticipants = 1\n' + _items(1)
    f.write_text(text + '[[items]]\ntranscript = "t.json"\n')
    build_study(f, tmp_path / "s.db")
    with StudyDB(tmp_path / "s.db") as sdb:
        item = sdb.item(1)
        assert json.loads(item["world_json"]) == row["world"]
        assert item["truth"] == pytest.approx(row["truth_pz"], rel=1e-12)
        assert [t["text"] for t in json.loads(item["transcript"])] == [
            t["text"] for t in row["turns"]
        ]
    row["world"]["blocks"][0]["statements"][0]["text"] = "edited"
    (tmp_path / "t.json").write_text(json.dumps(row))
    with pytest.raises(DebateError, match="is not the world's found"):
        build_study(f, tmp_path / "x.db")
