"""The answer: P(Z) on any scale, a log-scale bar, optional interval and credence.

Validated in place (an estimate of 2 or "abc" is refused with a hint). The preview shows
only what does not depend on the truth: how far the estimate is from the independence
value and from each debater's claim, in orders of magnitude.
"""

from __future__ import annotations

import math
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Button, Input, Static

from debate.models import Side
from debate.protocol import Decision
from tui.errors import error_line
from tui.estimate import (
    MIN_LOG10,
    STEP,
    EstimateError,
    fmt_log10,
    parse_credence,
    parse_interval,
    parse_log10,
)
from tui.messages import AnswerSubmitted, CredenceChanged


class LogBar(Static):
    """A log10 scale from `low` to 0 with a marker at the estimate (and claims as A/B)."""

    value: reactive[float | None] = reactive(None)

    def __init__(self, low: float, marks: dict[str, float], **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.low = low
        self.marks = marks

    def render(self) -> Text:
        width = max(10, self.size.width - 14)
        cells = ["─"] * width

        def pos(lg: float) -> int:
            x = (lg - self.low) / (0 - self.low)
            return min(width - 1, max(0, round(x * (width - 1))))

        for label, lg in self.marks.items():
            cells[pos(lg)] = label
        out = Text(f"{self.low:>5.0f} ", style="dim")
        marker = pos(self.value) if self.value is not None else None
        for i, ch in enumerate(cells):
            if i == marker:
                out.append("●", style="bold reverse")
            else:
                out.append(ch, style="bold" if ch != "─" else "dim")
        out.append(" 0", style="dim")
        return out


class EstimatePanel(Vertical):
    """Estimate, interval, credence in A; Enter or ctrl+s answers."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "step(1)", "×√10", show=False),
        Binding("down", "step(-1)", "÷√10", show=False),
    ]

    log10: reactive[float | None] = reactive(None)

    def __init__(
        self,
        claims: dict[Side, float] | None,
        independence: float | None,
        **kw: object,
    ) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.claims = claims
        self.independence = independence
        self.credence = 0.5
        refs = [math.log10(p) for p in [*(claims or {}).values(), independence or 1.0] if p > 0]
        low = min([-10.0, *refs])
        self.low = max(MIN_LOG10, math.floor((low - 5) / 5) * 5)
        marks: dict[str, float] = {}
        if independence and independence > 0:
            marks["i"] = math.log10(independence)
        marks.update({k.upper(): math.log10(v) for k, v in (claims or {}).items() if v > 0})
        self.marks = marks

    def compose(self) -> ComposeResult:
        with Horizontal(classes="answer-row"):
            yield Static("P(Z) ≈ ", classes="label")
            yield Input(placeholder="1e-5, 10^-12, log10 -5", id="estimate", compact=True)
            yield Static(" interval ", classes="label")
            yield Input(placeholder="1e-8 .. 1e-4", id="interval", compact=True)
            if self.claims:
                yield Static(" A honest ", classes="label")
                yield Input(value="0.50", id="credence", compact=True)
            yield Button("Answer", id="answer", variant="primary", compact=True)
        yield LogBar(self.low, self.marks, id="logbar")
        yield Static("", id="hint")
        yield Static("", id="preview")

    def on_mount(self) -> None:
        self._preview()

    def set_credence(self, value: float) -> None:
        """From the [ and ] keys: clamp, round, and show it in the field."""
        self.credence = min(1.0, max(0.0, round(value, 2)))
        if self.claims:
            self.query_one("#credence", Input).value = f"{self.credence:.2f}"

    def hint(self, text: str = "", error: bool = False) -> None:
        h = self.query_one("#hint", Static)
        h.update(text)
        h.set_class(error, "error")

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "estimate":
            try:
                self.log10 = parse_log10(event.value)
                self.hint(
                    f"log10 = {self.log10:.2f}   (↑/↓ step by {STEP}; +/- too, outside this field)"
                )
                event.input.remove_class("-bad")
            except EstimateError as exc:
                self.log10 = None
                self.hint(
                    error_line(exc) if event.value.strip() else "", error=bool(event.value.strip())
                )
                event.input.set_class(bool(event.value.strip()), "-bad")
        elif event.input.id == "credence":
            try:
                self.credence = parse_credence(event.value)
                self.hint("")
                event.input.remove_class("-bad")
                self.post_message(CredenceChanged(self.credence))
            except EstimateError as exc:
                self.hint(error_line(exc), error=True)
                event.input.add_class("-bad")
        elif event.input.id == "interval":
            try:
                parse_interval(event.value)
                self.hint("")
                event.input.remove_class("-bad")
            except EstimateError as exc:
                self.hint(error_line(exc), error=True)
                event.input.add_class("-bad")

    def watch_log10(self, value: float | None) -> None:
        if self.is_mounted:
            self.query_one(LogBar).value = value
            self._preview()

    def _preview(self) -> None:
        """Distances that do not depend on the truth (anything else would leak it)."""
        lg = self.log10
        if lg is None:
            self.query_one("#preview", Static).update(
                Text("Type your estimate of P(Z), the chance that every statement is true.")
            )
            return
        parts = []
        refs: list[tuple[str, float]] = []
        if self.independence:
            refs.append(("independence", self.independence))
        for side, p in sorted((self.claims or {}).items()):  # A then B, whoever is honest
            refs.append((f"{side.upper()}'s claim", p))
        for name, p in refs:
            d = abs(lg - math.log10(p)) if p > 0 else math.inf
            parts.append(f"{name} {d:.1f}")
        text = "log10 distance to: " + " · ".join(parts) if parts else ""
        self.query_one("#preview", Static).update(Text(text, style="dim"))

    def action_step(self, direction: int) -> None:
        base = self.log10 if self.log10 is not None else -1.0
        lg = min(0.0, max(self.low, round((base + direction * STEP) * 2) / 2))
        inp = self.query_one("#estimate", Input)
        inp.value = f"log10 {lg:g}"

    def step(self, direction: int) -> None:
        self.action_step(direction)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "answer":
            event.stop()
            self.submit()

    def decision(self) -> Decision | None:
        """The answer, or None with the reason shown in place."""
        est = self.query_one("#estimate", Input)
        try:
            lg = parse_log10(est.value)
        except EstimateError as exc:
            self.hint(error_line(exc), error=True)
            est.add_class("-bad")
            est.focus()
            return None
        try:
            interval = parse_interval(self.query_one("#interval", Input).value)
        except EstimateError as exc:
            self.hint(error_line(exc), error=True)
            self.query_one("#interval", Input).focus()
            return None
        if self.claims:
            cred = self.query_one("#credence", Input)
            try:
                parse_credence(cred.value)
            except EstimateError as exc:
                self.hint(error_line(exc), error=True)
                cred.focus()
                return None
        return Decision(
            estimate=10.0**lg,
            interval=interval,
            credence_a=self.credence if self.claims else 0.5,
        )

    def submit(self) -> None:
        d = self.decision()
        if d is not None:
            self.post_message(AnswerSubmitted(d))


__all__ = ["EstimatePanel", "LogBar", "fmt_log10", "parse_credence"]
