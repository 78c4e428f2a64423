"""The statements of Z: a searchable list in id order, with a selection for the oracle.

A `DataTable` re-measures every cell when its rows are replaced, so filtering 400 rows
cost ~70 ms a key. This list keeps the statements once and a list of indices that match
the filter; it draws only the lines on screen (Textual's Line API), so a keystroke costs
a substring scan and ~20 rendered lines, however many statements there are. It keeps its
own scroll position and draws its own scrollbar, so neither a filter nor a scroll changes
its virtual size: no layout of the screen, one frame per key.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from rich.console import RenderableType
from rich.segment import Segment
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Input

from tui.estimate import fmt_p
from tui.messages import StatementsPicked

if TYPE_CHECKING:
    from debate.protocol import StatementView

#: Width of the P(s) column (`fmt_p` gives at most 7 cells).
P_WIDTH = 7
#: The picked marker.
MARK = "●"
#: The scrollbar, drawn in the last column: track and thumb.
TRACK, THUMB = " ", "█"


class StatementList(Widget, can_focus=True):
    """Statements sorted by id (ids are opaque and shuffled; the order reveals nothing).

    One header line, then one line per statement that matches the filter: the picked
    marker, the id, P(s) when shown, the text cut to fit. Space toggles the statement under
    the cursor in the selection the oracle will be asked about; the filter keeps rows whose
    id or text contains every typed word. A click moves the cursor; a click on the marker
    column also toggles the pick.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_pick", "pick", show=True),
        Binding("x", "clear", "clear selection", show=False),
        Binding("up", "move(-1)", "up", show=False),
        Binding("down", "move(1)", "down", show=False),
        Binding("pageup", "page(-1)", "page up", show=False),
        Binding("pagedown", "page(1)", "page down", show=False),
        Binding("home,ctrl+home", "jump(0)", "first", show=False),
        Binding("end,ctrl+end", "jump(-1)", "last", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "statement-list--header",
        "statement-list--even-row",
        "statement-list--cursor",
        "statement-list--mark",
        "statement-list--dim",
        "statement-list--scrollbar",
    }
    DEFAULT_CSS = """
    StatementList {
        background: $surface;
        color: $foreground;
        overflow: hidden hidden;
        &:focus {
            background-tint: $foreground 5%;
            & > .statement-list--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
        }
        & > .statement-list--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        & > .statement-list--even-row {
            background: $surface-lighten-1 50%;
        }
        &:dark > .statement-list--even-row {
            background: $surface-darken-1 40%;
        }
        & > .statement-list--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        & > .statement-list--mark {
            text-style: bold;
        }
        & > .statement-list--dim {
            color: $text-muted;
        }
        & > .statement-list--scrollbar {
            color: $scrollbar;
            background: $scrollbar-background;
        }
    }
    """

    class Highlighted(Message):
        """The cursor is on another statement (None: no statement matches the filter)."""

        def __init__(self, sid: str | None) -> None:
            super().__init__()
            self.sid = sid

    #: Position of the cursor in the filtered rows.
    cursor: reactive[int] = reactive(0, layout=False, always_update=True)

    def __init__(self, statements: list[StatementView], max_pick: int, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.statements = sorted(statements, key=lambda s: s.id)
        self.by_id = {s.id: s for s in self.statements}
        self._index = {s.id: i for i, s in enumerate(self.statements)}
        self.max_pick = max_pick
        self.picked: list[str] = []
        self.filter = ""
        self.show_p = any(s.p is not None for s in statements)
        # searched and drawn for every key: prepared once
        self._haystacks = [f"{s.id} {s.text}".lower() for s in self.statements]
        self._lines = [" ".join(s.text.split()) for s in self.statements]
        self._ps = [fmt_p(s.p).ljust(P_WIDTH) for s in self.statements]
        self._id_width = max([2, *(len(s.id) for s in self.statements)])
        #: Indices into `statements` of the rows shown, in id order.
        self.rows: list[int] = list(range(len(self.statements)))
        self._last_sid: str | None = None
        #: The first filtered row on screen (the list scrolls itself: no layout).
        self.top = 0

    # -- state ---------------------------------------------------------------------------

    def matching(self) -> list[StatementView]:
        """The statements that match the filter, in id order (not `visible`: that is
        Textual's, whether the widget is shown)."""
        return [self.statements[i] for i in self.rows]

    def current_id(self) -> str | None:
        """The id under the cursor (None when no row matches)."""
        if not self.rows:
            return None
        return self.statements[self.rows[self.cursor]].id

    def set_filter(self, text: str) -> None:
        """Keep the rows whose id or text holds every word; the cursor stays on its
        statement if that still matches, else goes to the first match."""
        self.filter = text
        words = text.lower().split()
        hay = self._haystacks
        if words:
            self.rows = [i for i, h in enumerate(hay) if all(w in h for w in words)]
        else:
            self.rows = list(range(len(self.statements)))
        new = self._row_of(self._last_sid)
        self.top = 0
        self.cursor = 0 if new is None else new
        self.refresh()

    def _row_of(self, sid: str | None) -> int | None:
        """Where statement `sid` is in the filtered rows (None: filtered out)."""
        if sid is None:
            return None
        at = bisect_left(self.rows, self._index[sid])  # rows are in id order
        return at if at < len(self.rows) and self.rows[at] == self._index[sid] else None

    def _body(self) -> int:
        """Lines under the header."""
        return max(1, self.size.height - 1)

    def _set_top(self, top: int) -> None:
        """Scroll so that row `top` is the first under the header (repaint, no layout)."""
        top = max(0, min(top, len(self.rows) - self._body()))
        if top != self.top:
            self.top = top
            self.refresh()

    def validate_cursor(self, value: int) -> int:
        return max(0, min(value, len(self.rows) - 1)) if self.rows else 0

    def watch_cursor(self, old: int, new: int) -> None:
        self._scroll_to_cursor()
        self.refresh_line(old - self.top + 1)
        self.refresh_line(new - self.top + 1)
        sid = self.current_id()
        if sid != self._last_sid:
            self._last_sid = sid
            self.post_message(self.Highlighted(sid))

    def _scroll_to_cursor(self) -> None:
        body, top = self._body(), self.top
        if self.cursor < top:
            self._set_top(self.cursor)
        elif self.cursor >= top + body:
            self._set_top(self.cursor - body + 1)

    # -- Textual hooks -------------------------------------------------------------------

    def on_mount(self) -> None:
        self._last_sid = self.current_id()
        self.post_message(self.Highlighted(self._last_sid))

    def on_resize(self) -> None:
        self._set_top(self.top)
        self._scroll_to_cursor()
        self.refresh()

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self._set_top(self.top + 3)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self._set_top(self.top - 3)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def on_click(self, event: events.Click) -> None:
        at = event.get_content_offset(self)
        if at is None or at.y == 0:
            return
        row = self.top + at.y - 1
        if 0 <= row < len(self.rows):
            self.cursor = row
            if at.x < 2:
                self.action_toggle_pick()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y == 0:
            return self._header(width)
        row = self.top + y - 1
        bar = self._scrollbar(y - 1)
        if bar is not None:
            width -= 1
        if row >= len(self.rows):
            strip = Strip.blank(width, self.rich_style)
        else:
            strip = self._row_strip(row, width)
        return strip if bar is None else Strip.join([strip, bar])

    def _scrollbar(self, line: int) -> Strip | None:
        """The scrollbar cell of body line `line` (None: every row fits, no scrollbar)."""
        body, total = self._body(), len(self.rows)
        if total <= body:
            return None
        size = max(1, body * body // total)
        start = (body - size) * self.top // max(1, total - body)
        style = self.get_component_rich_style("statement-list--scrollbar")
        return Strip([Segment(THUMB if start <= line < start + size else TRACK, style)], 1)

    # -- drawing -------------------------------------------------------------------------

    def _columns(self, width: int) -> int:
        """Width left for the text after the marker, the id and P(s) and their gaps."""
        used = 2 + self._id_width + 2 + (P_WIDTH + 1 if self.show_p else 0)
        return max(0, width - used)

    def _header(self, width: int) -> Strip:
        style = self.get_component_rich_style("statement-list--header")
        cells = f"  {'id'.ljust(self._id_width)}  "
        if self.show_p:
            cells += f"{'P(s)':<{P_WIDTH}} "
        cells += "statement"
        return Strip([Segment(cells, style)]).crop_extend(0, width, style)

    def _row_strip(self, row: int, width: int) -> Strip:
        i = self.rows[row]
        s = self.statements[i]
        base = self.rich_style
        if row % 2:
            base = self.get_component_rich_style("statement-list--even-row")
        if row == self.cursor:
            base = self.get_component_rich_style("statement-list--cursor")
        mark_style = base + self.get_component_rich_style("statement-list--mark", partial=True)
        picked = s.id in self.picked
        segs = [
            Segment(MARK if picked else " ", mark_style),
            Segment(f" {s.id.ljust(self._id_width)}  ", base),
        ]
        if self.show_p:
            dim = self.get_component_rich_style("statement-list--dim", partial=True)
            segs.append(Segment(self._ps[i] + " ", base + dim if s.p is None else base))
        segs.append(Segment(self._lines[i][: self._columns(width)], base))
        return Strip(segs).crop_extend(0, width, base)

    def _refresh_sid(self, sid: str) -> None:
        """Repaint the line of one statement, if it is on screen."""
        row = self._row_of(sid)
        if row is not None:
            self.refresh_line(row - self.top + 1)

    def refresh_line(self, y: int) -> None:
        """Repaint one line of the widget (no layout)."""
        if 0 <= y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    # -- actions -------------------------------------------------------------------------

    def action_move(self, delta: int) -> None:
        self.cursor += delta

    def action_page(self, direction: int) -> None:
        self.cursor += direction * max(1, self._body() - 1)

    def action_jump(self, where: int) -> None:
        self.cursor = 0 if where == 0 else len(self.rows) - 1

    def action_toggle_pick(self) -> None:
        sid = self.current_id()
        if sid is None:
            return
        if sid in self.picked:
            self.picked.remove(sid)
        elif len(self.picked) >= self.max_pick:
            self.notify(
                f"the oracle answers at most {self.max_pick} statements at once",
                severity="warning",
            )
            return
        else:
            self.picked.append(sid)
        self._refresh_sid(sid)
        self.post_message(StatementsPicked(list(self.picked)))

    def action_clear(self) -> None:
        old, self.picked = self.picked, []
        for sid in old:
            self._refresh_sid(sid)
        self.post_message(StatementsPicked([]))


class Detail(Widget):
    """A fixed-size line that shows one statement in full.

    Unlike `Static.update`, changing it repaints only itself (no layout of the screen),
    which keeps cursor moves over 400 rows fast.
    """

    text: reactive[RenderableType] = reactive[RenderableType]("", layout=False)

    def render(self) -> RenderableType:
        return self.text


class SearchInput(Input):
    """The search field: each change of its text filters the list at once, in the same
    frame as the typed character (no `Changed` round trip, no second repaint)."""

    def __init__(self, on_change: Callable[[str], None], **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self._on_change = on_change

    def watch_value(self, value: str) -> None:
        self._on_change(value)
