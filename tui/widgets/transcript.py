"""The debate as it happens: one card per speech, each citation a focusable chip."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from debate.protocol import Turn
from debate.verify import VerifiedCitation
from tui.estimate import fmt_p
from tui.messages import CitationFocused


def chip_text(c: VerifiedCitation) -> Text:
    """One line for a citation: what it names and what the engine found."""
    what = c.ids[0] if c.kind == "statement" else f"P({' ∩ '.join(c.ids)})"
    if c.status in ("rejected", "dropped"):
        return Text.assemble(("– ", "dim"), what, (f"  {c.status}: {c.reason}", "dim italic"))
    if c.kind == "statement":
        return Text.assemble(("· ", "bold"), what, ("  (statement)", "dim"))
    if c.verified is False:
        return Text.assemble(
            ("✗ ", "bold red"),
            what,
            f" claimed {fmt_p(c.claimed)}",
            (" false", "bold red"),
            f", true {fmt_p(c.true_value)}",
        )
    claim = "" if c.claimed is None else f" (claimed {fmt_p(c.claimed)})"
    return Text.assemble(("✓ ", "bold green"), what, f" = {fmt_p(c.true_value)}{claim}")


class CitationChip(Static, can_focus=True):
    """A citation; on focus the screen shows the statements it names."""

    def __init__(self, citation: VerifiedCitation) -> None:
        super().__init__(chip_text(citation), classes="chip")
        self.citation = citation

    def on_focus(self) -> None:
        self.post_message(CitationFocused(list(self.citation.ids)))

    def on_click(self) -> None:
        self.focus()


class SpeechCard(Vertical):
    """One speech with its citations (or the reason it was forfeited)."""

    def __init__(self, turn: Turn) -> None:
        super().__init__(classes=f"speech side-{turn.speaker}")
        self.turn = turn

    def compose(self) -> ComposeResult:
        t = self.turn
        when = "opening" if t.phase == "opening" else f"round {t.round}"
        yield Static(Text(f"{t.speaker.upper()} · {when}", style="bold"), classes="speech-head")
        if t.forfeit:
            yield Static(Text(f"forfeited: {t.forfeit}", style="italic"), classes="forfeit")
            return
        body = t.text + (" [cut at the limit]" if t.truncated else "")
        yield Static(Text(body), classes="speech-text")
        for c in t.citations:
            yield CitationChip(c)
        if t.unverified_numbers:
            nums = ", ".join(t.unverified_numbers)
            yield Static(Text(f"unverified numbers: {nums}", style="dim"), classes="unverified")


class Transcript(VerticalScroll):
    """Speeches in order, with a line saying who is speaking now."""

    def compose(self) -> ComposeResult:
        yield Static("", id="speaking")

    def add_turn(self, turn: Turn) -> None:
        self.mount(SpeechCard(turn), before="#speaking")
        self.speaking(None)
        self.scroll_end(animate=False)

    def speaking(self, text: str | None) -> None:
        line = self.query_one("#speaking", Static)
        line.update(text or "")
        line.display = bool(text)
