"""What `pzjudge tournament` shows: a progress ETA that leaves out start-up, and a table a
newcomer reads without the README."""

from __future__ import annotations

import time

import pytest

from tui.cli import main


def test_the_eta_counts_from_the_first_debate_to_finish(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tui.cli_debate import _Progress

    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    progress = _Progress()
    clock[0] += 30.0  # start-up: the first debate finishes 30 s in
    progress(1, 40)
    for done in range(2, 11):
        clock[0] += 2.0  # then one every 2 s: 30 left take 60 s
        progress(done, 40)
    lines = [line.strip("\r") for line in capsys.readouterr().err.split("\n") if line]
    assert lines[0] == "played 1/40 debates"  # no rate from a single debate
    assert lines[-1] == "played 10/40 debates, 0.5/s, ETA 60s"
    for done in range(11, 41):
        clock[0] += 2.0
        progress(done, 40)
    last = capsys.readouterr().err.strip().split("\n")[-1].strip("\r")
    assert last == "played 40/40 debates, 0.5/s, ETA 0s"


def test_every_column_of_the_debaters_table_is_explained(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = [
        "tournament", "--worlds", "1", "--seed", "3", "--statements", "12", "--debaters",
        "builtin:honest,builtin:pairwise", "--judges", "maxent", "--no-store",
    ]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out.splitlines()
    head = out[out.index("debaters") + 1]
    assert "mean regret (bits)" in head and "regret bits" not in head
    legend = "\n".join(out[out.index("debaters") + 4 :])
    for term in ("judge trusted it:", "log10 error:", "regret: log score lost, in bits"):
        assert term in legend
