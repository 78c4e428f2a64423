"""Participants take a study in the game (`pzjudge play --study`): code, instructions,
consent, rounds in the study's order under their conditions with nothing to change, the
time limit and what it submits, quitting and coming back, the completion code.

The study is the issue's pilot: 2 participants, 4 items, 2 conditions. Assertions are on
the rows stored in the study database; the clock of the round screen is moved forward
(`Clock`) to make a time limit run out without waiting for it.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.message import Message
from textual.pilot import Pilot
from textual.widgets import Input, Static
from tui_steps import on_screen, rows, screen_text, type_text, until

from debate.protocols import consultant_honest, shown_claims
from debate.study import deal_item, load_study
from store.errors import StoreError
from store.study import StudyDB
from store.study_export import study_rows
from store.study_ops import build_study, next_item
from tui.cli import main
from tui.messages import QueryAnswered
from tui.screens import study as study_screens
from tui.screens import study_round
from tui.study_app import StudyApp
from tui.widgets.estimate import EstimatePanel
from tui.widgets.transcript import Transcript

SIZE = (80, 24)
LIMIT = 60.0

STUDY = """
title = "pilot study"
instructions = "Estimate P(Z) in every round."
consent = "We store your estimates under your code."
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
preset = "practice"
seed = 33
[[items]]
preset = "practice"
seed = 34
"""


class Clock:
    """`time` as the round screen sees it: the real clock plus `ahead` seconds."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def time(self) -> float:
        return time.time() + self.ahead

    def monotonic(self) -> float:
        return time.monotonic()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(study_round, "time", c)
    # the status line's clock (`time_left`) reads the time in tui.screens.study
    monkeypatch.setattr(study_screens, "time", c)
    # speeches on a 0.4 s grid (against timing tells) only slow the test down
    monkeypatch.setattr(study_round.StudyRoundScreen, "speech_quantum", 0.0)
    return c


@pytest.fixture
def study(tmp_path: Path) -> tuple[Path, list[str]]:
    f = tmp_path / "study.toml"
    f.write_text(STUDY)
    _, codes = build_study(f, tmp_path / "study.db")
    return tmp_path / "study.db", codes


def run_app(
    path: Path,
    script: Callable[[StudyApp, Pilot[None], list[Message]], Awaitable[None]],
    participant: str | None = None,
) -> list[Message]:
    seen: list[Message] = []

    async def main_() -> None:
        app = StudyApp(path, participant, "pilot study")
        async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
            await script(app, pilot, seen)

    asyncio.run(main_())
    return seen


def header(app: StudyApp) -> str:
    return str(app.screen.query_one("#status", Static).render())


async def answer(pilot: Pilot[None], text: str) -> None:
    await pilot.press("a", "end")
    await type_text(pilot, text)
    await pilot.press("enter")


async def run_out(app: StudyApp, pilot: Pilot[None], clock: Clock) -> str:
    """Let the round's time limit run out (the clock moved past it, then back): what the
    screen after it says."""
    clock.ahead = LIMIT + 1
    await on_screen(app, pilot, "BetweenScreen")
    clock.ahead = 0.0
    return screen_text(app)


async def ask_oracle(app: StudyApp, pilot: Pilot[None], seen: list[Message]) -> None:
    n = sum(isinstance(m, QueryAnswered) for m in seen)
    await pilot.press("1", "space", "down", "space", "o")
    await until(pilot, lambda: sum(isinstance(m, QueryAnswered) for m in seen) > n, "oracle")


def test_two_participants_take_the_pilot_study(
    study: tuple[Path, list[str]], clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    path, (first, second) = study
    spec = load_study(path.parent / "study.toml")
    budget = deal_item(spec.items[0]).rules.judge_budget

    # ---- the first participant: a wrong code, then theirs; two rounds, one timed out;
    # a query in the third, then quits in the middle of it
    async def part_one(app: StudyApp, pilot: Pilot[None], seen: list[Message]) -> None:
        await on_screen(app, pilot, "CodeScreen")
        await type_text(pilot, "nope")
        await pilot.press("enter")
        await until(pilot, lambda: "no participant" in screen_text(app), "refusal")
        assert type(app.screen).__name__ == "CodeScreen"
        code_box = app.screen.query_one("#code", Input)
        await until(pilot, lambda: not code_box.disabled, "the code box after a wrong code")
        await pilot.press(*["backspace"] * 4)
        await type_text(pilot, first.upper())  # codes are read case-blind
        await pilot.press("enter")
        await on_screen(app, pilot, "InstructionsScreen")
        text = screen_text(app)
        assert "Estimate P(Z) in every round." in text and "1:00" in text
        await pilot.press("enter")
        await on_screen(app, pilot, "ConsentScreen")
        assert "We store your estimates" in screen_text(app)
        await pilot.press("y")

        await on_screen(app, pilot, "StudyRoundScreen")
        scr: Any = app.screen
        # the limit, less the seconds a loaded machine took to show the screen (under 10)
        assert re.match(r"Round 1 of 4 · (1:00|0:5\d) left", header(app)), header(app)
        # locked: the round is the study's own, and no key opens a menu, a setup or a seed
        with StudyDB(path) as db:
            stored = db.item(scr.item.item)
        assert scr.item.dealt.world.to_json() == stored["world_json"]
        for key in ("p", "r", "s", "t", "escape", "escape"):
            await pilot.press(key)
        names = [type(s).__name__ for s in app.screen_stack]
        assert names[-1] == "StudyRoundScreen"
        assert not {"HomeScreen", "SetupScreen", "SettingsScreen", "RevealScreen"} & set(names)
        assert "seed" not in screen_text(app).lower()
        await ask_oracle(app, pilot, seen)
        assert f"oracle: {budget - 1} left" in header(app)
        await answer(pilot, "1e-3")
        await on_screen(app, pilot, "BetweenScreen")
        assert "Round 1 of 4 is stored" in screen_text(app)
        # no truth and no score between rounds
        assert "P(Z) =" not in screen_text(app) and "error" not in screen_text(app)

        await pilot.press("n")
        await on_screen(app, pilot, "StudyRoundScreen")
        assert header(app).startswith("Round 2 of 4")
        await pilot.press("a")
        await type_text(pilot, "1e-2")  # typed, never submitted by the participant
        assert "time ran out: your estimate 0.01 was submitted" in await run_out(app, pilot, clock)

        await pilot.press("n")
        await on_screen(app, pilot, "StudyRoundScreen")
        assert header(app).startswith("Round 3 of 4")
        await ask_oracle(app, pilot, seen)
        await pilot.press("escape")
        await on_screen(app, pilot, "StudyLeave")
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running, "the app to quit")

    run_app(path, part_one)
    assert rows(path, "SELECT position, submitted FROM results WHERE participant = ?", first) == [
        (1, "answer"),
        (2, "expiry"),
    ]
    ((started3,),) = rows(
        path, "SELECT started_at FROM started WHERE participant = ? AND position = 3", first
    )
    assert rows(path, "SELECT position FROM queries WHERE participant = ?", first) == [(1,), (3,)]

    # ---- back with the code on the command line: round 3 again, its clock and its spent
    # oracle query kept; round 4 runs out with nothing typed; the completion code
    async def part_two(app: StudyApp, pilot: Pilot[None], seen: list[Message]) -> None:
        await on_screen(app, pilot, "InstructionsScreen")
        assert "Welcome back: 2 of 4 rounds done" in screen_text(app)
        await pilot.press("enter")  # no consent asked again
        await on_screen(app, pilot, "StudyRoundScreen")
        scr: Any = app.screen
        assert header(app).startswith("Round 3 of 4")
        assert scr.item.started_at == started3
        assert f"oracle: {budget - 1} left" in header(app)
        await answer(pilot, "1e-4")
        await on_screen(app, pilot, "BetweenScreen")
        await pilot.press("n")
        await on_screen(app, pilot, "StudyRoundScreen")
        assert header(app).startswith("Round 4 of 4")
        assert "before you typed a valid estimate" in await run_out(app, pilot, clock)
        await pilot.press("n")
        await on_screen(app, pilot, "DoneScreen")
        await until(pilot, lambda: "…" not in screen_text(app), "the completion code")
        done = str(app.screen.query_one("#completion", Static).render())
        ((want,),) = rows(path, "SELECT completion_code FROM participants WHERE code = ?", first)
        assert done == want

    run_app(path, part_two, participant=first)

    # ---- the second participant declines (nothing stored), then comes back and agrees
    async def decline(app: StudyApp, pilot: Pilot[None], seen: list[Message]) -> None:
        await on_screen(app, pilot, "InstructionsScreen")
        await pilot.press("enter")
        await on_screen(app, pilot, "ConsentScreen")
        await pilot.press("n")
        await on_screen(app, pilot, "DeclinedScreen")
        assert "nothing was stored" in screen_text(app)

    run_app(path, decline, participant=second)
    assert rows(path, "SELECT consented_at FROM participants WHERE code = ?", second) == [(None,)]
    for table in ("results", "started", "queries"):
        assert rows(path, f"SELECT COUNT(*) FROM {table} WHERE participant = ?", second) == [(0,)]

    async def agree(app: StudyApp, pilot: Pilot[None], seen: list[Message]) -> None:
        await on_screen(app, pilot, "InstructionsScreen")
        await pilot.press("enter")
        await on_screen(app, pilot, "ConsentScreen")
        await pilot.press("y")
        for k in range(1, 5):
            await on_screen(app, pilot, "StudyRoundScreen")
            assert header(app).startswith(f"Round {k} of 4")
            await answer(pilot, f"1e-{k}")
            await on_screen(app, pilot, "BetweenScreen")
            await pilot.press("n")
        await on_screen(app, pilot, "DoneScreen")

    run_app(path, agree, participant=second)

    # ---- what is stored: every round in the assigned order and condition, how each was
    # submitted, and the Latin square (each item under each condition once)
    with StudyDB(path) as db:
        items = {it["id"]: it for it in db.items()}
        res = {p: [r for r in db.results() if r["participant"] == p] for p in (first, second)}
        for p in (first, second):
            assigned = [(a["position"], a["item"], a["condition"]) for a in db.rounds_of(p)]
            got = [(r["position"], r["item"], r["condition"]) for r in res[p]]
            assert sorted(got) == assigned
            assert {r["judge"] for r in res[p]} == {"human"}
            assert db.participant(p)["finished_at"] is not None
    a = sorted(res[first], key=lambda r: r["position"])
    assert [r["submitted"] for r in a] == ["answer", "expiry", "answer", "expiry-default"]
    assert [r["timed_out"] for r in a] == [False, True, False, True]
    assert [r["time_limit"] for r in a] == [LIMIT] * 4
    assert a[0]["estimate"] == pytest.approx(1e-3) and a[1]["estimate"] == pytest.approx(1e-2)
    assert a[2]["estimate"] == pytest.approx(1e-4)
    # with nothing typed, the product of the shown single probabilities was submitted
    dealt4 = deal_item(spec.items[a[3]["item"]])
    shown = [s.p for s in dealt4.statements]
    assert a[3]["estimate"] == pytest.approx(math.prod(p for p in shown if p is not None))
    # the second participant answered 1e-1 .. 1e-4 in order, each scored on its item
    b = sorted(res[second], key=lambda r: r["position"])
    for k, r in enumerate(b, start=1):
        assert r["estimate"] == pytest.approx(10.0**-k) and r["submitted"] == "answer"
        truth = items[r["item"]]["truth"]
        assert r["log10_error"] == pytest.approx(abs(-k - math.log10(truth)))
        # oracle rounds trust no side; debate rounds left the credence at 1/2
        assert (r["credence_a"] is None) == (r["condition"] == "oracle")
    pairs = {(r["item"], r["condition"]) for r in a + b}
    assert pairs == {(i, c) for i in range(4) for c in ("oracle", "debate")}
    # exported, the round with nothing typed is not the participant's answer
    with StudyDB(path) as db:
        failed = {(r["participant"], r["position"]) for r in study_rows(db) if r["judge_failed"]}
    assert failed == {(first, 4)}

    # ---- the report, checked against the stored rows by hand: per condition, the own
    # answers' mean log10 error (the round with nothing typed is counted, not scored), the
    # credence left at 1/2 in every debate round worth half a round of accuracy
    out = path.parent / "report"
    assert main(["study", "report", str(path), "-o", str(out), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    by = {s["condition"]: s for s in data["conditions"]}
    assert set(by) == {"oracle", "debate"} and data["kept"] == data["rows"] == 8
    for cond, s in by.items():
        mine = [r for r in a + b if r["condition"] == cond]
        own = [r for r in mine if r["submitted"] != "expiry-default"]
        errs = [abs(math.log10(r["estimate"]) - math.log10(items[r["item"]]["truth"])) for r in own]
        assert s["rounds"] == len(mine) == 4 and s["no_answer"] == len(mine) - len(own)
        assert s["mean_log10_error"] == pytest.approx(sum(errs) / len(errs))
        assert s["timed_out"] == sum(r["submitted"] != "answer" for r in mine)
        assert s["accuracy"] == (None if cond == "oracle" else 0.5)
    assert by["oracle"]["no_answer"] + by["debate"]["no_answer"] == 1
    for name in ("accuracy.png", "log10_error.png", "reliability.png"):
        assert (out / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "data:image/png;base64," in (out / "report.html").read_text()

    # an answered round cannot be answered again, and nothing is left to play
    assert next_item(path, first) is None and next_item(path, second) is None
    again = {k: v for k, v in a[0].items() if k not in ("id", "created_at", "judge_failed")}
    with StudyDB(path) as db, pytest.raises(StoreError, match="already judged"):
        db.add_result({**again, "estimate": 0.5})
    assert rows(path, "SELECT estimate FROM results WHERE participant = ? AND position = 1", first)[
        0
    ][0] == pytest.approx(1e-3)


def test_each_condition_shows_its_own_view(tmp_path: Path, clock: Clock) -> None:
    f = tmp_path / "study.toml"
    f.write_text(
        STUDY.replace(
            '["oracle", "debate"]', '["oracle", "consultancy", "debate", "offline"]'
        ).replace("participants = 2", "participants = 1")
    )
    _, (code,) = build_study(f, tmp_path / "study.db")
    path = tmp_path / "study.db"
    views: dict[str, dict[str, Any]] = {}

    async def script(app: StudyApp, pilot: Pilot[None], seen: list[Message]) -> None:
        await on_screen(app, pilot, "InstructionsScreen")
        await pilot.press("enter")
        await on_screen(app, pilot, "ConsentScreen")
        await pilot.press("y")
        for _ in range(4):
            await on_screen(app, pilot, "StudyRoundScreen")
            scr: Any = app.screen
            cond = scr.item.condition
            if cond in ("debate", "consultancy"):
                await pilot.press("2")
                turns = scr.round.turns
                await until(pilot, lambda: bool(turns), "a speech")  # noqa: B023
            tabs = str(scr.query_one("#tabs").render())
            views[cond] = {
                "header": header(app),
                "debate tab": "Debate" in tabs,
                "credence": bool(scr.query("#credence")),
                "claims": str(scr.query_one("#claims").render()) if scr.query("#claims") else "",
                "speakers": {t.speaker for t in scr.round.turns},
                "turns": len(scr.round.turns),
                "shown": shown_claims(scr.item.dealt, cond),
                "dealt": scr.item.dealt,
            }
            await answer(pilot, "0.01")
            await on_screen(app, pilot, "BetweenScreen")
            await pilot.press("n")
        await on_screen(app, pilot, "DoneScreen")

    run_app(path, script, participant=code)
    assert set(views) == {"oracle", "consultancy", "debate", "offline"}
    o = views["oracle"]
    assert "no debaters" in o["header"] and not o["debate tab"] and not o["credence"]
    assert o["turns"] == 0 and o["shown"] is None
    c = views["consultancy"]
    assert "one consultant" in c["header"] and c["credence"] and c["speakers"] == {"a"}
    assert "the consultant" in c["claims"] and "B claims" not in c["claims"]
    # the one claim shown is the consultant's: the honest one exactly when it is honest
    dealt = c["dealt"]
    hs = dealt.secret.honest_side
    want = hs if consultant_honest(dealt) else ("b" if hs == "a" else "a")
    assert c["shown"] == {"a": dealt.claims[want]}
    d = views["debate"]
    assert "live debate" in d["header"] and "A claims" in d["claims"] and "B claims" in d["claims"]
    off = views["offline"]
    assert "recorded debate" in off["header"] and off["credence"]
    # the offline transcript is the one recorded at build, shown whole before any answer
    with StudyDB(path) as db:
        (rnd,) = [r for r in db.rounds_of(code) if r["condition"] == "offline"]
        recorded = json.loads(str(db.item(rnd["item"])["transcript"]))
    assert off["turns"] == len(recorded) > 0
    with StudyDB(path) as db:
        stored = {r["condition"]: r for r in db.results()}
    assert stored["oracle"]["trusted_honest"] is None and stored["oracle"]["credence_a"] is None
    # the participant left the credence at 1/2: stored as given, trusting nobody (it was
    # counted as trusting the liar)
    for c in ("consultancy", "debate", "offline"):
        assert stored[c]["credence_a"] == 0.5 and stored[c]["trusted_honest"] is None, c


def test_study_texts_are_reflowed_for_the_screen() -> None:
    from tui.screens.study import reflow

    text = "One long\nparagraph here.\n\nKeys:\n- a answers\n- o asks\n  the oracle\n1. first\n"
    assert reflow(text) == (
        "One long paragraph here.\n\nKeys:\n- a answers\n- o asks the oracle\n1. first"
    )


def test_play_study_refuses_bad_input_in_one_line(
    study: tuple[Path, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = study
    assert main(["play", "--study", str(path), "--participant", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no participant with code" in err and "\n" not in err
    assert main(["play", "--study", str(path.parent / "none.db")]) == 2
    assert "no such study database" in capsys.readouterr().err
    assert main(["play", "--participant", "abc"]) == 2
    assert "--study" in capsys.readouterr().err
    # locked: no seed, name or game database of the participant's choosing
    for extra in (["--seed", "5"], ["--judge", "me"], ["--db", "x.db"]):
        assert main(["play", "--study", str(path), *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert f"{extra[0]} does not go with --study" in err and "\n" not in err


def test_a_schema_1_study_opens_and_gains_the_new_tables(study: tuple[Path, list[str]]) -> None:
    path, codes = study
    with sqlite3.connect(path) as conn:  # as `study build` made it before schema 2
        conn.executescript(
            "DROP TABLE started; DROP TABLE queries; ALTER TABLE results DROP COLUMN submitted;"
            "DROP TABLE answers; DROP TABLE seen_turns; PRAGMA user_version = 1;"
        )
    item = next_item(path, codes[0])
    assert item is not None and item.position == 1
    assert rows(path, "PRAGMA user_version") == [(3,)]
    assert rows(path, "SELECT COUNT(*) FROM started") == [(1,)]
    assert rows(path, "SELECT COUNT(*) FROM answers") == [(0,)]


def test_round_header_snapshot(  # type: ignore[no-untyped-def]
    study: tuple[Path, list[str]], clock: Clock, snap_compare
) -> None:
    """A participant's first round at 80x24: "Round 1 of 4", the time left, the condition."""
    pytest.importorskip("pytest_textual_snapshot")
    path, codes = study
    clock.ahead = -5.0  # the clock reads 1:00 however long the screen takes to settle

    async def run(pilot: Pilot[None]) -> None:
        app: Any = pilot.app
        await on_screen(app, pilot, "InstructionsScreen")
        await pilot.press("enter")
        await on_screen(app, pilot, "ConsentScreen")
        await pilot.press("y")
        await on_screen(app, pilot, "StudyRoundScreen")
        for inp in app.screen.query(Input):
            inp.cursor_blink = False
        app.clear_notifications()
        await pilot.pause()

    app = StudyApp(path, codes[0], "pilot study")
    assert snap_compare(app, terminal_size=SIZE, run_before=run)


def test_serve_study_passes_the_study_to_each_browsers_game(
    study: tuple[Path, list[str]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip("textual_serve")
    import shlex

    import tui.serve

    started: list[str] = []

    class Fake:
        def __init__(self, command: str, **kw: object) -> None:
            started.append(command)

        def serve(self) -> None:
            pass

    monkeypatch.setattr(tui.serve, "LockedServer", Fake)
    path, _ = study
    monkeypatch.chdir(path.parent)
    assert main(["serve", "--study", path.name]) == 0
    argv = shlex.split(started[0])
    # the game each browser gets takes the study by its absolute path, and asks for a code
    assert argv[-3:] == ["play", "--study", str(path.resolve())]
    assert "--participant" not in argv
    assert main(["serve", "--study", "none.db"]) == 2
    assert "no such study database" in capsys.readouterr().err and len(started) == 1


def test_an_answer_outlives_a_protocol_that_fails_after_it(
    study: tuple[Path, list[str]], clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer is stored the moment it is given; a protocol failing after it leaves the
    answer scored alone (the failure recorded), not lost."""
    path, (first, second) = study
    real = study_round.run_protocol

    async def broken(*args: Any, **kw: Any) -> Any:
        await real(*args, **kw)  # the whole round, the participant's answer included
        raise RuntimeError("scoring broke")

    monkeypatch.setattr(study_round, "run_protocol", broken)

    async def play(app: StudyApp, pilot: Pilot[None], seen: list[Message]) -> None:
        await on_screen(app, pilot, "InstructionsScreen")
        await pilot.press("enter")
        await on_screen(app, pilot, "ConsentScreen")
        await pilot.press("y")
        for k, (est, cred) in enumerate((("1e-3", None), ("2e-2", "0.8")), start=1):
            await on_screen(app, pilot, "StudyRoundScreen")
            assert header(app).startswith(f"Round {k} of 4")
            if cred is not None:
                app.screen.query_one(EstimatePanel).set_credence(float(cred))
            await answer(pilot, est)
            await on_screen(app, pilot, "BetweenScreen")
            text = screen_text(app)
            assert "Your answer is stored" in text and "scoring broke" in text
            await pilot.press("n")
        await on_screen(app, pilot, "StudyRoundScreen")
        await pilot.press("escape")
        await on_screen(app, pilot, "StudyLeave")
        await pilot.press("q")

    run_app(path, play, participant=first)
    with StudyDB(path) as db:
        res = sorted(
            (r for r in db.results() if r["participant"] == first), key=lambda r: r["position"]
        )
        items = {it["id"]: it for it in db.items()}
        answers = [db.answer_of(first, k, "human") for k in (1, 2)]
    assert [r["position"] for r in res] == [1, 2]
    assert [r["condition"] for r in res] == ["oracle", "debate"]
    for r, want in zip(res, (1e-3, 2e-2), strict=True):
        truth = items[r["item"]]["truth"]
        assert r["estimate"] == pytest.approx(want) and r["submitted"] == "answer"
        assert r["log10_error"] == pytest.approx(abs(math.log10(want) - math.log10(truth)))
        assert "scoring broke" in json.loads(r["result_json"])["errors"][-1]
    assert res[0]["credence_a"] is None  # oracle: no side to trust
    # the debate answer's credence, scored by the one trust rule against the honest side
    honest = items[res[1]["item"]]["honest_side"]
    assert res[1]["credence_a"] == pytest.approx(0.8)
    assert res[1]["trusted_honest"] == (honest == "a")
    assert all(a is not None and "scoring broke" in a["error"] for a in answers)

    # the game stopping between the answer and its scoring: the stored answer is scored
    # when the participant comes back, and they go on with the next round
    first_round = next_item(path, second)
    assert first_round is not None and first_round.position == 1
    from debate.protocol import Decision
    from store.study_ops import record_submission

    record_submission(path, first_round, Decision(estimate=0.25), "answer")
    nxt = next_item(path, second)
    assert nxt is not None and nxt.position == 2
    with StudyDB(path) as db:
        (got,) = [r for r in db.results() if r["participant"] == second]
    assert got["position"] == 1 and got["estimate"] == 0.25
    assert "before scoring" in json.loads(got["result_json"])["errors"][-1]


def test_a_live_debate_left_part_way_comes_back_as_it_was(
    study: tuple[Path, list[str]], clock: Clock
) -> None:
    """Leaving mid-debate and coming back shows the same speeches (stored as shown), the
    credence set, and no new speech: nothing is dealt or spoken again, so leaving cannot
    re-roll a debate; the answer is scored on what was seen."""
    path, (first, _) = study
    shown: list[str] = []

    def turns(app: StudyApp) -> list[Any]:
        return list(app.screen.round.turns)  # type: ignore[attr-defined]

    async def leave_mid_debate(app: StudyApp, pilot: Pilot[None], seen: list[Message]) -> None:
        await on_screen(app, pilot, "InstructionsScreen")
        await pilot.press("enter")
        await on_screen(app, pilot, "ConsentScreen")
        await pilot.press("y")
        await on_screen(app, pilot, "StudyRoundScreen")
        await answer(pilot, "1e-3")  # round 1: oracle
        await on_screen(app, pilot, "BetweenScreen")
        await pilot.press("n")
        await on_screen(app, pilot, "StudyRoundScreen")
        assert header(app).startswith("Round 2 of 4") and "live debate" in header(app)
        await until(pilot, lambda: len(turns(app)) >= 1, "the first speech")
        for k in (2, 3):
            await pilot.press("n")
            await until(pilot, lambda k=k: len(turns(app)) >= k, f"speech {k}")  # type: ignore[misc]
        await pilot.pause(0.3)
        assert len(turns(app)) == 3  # paced: no speech comes before the participant asks
        await pilot.press("right_square_bracket", "right_square_bracket")
        shown.extend(t.text for t in turns(app))
        await pilot.press("escape")
        await on_screen(app, pilot, "StudyLeave")
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running, "the app to quit")

    run_app(path, leave_mid_debate, participant=first)
    stored = rows(
        path,
        "SELECT turn, credence_a FROM seen_turns WHERE participant = ? AND position = 2 "
        "ORDER BY idx",
        first,
    )
    assert [json.loads(t)["text"] for t, _ in stored] == shown
    assert stored[-1][1] == pytest.approx(0.6)  # the credence set after the last speech

    async def come_back(app: StudyApp, pilot: Pilot[None], seen: list[Message]) -> None:
        await on_screen(app, pilot, "InstructionsScreen")
        await pilot.press("enter")
        await on_screen(app, pilot, "StudyRoundScreen")
        assert header(app).startswith("Round 2 of 4")
        assert [t.text for t in turns(app)] == shown
        line = app.screen.query_one(Transcript)._speaking
        assert line is not None and "stopped when you left" in str(line.text)
        assert app.screen.query_one(EstimatePanel).credence == pytest.approx(0.6)
        await pilot.press("n")  # no speech comes, however long one waits
        await pilot.pause(0.5)
        assert [t.text for t in turns(app)] == shown
        await answer(pilot, "2e-2")
        await on_screen(app, pilot, "BetweenScreen")
        await pilot.press("n")
        await on_screen(app, pilot, "StudyRoundScreen")
        assert header(app).startswith("Round 3 of 4")

    run_app(path, come_back, participant=first)
    with StudyDB(path) as db:
        (r,) = [r for r in db.results() if r["participant"] == first and r["position"] == 2]
        honest = db.item(r["item"])["honest_side"]
        truth = db.item(r["item"])["truth"]
    res = json.loads(r["result_json"])
    assert r["estimate"] == pytest.approx(2e-2) and r["condition"] == "debate"
    assert r["log10_error"] == pytest.approx(abs(math.log10(2e-2) - math.log10(truth)))
    assert r["credence_a"] == pytest.approx(0.6) and r["trusted_honest"] == (honest == "a")
    assert [t["text"] for t in res["turns"]] == shown
    assert "stopped when the participant left it after 3 speeches" in res["errors"][-1]


def test_a_round_resumed_after_its_limit_counts_the_limit_not_the_time_away(
    study: tuple[Path, list[str]],
) -> None:
    from debate.protocol import Decision
    from debate.protocols import score_decision
    from store.study_ops import (
        StudyItem,
        give_consent,
        record_answer,
        record_submission,
        score_stored_answer,
    )

    path, (first, _) = study
    give_consent(path, first)

    def shown_long_ago(away: float) -> StudyItem:
        """The participant's next round, first shown `away` seconds ago (left, then back)."""
        item = next_item(path, first)
        assert isinstance(item, StudyItem)
        with sqlite3.connect(path) as conn:
            conn.execute(
                "UPDATE started SET started_at = started_at - ? WHERE participant = ? "
                "AND position = ?",
                (away, first, item.position),
            )
        again = next_item(path, first)
        assert isinstance(again, StudyItem) and again.position == item.position
        assert again.deadline is not None and again.deadline < time.time()
        return again

    # submitted on return by the expired limit: stored with the limit's seconds
    item = shown_long_ago(LIMIT + 40)
    decision = Decision(estimate=0.01)
    res = score_decision(item.dealt, item.condition, "human", decision, [])
    record_submission(path, item, decision, "expiry")
    record_answer(path, item, res, "expiry")
    # the same when the answer is scored alone (the protocol failed after it)
    item = shown_long_ago(LIMIT + 500)
    record_submission(path, item, decision, "expiry")
    score_stored_answer(path, item, "the protocol failed")
    got = rows(
        path, "SELECT position, seconds, timed_out FROM results WHERE participant = ?", first
    )
    assert got == [(1, LIMIT, 1), (2, LIMIT, 1)]


def test_a_study_database_given_as_a_game_database_says_to_use_study(
    study: tuple[Path, list[str]],
) -> None:
    from store.db import Store

    path, _ = study
    before = path.read_bytes()
    with pytest.raises(StoreError) as exc:  # what the game shows for a --db it cannot use
        Store(path)
    err = str(exc.value)
    assert "\n" not in err and "is a study database" in err
    assert f"pzjudge play --study {path}" in err
    assert path.read_bytes() == before
    # and the README no longer suggests it
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert "play --db study.db" not in readme
