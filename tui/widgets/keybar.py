"""The key bar: the keys that work right now, drawn as one line of text.

Textual's `Footer` rebuilds one widget per key every time focus or bindings change (a
tab switch did that four times, ~200 ms with 400 statements on screen). This bar is a
single widget that repaints in place, so it costs a text render, never a layout.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import events
from textual.widget import Widget


class KeyBar(Widget):
    """One line: `key what` for every shown, active binding; a click presses the key."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"keybar--key"}
    DEFAULT_CSS = """
    KeyBar {
        height: 1;
        width: 1fr;
        dock: bottom;
        background: $footer-background;
        color: $footer-description-foreground;
    }
    KeyBar > .keybar--key {
        color: $footer-key-foreground;
        background: $footer-key-background;
        text-style: bold;
    }
    """

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        #: (start, end, key) of each drawn key, for clicks.
        self._spans: list[tuple[int, int, str]] = []

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, _screen: object) -> None:
        self.refresh()

    def render(self) -> Text:
        out = Text(no_wrap=True, overflow="ellipsis")
        spans: list[tuple[int, int, str]] = []
        seen: set[str] = set()
        key_style = self.get_component_rich_style("keybar--key", partial=True)
        for _node, binding, enabled, _tip in self.screen.active_bindings.values():
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            start = len(out)
            out.append(f" {self.app.get_key_display(binding)} ", style=key_style)
            out.append(f"{binding.description} ")
            if not enabled:
                out.stylize("dim", start)
            spans.append((start, len(out), binding.key.split(",")[0]))
        self._spans = spans
        return out

    def on_click(self, event: events.Click) -> None:
        for start, end, key in self._spans:
            if start <= event.x < end:
                self.app.simulate_key(key)
                return
