"""Every probability the judge has seen, once: free, cited, queried; sortable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from tui.estimate import fmt_p

SORTS = ("order", "p", "source", "ids")


@dataclass
class Item:
    ids: list[str]
    p: float
    source: str


class EvidenceTable(DataTable[str | Text]):
    """One row per set of statements; `s` cycles the sort column."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("s", "cycle_sort", "sort", show=True)]

    def __init__(self, **kw: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kw)  # type: ignore[arg-type]
        self.items: dict[str, Item] = {}
        self.sort_by = "order"

    def on_mount(self) -> None:
        self.add_column("statements", key="ids")
        self.add_column("n", key="order", width=2)
        self.add_column("P(all true)", key="p", width=11)
        self.add_column("from", key="source")

    def add(self, ids: list[str], p: float, source: str) -> None:
        key = "&".join(sorted(ids))
        if key in self.items:
            item = self.items[key]
            if source not in item.source.split(", "):
                item.source += f", {source}"
                self.update_cell(key, "source", item.source)
            return
        self.items[key] = Item(sorted(ids), p, source)
        # a Text cell: a str one is read as markup, and ids come from the world file
        self.add_row(Text(" ∩ ".join(sorted(ids))), str(len(ids)), fmt_p(p), source, key=key)
        if self.sort_by != "order":
            self._sort()

    def _sort(self) -> None:
        def key(item_key: str) -> object:
            it = self.items[item_key]
            return {
                "order": (len(it.ids), it.ids),
                "p": (it.p,),
                "source": (it.source, it.ids),
                "ids": (it.ids,),
            }[self.sort_by]

        order = sorted(self.items, key=key)  # type: ignore[arg-type]
        rank = {k: i for i, k in enumerate(order)}
        self.sort("ids", key=lambda cell: rank["&".join(str(cell).split(" ∩ "))])

    def action_cycle_sort(self) -> None:
        self.sort_by = SORTS[(SORTS.index(self.sort_by) + 1) % len(SORTS)]
        self._sort()
        self.notify(f"evidence sorted by {self.sort_by}", timeout=1.5)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        col = str(event.column_key.value)
        self.sort_by = {"ids": "ids", "order": "order", "p": "p", "source": "source"}[col]
        self._sort()
