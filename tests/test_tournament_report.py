"""`pzjudge tournament --fresh` (play again what the store holds) and `--report DIR` (figures
and tables whose numbers are the `--json` numbers)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tui.cli import main

ARGS = [
    "tournament", "--worlds", "1", "--seed", "3", "--statements", "12", "--debaters",
    "builtin:honest,builtin:pairwise", "--judges", "maxent", "--concurrency", "1",
]  # fmt: skip


def _judged(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(
            conn.execute("SELECT COUNT(*) FROM rounds WHERE debate_result IS NOT NULL").fetchone()[
                0
            ]
        )


def test_fresh_plays_again_what_a_rerun_would_reuse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "t.db"
    assert main([*ARGS, "--db", str(db), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert _judged(db) == 2

    # by default a rerun on the same store reuses both debates: nothing is played
    assert main([*ARGS, "--db", str(db), "--json"]) == 0
    out = capsys.readouterr()
    assert "played" not in out.err
    assert _judged(db) == 2

    # --fresh plays both again and stores them beside the old ones
    assert main([*ARGS, "--db", str(db), "--json", "--fresh"]) == 0
    out = capsys.readouterr()
    assert "played 2/2 debates" in out.err
    assert _judged(db) == 4
    again = json.loads(out.out)
    # built-in debaters and judges are deterministic: the same figures come back
    assert again["ratings"] == first["ratings"]
