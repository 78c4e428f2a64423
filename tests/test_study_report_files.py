"""The files of `pzjudge study report -o DIR`: where they can and cannot be written, and
what the tables hold (checked against direct computations from the stored rows)."""

from __future__ import annotations

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
