"""`pzjudge mimic …`: JSON, summaries, figures and one-line errors."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from helpers import run_main as run

FAST = {
    "merge": ["--n", "30,300", "--reps", "2", "--max-events", "3"],
    "finetune": ["--betas", "1,0.1,0", "--max-events", "3"],
    "goodhart": ["--random", "10", "--max-events", "3"],
    "transfer": ["--n", "30,300", "--reps", "2", "--max-events", "3"],
}


@pytest.mark.parametrize("name", list(FAST))
def test_json_and_summary(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "mimic", name, *FAST[name], "--json")
    assert rc == 0, err
    data = json.loads(out)
    assert data["kind"] == name and data["curves"] and data["prediction"]
    rc, out, err = run(capsys, "mimic", name, *FAST[name])
    assert rc == 0, err
    assert out.startswith(f"{name}:") and "predicted:" in out


def test_finetune_json_carries_the_limits(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "mimic", "finetune", "--objectives", "positive,enjoy", "--json")
    assert rc == 0
    data = json.loads(out)
    positive, enjoy = data["curves"]
    assert positive["points"][-1]["x"] == 0 and positive["points"][-1]["mean"] < 1e-12
    assert enjoy["points"][-1]["mean"] == pytest.approx(enjoy["predicted_limit"], abs=1e-12)
    assert 0 < data["facts"]["enjoy.G"] < 1


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="plots extra")
def test_plot_writes_a_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "g.png"
    rc, out, err = run(capsys, "mimic", "goodhart", *FAST["goodhart"], "--plot", str(png))
    assert rc == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"figure: {png}" in out
    rc, _, err = run(
        capsys, "mimic", "goodhart", *FAST["goodhart"], "--plot", str(tmp_path / "no" / "x.png")
    )
    assert rc == 2 and err.count("\n") == 1 and "cannot write" in err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["mimic", "merge", "--mimic", "lstm"], "markovK"),
        (["mimic", "finetune", "--objectives", "fame"], "unknown objective"),
        (["mimic", "merge", "--n", "0,10"], "positive integers"),
        (["mimic", "finetune", "--betas", "-1"], "numbers ≥ 0"),
        (["mimic", "merge", "--z", "genre,colour"], "unknown feature"),
        (["mimic", "merge", "--reps", "0"], "reps"),
        (["mimic"], "MEASUREMENT"),
    ],
)
def test_bad_input_is_one_line(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, _, err = run(capsys, *argv)
    assert rc == 2
    assert err.count("\n") == 1 and needle in err, err


def test_round_shows_no_answer_until_one_is_given(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "mimic", "round", "--seed", "4")
    assert rc == 0, err
    assert "Question: P(" in out and "exact answer" not in out and "forcing" not in out
    rc, out, _ = run(capsys, "mimic", "round", "--seed", "4", "--answer", "0.3", "--json")
    assert rc == 0
    data = json.loads(out)
    assert data["reveal"]["scores"]["regret_bits"] > 0 and "truth" in data["reveal"]
    rc, _, err = run(capsys, "mimic", "round", "--answer", "2")
    assert rc == 2 and "between 0 and 1" in err and err.count("\n") == 1
