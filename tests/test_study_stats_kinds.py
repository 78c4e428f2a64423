"""`pzjudge stats --study` on a study with a mimic item: mimic rounds are not a participant
or a debater of their own. By participant each participant has a mimic row beside their
P(Z) row (as by judge); by debater they are left out, and a note says so."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from store.study import StudyDB
from store.study_ops import build_study, simulate_study
from tui.cli import main

STUDY = """
title = "kinds"
conditions = ["debate"]
participants = 2
[[items]]
preset = "practice"
seed = 61
[[items]]
name = "mimic"
kind = "mimic"
seed = 3
objective = "persuade"
question = 6
"""


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("kinds")
    (d / "s.toml").write_text(STUDY)
    build_study(d / "s.toml", d / "s.db")
    with StudyDB(d / "s.db") as db:
        simulate_study(db, ["maxent"], ["table"])
    return d / "s.db"


def _stats(study: Path, by: str, capsys: pytest.CaptureFixture[str]) -> tuple[list, str]:
    assert main(["stats", "--study", str(study), "--by", by, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert main(["stats", "--study", str(study), "--by", by]) == 0
    return rows, capsys.readouterr().out


def test_mimic_rounds_are_no_participant_and_no_debater(
    study: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with sqlite3.connect(study) as conn:
        codes = [c for (c,) in conn.execute("SELECT code FROM participants ORDER BY number")]
        mimic_rounds = dict(
            conn.execute(
                "SELECT participant, COUNT(*) FROM results WHERE condition = 'mimic' "
                "GROUP BY participant"
            )
        )
    assert set(mimic_rounds) == set(codes)
    rows, text = _stats(study, "participant", capsys)
    groups = {r["group"]: r["rounds"] for r in rows}
    assert "[mimic]" not in groups and not any(g.startswith("[") for g in groups)
    for code in codes:
        assert groups[f"{code} [mimic]"] == mimic_rounds[code]
        assert groups[code] == 1  # the P(Z) item, under sim:maxent
    rows, text = _stats(study, "debater", capsys)
    assert all("mimic" not in r["group"] for r in rows)
    n = sum(mimic_rounds.values())
    assert f"{n} mimic rounds are left out: they have no debaters" in text
    # by participant nothing is left out, so no note
    assert "left out: they have no debaters" not in _stats(study, "participant", capsys)[1]
