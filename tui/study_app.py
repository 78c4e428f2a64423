"""`pzjudge play --study STUDY.db`: the game as a participant takes a study.

The same app (styles, themes, notifications, worker failures) without the game's menu,
setup, store or reveal: a participant gives a code, reads the instructions and consent,
judges their rounds in the study's order under its conditions, and gets a completion code
(tui/screens/study.py, tui/screens/study_round.py). Everything is stored in the study
database; nothing goes to the game's store.
"""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Markdown

from tui.app_base import AppBase
from tui.screens.help import ESTIMATES, WORDS, HelpScreen, round_keys
from tui.screens.study import CodeScreen, ItemReady

KEYS = f"""\
# Keys

Everything about a round is set by the study: you cannot change the statements, the
debaters, the oracle's budget or the time limit.

{round_keys("quit for now (come back with your code)", game=False)}

{ESTIMATES}

{WORDS}
"""


class StudyHelp(HelpScreen):
    """The keys of a study round (no menu, setup or reveal keys)."""

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(KEYS)


class StudyApp(AppBase):
    """A participant taking one study (no menu, no setup, no seed, no reveal)."""

    SUB_TITLE = "a study"
    # a locked study offers nothing to choose: no palette (ctrl+p) either
    ENABLE_COMMAND_PALETTE = False

    def __init__(
        self, study_path: str | Path, participant: str | None = None, title: str = "a study"
    ) -> None:
        super().__init__(judge="participant")
        self.study_path = Path(study_path)
        self.study_title = title
        self._given = participant

    def on_mount(self) -> None:
        # no game store and no home screen: the study database is opened per call
        self.title = "pzjudge study"
        screen = CodeScreen(self.study_title, str(self.study_path))
        self.push_screen(screen)
        if self._given is not None:
            screen.checking = True
            screen.check(self._given)  # a code given on the command line: straight on

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(StudyHelp())

    @on(ItemReady)
    def _round(self, event: ItemReady) -> None:
        """A round is dealt (by the loading screen): show it, under its condition (a mimic
        item on the mimic screen of a study)."""
        from store.study_ops import StudyMimicItem

        if isinstance(event.item, StudyMimicItem):
            from tui.screens.study_mimic import StudyMimicScreen

            self.switch_screen(StudyMimicScreen(event.seat, event.item))
            return
        from tui.screens.study_round import StudyRoundScreen

        self.switch_screen(StudyRoundScreen(event.seat, event.item))


def check_participant(study_path: str, participant: str | None) -> str:
    """The study's title, after checking that the database opens and the code (if given)
    is one of its participants; a one-line StoreError otherwise."""
    from store.study import StudyDB

    with StudyDB(study_path) as db:
        if participant is not None:
            db.participant(participant)
        return str(db.meta().get("title", "a study"))


def run_study(study_path: str, participant: str | None = None) -> None:
    """Start a participant's session (the body of `pzjudge play --study`)."""
    title = check_participant(study_path, participant)
    StudyApp(study_path, participant, title).run()
