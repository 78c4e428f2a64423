"""`SessionFlow`: one session of the game, from its first round to its end.

Which round comes next, whether it is the last, and when the session is closed are
decided here and nowhere else. The app starts a flow (a new session, a practice round, a
resumed session); the flow shows `LoadingScreen` -> `RoundScreen` -> `RevealScreen` with
`push_screen(…, callback)`, and each screen hands back what happened with `dismiss`: the
screens only show, and never import one another. Store writes run in thread workers owned
by the app, so a database held by another process (30 s busy timeout) never freezes the UI.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import partial
from typing import Any

from pydantic import ValidationError
from textual.screen import Screen

from latent.errors import PzJudgeError
from tui.app_base import AppBase
from tui.errors import error_line
from tui.game import Reveal, Round, SessionRun, SessionSettings, preset
from tui.game_store import GameStore
from tui.screens.judging import RoundScreen
from tui.screens.loading import LoadingScreen
from tui.screens.resume import ResumeScreen
from tui.screens.reveal import RevealScreen


def new_settings(app: AppBase, name: str, **over: Any) -> SessionSettings:
    """The settings of a new session from preset `name` with `over` changed: this app's
    judge, and its seed (or a fresh one). Raises ValidationError or DebateError."""
    over.setdefault("judge", app.judge)
    # A seed the player chose lets them deal the rounds headless and read the truth first:
    # such sessions are marked, so a study or an analysis can leave them out.
    over["seed_known"] = "seed" in over or app.seed is not None
    over.setdefault("seed", app.seed if app.seed is not None else random.randrange(1, 10**6))
    return preset(name, **over)


class SessionFlow:
    """A session being played: its rounds in order, the last one, and its end."""

    def __init__(self, app: AppBase, store: GameStore, run: SessionRun) -> None:
        self.app = app
        self.store = store
        self.run = run

    # -- how a session begins --------------------------------------------------------------

    @classmethod
    def start(
        cls, app: AppBase, name: str, replace: Screen[Any] | None = None, **over: Any
    ) -> None:
        """Open a new session in the store (in a worker) and play its first round; the
        screen `replace` (the setup), if still on top, makes way for it. A failure is one
        notice, and nothing changes on screen."""
        store = app.game_store
        if _opening(app):
            return
        if store is None:
            app.notify(
                "no database: cannot record a session (see the notice above)", severity="error"
            )
            return
        try:
            settings = new_settings(app, name, **over)
        except (PzJudgeError, ValidationError) as exc:
            app.notify(error_line(exc), severity="error")
            return

        def opened(session_id: int) -> None:
            if replace is not None and app.screen is replace:
                app.pop_screen()
            cls(app, store, SessionRun(settings=settings, session_id=session_id)).play()

        _in_thread(app, lambda: store.start_session(settings), opened)

    @classmethod
    def resume(cls, app: AppBase, session: dict[str, Any], chooser: Screen[Any]) -> None:
        """Go on with an unfinished `session` (a row of `GameStore.unfinished`): its open
        round, else the next one; a session with every round played is closed instead.
        The list it was chosen from (`chooser`) makes way, or lists again."""
        store = app.game_store

        def again() -> None:
            if isinstance(chooser, ResumeScreen):
                chooser.load()

        if store is None or _opening(app):
            again()
            return
        try:
            settings = SessionSettings.model_validate(session["settings"] or {})
        except ValidationError:
            app.notify("this session's settings cannot be read; end it (d)", severity="error")
            again()
            return
        sid = session["id"]

        def decide() -> tuple[SessionRun, dict[str, Any] | None] | None:
            open_rounds = store.open_rounds(sid)
            if open_rounds:
                pub = open_rounds[-1]
                run = SessionRun(
                    settings=settings,
                    session_id=sid,
                    number=pub["number"],
                    answered=session["answered"],
                )
                return run, pub
            number = (session["rounds"] or 0) + 1
            if number > settings.rounds:
                store.end_session(sid)
                return None
            return SessionRun(settings=settings, session_id=sid, number=number), None

        def decided(what: tuple[SessionRun, dict[str, Any] | None] | None) -> None:
            if what is None:
                app.notify("that session was complete; it is closed now")
                again()
                return
            run, open_round = what
            if app.screen is chooser:
                app.pop_screen()
            cls(app, store, run).play(open_round)

        _in_thread(app, decide, decided, on_error=again)

    # -- a round: Loading -> Round -> Reveal -----------------------------------------------

    def play(self, open_round: dict[str, Any] | None = None) -> None:
        """Deal round `run.number` (or restore `open_round`, as the store keeps it)."""
        self.app.push_screen(LoadingScreen(self.run, open_round), self._dealt)

    def _dealt(self, rnd: Round | None) -> None:
        if rnd is not None:  # None: it failed (already said) or the judge went back
            self.app.push_screen(RoundScreen(self.run, rnd), partial(self._answered, rnd))

    def _answered(self, rnd: Round, reveal: Reveal | None) -> None:
        if reveal is None:  # the judge left the round (kept open or abandoned)
            return
        self.run.answered += 1
        if self.last:
            self.end()
        self.app.push_screen(RevealScreen(self.run, rnd, reveal, last_round=self.last), self._next)

    def _next(self, go_on: bool | None) -> None:
        if go_on and not self.last:
            self.run = self.run.model_copy(update={"number": self.run.number + 1})
            self.play()

    # -- the end ---------------------------------------------------------------------------

    @property
    def last(self) -> bool:
        """The round at hand is the session's last."""
        return self.run.number >= self.run.settings.rounds

    def end(self) -> None:
        """Close the session in the store (it no longer shows up for resume)."""
        sid = self.run.session_id
        _in_thread(self.app, lambda: self.store.end_session(sid), lambda _: None, group="end")


def _in_thread(
    app: AppBase,
    write: Callable[[], Any],
    then: Callable[[Any], None],
    on_error: Callable[[], None] | None = None,
    group: str = "open",
) -> None:
    """Run `write` (a store call) in a thread worker of the app, then `then(result)` on the
    UI thread; a PzJudgeError (the store's, the rules') is one notice (and `on_error`)."""

    def work() -> None:
        try:
            result = write()
        except PzJudgeError as exc:
            app.call_from_thread(app.notify, error_line(exc), severity="error")
            if on_error is not None:
                app.call_from_thread(on_error)
            return
        app.call_from_thread(then, result)

    app.run_worker(work, thread=True, exit_on_error=False, group=group)


def _opening(app: AppBase) -> bool:
    """A session is being opened (one at a time: a key pressed twice opens one)."""
    return any(w.group == "open" and not w.is_finished for w in app.workers)
