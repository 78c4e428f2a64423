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
        # every option of every measurement, at 0, negative, inf, nan and huge
        (["mimic", "goodhart", "--random", "0"], "--random"),
        (["mimic", "goodhart", "--random", "-1"], "--random"),
        (["mimic", "round", "--seed", "-1"], "--seed"),
        (["mimic", "merge", "--seed", "-1"], "--seed"),
        (["mimic", "transfer", "--seed", "-3"], "--seed"),
        (["mimic", "merge", "--alpha", "inf", "--mimic", "g1"], "--alpha"),
        (["mimic", "merge", "--alpha", "nan"], "--alpha"),
        (["mimic", "transfer", "--alpha", "0"], "--alpha"),
        (["mimic", "finetune", "--alpha", "-0.5", "--base", "g1"], "--alpha"),
        (["mimic", "merge", "--alpha", "1e308"], "--alpha"),
        (["mimic", "merge", "--alpha", "1e-320"], "--alpha"),
        (["mimic", "finetune", "--betas", "1,1e-320"], "--betas"),
        (["mimic", "merge", "--n", "100000000000000000000"], "--n"),
        (["mimic", "transfer", "--n", "-5"], "--n"),
        (["mimic", "merge", "--reps", "-2"], "--reps"),
        (["mimic", "merge", "--reps", "10000000"], "--reps"),
        (["mimic", "finetune", "--betas", "inf"], "--betas"),
        (["mimic", "finetune", "--betas", "nan"], "--betas"),
        (["mimic", "finetune", "--base", "g1", "--train", "-5"], "--train"),
        (["mimic", "finetune", "--base", "g1", "--train", "1e30"], "--train"),
        (["mimic", "transfer", "--classifier-books", "0"], "--classifier-books"),
        (["mimic", "transfer", "--classifier-books", "100000000000000000000"], "--classifier"),
        (["mimic", "merge", "--max-events", "0"], "--max-events"),
        (["mimic", "merge", "--max-events", "7"], "--max-events"),
        (["mimic", "merge", "--z", ","], "--z"),
        (["mimic", "round", "--answer", "nan"], "--answer"),
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
    assert set(data["reveal"]["baseline_scores"]) == {
        "synchronised",
        "unconditioned",
        "from_table",
        "exact",
    }
    rc, out, _ = run(capsys, "mimic", "round", "--seed", "4", "--answer", "0.3")
    assert rc == 0 and "an exact operator" in out and f"{data['reveal']['exact']:.4f}" in out
    rc, _, err = run(capsys, "mimic", "round", "--answer", "2")
    assert rc == 2 and "between 0 and 1" in err and err.count("\n") == 1


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="plots extra")
@pytest.mark.parametrize("name", ["x.txt", "x"])
def test_plot_refuses_a_format_it_cannot_draw_before_measuring(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, err = run(capsys, "mimic", "merge", *FAST["merge"], "--plot", str(tmp_path / name))
    assert rc == 2 and err.count("\n") == 1 and out == "", err
    assert ".png" in err and ".svg" in err and ".pdf" in err
    assert not list(tmp_path.iterdir())


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="plots extra")
def test_plot_writes_svg_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    svg = tmp_path / "g.svg"
    rc, _, err = run(capsys, "mimic", "goodhart", *FAST["goodhart"], "--plot", str(svg))
    assert rc == 0, err
    assert "<svg" in svg.read_text()[:500]


def test_play_refuses_a_negative_seed_before_the_game_starts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`play --seed -1` used to start the game and fail at the first mimic round."""
    rc, out, err = run(capsys, "play", "--seed", "-1")
    assert rc == 2 and out == "" and err.count("\n") == 1 and "--seed" in err


def test_goodhart_on_one_event_books_reports_the_empty_forcing_set(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """It stopped with 'cannot condition on an event of probability 0'."""
    rc, out, err = run(capsys, "mimic", "goodhart", "--max-events", "1", "--random", "5")
    assert rc == 0, err
    assert "enjoy.G = 0" in out and "enjoy's forcing set is empty" in out
    assert "--max-events 2" in out and "persuade.tv_x" in out
    rc, out, err = run(capsys, "mimic", "finetune", "--max-events", "1", "--json")
    assert rc == 0, err
    enjoy = next(c for c in json.loads(out)["curves"] if c["label"].startswith("enjoy"))
    assert enjoy["predicted_limit"] is None and "empty" in enjoy["note"]
