"""Whole rounds played through the keyboard; assertions on stored rows and posted messages.

Small worlds (12–16 statements) and built-in debaters keep each round well under a
second; the tests wait only for screens to change, i.e. for workers to finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
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

from debate.builtin import LIARS
from debate.protocol import BaseDebater
from tui.app import PzJudgeApp
from tui.messages import (
    AnswerSubmitted,
    CitationFocused,
    DebatePaused,
    QueryAnswered,
    Revealed,
    RoundReady,
    SpeechArrived,
    SpeechStarted,
)

SIZE = (80, 24)
#: When `play`'s hook first saw each message (by id; the messages stay alive in `seen`).
SEEN_AT: dict[int, float] = {}


def play(
    db: Path,
    script: Callable[[PzJudgeApp, Pilot[None], list[Message]], Awaitable[None]],
    seed: int | None = 11,
):
    """Run the app with a tmp database, collecting every message it posts."""
    seen: list[Message] = []
    ids: set[int] = set()

    def hook(m: Message) -> None:  # a bubbling message is seen once per hop; keep it once
        if id(m) not in ids:
            ids.add(id(m))
            seen.append(m)
            SEEN_AT[id(m)] = time.monotonic()

    async def main() -> None:
        app = PzJudgeApp(db_path=db, judge="tester", seed=seed)
        async with app.run_test(size=SIZE, message_hook=hook) as pilot:
            await script(app, pilot, seen)

    asyncio.run(main())
    return seen


async def start_debate(app: PzJudgeApp, pilot: Pilot[None], one_round: bool = True) -> None:
    """From home: a debate session of 16 statements (one round unless told), started."""
    await pilot.press("p")
    await on_screen(app, pilot, "SetupScreen")
    await pilot.click("#f-statements")
    await pilot.press("end", *["backspace"] * 4, "1", "6")
    if one_round:
        await pilot.click("#f-rounds")
        await pilot.press("end", *["backspace"] * 3, "1")
    await pilot.press("ctrl+s")
    await on_screen(app, pilot, "RoundScreen")


async def resume_open_round(app: PzJudgeApp, pilot: Pilot[None]) -> None:
    """From home: resume the unfinished session's open round."""
    await pilot.press("r")
    await on_screen(app, pilot, "ResumeScreen")
    await until(pilot, lambda: bool(app.screen.sessions), "sessions")  # type: ignore[attr-defined]
    await pilot.press("enter")
    await on_screen(app, pilot, "RoundScreen")


async def answer(pilot: Pilot[None], text: str, go: bool = True) -> None:
    """Go to the estimate (a), type it as a person would, press enter."""
    await pilot.press(*(["a"] if go else []), "end")
    await type_text(pilot, text)
    await pilot.press("enter")


def test_practice_round_by_keyboard(tmp_path: Path) -> None:
    db = tmp_path / "p.db"

    async def script(app: PzJudgeApp, pilot: Pilot[None], seen: list[Message]) -> None:
        await pilot.press("t")
        await on_screen(app, pilot, "RoundScreen")
        await pilot.press("space", "down", "space", "o")
        await until(pilot, lambda: any(isinstance(m, QueryAnswered) for m in seen), "oracle")
        assert "9 left" in screen_text(app)
        # refused in place: nothing submitted, nothing stored
        await answer(pilot, "2")
        assert "above 1" in str(app.screen.query_one("#hint", Static).render())
        assert not any(isinstance(m, AnswerSubmitted) for m in seen)
        assert rows(db, "SELECT COUNT(*) FROM judgements") == [(0,)]
        assert app.focused is app.screen.query_one("#estimate", Input)  # stays to be fixed
        await pilot.press("backspace")
        await answer(pilot, "log10 -3", go=False)
        await on_screen(app, pilot, "RevealScreen")
        assert "P(Z) =" in screen_text(app)

    seen = play(db, script)
    assert any(isinstance(m, RoundReady) for m in seen)
    assert any(isinstance(m, Revealed) for m in seen)
    (est, practice, ev, err) = rows(
        db,
        "SELECT j.estimate, r.practice, j.evidence, j.log10_error FROM judgements j"
        " JOIN rounds r ON r.id = j.round_id",
    )[0]
    assert abs(est - 1e-3) < 1e-12 and practice == 1 and err is not None
    (ids,) = rows(db, "SELECT ids FROM queries")[0]
    assert "&".join(json.loads(ids)) in json.loads(ev)
    assert rows(db, "SELECT ended_at IS NOT NULL FROM sessions") == [(1,)]


def test_debate_round_by_keyboard(tmp_path: Path, monkeypatch: Any) -> None:
    db = tmp_path / "d.db"
    from tui.human_judge import SpeechClock

    began: list[float] = []  # when each speech began, in the engine (in SpeechStarted order)
    clock_began = SpeechClock.began

    def log_began(clock: SpeechClock, speaker: str = "") -> None:
        began.append(time.monotonic())
        clock_began(clock, speaker)

    monkeypatch.setattr(SpeechClock, "began", log_began)

    async def script(app: PzJudgeApp, pilot: Pilot[None], seen: list[Message]) -> None:
        await start_debate(app, pilot)
        await pilot.press("2")
        await until(pilot, lambda: any(isinstance(m, DebatePaused) for m in seen), "speech")
        text = screen_text(app)
        assert "builtin:" not in text  # who speaks for which side is hidden until the reveal
        # a citation picked with the arrow keys shows the statements it names
        from tui.widgets.pages import Pages
        from tui.widgets.transcript import Transcript

        transcript = app.screen.query_one(Transcript)
        assert app.focused is transcript and app.screen.query_one(Pages).active == "debate"
        first = next(c for b in transcript.speeches for c in b.citations)
        await pilot.press("right")
        picked = [m for m in seen if isinstance(m, CitationFocused)]
        assert picked and picked[-1].ids == list(first.ids)
        detail = str(app.screen.query_one("#chip-detail", Static).render())
        assert all(sid in detail for sid in first.ids)
        await pilot.press("right")
        assert transcript.cited != (0, 0)
        # hovering the first citation shows it again
        row = next(r for r, (b, j) in enumerate(transcript._index) if b.lines[j][1] == 0)
        await pilot.hover(Transcript, offset=(8, row - int(transcript.scroll_offset.y)))
        assert transcript.cited == (0, 0)
        assert [m for m in seen if isinstance(m, CitationFocused)][-1].ids == list(first.ids)
        await pilot.press("3")
        assert app.screen.query_one(Pages).active == "evidence"
        await pilot.press("2")
        await pilot.press("right_square_bracket", "right_square_bracket", "n")
        await until(
            pilot, lambda: sum(isinstance(m, DebatePaused) for m in seen) >= 2, "second speech"
        )
        await pilot.press("e")
        await answer(pilot, "1e-4")
        await on_screen(app, pilot, "RevealScreen")
        assert "was honest" in screen_text(app)

    seen = play(db, script)
    turns = [m for m in seen if isinstance(m, SpeechArrived)]
    assert len(turns) >= 2
    # speaking time tells nothing: every speech is held to the 0.4 s grid after it began
    # (timed from the engine: a busy UI may handle "began" late, never "arrived" early)
    assert len(began) == sum(isinstance(m, SpeechStarted) for m in seen)
    for begin, end in zip(began, turns, strict=False):
        assert SEEN_AT[id(end)] - begin >= 0.4
    assert rows(db, "SELECT COUNT(*) FROM turns")[0][0] == len(turns)
    creds = [c for (c,) in rows(db, "SELECT credence_a FROM credences ORDER BY id")]
    assert creds[-1] == 0.6
    (est, cred, honest, n) = rows(
        db,
        "SELECT j.estimate, j.credence_a, r.honest_side, r.n_statements FROM judgements j"
        " JOIN rounds r ON r.id = j.round_id",
    )[0]
    assert abs(est - 1e-4) < 1e-15 and cred == 0.6 and honest in ("a", "b") and n == 16
    # the round records the liar actually drawn, and the claims are stored in side order
    ((da, db_, claims),) = rows(db, "SELECT debater_a, debater_b, claims FROM rounds")
    specs = {"a": da, "b": db_}
    assert specs[honest] == "builtin:honest"
    assert specs["b" if honest == "a" else "a"].removeprefix("builtin:") in LIARS
    assert list(json.loads(claims)) == ["a", "b"]
    shown = sum(len(t.turn.citations) for t in turns)
    assert shown > 0 and rows(db, "SELECT COUNT(*) FROM citations")[0][0] == shown
    # the judgement says which probabilities the debaters brought
    (src,) = rows(db, "SELECT evidence_sources FROM judgements")[0]
    cited: dict[str, set[str]] = {}
    for t in turns:
        for c in t.turn.citations:
            if c.kind == "prob" and c.true_value is not None:
                cited.setdefault("&".join(sorted(c.ids)), set()).add(t.turn.speaker)
    assert cited and {k: sorted(v) for k, v in cited.items()} == json.loads(src)


def test_leave_and_resume(tmp_path: Path, monkeypatch: Any) -> None:
    db = tmp_path / "r.db"

    async def first(app: PzJudgeApp, pilot: Pilot[None], seen: list[Message]) -> None:
        await pilot.press("t")
        await on_screen(app, pilot, "RoundScreen")
        await pilot.press("space", "o")
        await until(pilot, lambda: any(isinstance(m, QueryAnswered) for m in seen), "oracle")
        await pilot.press("escape")
        await on_screen(app, pilot, "LeaveRound")
        await pilot.press("k")
        await on_screen(app, pilot, "HomeScreen")

    play(db, first)
    assert rows(db, "SELECT answered_at, abandoned_at FROM rounds") == [(None, None)]
    import debate.rounds

    def no_recompute(*_: Any) -> None:
        raise AssertionError("resuming must read the stored truth, not compute P(Z) again")

    monkeypatch.setattr(debate.rounds, "world_pz", no_recompute)

    async def second(app: PzJudgeApp, pilot: Pilot[None], seen: list[Message]) -> None:
        await resume_open_round(app, pilot)
        assert app.screen.oracle.left == 9  # type: ignore[attr-defined]
        await answer(pilot, "0.01")
        await on_screen(app, pilot, "RevealScreen")

    play(db, second)
    assert rows(db, "SELECT COUNT(*) FROM rounds") == [(1,)]
    assert rows(db, "SELECT COUNT(*) FROM judgements") == [(1,)]
    assert rows(db, "SELECT COUNT(*) FROM queries") == [(1,)]
    # scored against the truth stored when the round was prepared
    ((err, lt),) = rows(
        db,
        "SELECT j.log10_error, r.log10_truth FROM judgements j JOIN rounds r ON r.id = j.round_id",
    )
    assert err == pytest.approx(abs(-2.0 - lt), abs=1e-9)


def test_stats_and_export(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    out = tmp_path / "out.jsonl"

    async def script(app: PzJudgeApp, pilot: Pilot[None], seen: list[Message]) -> None:
        await pilot.press("t")
        await on_screen(app, pilot, "RoundScreen")
        await answer(pilot, "10^-2")
        await on_screen(app, pilot, "RevealScreen")
        await pilot.press("s")
        await on_screen(app, pilot, "StatsScreen")
        await until(pilot, lambda: "Loading" not in screen_text(app), "stats")
        await pilot.press("x")
        await on_screen(app, pilot, "ExportScreen")
        app.screen.query_one("#export-path", Input).value = str(out)
        await pilot.click("#do-export")
        await until(pilot, out.exists, "export file")
        await until(pilot, lambda: "wrote 1" in screen_text(app), "export done")

    play(db, script)
    lines = out.read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["practice"] is True


class StreamingDebater(BaseDebater):
    """An LLM-like debater without a network: the built-in speech, handed over in tokens."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = "fake:llm"

    async def argue(self, view: Any, oracle: Any) -> Any:
        arg = await self.inner.argue(view, oracle)
        raw = json.dumps({"text": arg.text, "citations": []})
        for i in range(0, len(raw), 9):
            if self.on_token is not None:
                self.on_token(raw[i : i + 9])
            await asyncio.sleep(0.002)
        return arg


def test_llm_speech_streams_into_the_transcript(tmp_path: Path, monkeypatch: Any) -> None:
    import debate.rounds
    from debate.specs import make_debater
    from tui.messages import SpeechDraft

    monkeypatch.setattr(
        debate.rounds, "make_debater", lambda spec, **kw: StreamingDebater(make_debater(spec, **kw))
    )
    db = tmp_path / "llm.db"

    async def script(app: PzJudgeApp, pilot: Pilot[None], seen: list[Message]) -> None:
        await start_debate(app, pilot)
        await pilot.press("2")
        await until(pilot, lambda: any(isinstance(m, DebatePaused) for m in seen), "speech")
        # typed credence, validated in place; the judge gets it
        await pilot.click("#credence")
        await pilot.press("end", *["backspace"] * 4)
        await type_text(pilot, "1.7")
        assert "between 0 and 1" in str(app.screen.query_one("#hint", Static).render())
        await pilot.press("backspace", "backspace", "backspace")
        await type_text(pilot, "80%")
        assert app.screen.judge._credence == 0.8  # type: ignore[attr-defined]
        await pilot.click("#estimate")
        await answer(pilot, "1e-3", go=False)
        await on_screen(app, pilot, "RevealScreen")

    seen = play(db, script)
    drafts = [m for m in seen if isinstance(m, SpeechDraft)]
    first = next(m for m in seen if isinstance(m, SpeechArrived)).turn
    assert drafts and drafts[0].speaker == first.speaker
    shown = [d for d in drafts if d.speaker == first.speaker]
    from tui.widgets.transcript import draft_text

    assert first.text.startswith(draft_text(shown[-1].raw)[:20])
    (cred,) = rows(db, "SELECT credence_a FROM judgements")[0]
    assert cred == 0.8


def test_search_filters_and_keeps_picks(tmp_path: Path) -> None:
    """The statement list: search narrows it, the detail line follows, picks survive."""
    from tui.widgets.statements import Detail, StatementList

    async def script(app: PzJudgeApp, pilot: Pilot[None], seen: list[Message]) -> None:
        await pilot.press("t")
        await on_screen(app, pilot, "RoundScreen")
        lst = app.screen.query_one(StatementList)
        assert [s.id for s in lst.matching()] == sorted(s.id for s in lst.statements)
        await pilot.press("space")  # picks the first statement
        first = lst.picked[0]
        await pilot.click(StatementList, offset=(10, 3))  # line 0 is the header
        assert lst.current_id() == lst.statements[2].id and lst.picked == [first]
        await pilot.click(StatementList, offset=(0, 3))  # the marker column picks
        assert lst.picked == [first, lst.statements[2].id]
        await pilot.press("space")
        target = lst.statements[3]
        await pilot.press("slash")
        await type_text(pilot, target.id)
        assert [s.id for s in lst.matching()] == [target.id]
        assert target.id in str(app.screen.query_one(Detail).text)
        await pilot.press("enter", "space")
        assert lst.picked == [first, target.id]
        await pilot.press("slash", *["backspace"] * len(target.id))
        assert len(lst.matching()) == len(lst.statements)
        assert lst.current_id() == target.id  # the cursor stays on its statement
        await type_text(pilot, "no such words")
        assert lst.matching() == [] and "no statement" in str(app.screen.query_one(Detail).text)
        await pilot.press("escape", "x")
        assert lst.picked == []

    play(tmp_path / "f.db", script)


def test_llm_garbage_is_a_forfeit_and_a_notice(tmp_path: Path) -> None:
    """A real OpenAI-compatible server on 127.0.0.1 that answers garbage: the turn is
    forfeited with its reason (stored, and shown as a notification), the round goes on."""
    from llm_server import LLMServer, Reply

    db = tmp_path / "junk.db"

    with LLMServer(default=Reply("this is not JSON at all {")) as server:

        async def script(app: PzJudgeApp, pilot: Pilot[None], seen: list[Message]) -> None:
            await pilot.press("p")
            await on_screen(app, pilot, "SetupScreen")
            for field, value in (
                ("statements", "16"),
                ("rounds", "1"),
                ("debater_liar", "openai:junk"),
                ("base_url", server.url),
            ):
                app.screen.query_one(f"#f-{field}", Input).value = value
            await pilot.press("ctrl+s")
            await on_screen(app, pilot, "RoundScreen")
            await pilot.press("2")
            await until(
                pilot,
                lambda: any(isinstance(m, SpeechArrived) and m.turn.forfeit for m in seen),
                "a forfeited turn",
            )
            await until(  # the notice follows once the screen has handled the speech
                pilot,
                lambda: any("forfeited a turn" in n.message for n in app._notifications),
                "the forfeit notice",
            )
            await pilot.press("e")
            await answer(pilot, "1e-4")
            await on_screen(app, pilot, "RevealScreen")

        play(db, script)
        assert server.requests  # the liar really asked the server

    forfeits = [r for (r,) in rows(db, "SELECT forfeit FROM turns") if r]
    assert forfeits and all(len(f.splitlines()) == 1 for f in forfeits)
    assert rows(db, "SELECT COUNT(*) FROM judgements") == [(1,)]


def test_answer_during_a_held_speech_scores_what_was_seen(tmp_path: Path, monkeypatch: Any) -> None:
    """Answering while the next speech is still held back (SpeechClock): that speech is
    stored in the transcript, but its citations are not the judge's evidence."""
    from tui.screens.judging import RoundScreen

    # time to answer in the hold, even on a loaded machine (1.5 s failed under load 8)
    monkeypatch.setattr(RoundScreen, "speech_quantum", 8.0)
    db = tmp_path / "h.db"

    async def script(app: PzJudgeApp, pilot: Pilot[None], seen: list[Message]) -> None:
        await start_debate(app, pilot)
        await until(pilot, lambda: any(isinstance(m, DebatePaused) for m in seen), "speech")
        await pilot.press("n")  # the next speech starts; answer before it is shown
        await answer(pilot, "1e-4")
        await on_screen(app, pilot, "RevealScreen")

    seen = play(db, script)
    at = next(i for i, m in enumerate(seen) if isinstance(m, AnswerSubmitted))
    shown = sum(isinstance(m, SpeechArrived) for m in seen[:at])
    (ev,) = rows(db, "SELECT evidence FROM judgements")[0]
    evidence = set(json.loads(ev))
    cited_by_turn: dict[int, set[str]] = {}
    for idx, ids in rows(
        db,
        "SELECT t.idx, c.ids FROM citations c JOIN turns t ON t.id = c.turn_id"
        " WHERE c.kind = 'prob' AND c.true_value IS NOT NULL",
    ):
        cited_by_turn.setdefault(idx, set()).add("&".join(sorted(json.loads(ids))))
    seen_keys = set().union(*(v for k, v in cited_by_turn.items() if k < shown))
    later = set().union(*(v for k, v in cited_by_turn.items() if k >= shown)) - seen_keys
    assert later, "the held speech cited nothing new: the test shows nothing"
    assert seen_keys <= evidence and not (later & evidence)


def test_a_debate_left_and_resumed_keeps_the_credence(tmp_path: Path) -> None:
    """The credence set after the last speech is stored on leaving and comes back."""
    from tui.widgets.estimate import EstimatePanel

    db = tmp_path / "c.db"

    async def first(app: PzJudgeApp, pilot: Pilot[None], seen: list[Message]) -> None:
        await start_debate(app, pilot, one_round=False)
        await until(pilot, lambda: any(isinstance(m, DebatePaused) for m in seen), "speech")
        await pilot.press(*["right_square_bracket"] * 4)  # 0.50 -> 0.70
        assert app.screen.query_one(EstimatePanel).credence == 0.7
        await pilot.press("escape")
        await on_screen(app, pilot, "LeaveRound")
        await pilot.press("k")
        await on_screen(app, pilot, "HomeScreen")

    play(db, first)

    async def second(app: PzJudgeApp, pilot: Pilot[None], seen: list[Message]) -> None:
        await resume_open_round(app, pilot)
        assert app.screen.query_one(EstimatePanel).credence == 0.7

    play(db, second)


def test_the_round_seed_is_shown_only_at_the_reveal(tmp_path: Path) -> None:
    """With the seed a judge could deal the round headless and read the truth: no screen
    shows it (setup, statements, debate, evidence) before the answer; the reveal does."""
    from tui.screens.reveal import RevealScreen

    seed = 424242  # the session's; round 1 is dealt from 424242001

    def shown(app: PzJudgeApp) -> str:
        return app.export_screenshot() + screen_text(app)

    async def script(app: PzJudgeApp, pilot: Pilot[None], seen: list[Message]) -> None:
        await pilot.press("p")
        await on_screen(app, pilot, "SetupScreen")
        assert str(seed) not in shown(app)
        await pilot.press("down", "space")  # another preset keeps the field blank
        assert str(seed) not in shown(app)
        await pilot.press("escape")
        await on_screen(app, pilot, "HomeScreen")
        await start_debate(app, pilot)
        assert app.screen.round.seed == seed * 1000 + 1  # type: ignore[attr-defined]
        await until(pilot, lambda: any(isinstance(m, DebatePaused) for m in seen), "speech")
        for tab in ("1", "2", "3"):
            await pilot.press(tab)
            assert str(seed) not in shown(app)
        await answer(pilot, "1e-4")
        await on_screen(app, pilot, "RevealScreen")
        assert isinstance(app.screen, RevealScreen)
        text = str(app.screen.query_one("#reveal-text", Static).render())
        assert f"Round seed {seed * 1000 + 1}" in text
        assert f"--seed {seed * 1000 + 1}" in text

    play(tmp_path / "s.db", script, seed=seed)
    assert _seed_known(tmp_path / "s.db") == [True]  # chosen with `play --seed`


def _seed_known(db: Path) -> list[bool]:
    """Each stored session's `seed_known` setting."""
    with contextlib.closing(sqlite3.connect(db)) as con:
        rows = con.execute("SELECT settings FROM sessions ORDER BY id").fetchall()
    return [json.loads(r[0])["seed_known"] for r in rows]


def test_a_session_marks_whether_the_player_chose_its_seed(tmp_path: Path) -> None:
    """A drawn seed is unknown to the player until the reveal; a typed one is known (the
    player could deal the rounds headless first), and the stored settings say which."""

    async def drawn(app: PzJudgeApp, pilot: Pilot[None], seen: list[Message]) -> None:
        await start_debate(app, pilot)

    async def typed(app: PzJudgeApp, pilot: Pilot[None], seen: list[Message]) -> None:
        await pilot.press("p")
        await on_screen(app, pilot, "SetupScreen")
        await pilot.click("#f-seed")
        await pilot.press("7", "7", "ctrl+s")
        await on_screen(app, pilot, "RoundScreen")

    play(tmp_path / "s.db", drawn, seed=None)
    play(tmp_path / "s.db", typed, seed=None)
    assert _seed_known(tmp_path / "s.db") == [False, True]


def test_each_new_speech_is_shown_from_its_head(tmp_path: Path) -> None:
    """The lost opening: a speech is taller than the transcript at 80x24, and scrolled to
    its end the judge saw only its last lines; B's opening, ending with the same sentences
    and citations as A's, looked as if it never came. Each speech, when it arrives and the
    debate waits for the judge, is on screen from its head ("B · opening")."""
    from tui.widgets.transcript import Transcript

    heads: list[tuple[str, list[str]]] = []

    async def script(app: PzJudgeApp, pilot: Pilot[None], seen: list[Message]) -> None:
        await start_debate(app, pilot)
        await pilot.press("2")
        transcript = app.screen.query_one(Transcript)
        for n in range(1, 5):
            await until(
                pilot, lambda n=n: sum(isinstance(m, DebatePaused) for m in seen) >= n, "pause"
            )
            await pilot.pause()
            last = [m for m in seen if isinstance(m, SpeechArrived)][-1].turn
            when = "opening" if last.phase == "opening" else f"round {last.round}"
            visible = [
                transcript.render_line(y).text.strip("▌ ") for y in range(transcript.size.height)
            ]
            heads.append((f"{last.speaker.upper()} · {when}", visible))
            await pilot.press("n")
        await pilot.press("e")
        await answer(pilot, "1e-4")
        await on_screen(app, pilot, "RevealScreen")

    play(tmp_path / "o.db", script)
    assert [h for h, _ in heads] == ["A · opening", "B · opening", "A · round 1", "B · round 1"]
    tall = [len(v) for _, v in heads]
    assert all(n >= 8 for n in tall)  # the speeches below are taller than this
    for head, visible in heads:
        assert head in visible, (head, visible)
