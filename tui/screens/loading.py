"""Between rounds: the world is generated and P(Z) computed *before* the round is shown,
so how long the judge waits says nothing about the answer. The round is handed back with
`dismiss` (None: it failed, and a notice said why, or the judge went back)."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on, work
from textual.binding import BindingType
from textual.widgets import Static

from latent.errors import PzJudgeError
from store.errors import StoreError
from tui.app_base import app_of
from tui.errors import error_line
from tui.game import Round, SessionRun, prepare_round, resume_round
from tui.messages import RoundFailed, RoundReady
from tui.screens.waiting import WaitScreen


class LoadingScreen(WaitScreen[Round | None]):
    """Prepares round `run.number` (or rebuilds a stored open round) in a worker."""

    BINDINGS: ClassVar[list[BindingType]] = [("escape", "back", "back")]

    def __init__(self, run: SessionRun, resume: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.run = run
        self.resume = resume

    def waiting_for(self, worded: tuple[int, int] | None = None) -> str:
        s = self.run.settings
        what = "Restoring" if self.resume else "Generating"
        line = f"{what} round {self.run.number} of {s.rounds}: {s.statements} statements, "
        if worded is not None:
            return line + f"{s.decoder} words them ({worded[0]}/{worded[1]})…"
        return line + "computing P(Z)…"

    def _worded(self, done: int, total: int) -> None:
        """Progress of an LLM decoder (called from the worker's thread)."""
        text = self.waiting_for((done, total))

        def show() -> None:
            if self.is_mounted:  # the judge may have gone back meanwhile
                self.query_one("#loading-text", Static).update(text)

        self.app.call_from_thread(show)

    @work(thread=True, exit_on_error=False, group="prepare")
    def prepare(self) -> None:
        store = app_of(self).game_store
        try:
            if store is None:
                raise StoreError("no database: nothing would be saved")
            if self.resume is not None:
                secret = store.round_secret(self.resume["id"])
                rnd = resume_round(self.run.settings, self.resume, secret)
            else:
                rnd = prepare_round(
                    self.run.settings,
                    self.run.number,
                    store,
                    self.run.session_id,
                    on_progress=self._worded,
                )
        except PzJudgeError as exc:
            self.post_message(RoundFailed(error_line(exc)))
        else:
            self.post_message(RoundReady(rnd))

    @on(RoundReady)
    def _ready(self, event: RoundReady) -> None:
        if isinstance(event.round, Round) and event.round.decoder_note:
            self.app.notify(event.round.decoder_note, severity="warning", timeout=10)
        self.dismiss(event.round)

    @on(RoundFailed)
    def _failed(self, event: RoundFailed) -> None:
        self.app.notify(event.message, title="cannot start the round", severity="error", timeout=10)
        self.dismiss(None)

    def action_back(self) -> None:
        self.workers.cancel_group(self, "prepare")
        self.dismiss(None)
