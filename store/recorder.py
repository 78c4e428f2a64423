"""Headless debates committed as they happen, like a played round.

`pzjudge debate` and `pzjudge tournament` hand a `DebateRecorder` the engine's events: the
round is opened when the debate starts, each turn and each credence is committed the
moment it is made, and the judgement when the judge answers. A run that is killed keeps
every turn it made; its open round is marked abandoned by the next headless run
(`Store.abandon_orphans`), never silently dropped.
"""

from __future__ import annotations

import os
import socket
import time
from typing import TYPE_CHECKING, Any

from store.db import Store
from store.errors import StoreError

if TYPE_CHECKING:
    from debate.engine import DebateResult


def run_marker() -> dict[str, Any]:
    """Which process runs a headless session (stored in its settings as "run")."""
    return {"pid": os.getpid(), "host": socket.gethostname()}


class DebateRecorder:
    """Follows one debate's events into the store (a tournament's `Watcher`)."""

    def __init__(
        self,
        store: Store,
        *,
        world_json: str | None,
        kind: str = "debate",
        settings: dict[str, Any] | None = None,
        seed: int | None = None,
    ) -> None:
        self.store = store
        self.world_json = world_json
        self.kind = kind
        self.settings = {**(settings or {}), "run": run_marker()}
        self.seed = seed
        self.session_id: int | None = None
        self.round_id: int | None = None

    def on_event(self, event: dict[str, Any]) -> None:
        """Commit what the event says happened (called by the engine, in order)."""
        kind = event.get("kind")
        if kind == "started":
            self.session_id, self.round_id = self.store.begin_debate(
                event,
                world_json=self.world_json,
                kind=self.kind,
                settings=self.settings,
                seed=self.seed,
            )
        elif self.round_id is None:
            return
        elif kind == "turn":
            self.store.add_turn(self.round_id, event["turn"])
        elif kind == "credence":
            at = event.get("at", time.time())
            self.store.add_credence(self.round_id, event["after_turn"], event["credence_a"], at)

    def on_result(self, result: DebateResult) -> None:
        """Commit the judgement and close the session."""
        if self.round_id is None:
            raise StoreError("the debate ended before it started; nothing was recorded")
        self.store.finish_debate(self.round_id, result, end_session=self.session_id)

    def on_error(self, exc: BaseException) -> None:
        """The debate could not finish: keep its turns, mark the round abandoned."""
        if self.round_id is None or self.session_id is None:
            return
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        self.store.abandon_round(self.round_id, f"the debate stopped: {reason}"[:500])
        self.store.end_session(self.session_id)
