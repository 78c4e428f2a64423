"""The statements of Z: a searchable table in id order, with a selection for the oracle."""

from __future__ import annotations

from typing import ClassVar

from rich.console import RenderableType
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import DataTable

from debate.protocol import StatementView
from tui.estimate import fmt_p
from tui.messages import StatementsPicked


class StatementTable(DataTable[str | Text]):
    """Statements sorted by id (ids are opaque and shuffled; the order reveals nothing).

    Space toggles a statement in the selection the oracle will be asked about; the filter
    keeps rows whose id or text contains every typed word.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle", "pick", show=True),
        Binding("x", "clear", "clear selection", show=False),
    ]

    def __init__(self, statements: list[StatementView], max_pick: int, **kw: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kw)  # type: ignore[arg-type]
        self.statements = sorted(statements, key=lambda s: s.id)
        self.by_id = {s.id: s for s in self.statements}
        self.max_pick = max_pick
        self.picked: list[str] = []
        self.filter = ""
        self.show_p = any(s.p is not None for s in statements)

    def on_mount(self) -> None:
        self.add_column(" ", key="mark", width=1)
        self.add_column("id", key="id")
        if self.show_p:
            self.add_column("P(s)", key="p", width=7)
        self.add_column("statement", key="text")
        self.refill()

    def _row(self, s: StatementView) -> list[str | Text]:
        mark = Text("●", style="bold") if s.id in self.picked else Text(" ")
        cells: list[str | Text] = [mark, s.id]
        if self.show_p:
            cells.append(fmt_p(s.p))
        cells.append(Text(s.text))
        return cells

    def visible(self) -> list[StatementView]:
        words = self.filter.lower().split()
        if not words:
            return self.statements
        return [s for s in self.statements if all(w in f"{s.id} {s.text}".lower() for w in words)]

    def refill(self) -> None:
        """Rebuild the rows for the current filter."""
        self.clear()
        for s in self.visible():
            self.add_row(*self._row(s), key=s.id)

    def set_filter(self, text: str) -> None:
        self.filter = text
        self.refill()

    def current_id(self) -> str | None:
        if self.row_count == 0:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        return str(key.value) if key.value is not None else None

    def action_toggle(self) -> None:
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
        self.update_cell(sid, "mark", self._row(self.by_id[sid])[0])
        self.post_message(StatementsPicked(list(self.picked)))

    def action_clear(self) -> None:
        old, self.picked = self.picked, []
        for sid in old:
            if sid in self.rows:
                self.update_cell(sid, "mark", Text(" "))
        self.post_message(StatementsPicked([]))


class Detail(Widget):
    """A fixed-size line that shows one statement in full.

    Unlike `Static.update`, changing it repaints only itself (no layout of the screen),
    which keeps cursor moves over 400 rows fast.
    """

    text: reactive[RenderableType] = reactive[RenderableType]("", layout=False)

    def render(self) -> RenderableType:
        return self.text
