"""`pzjudge tournament --fresh` (play again what the store holds) and `--report DIR` (figures
and tables whose numbers are the `--json` numbers)."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import timeless as _timeless

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


def _num(cell: str) -> float | int | None:
    """A CSV cell back as the number it was written from (empty: None)."""
    if cell == "":
        return None
    return int(cell) if cell.lstrip("-").isdigit() else float(cell)


def test_report_writes_figures_and_tables_with_the_json_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rep"
    args = ["--debaters", "builtin:honest,builtin:pairwise,builtin:independence"]
    run = [*ARGS[:7], *args, *ARGS[9:], "--no-store", "--json", "--report", str(out)]
    assert main(run) == 0
    captured = capsys.readouterr()
    res = json.loads(captured.out)
    names = ["ratings", "judges", "matrix"]
    expected = {f"{n}.csv" for n in names} | {"report.md"}
    expected |= {f"{n}.{ext}" for n in names for ext in ("png", "svg")}
    assert {p.name for p in out.iterdir()} == expected
    for n in names:
        assert (out / f"{n}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "<svg" in (out / f"{n}.svg").read_text()
        assert f"wrote {out / (n + '.png')}" in captured.err

    def table(name: str) -> list[dict[str, float | int | str | None]]:
        with (out / name).open(newline="") as f:
            return [
                {k: v if k in ("debater", "role", "judge", "honest", "liar") else _num(v)
                 for k, v in row.items()}
                for row in csv.DictReader(f)
            ]  # fmt: skip

    ratings = res["ratings"]
    got = {(r["debater"], r["role"]): r for r in table("ratings.csv")}
    assert len(got) == 2 * len(ratings["debaters"]) == 6
    for d in ratings["debaters"]:
        for role, n, won in (
            ("honest", "as_honest", "won_as_honest"),
            ("liar", "as_liar", "fooled_as_liar"),
        ):
            row = got[(d["name"], role)]
            assert (row["debates"], row["won"]) == (d[n], d[won])
            est = d[role]
            if est is None:
                assert row["rating"] is row["rating_low"] is row["rating_high"] is None
            else:
                assert (row["rating"], row["rating_low"], row["rating_high"]) == (
                    est["value"], est["low"], est["high"]
                )  # fmt: skip
    (judge,) = table("judges.csv")
    (j,) = ratings["judges"]
    assert judge == {
        "judge": j["name"], "debates": j["debates"],
        "accuracy": j["accuracy"]["value"], "accuracy_low": j["accuracy"]["low"],
        "accuracy_high": j["accuracy"]["high"], "log10_error": j["log10_error"]["value"],
        "log10_error_low": j["log10_error"]["low"], "log10_error_high": j["log10_error"]["high"],
    }  # fmt: skip
    # who beats whom, recounted from the debates themselves
    counts: dict[tuple[str, str], list[int]] = {}
    for deb in res["debates"]:
        a_honest = deb["honest_side"] == "a"
        honest, liar = (
            (deb["debater_a"], deb["debater_b"])
            if a_honest
            else (deb["debater_b"], deb["debater_a"])
        )
        c = deb["judgement"]["credence_a"]
        tally = counts.setdefault((honest, liar), [0, 0, 0])
        tally[0] += 1
        if c != 0.5:
            tally[1 if (c > 0.5) == a_honest else 2] += 1
    matrix = {(r["honest"], r["liar"]): r for r in table("matrix.csv")}
    # builtin:honest always argues the truth: 4 of the 6 ordered pairs meet as honest vs liar
    assert set(matrix) == set(counts) and len(counts) == 4
    for key, (n, won, lost) in counts.items():
        row = matrix[key]
        assert (row["debates"], row["honest_trusted"], row["liar_trusted"]) == (n, won, lost)
        assert row["honest_share"] == (won / (won + lost) if won + lost else None)
    md = (out / "report.md").read_text()
    assert "## Who beats whom" in md and "| builtin:pairwise | liar |" in md


def test_report_to_an_unwritable_place_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main([*ARGS, "--no-store", "--report", str(blocker / "rep")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("pzjudge: error: cannot write the report to")


def _stored(db: Path) -> dict[str, Any]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT r.debate_id, r.debate_result, COUNT(t.id) FROM rounds r"
            " LEFT JOIN turns t ON t.round_id = r.id GROUP BY r.id"
        ).fetchall()
    return {did: (_timeless(json.loads(res)), turns) for did, res, turns in rows}


def test_ray_plays_the_local_tournament(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    runs = {}
    for name, extra in (("local", []), ("ray", ["--ray"])):
        db = tmp_path / f"{name}.db"
        proc = subprocess.run(
            [sys.executable, "-m", "tui.cli", *ARGS, "--json", "--db", str(db), *extra],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "RAY_AUTH_MODE": "disabled"},
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "played 2/2 debates" in proc.stderr
        runs[name] = (_timeless(json.loads(proc.stdout)), _stored(db))
    # the same debates, ratings and stored rounds (the driver wrote each task's turns)
    assert runs["ray"][0] == runs["local"][0]
    assert runs["ray"][1] == runs["local"][1]
    assert all(turns > 0 for _, turns in runs["ray"][1].values())


def test_ray_missing_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if not installed
    assert main([*ARGS, "--no-store", "--ray"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "pzjudge: error: --ray needs Ray: pip install 'pzjudge[ray]'"
