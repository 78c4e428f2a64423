"""Settings: judge name and theme, remembered between runs (tui/user_settings.py; the
database is chosen with --db or PZJUDGE_DB)."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical
from textual.screen import Screen
from textual.widgets import Header, Input, Label, Static, Switch

from tui.app_base import app_of
from tui.widgets.keybar import KeyBar


class SettingsScreen(Screen[None]):
    """Changes apply at once; esc goes back."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "app.pop_screen", "back")]

    def compose(self) -> ComposeResult:
        app = app_of(self)
        store = app.game_store
        yield Header()
        with Vertical(id="settings"):
            with Grid(id="settings-grid"):
                yield Label("judge name")
                yield Input(value=app.judge, id="judge-name", compact=True)
                yield Label("dark theme")
                yield Switch(value=app.theme != "textual-light", id="dark")
            yield Static(
                f"database: {store.path if store else '(none)'}\n"
                "[dim]choose another with `pzjudge play --db FILE` or PZJUDGE_DB[/dim]"
            )
        yield KeyBar()

    @on(Input.Changed, "#judge-name")
    def _judge_name(self, event: Input.Changed) -> None:
        name = event.value.strip()
        if 0 < len(name) <= 100:
            app = app_of(self)
            app.judge = name
            app.remember(judge=name)
            event.input.remove_class("-bad")
        else:
            event.input.add_class("-bad")

    @on(Switch.Changed, "#dark")
    def _dark(self, event: Switch.Changed) -> None:
        app = app_of(self)
        app.theme = "textual-dark" if event.value else "textual-light"
        app.remember(theme=app.theme)
