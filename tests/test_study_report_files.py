"""The files of `pzjudge study report -o DIR`: where they can and cannot be written, and
what the tables hold (checked against direct computations from the stored rows)."""

from __future__ import annotations

import csv
import json
import math
import sqlite3
from pathlib import Path

import pytest

from store.study import StudyDB
from store.study_ops import build_study, simulate_study
from tui.cli import main

STUDY = """
title = "files"
conditions = ["oracle", "debate"]
participants = 2
[[items]]
preset = "practice"
seed = 51
[[items]]
preset = "practice"
seed = 52
[[items]]
preset = "practice"
seed = 53
[[items]]
preset = "practice"
seed = 54
"""


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("study")
    (d / "s.toml").write_text(STUDY)
    build_study(d / "s.toml", d / "s.db")
    with StudyDB(d / "s.db") as db:
        simulate_study(db, ["maxent", "bounds", "trust-a"], [])
    return d / "s.db"


def test_a_report_path_that_cannot_be_written_is_one_line(
    simulated: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    for out, why in ((afile, "a file, not a directory"), (Path("/proc/x"), "check the path")):
        assert main(["study", "report", str(simulated), "-o", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("pzjudge: error: cannot write the report to"), err
        assert why in err and "\n" not in err and "Traceback" not in err
    assert afile.read_text() == "keep me"
    # a file inside the directory's place, one level down, is no better
    assert main(["study", "report", str(simulated), "-o", str(afile / "report")]) == 2
    assert "cannot write the report" in capsys.readouterr().err


def _csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        r = csv.DictReader(fh)
        return list(r.fieldnames or []), list(r)


@pytest.fixture(scope="module")
def report(simulated: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report"
    assert main(["study", "report", str(simulated), "-o", str(out)]) == 0
    return out


def test_the_brier_decomposition_adds_up_in_the_csv(simulated: Path, report: Path) -> None:
    """Brier = reliability − resolution + uncertainty + within_bin, from the file's own
    numbers; and the Brier score itself from the stored credences."""
    cols, rows = _csv(report / "conditions.csv")
    assert "within_bin" in cols
    checked = 0
    for r in rows:
        if not r["brier"]:
            continue
        b, rel, res, unc, wb = (
            float(r[k]) for k in ("brier", "reliability", "resolution", "uncertainty", "within_bin")
        )
        assert b == pytest.approx(rel - res + unc + wb, abs=1e-12)
        with sqlite3.connect(simulated) as conn:
            stored = conn.execute(
                "SELECT credence_a, honest_side FROM results WHERE judge = ? AND condition = ?"
                " AND attention = 0 AND submitted != 'expiry-default'",
                (r["judge"], r["condition"]),
            ).fetchall()
        direct = [(c - (h == "a")) ** 2 for c, h in stored if c is not None and h is not None]
        assert b == pytest.approx(sum(direct) / len(direct), abs=1e-12)
        checked += 1
    assert checked == 3  # the three judges under debate (oracle rounds have no sides)
    # the term matters here: without it the identity would be off by more than rounding
    assert any(r["within_bin"] and abs(float(r["within_bin"])) > 1e-9 for r in rows)


def _planted(world: dict) -> set[str]:
    """The trap kinds named in a world file's own blocks (the planted traps only)."""
    return {b["trap"] for b in world["blocks"] if b.get("trap")}


def test_log10_error_by_trap_kind_matches_the_stored_rows(simulated: Path, report: Path) -> None:
    cols, rows = _csv(report / "by_trap_kind.csv")
    assert cols[:3] == ["judge", "trap_kind", "condition"]
    with sqlite3.connect(simulated) as conn:
        worlds = dict(conn.execute("SELECT id, world_json FROM items"))
        stored = conn.execute(
            "SELECT judge, condition, item, log10_error FROM results WHERE attention = 0"
            " AND submitted != 'expiry-default' AND truth > 0"
        ).fetchall()
    parity = {i for i, w in worlds.items() if "parity" in _planted(json.loads(w))}
    assert 0 < len(parity) < len(worlds)  # the study mixes parity traps with other items
    checked = 0
    for judge, cond in {(j, c) for j, c, _, _ in stored}:
        errs = [e for j, c, i, e in stored if (j, c) == (judge, cond) and i in parity]
        (row,) = [
            r
            for r in rows
            if (r["judge"], r["trap_kind"], r["condition"]) == (judge, "parity", cond)
        ]
        assert int(row["rounds"]) == len(errs)
        assert float(row["mean_log10_error"]) == pytest.approx(
            math.fsum(errs) / len(errs), abs=1e-12
        )
        checked += 1
    assert checked >= 4
    # every item counts under some kind: the rounds of each (judge, condition) add up
    kinds_per_item = {i: len(_planted(json.loads(w))) or 1 for i, w in worlds.items()}
    for judge, cond in {(j, c) for j, c, _, _ in stored}:
        mine = [r for r in rows if (r["judge"], r["condition"]) == (judge, cond)]
        expect = sum(kinds_per_item[i] for j, c, i, _ in stored if (j, c) == (judge, cond))
        assert sum(int(r["rounds"]) for r in mine) == expect


def test_every_table_has_its_header_and_every_figure_an_svg(report: Path) -> None:
    cols, rows = _csv(report / "excluded.csv")
    assert cols == ["judge", "participant", "passed", "required"] and rows == []
    pngs = sorted(p.stem for p in report.glob("*.png"))
    assert pngs == ["accuracy", "log10_error", "log10_error_by_trap", "reliability"]
    for stem in pngs:
        svg = (report / f"{stem}.svg").read_text(encoding="utf-8")
        assert "<svg" in svg and svg.rstrip().endswith("</svg>")
    page = (report / "report.html").read_text(encoding="utf-8")
    assert "By trap kind" in page and page.count("data:image/png;base64,") == 4
