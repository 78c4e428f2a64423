"""`PagedScreen`: a screen of panes under a tab bar (`TabBar` over `Pages`), where a tab
switch moves the focus and shows the pane in one frame."""

from __future__ import annotations

from contextlib import ExitStack
from typing import TypeVar

from textual import events, on
from textual.screen import Screen
from textual.widget import Widget

from tui.widgets.keybar import KeyBar
from tui.widgets.pages import Pages, TabBar

#: The longest a tab switch holds the screen's updates, in seconds.
HOLD = 0.03

ResultT = TypeVar("ResultT")


class PagedScreen(Screen[ResultT]):
    """Panes in `Pages`, named in a `TabBar`; focus decides which pane is shown."""

    #: Screen updates held during a tab switch (see `_hold_frame`).
    _hold: ExitStack | None = None

    def action_tab(self, tab: str) -> None:
        """Go to pane `tab` (a subclass says which of its widgets takes the focus)."""
        raise NotImplementedError

    def show_tab(self, tab: str, widget: Widget) -> None:
        """Focus `widget`, then scroll to its pane `tab`: nothing changes size, so no
        layout. The Blur and Focus events repaint the two widgets a few ms later, in other
        tasks: hold the frame until they are handled, so that the switch is drawn once."""
        if widget is not self.focused:
            self._hold_frame()
        self.set_focus(widget, scroll_visible=False)
        self._show_pane(tab)

    def _show_pane(self, tab: str) -> None:
        self.query_one(Pages).show(tab)
        self.query_one(TabBar).set_active(tab)
        self.query_one(KeyBar).refresh_now()

    @on(TabBar.Clicked)
    def _tab_clicked(self, event: TabBar.Clicked) -> None:
        self.action_tab(event.tab)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """Focus moved into another pane (tab key, a click): show that pane."""
        pages = self.query_one(Pages)
        pane = pages.pane_of(event.widget)
        if pane is not None and pane != pages.active:
            self._show_pane(pane)
        self._release_frame()

    def _hold_frame(self) -> None:
        """Draw nothing until the focus has moved (or HOLD seconds, whichever is first)."""
        if self._hold is not None:
            return
        self._hold = ExitStack()
        self._hold.enter_context(self.app.batch_update())
        self.set_timer(HOLD, self._release_frame)

    def _release_frame(self) -> None:
        if self._hold is not None:
            hold, self._hold = self._hold, None
            hold.close()
            self.check_idle()  # the screen draws what was refreshed meanwhile
