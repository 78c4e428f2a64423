"""`WaitScreen`: a line and a spinner while the next thing is prepared in a worker."""

from __future__ import annotations

from typing import ClassVar, TypeVar

from textual.app import ComposeResult
from textual.containers import Center, Middle
from textual.screen import Screen
from textual.widgets import Header, LoadingIndicator, Static

from tui.widgets.keybar import KeyBar

ResultT = TypeVar("ResultT")


class WaitScreen(Screen[ResultT]):
    """One line saying what is being prepared, and a spinner, while `prepare` runs in a
    worker (started when the screen is mounted)."""

    #: The app's header above (the study's pages have none).
    SHOW_HEADER: ClassVar[bool] = True

    def waiting_for(self) -> str:
        """What is being prepared, in a few words."""
        raise NotImplementedError

    def prepare(self) -> object:
        """The slow part: a thread worker in a subclass, reporting back by messages."""
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        if self.SHOW_HEADER:
            yield Header()
        with Middle(), Center():
            yield Static(self.waiting_for(), id="loading-text")
            yield LoadingIndicator()
        yield KeyBar()

    def on_mount(self) -> None:
        self.prepare()
