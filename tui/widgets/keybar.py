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
        #: What was drawn last: (key shown, description, enabled, key) per binding.
        self._drawn: list[tuple[str, str, bool, str]] | None = None

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, _screen: object) -> None:
        self.refresh_now()

    def refresh_now(self) -> None:
        """Repaint if the keys changed: call it right after moving the focus, and the bar
        is in that frame (the screen's signal comes after the frame; it then repaints
        nothing)."""
        if self._keys() != self._drawn:
            self.refresh()

    def _keys(self) -> list[tuple[str, str, bool, str]]:
        keys: list[tuple[str, str, bool, str]] = []
        seen: set[str] = set()
        for _node, binding, enabled, _tip in self.screen.active_bindings.values():
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            shown = self.app.get_key_display(binding)
            keys.append((shown, binding.description, enabled, binding.key.split(",")[0]))
        return keys

    def render(self) -> Text:
        out = Text(no_wrap=True, overflow="ellipsis")
        spans: list[tuple[int, int, str]] = []
        key_style = self.get_component_rich_style("keybar--key", partial=True)
        self._drawn = keys = self._keys()
        for shown, description, enabled, key in keys:
            start = len(out)
            out.append(f" {shown} ", style=key_style)
            out.append(f"{description} ")
            if not enabled:
                out.stylize("dim", start)
            spans.append((start, len(out), key))
        self._spans = spans
        return out

    def on_click(self, event: events.Click) -> None:
        for start, end, key in self._spans:
            if start <= event.x < end:
                self.app.simulate_key(key)
                return
