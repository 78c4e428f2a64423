"""The stats screen plots what `stats()` computes, not a number of its own."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from test_tui_app import on_screen, play, screen_text, until
from textual.message import Message
from textual.pilot import Pilot
from textual_plotext import PlotextPlot

from store.db import Store
from store.stats import stats
from tui.app import PzJudgeApp

#: A P(Z) below the smallest double: stored as 0.0, its log (exact) in `log10_truth`.
LOG10_TRUTH = -320.0
INDEPENDENCE = 1e-10


def _tiny_round(db: Path) -> None:
    with Store(db) as s:
        sid = s.start_session("tester", kind="game", seed=1)
        rid = s.start_round(sid, number=1, n_statements=400, truth_pz=0.0, log10_truth=LOG10_TRUTH)
        answer = {"estimate": 1e-300, "interval": None, "credence_a": 0.7, "seconds": 5.0}
        baselines = {"independence": INDEPENDENCE, "maxent": None, "lower": 0.0, "upper": 1.0}
        s.record_judgement(
            rid, scores={"log10_error": 20.0}, baselines=baselines, evidence={}, **answer
        )


def test_the_screen_plots_the_baseline_errors_stats_gives_for_a_tiny_pz(tmp_path: Path) -> None:
    """log10_truth is -320 while truth_pz underflowed to 0: the independence baseline is
    310 orders of magnitude off (`pzjudge stats`), not the 290 a floor of -300 on
    truth_pz would give; both plots show the 310."""
    db = tmp_path / "tiny.db"
    _tiny_round(db)
    want = abs(math.log10(INDEPENDENCE) - LOG10_TRUTH)
    with Store(db) as s:
        (row,) = stats(s, "rules")
    assert row["independence_log10_error"] == pytest.approx(want)
    plotted: dict[str, list[float]] = {}

    def capture(w: PlotextPlot) -> None:
        plot, bar, multiple_bar = w.plt.plot, w.plt.bar, w.plt.multiple_bar

        def on_plot(xs: Any, ys: Any, **kw: Any) -> Any:
            plotted[f"round {kw.get('label')}"] = list(ys)
            return plot(xs, ys, **kw)

        def on_bar(names: Any, values: Any, **kw: Any) -> Any:
            plotted.update({f"mean {n}": [v] for n, v in zip(names, values, strict=True)})
            return bar(names, values, **kw)

        def on_multiple_bar(groups: Any, series: Any, labels: Any, **kw: Any) -> Any:
            plotted.update({f"mean {n}": list(v) for n, v in zip(labels, series, strict=True)})
            return multiple_bar(groups, series, labels=labels, **kw)

        w.plt.plot, w.plt.bar, w.plt.multiple_bar = on_plot, on_bar, on_multiple_bar  # type: ignore[method-assign]

    async def script(app: PzJudgeApp, pilot: Pilot[None], seen: list[Message]) -> None:
        await pilot.press("s")
        await on_screen(app, pilot, "StatsScreen")
        await until(pilot, lambda: "Loading" not in screen_text(app), "stats")
        for w in app.screen.query(PlotextPlot):
            capture(w)
        await pilot.press("g")  # grouped by rules: plotted again
        await until(pilot, lambda: "mean independence" in plotted, "the plots")

    play(db, script)
    assert plotted["mean independence"] == [pytest.approx(want)]
    assert plotted["round independence"] == [pytest.approx(want)]
