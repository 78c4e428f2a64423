"""A mimic round played through the keyboard; assertions on the stored judgement."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from textual.keys import _character_to_key
from textual.pilot import Pilot
from textual.widgets import Input, Static
from tui_steps import on_screen, screen_text, type_text, until

from debate.mimic_round import deal_mimic_round
from debate.scoring import score
from store.db import Store
from store.errors import StoreError
from store.export import export_rows
from tui.app import PzJudgeApp
from tui.screens.mimic import MimicDealt, MimicRevealed

SEED = 11


async def _until(pilot: Pilot[None], cond, what: str) -> None:  # type: ignore[no-untyped-def]
    for _ in range(500):
        if cond():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _text(app: PzJudgeApp) -> str:
    return "\n".join(str(w.render()) for w in app.screen.query(Static))


def test_mimic_round_by_keyboard(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    expected = deal_mimic_round(SEED)
    seen: list[object] = []

    async def main() -> None:
        app = PzJudgeApp(db_path=db, judge="tester", seed=SEED)
        async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
            await pilot.press("m")
            await _until(pilot, lambda: any(isinstance(m, MimicDealt) for m in seen), "deal")
            await pilot.pause()
            shown = _text(app)
            assert expected.public.question in shown
            # nothing secret on screen before the answer
            for secret in (
                expected.truth,
                expected.synchronised,
                expected.goodhart,
                expected.exact,
            ):
                assert secret is not None
                assert f"{secret:.4f}" not in shown and f"{secret:.3f}" not in shown
            assert "forcing" not in shown
            with sqlite3.connect(db) as con:
                assert list(con.execute("SELECT kind, truth_pz FROM rounds")) == [
                    ("mimic", expected.truth)
                ]
                assert list(con.execute("SELECT COUNT(*) FROM judgements")) == [(0,)]
            assert app.focused is app.screen.query_one("#mimic-estimate", Input)
            await pilot.press(*[_character_to_key(c) for c in "1.7"], "enter")
            await pilot.pause()
            assert "between 0 and 1" in _text(app)
            await pilot.press("backspace", "backspace", "backspace")
            await pilot.press(*[_character_to_key(c) for c in "0.35"], "enter")
            await _until(pilot, lambda: any(isinstance(m, MimicRevealed) for m in seen), "reveal")
            await pilot.pause()
            text = _text(app)
            assert f"exact answer {expected.truth:.4f}" in text
            assert f"mimic was): {expected.exact:.4f}" in text
            assert "Goodhart-proneness" in text and "forcing set" in text
            await pilot.press("enter")
            await _until(pilot, lambda: type(app.screen).__name__ == "HomeScreen", "home")
            # the next round of a seeded app is another round; leaving it unanswered
            # abandons it (nothing judged, nothing lost)
            await pilot.press("m")
            await _until(
                pilot,
                lambda: len({id(m) for m in seen if isinstance(m, MimicDealt)}) == 2,
                "second deal",
            )
            second = [m for m in seen if isinstance(m, MimicDealt)][-1]
            assert second.rnd == deal_mimic_round(SEED + 1)
            await pilot.press("escape")
            await _until(pilot, lambda: type(app.screen).__name__ == "HomeScreen", "home again")

    asyncio.run(main())
    with sqlite3.connect(db) as con:
        (est, err, regret, kind, ended) = next(
            con.execute(
                "SELECT j.estimate, j.log10_error, j.regret_bits, r.kind, s.ended_at IS NOT NULL"
                " FROM judgements j JOIN rounds r ON r.id = j.round_id"
                " JOIN sessions s ON s.id = r.session_id"
            )
        )
    want = score(0.35, expected.truth)
    assert est == 0.35 and kind == "mimic" and ended == 1
    assert abs(err - want.log10_error) < 1e-12 and abs(regret - want.regret_bits) < 1e-12
    with sqlite3.connect(db) as con:
        assert list(con.execute("SELECT abandoned_at IS NOT NULL FROM rounds ORDER BY id")) == [
            (0,),
            (1,),
        ]
    with Store(db) as store:
        (row,) = list(export_rows(store, transcripts=True))
    assert row["kind"] == "mimic" and row["truth_pz"] == expected.truth
    assert row["world"]["mimic"]["public"]["spec"]["seed"] == SEED
    assert row["world_text"] is None  # import rebuilds the stored text from the object


@pytest.mark.parametrize(
    ("seed", "locked", "why"),
    [
        (SEED, True, "database is locked by another pzjudge"),
        (
            -1,
            False,
            "seed is -1; use a whole number >= 0",
        ),  # an app made with a seed the engine refuses
    ],
)
def test_a_round_that_cannot_be_dealt_says_why_and_lets_the_player_leave(
    tmp_path: Path, seed: int, locked: bool, why: str
) -> None:
    """A deal that fails (the store refuses the round, as a locked database would; a bad
    seed) shows one line on screen, not 'dealing…' forever; escape goes back to the menu."""
    db = tmp_path / "m.db"

    async def main() -> None:
        app = PzJudgeApp(db_path=db, judge="tester", seed=seed)
        async with app.run_test(size=(80, 24)) as pilot:
            assert app.game_store is not None

            def refuse(*_: object) -> None:
                raise StoreError("database is locked\nby another pzjudge")

            if locked:
                app.game_store.start_mimic_round = refuse  # type: ignore[method-assign]
            await pilot.press("m")
            await until(pilot, lambda: "could not be dealt" in screen_text(app), "the error")
            text = screen_text(app)
            assert why in text and "dealing" not in text and "Traceback" not in text
            assert "esc" in text
            assert app.screen.query_one("#mimic-estimate", Input).disabled
            await pilot.press("escape")
            await on_screen(app, pilot, "HomeScreen")

    asyncio.run(main())
    with sqlite3.connect(db) as con:
        assert list(con.execute("SELECT COUNT(*) FROM rounds WHERE kind = 'mimic'")) == [(0,)]


def test_an_answer_that_cannot_be_stored_is_kept_for_another_try(tmp_path: Path) -> None:
    """Storing the answer fails (a locked database): one line says so, no reveal is shown
    (the truth stays hidden), and enter tries again with the answer still typed."""
    db = tmp_path / "m.db"
    expected = deal_mimic_round(SEED)

    async def main() -> None:
        app = PzJudgeApp(db_path=db, judge="tester", seed=SEED)
        async with app.run_test(size=(80, 24)) as pilot:
            store = app.game_store
            assert store is not None
            real = store.record_mimic_judgement
            tries: list[int] = []

            def flaky(*args: object) -> object:
                tries.append(1)
                if len(tries) == 1:
                    raise StoreError("database is locked")
                return real(*args)  # type: ignore[arg-type]

            store.record_mimic_judgement = flaky  # type: ignore[method-assign]
            await pilot.press("m")
            await on_screen(app, pilot, "MimicScreen")
            box = app.screen.query_one("#mimic-estimate", Input)
            await until(pilot, lambda: not box.disabled, "the deal")
            await type_text(pilot, "0.35")
            await pilot.press("enter")
            await until(pilot, lambda: "not stored" in screen_text(app), "the error")
            text = screen_text(app)
            assert "database is locked" in text and "exact answer" not in text
            assert f"{expected.truth:.4f}" not in text
            assert not box.disabled and box.value == "0.35"
            await pilot.press("enter")
            await until(pilot, lambda: "exact answer" in screen_text(app), "the reveal")
            assert "not stored" not in screen_text(app)

    asyncio.run(main())
    with sqlite3.connect(db) as con:
        assert list(con.execute("SELECT estimate FROM judgements")) == [(0.35,)]


def test_an_answer_stored_halfway_is_undone_so_the_retry_stores_it_once(tmp_path: Path) -> None:
    """Closing the session fails after the judgement was written: the two are one write,
    so the judgement is undone too, and enter stores it (not 'round already answered')."""
    db = tmp_path / "m.db"

    async def main() -> None:
        app = PzJudgeApp(db_path=db, judge="tester", seed=SEED)
        async with app.run_test(size=(80, 24)) as pilot:
            assert app.game_store is not None
            store = app.game_store.store
            real = store.end_session
            tries: list[int] = []

            def flaky(sid: int) -> bool:
                tries.append(sid)
                if len(tries) == 1:
                    raise StoreError("disk I/O error")
                return real(sid)

            store.end_session = flaky  # type: ignore[method-assign]
            await pilot.press("m")
            await on_screen(app, pilot, "MimicScreen")
            box = app.screen.query_one("#mimic-estimate", Input)
            await until(pilot, lambda: not box.disabled, "the deal")
            await type_text(pilot, "0.35")
            await pilot.press("enter")
            await until(pilot, lambda: "not stored" in screen_text(app), "the error")
            with sqlite3.connect(db) as con:
                assert list(con.execute("SELECT COUNT(*) FROM judgements")) == [(0,)]
            await pilot.press("enter")
            await until(pilot, lambda: "exact answer" in screen_text(app), "the reveal")

    asyncio.run(main())
    with sqlite3.connect(db) as con:
        assert list(con.execute("SELECT estimate FROM judgements")) == [(0.35,)]
        assert list(con.execute("SELECT ended_at IS NOT NULL FROM sessions")) == [(1,)]
