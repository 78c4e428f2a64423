"""Debates committed as they happen: one way for the game and headless runs.

`TurnRecorder` commits each turn and each credence of the engine's events the moment it is
made, into a round already open (the game opens it when the round is dealt).
`pzjudge debate` and `pzjudge tournament` hand a `DebateRecorder` the engine's events: it
opens the round when the debate starts, then records like the game, and commits the
judgement when the judge answers. A run that is killed keeps every turn it made; its open
round is marked abandoned by the next headless run (`Store.abandon_orphans`), never
silently dropped.
"""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Any, Protocol

from debate.events import CredenceEvent, DebateStartedEvent, Event, PublicEvent, TurnEvent
from store.db import Store
from store.errors import StoreError

if TYPE_CHECKING:
    from debate.engine import DebateResult
    from debate.protocol import Turn


class TurnSink(Protocol):
    """Where turns and credences go (`Store`, or the game's `GameStore`)."""

    def add_turn(self, round_id: int, turn: Turn) -> object: ...

    def add_credence(
        self, round_id: int, after_turn: int, credence_a: float, at: float
    ) -> None: ...


def run_marker() -> dict[str, Any]:
    """Which process runs a headless session (stored in its settings as "run")."""
    return {"pid": os.getpid(), "host": socket.gethostname()}


class TurnRecorder:
    """Commits the turns and credences of a debate in an open round, as they are made."""

    def __init__(self, sink: TurnSink, round_id: int | None = None) -> None:
        self.sink = sink
        self.round_id = round_id

    def on_event(self, event: PublicEvent) -> None:
        """Commit what the event says happened (called by the engine, in order)."""
        if self.round_id is None:
            return
        if isinstance(event, TurnEvent):
            self.sink.add_turn(self.round_id, event.turn)
        elif isinstance(event, CredenceEvent):
            self.sink.add_credence(self.round_id, event.after_turn, event.credence_a, event.at)


class DebateRecorder(TurnRecorder):
    """Follows one headless debate's events into the store (a tournament's `Watcher`)."""

    def __init__(
        self,
        store: Store,
        *,
        world_json: str | None,
        kind: str = "debate",
        settings: dict[str, Any] | None = None,
        seed: int | None = None,
        debate_id: str | None = None,
    ) -> None:
        super().__init__(store)
        self.store = store
        self.debate_id = debate_id
        self.world_json = world_json
        self.kind = kind
        self.settings = {**(settings or {}), "run": run_marker()}
        self.seed = seed
        self.session_id: int | None = None

    def on_event(self, event: Event) -> None:
        """Open the round when the debate starts; then record as `TurnRecorder`. Hand it
        to `run_debate(on_record=…)`: it needs the head of the debate."""
        if isinstance(event, DebateStartedEvent):
            self.session_id, self.round_id = self.store.begin_debate(
                event,
                world_json=self.world_json,
                kind=self.kind,
                settings=self.settings,
                seed=self.seed,
            )
        else:
            super().on_event(event)

    def on_result(self, result: DebateResult) -> None:
        """Commit the judgement and close the session."""
        if self.round_id is None:
            raise StoreError("the debate ended before it started; nothing was recorded")
        self.store.finish_debate(
            self.round_id, result, end_session=self.session_id, debate_id=self.debate_id
        )

    def on_error(self, exc: BaseException) -> None:
        """The debate could not finish: keep its turns, mark the round abandoned."""
        if self.round_id is None or self.session_id is None:
            return
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        self.store.abandon_round(self.round_id, f"the debate stopped: {reason}"[:500])
        self.store.end_session(self.session_id)
