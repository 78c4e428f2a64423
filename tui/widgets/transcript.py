"""The debate as it happens: one card per speech, each citation a focusable chip, and
the speech being streamed token by token."""

from __future__ import annotations

import json
import re

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
        yield Static(speech_text(self.turn), classes="speech-text")
        if not self.turn.forfeit:
            for c in self.turn.citations:
                yield CitationChip(c)


def speech_text(t: Turn) -> Text:
    """Head, body and unverified numbers of a speech as one text (one widget, not four)."""
    when = "opening" if t.phase == "opening" else f"round {t.round}"
    out = Text(f"{t.speaker.upper()} · {when}\n", style="bold")
    if t.forfeit:
        out.append(f"forfeited: {t.forfeit}", style="italic red")
        return out
    out.append(t.text + (" [cut at the limit]" if t.truncated else ""))
    if t.unverified_numbers:
        out.append(f"\nunverified numbers: {', '.join(t.unverified_numbers)}", style="dim")
    return out


_TEXT_FIELD = re.compile(r'"text"\s*:\s*"')


def draft_text(raw: str) -> str:
    """The readable part of a speech still being streamed.

    LLM debaters answer in JSON (`{"text": "...", "citations": [...]}`); show the text
    field decoded so far, not the JSON. Anything else is shown as it is.
    """
    s = raw.lstrip()
    if s.startswith("```"):
        s = s.split("\n", 1)[1] if "\n" in s else ""
    if not s.startswith("{"):
        return raw
    m = _TEXT_FIELD.search(s)
    if m is None:
        return ""
    body, i = s[m.end() :], 0
    while i < len(body):
        if body[i] == "\\":
            i += 2
            continue
        if body[i] == '"':
            break
        i += 1
    chunk = body[: min(i, len(body))]
    for cut in range(7):  # an escape may be cut mid-way (\u00e9 arrives in pieces)
        try:
            return str(json.loads(f'"{chunk[: len(chunk) - cut]}"'))
        except ValueError:
            continue
    return chunk


class Transcript(VerticalScroll):
    """Speeches in order, the speech being streamed, and a line saying who speaks now."""

    def compose(self) -> ComposeResult:
        yield Static("", id="draft", classes="speech")
        yield Static("", id="speaking")

    def on_mount(self) -> None:
        self.query_one("#draft").display = False

    def add_turn(self, turn: Turn) -> None:
        self.query_one("#draft").display = False
        self.mount(SpeechCard(turn), before="#draft")
        self.speaking(None)
        self.scroll_end(animate=False)

    def draft(self, speaker: str, raw: str) -> None:
        """Show the speech being streamed (replaced by its card when it arrives)."""
        box = self.query_one("#draft", Static)
        box.set_classes(f"speech side-{speaker}")
        box.update(Text.assemble((f"{speaker.upper()} · speaking\n", "bold"), draft_text(raw)))
        box.display = True
        self.scroll_end(animate=False)

    def speaking(self, text: str | None) -> None:
        line = self.query_one("#speaking", Static)
        line.update(text or "")
        line.display = bool(text)
        if text:
            self.scroll_end(animate=False)
