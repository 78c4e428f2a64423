"""What a study report and a study export make of judgements that are not the judge's own
answer (the time ran out with nothing valid typed; a judge that gave no answer), and of
rounds whose P(Z) is 0. The expected numbers are computed here from the decisions given,
not from the report's own code."""

from __future__ import annotations

import asyncio
import json
import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from textual_plotext import PlotextPlot
from tui_steps import on_screen, screen_text, until

from debate.errors import DebateError
from debate.protocol import Decision, JudgeView
from debate.protocols import run_protocol
from debate.study import summarize
from debate.verify import Oracle
from store.study import StudyDB
from store.study_export import study_rows
from store.study_ops import build_study, result_row, simulate_study, study_round
from tui.app import PzJudgeApp
from tui.cli import main
from tui.screens.help import KEYS
from tui.screens.stats import whole_ticks
from tui.study_app import KEYS as STUDY_KEYS

STUDY = """
title = "defaults"
conditions = ["oracle", "debate"]
participants = 2
time_limit = 60
[[items]]
preset = "practice"
seed = 41
[[items]]
preset = "practice"
seed = 42
"""


class _Fixed:
    """A judge that answers `estimate` with credence `credence` in A (or gives no answer)."""

    def __init__(self, estimate: float | None, credence: float = 0.5) -> None:
        self.name = "fixed"
        self.estimate = estimate
        self.credence = credence

    async def observe(self, view: JudgeView, oracle: Oracle) -> tuple[float, str]:
        return self.credence, "continue"

    async def decide(self, view: JudgeView, oracle: Oracle) -> Decision:
        if self.estimate is None:
            raise DebateError("the judge's reply was not JSON")
        return Decision(estimate=self.estimate, credence_a=self.credence)


@pytest.fixture
def study(tmp_path: Path) -> Path:
    f = tmp_path / "s.toml"
    f.write_text(STUDY)
    build_study(f, tmp_path / "s.db")
    return tmp_path / "s.db"


def _store(path: Path, code: str, rnd: dict[str, Any], judge: _Fixed, submitted: str) -> None:
    with StudyDB(path) as db:
        dealt, turns = study_round(db, rnd["item"])
        res = asyncio.run(run_protocol(dealt, rnd["condition"], judge, transcript=turns))  # type: ignore[arg-type]
        res = res.model_copy(update={"judge": "human"})
        db.add_result(result_row(code, rnd, res, time_limit=60.0, submitted=submitted))


def test_report_leaves_out_what_is_not_the_judges_own_answer(
    study: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with StudyDB(study) as db:
        (p1, p2) = [p["code"] for p in db.participants()]
        r1, r2 = db.rounds_of(p1), db.rounds_of(p2)
        truth = {it["id"]: it["truth"] for it in db.items()}
        honest = {it["id"]: it["honest_side"] for it in db.items()}
    # the debate rounds: p1 answered (credence 0.8 in A), p2's time ran out with nothing
    # typed (the stand-in estimate 0.5 and the credence 0.9 on screen are not an answer)
    deb1 = next(r for r in r1 if r["condition"] == "debate")
    deb2 = next(r for r in r2 if r["condition"] == "debate")
    _store(study, p1, deb1, _Fixed(1e-2, 0.8), "answer")
    _store(study, p2, deb2, _Fixed(0.5, 0.9), "expiry-default")
    # the oracle rounds: p1 typed 1e-3 and the time limit submitted it (their own answer);
    # p2's judge gave no answer at all (the protocol marks it judge_failed)
    or1 = next(r for r in r1 if r["condition"] == "oracle")
    or2 = next(r for r in r2 if r["condition"] == "oracle")
    _store(study, p1, or1, _Fixed(1e-3), "expiry")
    _store(study, p2, or2, _Fixed(None), "answer")

    assert main(["study", "report", str(study), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    by = {s["condition"]: s for s in data["conditions"]}
    deb, orc = by["debate"], by["oracle"]
    assert (deb["rounds"], deb["no_answer"], orc["rounds"], orc["no_answer"]) == (2, 1, 2, 1)
    # only p1's debate answer: its trust and its error, by hand
    want_acc = 1.0 if honest[deb1["item"]] == "a" else 0.0
    assert deb["accuracy"] == want_acc
    assert deb["mean_log10_error"] == pytest.approx(abs(-2 - math.log10(truth[deb1["item"]])))
    assert deb["calibration"]["n"] == 1
    assert orc["mean_log10_error"] == pytest.approx(abs(-3 - math.log10(truth[or1["item"]])))
    # the one typed on expiry is the participant's own, and still counted as timed out
    assert (deb["timed_out"], orc["timed_out"]) == (1, 1)
    by_item = {(r["item"], r["condition"]): r["rounds"] for r in data["by_item"]}
    assert set(by_item.values()) == {1}

    assert main(["study", "report", str(study)]) == 0
    text = capsys.readouterr().out
    assert "no answer" in text and "ECE: expected calibration error" in text

    # exported: both stand-ins are marked judge_failed, with no credence of the judge's
    with StudyDB(study) as db:
        rows = {(r["participant"], r["position"]): r for r in study_rows(db)}
    assert {k for k, r in rows.items() if r["judge_failed"]} == {
        (p2, deb2["position"]),
        (p2, or2["position"]),
    }
    failed_or = rows[(p2, or2["position"])]
    assert "not JSON" in failed_or["judge_error"]
    failed_deb = rows[(p2, deb2["position"])]
    assert "time ran out" in failed_deb["judge_error"]
    assert failed_deb["credence_a"] is None and failed_deb["trust"] is None
    assert failed_deb["trusted_honest"] is None and failed_deb["trust_honest"] is None
    ok = rows[(p1, deb1["position"])]
    assert not ok["judge_failed"] and ok["credence_a"] == 0.8


def test_zero_truth_rounds_count_in_accuracy_not_in_the_log10_error() -> None:
    def row(truth: float, err: float, credence: float) -> dict[str, object]:
        return {
            "judge": "p", "condition": "debate", "credence_a": credence, "honest_side": "a",
            "log10_error": err, "truth": truth, "seconds": 1.0, "timed_out": 0,
            "submitted": "answer", "judge_failed": False,
        }  # fmt: skip

    # an estimate of 1e-5 where P(Z) = 0 would be 295 orders off with the 1e-300 floor
    (s,) = summarize([row(0.01, 1.0, 0.9), row(0.1, 0.5, 0.2), row(0.0, 295.0, 0.9)])
    assert s.zero_truth == 1 and s.rounds == 3 and s.no_answer == 0
    assert s.mean_log10_error == pytest.approx(0.75)
    assert s.accuracy == pytest.approx(2 / 3)
    (z,) = summarize([row(0.0, 295.0, 0.9)])
    assert z.mean_log10_error is None and z.zero_truth == 1


def test_rounds_whose_truth_is_zero_are_counted_apart_in_stats_and_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """examples/d4.json has P(Z) = 0 exactly. With the 1e-300 floor its rounds made the
    independence error of a group ~180 orders, and a judge answering 0 looked perfect;
    stats and the report leave them out of every error and count them."""
    d4 = Path(__file__).parent.parent / "examples" / "d4.json"
    f = tmp_path / "s.toml"
    f.write_text(
        'title = "zero"\nconditions = ["debate"]\nparticipants = 2\n'
        f'[[items]]\nname = "d4"\nworld = "{d4}"\nseed = 3\n'
        '[[items]]\npreset = "practice"\nseed = 7\n'
    )
    build_study(f, tmp_path / "s.db")
    with StudyDB(tmp_path / "s.db") as db:
        simulate_study(db, ["maxent"])
        truth = {it["name"]: it["truth"] for it in db.items()}
        res = [(r["item"], r["estimate"], r["log10_error"]) for r in db.results()]
        names = {it["id"]: it["name"] for it in db.items()}
    assert truth["d4"] == 0.0 and truth["item2"] > 0
    kept = [e for i, _, e in res if names[i] != "d4"]
    said_zero = sum(1 for i, est, _ in res if names[i] == "d4" and est == 0)

    assert main(["stats", "--study", str(tmp_path / "s.db"), "--json"]) == 0
    (row,) = [r for r in json.loads(capsys.readouterr().out) if r["group"] == "sim:maxent"]
    assert row["rounds"] == 4 and row["zero_truth_rounds"] == 2
    assert row["zero_truth_said_zero"] == said_zero
    assert row["mean_log10_error"] == pytest.approx(sum(kept) / len(kept))
    assert main(["stats", "--study", str(tmp_path / "s.db")]) == 0
    assert "2 rounds had P(Z) = 0 exactly" in capsys.readouterr().out

    assert main(["study", "report", str(tmp_path / "s.db"), "--json"]) == 0
    (s,) = json.loads(capsys.readouterr().out)["conditions"]
    assert (s["rounds"], s["zero_truth"]) == (4, 2)
    assert s["mean_log10_error"] == pytest.approx(sum(kept) / len(kept))

    # the game's store: the baselines' errors leave the P(Z) = 0 rounds out too
    db = tmp_path / "game.db"
    for args in (["--seed", "1", str(d4)], ["--seed", "2", str(d4)], ["--seed", "4"]):
        assert main(["debate", *args, "--judge", "maxent", "--db", str(db)]) == 0
    capsys.readouterr()
    assert main(["stats", "--db", str(db), "--json"]) == 0
    (g,) = json.loads(capsys.readouterr().out)
    assert (g["rounds"], g["zero_truth_rounds"]) == (3, 2)
    conn = sqlite3.connect(db)
    ((err, truth, indep),) = conn.execute(
        "SELECT j.log10_error, r.truth_pz, j.base_independence "
        "FROM judgements j JOIN rounds r ON r.id = j.round_id WHERE r.truth_pz > 0"
    ).fetchall()
    assert g["mean_log10_error"] == pytest.approx(err)
    assert g["independence_log10_error"] == pytest.approx(abs(math.log10(indep / truth)))


def test_a_newcomer_is_told_the_words_whole_rounds_and_where_an_export_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stats screen explains its columns, counts rounds in whole numbers, sets P(Z)=0
    rounds apart; the export dialog names the absolute path and says practice rounds are
    in; the helps explain the oracle, "≤ 3 at once" and the `i` mark."""
    for keys in (KEYS, STUDY_KEYS):
        assert "**oracle**" in keys and "**≤ 3 at once**" in keys and "**i** the product" in keys
    assert whole_ticks(7) == [1, 2, 3, 4, 5, 6, 7]
    for n in (1, 11, 25, 100, 999):
        ticks = whole_ticks(n)
        assert ticks[0] == 1 and ticks[-1] <= n and len(ticks) <= 10
        assert all(isinstance(t, int) for t in ticks)

    d4 = Path(__file__).parent.parent / "examples" / "d4.json"
    db = tmp_path / "game.db"
    for args in (["--seed", "1", str(d4)], ["--seed", "4"]):
        assert main(["debate", *args, "--judge", "maxent", "--db", str(db)]) == 0
    monkeypatch.chdir(tmp_path)
    ticks: list[Any] = []

    async def script() -> None:
        app = PzJudgeApp(db_path=db, judge="sim:maxent", seed=1)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("s")
            await on_screen(app, pilot, "StatsScreen")
            plot = app.screen.query_one("#plot-errors", PlotextPlot)
            xticks = plot.plt.xticks

            def spy(xs: Any, labels: Any = None) -> Any:
                ticks.append((list(xs), list(labels or [])))
                return xticks(xs, labels)

            plot.plt.xticks = spy  # type: ignore[method-assign]
            await until(pilot, lambda: "Loading" not in screen_text(app), "stats")
            app.screen.load()  # type: ignore[attr-defined]
            await until(pilot, lambda: bool(ticks), "the error plot")
            text = screen_text(app)
            assert "2 answered rounds" in text and "1 with P(Z) = 0 left out" in text
            assert "ECE: expected calibration error" in text and "max entropy" in text
            await pilot.press("x")
            await on_screen(app, pilot, "ExportScreen")
            text = screen_text(app)
            assert f"writes {tmp_path / 'pzjudge-export.jsonl'}" in text
            assert "practice rounds are included" in text

    asyncio.run(script())
    assert ticks[-1] == ([1.0, 2.0], ["1", "2"])
