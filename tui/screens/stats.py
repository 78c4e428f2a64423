"""Your history: log10 error per round, how well your trust was calibrated, how you did
against the baselines on the same evidence; and export (the same as `pzjudge export`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import (
    Button,
    DataTable,
    Header,
    Input,
    RadioButton,
    RadioSet,
    Static,
    TabbedContent,
    TabPane,
)
from textual_plotext import PlotextPlot

from store.errors import StoreError
from store.stats import zero_truth
from tui.app_base import app_of
from tui.errors import error_line
from tui.messages import StoreTrouble
from tui.widgets.keybar import KeyBar

GROUPS = ("judge", "rules", "debaters")


#: The bars of the baselines tab: `stats()` keys and their legend.
BARS = (
    ("mean_log10_error", "judge"),
    ("independence_log10_error", "independence"),
    ("maxent_log10_error", "max entropy"),
)


#: What the columns and legends say, for a newcomer (one line under the summary).
WORDS = (
    "err: log10 error, orders of magnitude from P(Z) · regret: bits lost to the truth "
    "(expected log-score loss) · trusted: rounds trusting the honest side · ECE: expected "
    "calibration error of your credence (0 = calibrated) · indep: the product of the single "
    "probabilities · maxent (max entropy): the least-committal distribution matching the "
    "evidence"
)


def whole_ticks(n: int, most: int = 10) -> list[int]:
    """At most `most` whole-number ticks from 1 to n (rounds are counted, not measured)."""
    if n <= 0:
        return []
    step = max(1, -(-n // most))
    return list(range(1, n + 1, step))


class StatsLoaded(Message):
    """History and stats read from the store (in a worker): the rounds, each round's
    independence baseline error as `stats()` computes it, and the `stats()` rows."""

    def __init__(
        self,
        history: list[dict[str, Any]],
        independence: list[float | None],
        stats: list[dict[str, Any]],
    ) -> None:
        super().__init__()
        self.history = history
        self.independence = independence
        self.stats = stats


class Exported(Message):
    def __init__(self, n: int, path: str) -> None:
        super().__init__()
        self.n = n
        self.path = path


class StatsScreen(Screen[None]):
    """Plots of the stored judgements (practice rounds left out)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "back"),
        Binding("x", "export", "export"),
        Binding("g", "group", "group by"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.group = "judge"
        self.history: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Loading your history…", id="stats-summary")
        yield Static(WORDS, id="stats-words", classes="dim")
        with TabbedContent(id="stats-tabs"):
            with TabPane("Errors", id="errors"):
                yield PlotextPlot(id="plot-errors")
            with TabPane("Trust", id="trust"):
                yield PlotextPlot(id="plot-trust")
            with TabPane("Baselines", id="baselines"):
                yield PlotextPlot(id="plot-baselines")
            with TabPane("Table", id="table"):
                yield DataTable(id="stats-table", zebra_stripes=True)
        yield KeyBar()

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exit_on_error=False, group="stats", exclusive=True)
    def load(self) -> None:
        store = app_of(self).game_store
        if store is None:
            self.post_message(StoreTrouble("no database, so no history"))
            return
        from store.stats import baseline_error

        try:
            history = [r for r in store.history() if not r["practice"]]
            stats = store.stats(self.group)  # type: ignore[arg-type]
        except StoreError as exc:
            self.post_message(StoreTrouble(error_line(exc)))
            return
        independence = [baseline_error(r, "independence") for r in history]
        self.post_message(StatsLoaded(history, independence, stats))

    @on(StoreTrouble)
    def _trouble(self, event: StoreTrouble) -> None:
        self.query_one("#stats-summary", Static).update(Text(event.message))

    @on(StatsLoaded)
    def _loaded(self, event: StatsLoaded) -> None:
        self.history = event.history
        rows = event.history
        zero = sum(1 for r in rows if zero_truth(r))
        errs = [
            r["log10_error"] for r in rows if r["log10_error"] is not None and not zero_truth(r)
        ]
        if rows:
            mean = sum(errs) / len(errs) if errs else float("nan")
            apart = f" ({zero} with P(Z) = 0 left out: no log10 error there)" if zero else ""
            self.query_one("#stats-summary", Static).update(
                f"{len(rows)} answered rounds (practice left out) · mean log10 error "
                f"{mean:.2f}{apart} · x export · g group by ({self.group})"
            )
        else:
            self.query_one("#stats-summary", Static).update(
                "No answered rounds yet (practice rounds are not counted). x export"
            )
        self.plot_errors(rows, event.independence)
        self.plot_trust(event.stats)
        self.plot_baselines(event.stats)
        self.fill_table(event.stats)

    def plot_errors(self, rows: list[dict[str, Any]], independence: list[float | None]) -> None:
        """Each round's error and the independence baseline's (missing ones drawn as 0)."""
        w = self.query_one("#plot-errors", PlotextPlot)
        plt = w.plt
        plt.clear_data()
        plt.title("log10 error per round (lower is better)")
        # a round whose P(Z) is 0 has no log10 error: it keeps its number, with no point
        xs = [i for i, r in enumerate(rows, start=1) if not zero_truth(r)]
        if xs:
            kept = [r for r in rows if not zero_truth(r)]
            ind = [e or 0.0 for r, e in zip(rows, independence, strict=True) if not zero_truth(r)]
            plt.plot(xs, [r["log10_error"] or 0.0 for r in kept], label="you", marker="dot")
            plt.plot(xs, ind, label="independence", marker="dot")
        ticks = whole_ticks(len(rows))
        if ticks:
            plt.xticks([float(t) for t in ticks], [str(t) for t in ticks])
        plt.xlabel("round")
        w.refresh()

    def plot_trust(self, stats: list[dict[str, Any]]) -> None:
        w = self.query_one("#plot-trust", PlotextPlot)
        plt = w.plt
        plt.clear_data()
        plt.title("reliability of your credence in A (diagonal = calibrated)")
        plt.plot([0, 1], [0, 1], label="calibrated")
        bins = [b for s in stats for b in s.get("reliability") or []]
        if bins:
            plt.scatter([b["forecast"] for b in bins], [b["freq"] for b in bins], label="you")
        plt.xlim(0, 1)
        plt.ylim(0, 1)
        plt.xlabel("credence that A is honest")
        plt.ylabel("A was honest")
        w.refresh()

    def plot_baselines(self, stats: list[dict[str, Any]]) -> None:
        """The mean errors `stats()` gives per group (judge, rules…): the judge's and the
        baselines' on the same rounds and evidence (missing ones drawn as 0)."""
        w = self.query_one("#plot-baselines", PlotextPlot)
        plt = w.plt
        plt.clear_data()
        plt.title("mean log10 error on the same evidence")
        if stats:
            series = [[s[k] or 0.0 for s in stats] for k, _ in BARS]
            groups = [str(s["group"]) for s in stats]
            # plotext takes `labels`; the stub textual-plotext ships lacks it
            plt.multiple_bar(groups, series, labels=[label for _, label in BARS])  # type: ignore[call-arg]
        w.refresh()

    def fill_table(self, stats: list[dict[str, Any]]) -> None:
        t = self.query_one("#stats-table", DataTable)
        t.clear(columns=True)
        cols = [
            ("group", self.group),
            ("rounds", "rounds"),
            ("mean_log10_error", "err"),
            ("mean_regret_bits", "regret"),
            ("trusted_honest_rate", "trusted"),
            ("trust_ece", "ECE"),
            ("independence_log10_error", "indep"),
            ("maxent_log10_error", "maxent"),
        ]
        for _, label in cols:
            t.add_column(label)
        for s in stats:
            t.add_row(*[_cell(s.get(k)) for k, _ in cols])

    def action_group(self) -> None:
        self.group = GROUPS[(GROUPS.index(self.group) + 1) % len(GROUPS)]
        self.load()

    def action_export(self) -> None:
        self.app.push_screen(ExportScreen())


#: Characters of the export path shown (two lines of the dialog, less "writes ").
WHERE_CHARS = 110


def _writes(typed: str) -> Text:
    """Where an export will be written: the absolute path (a relative one is relative to
    the directory pzjudge was started in, which a player may not know)."""
    if not typed.strip():
        return Text("type a file name")
    where = str(Path(typed.strip()).expanduser().absolute())
    if len(where) > WHERE_CHARS:  # the end of a long path says most: its folder and name
        where = "…" + where[-(WHERE_CHARS - 1) :]
    return Text(f"writes {where}")


def _cell(v: Any) -> Text:
    """A table cell as plain text: a DataTable reads a str cell as markup, and group names
    (judges, debater specs) come from the database."""
    if v is None:
        return Text("-")
    if isinstance(v, float):
        return Text(f"{v:.3g}")
    return Text(str(v))


class ExportScreen(ModalScreen[None]):
    """Write every judgement as JSONL or CSV (the rows of `pzjudge export`)."""

    # two lines kept for the path whatever its length, so typing never moves the buttons
    DEFAULT_CSS = "#export-where { height: 2; }"

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "close")]

    def compose(self) -> ComposeResult:
        with Vertical(id="export"):
            yield Static(
                "[b]Export judgements[/b] (one row per answered round; practice rounds are "
                "included, marked [i]practice[/i])"
            )
            with RadioSet(id="format"):
                yield RadioButton("JSONL", value=True, id="jsonl")
                yield RadioButton("CSV", id="csv")
            yield Input(value="pzjudge-export.jsonl", id="export-path", compact=True)
            yield Static(_writes("pzjudge-export.jsonl"), id="export-where")
            yield Static("", id="export-status")
            with Horizontal():
                yield Button("Export", id="do-export", variant="primary")
                yield Button("Close", id="close")

    @on(RadioSet.Changed)
    def _fmt(self, event: RadioSet.Changed) -> None:
        inp = self.query_one("#export-path", Input)
        stem = inp.value.rsplit(".", 1)[0] if "." in inp.value else inp.value
        inp.value = f"{stem}.{event.pressed.id}"

    @on(Input.Changed, "#export-path")
    def _where(self, event: Input.Changed) -> None:
        self.query_one("#export-where", Static).update(_writes(event.value))

    @on(Button.Pressed, "#do-export")
    @on(Input.Submitted, "#export-path")
    def _go(self) -> None:
        pressed = self.query_one(RadioSet).pressed_button
        fmt = str(pressed.id) if pressed else "jsonl"
        self.query_one("#export-status", Static).update("writing…")
        self.write(fmt, self.query_one("#export-path", Input).value.strip())

    @work(thread=True, exit_on_error=False, group="export")
    def write(self, fmt: str, path: str) -> None:
        store = app_of(self).game_store
        if store is None or not path:
            self.post_message(StoreTrouble("nothing to export to: no database or no path"))
            return
        try:
            n = store.export(fmt, path)
        except StoreError as exc:
            self.post_message(StoreTrouble(error_line(exc)))
            return
        self.post_message(Exported(n, path))

    @on(Exported)
    def _done(self, event: Exported) -> None:
        self.query_one("#export-status", Static).update(
            Text(f"wrote {event.n} rows to {event.path}")
        )
        self.notify(f"exported {event.n} judgements to {event.path}")

    @on(StoreTrouble)
    def _trouble(self, event: StoreTrouble) -> None:
        self.query_one("#export-status", Static).update(Text(event.message, style="red"))

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(None)
