"""Resumable tournaments: a run killed part-way, run again on the same store, plays only
what is missing and reports what an uninterrupted run reports."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import timeless as _strip_times

from debate.rules import Rules
from debate.tournament import debate_id, tournament_worlds
from tui.cli import main

ARGS = [
    "tournament", "--worlds", "3", "--seed", "5", "--statements", "16", "--debaters",
    "builtin:honest,builtin:pairwise", "--judges", "maxent", "--concurrency", "1", "--json",
]  # fmt: skip


def _cmd(db: Path) -> list[str]:
    return [sys.executable, "-m", "tui.cli", *ARGS, "--db", str(db)]


def _run(db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_cmd(db), capture_output=True, text=True, timeout=300, env=os.environ)


def _judged(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(
                conn.execute(
                    "SELECT COUNT(*) FROM rounds WHERE debate_result IS NOT NULL"
                ).fetchone()[0]
            )
    except sqlite3.OperationalError:  # not migrated yet, or busy
        return 0


def test_a_killed_tournament_resumes_to_the_uninterrupted_result(tmp_path: Path) -> None:
    straight = _run(tmp_path / "straight.db")
    assert straight.returncode == 0, straight.stderr
    assert "played 6/6 debates" in straight.stderr

    db = tmp_path / "crash.db"
    proc = subprocess.Popen(_cmd(db), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while _judged(db) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    kept = _judged(db)
    assert 2 <= kept < 6, f"the run was not killed part-way ({kept} debates judged)"

    resumed = _run(db)
    assert resumed.returncode == 0, resumed.stderr
    # only what was missing was played
    assert f"played {6 - kept}/{6 - kept} debates" in resumed.stderr
    assert _strip_times(json.loads(resumed.stdout)) == _strip_times(json.loads(straight.stdout))
    assert _judged(db) == 6

    # nothing missing: a third run plays nothing and still reports everything
    again = _run(db)
    assert again.returncode == 0 and "played" not in again.stderr
    assert json.loads(again.stdout) == json.loads(resumed.stdout)


def test_debate_id_depends_on_every_input() -> None:
    w0, w1 = tournament_worlds(2, 5, 16)
    base = (w0, 1, 0.25, "builtin:honest", "builtin:pairwise", "maxent", Rules())
    one = debate_id(*base)
    assert one == debate_id(*base) and len(one) == 32
    changed = [
        (w1, *base[1:]),
        (w0, 2, *base[2:]),
        (*base[:2], 0.3, *base[3:]),
        (*base[:3], "builtin:pairwise", "builtin:honest", *base[5:]),
        (*base[:5], "trust-a", base[6]),
        (*base[:6], Rules(judge_budget=3)),
    ]
    ids = {debate_id(*c) for c in changed}
    assert len(ids) == len(changed) and one not in ids


class _Exploding:
    """A judge whose endpoint goes down after the openings: its debate has made turns, then
    fails with an exception that is not a DebateError (which a judge's failure to answer is,
    and the engine absorbs)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.name, self.honest = inner, inner.name, inner.honest
        self.seen = 0

    async def observe(self, view: Any, oracle: Any) -> Any:
        self.seen += 1
        if self.seen > 2:
            raise RuntimeError("the judge's endpoint went away")
        return await self.inner.observe(view, oracle)

    async def decide(self, view: Any, oracle: Any) -> Any:
        return await self.inner.decide(view, oracle)


def test_a_failing_debate_is_stored_and_the_local_run_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = [*ARGS[:2], "2", *ARGS[3:]]  # 2 worlds: 4 debates
    assert main([*args, "--db", str(tmp_path / "straight.db")]) == 0
    straight = json.loads(capsys.readouterr().out)

    import debate.tournament as t

    real = t.run_debate

    async def one_fails(world: Any, a: Any, b: Any, judge: Any, *rest: Any, **kw: Any) -> Any:
        if kw["seed"] == 5 * 7919 + 1 and a.name == "builtin:honest":
            judge = _Exploding(judge)
        return await real(world, a, b, judge, *rest, **kw)

    monkeypatch.setattr(t, "run_debate", one_fails)
    db = tmp_path / "t.db"
    assert main([*args, "--db", str(db)]) == 1
    out = capsys.readouterr()
    res = json.loads(out.out)
    (failed,) = res["failed"]
    assert failed["world"] == 1 and failed["error"] == "the judge's endpoint went away"
    assert len(res["debates"]) == 3  # the others were played and count
    assert sum(j["debates"] for j in res["ratings"]["judges"]) == 3
    assert out.err.strip().splitlines()[-1] == (
        "pzjudge: 1 debate(s) failed (kept as abandoned rounds; run again with the same --db "
        "to play them); the first: the judge's endpoint went away"
    )
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT r.debate_result IS NULL, r.abandon_reason, COUNT(t.id) FROM rounds r"
            " LEFT JOIN turns t ON t.round_id = r.id GROUP BY r.id"
        ).fetchall()
    assert len(rows) == 4
    (lost,) = [r for r in rows if r[0]]
    assert "the judge's endpoint went away" in lost[1] and lost[2] == failed["turns"] >= 2

    # the endpoint is back: a rerun plays only the failed debate and ends as a straight run
    monkeypatch.setattr(t, "run_debate", real)
    assert main([*args, "--db", str(db)]) == 0
    out = capsys.readouterr()
    assert "played 1/1 debates" in out.err
    assert _strip_times(json.loads(out.out)) == _strip_times(straight)
