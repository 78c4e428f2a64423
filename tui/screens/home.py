"""The front door: play, resume, practice, stats, settings, quit — and what the game is."""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Header, OptionList, Static
from textual.widgets.option_list import Option

from tui.app_base import app_of
from tui.messages import StartSession
from tui.widgets.keybar import KeyBar

INTRO = """\
[b]Each round shows you a set of statements.[/b] Estimate the chance that [i]all[/i] of them \
are true at once: P(Z). You may ask an oracle for the joint probability of a few \
statements at a time, and two debaters argue, one honest, one lying — by inference, \
never about a cited number.

[b]Why it is hard:[/b] a four-sided die is thrown. "It shows 1 or 2", "1 or 3", \
"2 or 3": each is 1/2, every pair is 1/4 — they look independent — yet all three \
together are impossible. Looking at pairs, you would say 1/8.\
"""

MENU = [
    ("play", "Play a session", "p"),
    ("resume", "Resume an unfinished session", "r"),
    ("practice", "Practice round (not counted in stats)", "t"),
    ("mimic", "Mimic round: forecast a fine-tuned model", "m"),
    ("stats", "Stats and export", "s"),
    ("settings", "Settings", "e"),
    ("quit", "Quit", "q"),
]


class HomeScreen(Screen[None]):
    """The menu, with a few sentences and one worked example for a first visit."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(key, f"choose('{ident}')", label.split(" ")[0].lower(), show=False)
        for ident, label, key in MENU
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="home"):
            yield Static(INTRO, id="intro")
            yield OptionList(
                *[Option(f"[b]{key}[/b]  {label}", id=ident) for ident, label, key in MENU],
                id="menu",
            )
            yield Static("", id="home-status")
        yield KeyBar()

    #: Mimic rounds dealt from this menu (the next seed of a seeded app).
    mimic_played = 0

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self.refresh_status()

    def on_screen_resume(self) -> None:
        self.refresh_status()

    def refresh_status(self) -> None:
        app = app_of(self)
        where = app.game_store.path if app.game_store else f"no store: {app.store_error}"
        self.query_one("#home-status", Static).update(
            f"[dim]judge [b]{escape(app.judge)}[/b] · {escape(str(where))} · ? help · "
            "ctrl+t theme[/dim]"
        )

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.action_choose(str(event.option.id))

    def action_choose(self, what: str) -> None:
        app = app_of(self)
        if what == "quit":
            app.exit()
        elif what == "play":
            from tui.screens.setup import SetupScreen

            app.push_screen(SetupScreen())
        elif what == "practice":
            self.post_message(StartSession("practice", {"practice": True, "rounds": 1}))
        elif what == "mimic":
            from tui.screens.mimic import MimicScreen, next_mimic_seed

            app.push_screen(MimicScreen(next_mimic_seed(app.seed, self.mimic_played)))
            self.mimic_played += 1
        elif what == "resume":
            from tui.screens.resume import ResumeScreen

            app.push_screen(ResumeScreen())
        elif what == "stats":
            from tui.screens.stats import StatsScreen

            app.push_screen(StatsScreen())
        elif what == "settings":
            from tui.screens.settings import SettingsScreen

            app.push_screen(SettingsScreen())
