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

from helpers import timeless as _strip_times

from debate.rules import Rules
from debate.tournament import debate_id, tournament_worlds

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
