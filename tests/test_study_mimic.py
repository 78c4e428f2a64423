"""Mimic rounds as study items: in the study file, dealt by `study build`, played through
`play --study` on the mimic screen (keyboard), stored with the study fields, in `study
report` (their own rows: no accuracy, a log10 error) and `study simulate` (simulated
operators). Expected numbers come from the mimic round dealt here, and by hand."""

from __future__ import annotations

import asyncio
import json
import math
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from tui_steps import on_screen, rows, screen_text, type_text, until

from debate.errors import DebateError
from debate.mimic_round import deal_mimic_round, table_forecast
from debate.study import assignments, attention_failures, load_study
from store.study import StudyDB
from store.study_export import study_rows
from store.study_ops import build_study, simulate_study
from tui.cli import main
from tui.screens import study_mimic
from tui.study_app import StudyApp

STUDY = """
title = "with a mimic"
conditions = ["oracle", "debate"]
participants = 2
time_limit = 60
[[items]]
preset = "practice"
seed = 31
[[items]]
preset = "practice"
seed = 32
[[items]]
name = "mimic"
kind = "mimic"
seed = 5
objective = "enjoy"
question = 0
"""
LIMIT = 60.0


class Clock:
    """`time` as the mimic screen sees it: the real clock plus `ahead` seconds."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def time(self) -> float:
        return time.time() + self.ahead

    def monotonic(self) -> float:
        return time.monotonic()


@pytest.fixture
def study(tmp_path: Path) -> tuple[Path, list[str]]:
    f = tmp_path / "study.toml"
    f.write_text(STUDY)
    _, codes = build_study(f, tmp_path / "study.db")
    return tmp_path / "study.db", codes


def run_app(path: Path, code: str, script: Any) -> None:
    async def main_() -> None:
        app = StudyApp(path, code, "with a mimic")
        async with app.run_test(size=(80, 24)) as pilot:
            await script(app, pilot)

    asyncio.run(main_())


def test_the_study_file_takes_mimic_items_and_refuses_bad_ones(tmp_path: Path) -> None:
    f = tmp_path / "s.toml"
    f.write_text(STUDY)
    spec = load_study(f)
    # the mimic item keeps its place in the file's order, under "mimic"; the P(Z) items
    # still form a Latin square over the conditions, and each condition comes first once
    got = [[(a.item, a.condition) for a in assignments(spec, p)] for p in (0, 1)]
    assert got == [
        [(0, "oracle"), (1, "debate"), (2, "mimic")],
        [(0, "debate"), (1, "oracle"), (2, "mimic")],
    ]
    for bad, needle in (
        ('objective = "fame"', "unknown objective"),
        ("question = 99", "question is 0.."),
        ('world = "w.json"', "not world"),
    ):
        f.write_text(STUDY.replace('objective = "enjoy"\nquestion = 0', bad))
        with pytest.raises(DebateError, match=needle):
            load_study(f)
    f.write_text(STUDY.replace("seed = 31", "seed = 31\nquestion = 1"))
    with pytest.raises(DebateError, match="for mimic items"):
        load_study(f)


def test_a_participant_plays_a_mimic_item_by_keyboard(
    study: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    path, (first, second) = study
    clock = Clock()
    monkeypatch.setattr(study_mimic, "time", clock)
    want = deal_mimic_round(5, "enjoy", 0)

    async def first_plays(app: StudyApp, pilot: Pilot[None]) -> None:
        await on_screen(app, pilot, "StudyRoundScreen")  # no instructions, no consent text
        for _ in range(2):
            await pilot.press("a", "end")
            await type_text(pilot, "1e-2")
            await pilot.press("enter")
            await on_screen(app, pilot, "BetweenScreen")
            await pilot.press("n")
        await on_screen(app, pilot, "StudyMimicScreen")
        text = screen_text(app)
        assert "Round 3 of 3 · 1:00 left" in text
        assert want.public.question in text and f"{want.public.n_train:,}" in text
        # nothing secret before the answer, and no reveal after it
        for secret in (want.truth, want.synchronised, want.goodhart):
            assert f"{secret:.4f}" not in text and f"{secret:.3f}" not in text
        assert "forcing" not in text and "control" not in text
        await type_text(pilot, "1.7")
        await pilot.press("enter")
        await until(pilot, lambda: "between 0 and 1" in screen_text(app), "the hint")
        await pilot.press("backspace", "backspace", "backspace")
        await type_text(pilot, "35%")
        await pilot.press("enter")
        await on_screen(app, pilot, "BetweenScreen")
        text = screen_text(app)
        assert "Round 3 of 3 is stored" in text and f"{want.truth:.4f}" not in text
        await pilot.press("n")
        await on_screen(app, pilot, "DoneScreen")

    run_app(path, first, first_plays)

    async def second_runs_out(app: StudyApp, pilot: Pilot[None]) -> None:
        for _ in range(2):  # the mimic item keeps its place: third
            await on_screen(app, pilot, "StudyRoundScreen")
            await pilot.press("a", "end")
            await type_text(pilot, "1e-2")
            await pilot.press("enter")
            await on_screen(app, pilot, "BetweenScreen")
            await pilot.press("n")
        await on_screen(app, pilot, "StudyMimicScreen")
        clock.ahead = LIMIT + 1  # nothing typed: the stand-in is submitted, and marked
        await on_screen(app, pilot, "BetweenScreen")
        clock.ahead = 0.0
        assert "before you typed a valid estimate" in screen_text(app)
        await pilot.press("q")

    run_app(path, second, second_runs_out)

    (row,) = rows(
        path,
        "SELECT condition, estimate, truth, log10_error, submitted, credence_a, honest_side, "
        "time_limit, timed_out FROM results WHERE participant = ? AND position = 3",
        first,
    )
    assert row[0] == "mimic" and row[1] == pytest.approx(0.35) and row[2] == want.truth
    assert row[3] == pytest.approx(abs(math.log10(0.35) - math.log10(want.truth)))
    assert row[4:] == ("answer", None, None, LIMIT, 0)
    (late,) = rows(
        path,
        "SELECT condition, estimate, submitted, timed_out FROM results "
        "WHERE participant = ? AND position = 3",
        second,
    )
    assert late == ("mimic", 0.5, "expiry-default", 1)
    # the answer was stored before it was scored, as every answer of a study
    assert rows(path, "SELECT COUNT(*) FROM answers WHERE position = 3 AND participant = ?", first)
    assert rows(
        path, "SELECT submitted FROM answers WHERE participant = ? AND position = 3", second
    ) == [("expiry-default",)]

    # exported with the study fields, as a mimic judgement
    with StudyDB(path) as db:
        exp = [r for r in study_rows(db) if r["condition"] == "mimic"]
    mine = next(r for r in exp if r["participant"] == first)
    assert mine["kind"] == "mimic" and mine["item"] == "mimic" and mine["position"] == 3
    assert mine["truth_pz"] == want.truth and mine["n_statements"] == 0
    assert mine["debater_a"] is None and mine["claims"] is None and not mine["judge_failed"]
    assert next(r for r in exp if r["participant"] == second)["judge_failed"]

    # simulated operators play the mimic item (and only it); sim judges the P(Z) items
    with StudyDB(path) as db:
        assert simulate_study(db, ["trust-a"], ["synchronised", "table"]) == 2 * 2 + 2 * 2
    ops = rows(
        path,
        "SELECT judge, estimate, condition FROM results WHERE judge LIKE 'sim:%' "
        "AND condition = 'mimic' ORDER BY judge, participant",
    )
    assert sorted({(j, e) for j, e, _ in ops}) == [
        ("sim:synchronised", want.synchronised),
        ("sim:table", table_forecast(want.public)),
    ]
    assert rows(path, "SELECT COUNT(*) FROM results WHERE judge = 'sim:trust-a'") == [(4,)]

    # the report: mimic items have their own rows, no accuracy, the log10 error by hand
    assert main(["study", "report", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    by = {(s["judge"], s["condition"]): s for s in data["conditions"]}
    human = by[("human", "mimic")]
    assert (human["rounds"], human["no_answer"], human["accuracy"]) == (2, 1, None)
    assert human["mean_log10_error"] == pytest.approx(row[3])
    sync = by[("sim:synchronised", "mimic")]
    assert sync["accuracy"] is None and sync["rounds"] == 2
    assert sync["mean_log10_error"] == pytest.approx(
        abs(math.log10(want.synchronised) - math.log10(want.truth))
    )
    assert ("sim:trust-a", "mimic") not in by and ("sim:trust-a", "debate") in by


def test_simulated_operators_are_not_held_to_the_attention_rule(tmp_path: Path) -> None:
    """Operators play only mimic items, never an attention check (a P(Z) round): the rule
    that a judge must pass one would otherwise exclude every operator."""
    f = tmp_path / "s.toml"
    f.write_text(
        STUDY
        + "[attention]\nmin_passed = 1\nmax_log10_error = 1.0\n[[attention.items]]\np = 0.03\n"
    )
    spec = load_study(f)

    def row(judge: str, condition: str, attention: bool, err: float) -> dict[str, Any]:
        return {
            "judge": judge, "participant": "p1", "condition": condition,
            "attention": attention, "log10_error": err, "submitted": "answer",
        }  # fmt: skip

    rows_ = [
        row("sim:table", "mimic", False, 0.6),
        row("sim:maxent", "oracle", True, 3.0),  # failed its check
        row("sim:maxent", "mimic", False, 0.1),
        row("sim:bounds", "oracle", True, 0.2),
    ]
    assert attention_failures(rows_, spec) == {("sim:maxent", "p1"): (0, 1)}


def test_a_forecast_that_cannot_be_stored_says_so_in_one_line(
    study: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Storing the forecast fails with an error that is not the project's own (sqlite's,
    say): the participant is told in one line and can quit, not left at a disabled box."""
    path, (first, _) = study

    def broken(*_: object, **__: object) -> float:
        raise sqlite3.OperationalError("disk I/O error\nat page 7")

    monkeypatch.setattr(study_mimic, "record_mimic_answer", broken)

    async def plays(app: StudyApp, pilot: Pilot[None]) -> None:
        await on_screen(app, pilot, "StudyRoundScreen")
        for _ in range(2):
            await pilot.press("a", "end")
            await type_text(pilot, "1e-2")
            await pilot.press("enter")
            await on_screen(app, pilot, "BetweenScreen")
            await pilot.press("n")
        await on_screen(app, pilot, "StudyMimicScreen")
        await type_text(pilot, "0.4")
        await pilot.press("enter")
        await on_screen(app, pilot, "ProblemScreen")
        text = screen_text(app)
        assert "the answer could not be stored: disk I/O error" in text
        assert "page 7" not in text and "Traceback" not in text
        await pilot.press("q")

    run_app(path, first, plays)
    # the two answers before it are kept
    assert rows(path, "SELECT COUNT(*) FROM results WHERE participant = ?", first) == [(2,)]


def test_study_simulate_offers_the_exact_operator_by_default(
    study: tuple[Path, list[str]], capsys: Any
) -> None:
    """`study simulate` plays mimic items with every operator the reveal lists, the exact
    one (the natural world fine-tuned as the mimic was) among them."""
    path, _ = study
    want = deal_mimic_round(5, "enjoy", 0)
    assert main(["study", "simulate", str(path), "--judges", "trust-a"]) == 0
    assert "sim:exact" in capsys.readouterr().out
    got = rows(
        path,
        "SELECT judge, estimate FROM results WHERE condition = 'mimic' ORDER BY judge",
    )
    by = {j: e for j, e in got}
    assert set(by) == {"sim:synchronised", "sim:unconditioned", "sim:table", "sim:exact"}
    assert by["sim:exact"] == want.exact and by["sim:unconditioned"] == want.unconditioned
    assert rows(path, "SELECT COUNT(*) FROM results WHERE judge = 'sim:exact'") == [(2,)]
