"""The debate as it happens: one card per speech with its citations, the speech being
streamed token by token, all drawn by one widget."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

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


@dataclass
class Block:
    """One thing in the transcript: a speech with its citations, the draft, or a line."""

    text: Text
    side: str | None = None  # "a" or "b": drawn with a bar in that side's colour
    citations: list[VerifiedCitation] = field(default_factory=list)
    style: str = ""  # component class of a plain line
    #: Rendered at `width`: (strip, index of the citation on that line or -1) per line.
    lines: list[tuple[Strip, int]] = field(default_factory=list)
    width: int = -1


class Transcript(ScrollView, can_focus=True):
    """Speeches in order, the speech being streamed, and a line saying who speaks now.

    One widget that draws its own lines: focus (a tab switch) restyles one node, however
    long the debate, and a new speech renders only itself. `left`/`right` (or a click)
    select a citation; the screen then shows the statements it names."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "cite(-1)", "citation", show=False),
        Binding("right", "cite(1)", "citation", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "transcript--side-a",
        "transcript--side-b",
        "transcript--speaking",
        "transcript--cited",
    }
    DEFAULT_CSS = """
    Transcript {
        overflow-x: hidden;
        overflow-y: auto;
        scrollbar-gutter: stable;  /* text wraps to one width, with or without a scrollbar */
        & > .transcript--side-a {
            color: $primary;
        }
        & > .transcript--side-b {
            color: $warning;
        }
        & > .transcript--speaking {
            color: $text-muted;
            text-style: italic;
        }
        & > .transcript--cited {
            background: $accent 40%;
        }
    }
    """

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.speeches: list[Block] = []
        self._draft: Block | None = None
        self._speaking: Block | None = None
        #: The selected citation: (speech, citation) indices, or None.
        self.cited: tuple[int, int] | None = None
        #: Each line on screen: (block, line in block), rebuilt when the blocks change.
        self._index: list[tuple[Block, int]] = []

    # -- content -------------------------------------------------------------------------

    def add_turn(self, turn: Turn) -> None:
        cites = [] if turn.forfeit else list(turn.citations)
        self.speeches.append(Block(speech_text(turn), turn.speaker, cites))
        self._draft = None
        self._speaking = None
        self._changed(end=True)

    def draft(self, speaker: str, raw: str) -> None:
        """Show the speech being streamed (replaced by its card when it arrives)."""
        text = Text.assemble((f"{speaker.upper()} · speaking\n", "bold"), draft_text(raw))
        self._draft = Block(text, speaker)
        self._changed(end=True)

    def speaking(self, text: str | None) -> None:
        """The line under the speeches (markup); None or empty removes it."""
        self._speaking = (
            Block(Text.from_markup(text), style="transcript--speaking") if text else None
        )
        self._changed(end=bool(text))

    def _blocks(self) -> list[Block]:
        return [b for b in (*self.speeches, self._draft, self._speaking) if b is not None]

    def _changed(self, end: bool) -> None:
        self._layout_lines()
        self.refresh()
        if end:
            self._follow()

    def _follow(self) -> None:
        """Show what was added: the end of the transcript, but never past the head of the
        newest speech (or draft), and never back up.

        A speech is usually taller than this widget (at 80x24: ~25 lines in ~13). Scrolled
        to its end, the judge saw only its last lines and citations, without the head that
        says who speaks; when the liar's opening ended with the same sentences and
        citations as the honest one's, B's opening looked as if it never came."""
        newest = self._draft or (self.speeches[-1] if self.speeches else None)
        target = self.max_scroll_y
        if newest is not None:
            head = next((r for r, (b, _) in enumerate(self._index) if b is newest), None)
            if head is not None:
                target = min(target, head)
        if target > self.scroll_offset.y:
            self.scroll_to(y=target, animate=False, immediate=True)

    # -- drawing -------------------------------------------------------------------------

    def _render_block(self, block: Block, width: int) -> None:
        """Wrap `block` to `width` cells: a side bar, one cell of padding, a blank line after."""
        console = self.app.console
        base = self.rich_style
        rows: list[tuple[Strip, int]] = []
        if block.side is None:
            style = self.get_component_rich_style(block.style) if block.style else Style()
            for line in block.text.wrap(console, max(1, width - 2)):
                strip = Strip(line.render(console)).apply_style(style)
                rows.append((Strip.join([Strip([Segment(" ")]), strip]), -1))
        else:
            side = self.get_component_rich_style(f"transcript--side-{block.side}")
            bar = Strip([Segment("▌", side), Segment(" ")])
            inner = max(1, width - 3)
            parts = [(block.text, -1, 0)] + [
                (chip_text(c), i, 1) for i, c in enumerate(block.citations)
            ]
            for text, cite, indent in parts:
                for line in text.wrap(console, max(1, inner - 2 * indent)):
                    pad = Strip([Segment(" " * indent)]) if indent else None
                    strip = Strip.join([bar, pad, Strip(line.render(console))])
                    rows.append((strip, cite))
            rows.append((Strip([]), -1))
        block.lines = [(s.apply_style(base).crop_extend(0, width, base), c) for s, c in rows]
        block.width = width

    def _layout_lines(self) -> None:
        width = self.scrollable_content_region.width
        index: list[tuple[Block, int]] = []
        for block in self._blocks():
            if block.width != width:
                self._render_block(block, width)
            index.extend((block, i) for i in range(len(block.lines)))
        self._index = index
        self.virtual_size = Size(width, len(index))

    def on_resize(self) -> None:
        self._layout_lines()
        if self.cited is not None:  # the detail under this widget took rows: keep it in view
            self._scroll_to_cited()

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        row = int(self.scroll_offset.y) + y
        if not 0 <= row < len(self._index):
            return Strip.blank(width, self.rich_style)
        block, i = self._index[row]
        strip, cite = block.lines[i]
        if cite >= 0 and self.cited == (self._speech_no(block), cite):
            strip = strip.apply_style(self.get_component_rich_style("transcript--cited"))
        return strip

    def _speech_no(self, block: Block) -> int:
        for n, b in enumerate(self.speeches):
            if b is block:
                return n
        return -1

    # -- citations -----------------------------------------------------------------------

    def _all_citations(self) -> list[tuple[int, int]]:
        return [(n, i) for n, b in enumerate(self.speeches) for i in range(len(b.citations))]

    def select(self, cited: tuple[int, int]) -> None:
        """Select a citation: highlight it, scroll to it, tell the screen."""
        self.cited = cited
        self._scroll_to_cited()
        self.refresh()
        n, i = cited
        self.post_message(CitationFocused(list(self.speeches[n].citations[i].ids)))

    def _scroll_to_cited(self) -> None:
        if self.cited is None:
            return
        n, i = self.cited
        block = self.speeches[n]
        rows = [r for r, (b, j) in enumerate(self._index) if b is block and b.lines[j][1] == i]
        if rows:
            region = Region(0, rows[0], 1, len(rows))
            self.scroll_to_region(region, animate=False, immediate=True)

    def action_cite(self, step: int) -> None:
        every = self._all_citations()
        if not every:
            return
        at = every.index(self.cited) + step if self.cited in every else (0 if step > 0 else -1)
        self.select(every[at % len(every)])

    def _citation_at(self, y: int) -> tuple[int, int] | None:
        row = int(self.scroll_offset.y) + y
        if 0 <= row < len(self._index):
            block, i = self._index[row]
            cite = block.lines[i][1]
            if cite >= 0:
                return (self._speech_no(block), cite)
        return None

    def on_click(self, event: events.Click) -> None:
        cited = self._citation_at(event.y)
        if cited is not None:
            self.select(cited)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        """Hovering a citation shows the statements it names, like selecting it."""
        cited = self._citation_at(event.y)
        if cited is not None and cited != self.cited:
            self.select(cited)
