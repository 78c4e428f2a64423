"""Tabs that switch without a layout: a drawn tab bar and panes stacked in a scroller.

Textual's `TabbedContent` hides and shows panes: every switch lays out the screen again
(~20 ms with 400 statements on screen), then the show, hide and resize events it fires
repaint the tabs, the scrollbars and the key bar in a second frame ~35 ms later. Here
every pane keeps its place and size: `Pages` stacks them, each as tall as itself, and
shows one by scrolling to it (a scroll reflows only what is on screen, and sends no
events); `TabBar` is one widget that repaints its labels and underline in place.
"""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import events
from textual.containers import Container
from textual.message import Message
from textual.widget import Widget


class TabBar(Widget):
    """The tab labels on one line, the active one underlined on the next; a click picks."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"tab-bar--tab", "tab-bar--active", "tab-bar--bar"}
    DEFAULT_CSS = """
    TabBar {
        height: 2;
        width: 1fr;
        & > .tab-bar--tab {
            color: $foreground 50%;
        }
        & > .tab-bar--active {
            color: $foreground;
        }
        & > .tab-bar--bar {
            color: $block-cursor-background;
            background: $foreground 10%;
        }
        &:ansi {
            & > .tab-bar--tab {
                text-style: dim;
            }
            & > .tab-bar--active {
                text-style: not dim bold;
            }
            & > .tab-bar--bar {
                background: $border-blurred;
            }
        }
    }
    """

    class Clicked(Message):
        """A tab label was clicked."""

        def __init__(self, tab: str) -> None:
            super().__init__()
            self.tab = tab

    def __init__(self, tabs: list[tuple[str, str]], **kw: object) -> None:
        """`tabs`: (id, label) in order; the first is active."""
        super().__init__(**kw)  # type: ignore[arg-type]
        self.tabs = tabs
        self.active = tabs[0][0]

    def set_active(self, tab: str) -> None:
        """Underline `tab` (a repaint of this widget, nothing else)."""
        if tab != self.active:
            self.active = tab
            self.refresh()

    def _spans(self) -> list[tuple[int, int, str]]:
        """(start, end, id) of each label, one cell of padding each side included."""
        spans, x = [], 0
        for tab, label in self.tabs:
            width = cell_len(label) + 2
            spans.append((x, x + width, tab))
            x += width
        return spans

    def render(self) -> Text:
        tab_style = self.get_component_rich_style("tab-bar--tab", partial=True)
        active_style = self.get_component_rich_style("tab-bar--active", partial=True)
        bar = self.get_component_rich_style("tab-bar--bar")
        back = Style(color=bar.bgcolor)
        out = Text(no_wrap=True, overflow="crop", end="")
        start = end = 0
        for (tab, label), (left, right, _) in zip(self.tabs, self._spans(), strict=True):
            active = tab == self.active
            out.append(f" {label} ", style=active_style if active else tab_style)
            if active:
                start, end = left + 1, right - 1
        width = self.size.width
        out.append("\n")
        # the label's cells in the bar colour; the rest dim, with half bars at its ends
        if start > 0:
            out.append("━" * (start - 1) + "╸", style=back)
        out.append("━" * (end - start), style=Style(color=bar.color))
        if end < width:
            out.append("╺" + "━" * (width - end - 1), style=back)
        return out

    def on_click(self, event: events.Click) -> None:
        for left, right, tab in self._spans():
            if left <= event.x < right:
                self.post_message(self.Clicked(tab))
                return


class Pages(Container):
    """Panes one under another, each the full height of this; one is shown at a time.

    Showing a pane scrolls to it. The scroll offset is set here only (`overflow: hidden`
    keeps focus, the mouse and `scroll_visible` from moving it)."""

    DEFAULT_CSS = """
    Pages {
        layout: vertical;
        overflow: hidden hidden;
        height: 1fr;
        & > * {
            height: 100%;
        }
    }
    """

    def __init__(self, *children: Widget, **kw: object) -> None:
        super().__init__(*children, **kw)  # type: ignore[arg-type]
        self.active = ""

    def show(self, pane: str) -> None:
        """Scroll to the pane with id `pane`."""
        self.active = pane
        self._align()

    def pane_of(self, widget: Widget) -> str | None:
        """The id of the pane holding `widget` (None: not in a pane)."""
        node: Widget | None = widget
        while node is not None and node.parent is not self:
            parent = node.parent
            node = parent if isinstance(parent, Widget) else None
        return None if node is None else node.id

    def _align(self) -> None:
        ids = [child.id for child in self.children]
        if self.active not in ids:
            return
        y = ids.index(self.active) * self.size.height
        if self.scroll_y != y:
            self.scroll_to(y=y, animate=False, force=True, immediate=True)

    def on_resize(self) -> None:
        self._align()
