"""The human judge: the `Judge` protocol, answered from the UI.

`run_debate` runs in a worker thread with its own event loop; this judge is its bridge to
the UI thread. `observe` returns the credence the UI last set and the action asked for
(continue, end the debate, one more round). Built-in debaters answer in milliseconds, so
a `paced` judge waits after each speech until the human asks for the next one; otherwise
credences and "end"/"more" would come too late to matter. `decide` waits on a future the
UI resolves with the submitted `Decision` (an answer given while speeches are still
coming ends the debate at once). Oracle queries the judge asks in the UI are
replayed into the engine's judge oracle, so the engine's evidence and baselines see them.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from debate.protocol import Action, Decision, JudgeView
from debate.verify import Oracle

T = TypeVar("T")


class SpeechClock:
    """Holds each speech back to the next multiple of `quantum` seconds after it began.

    Why: the honest built-in debater rebuts, so it takes a few milliseconds longer per
    speech than a liar, and openings vary by ~0.2 s; a judge watching how long each side
    "speaks" could learn who is honest.  Released on a grid, built-in speeches (well under
    `quantum`) all arrive alike.  One start time per speaker, as the two openings run
    together.  Called in the engine's thread, so holding never blocks the UI; a paced
    debate waits for the human's next key anyway.
    """

    def __init__(self, quantum: float = 0.4) -> None:
        self.quantum = quantum
        self._began: dict[str, float] = {}

    def began(self, speaker: str = "") -> None:
        """`speaker` has started a speech."""
        self._began[speaker] = time.monotonic()

    def hold(self, speaker: str = "") -> None:
        """Sleep until the next multiple of `quantum` since `speaker`'s speech began (at
        least one)."""
        if self.quantum <= 0:
            return
        elapsed = time.monotonic() - self._began.get(speaker, time.monotonic())
        release = max(1, math.ceil(elapsed / self.quantum)) * self.quantum
        if release > elapsed:
            time.sleep(release - elapsed)


class HumanJudge:
    """A judge whose credence, actions and decision come from the UI thread."""

    def __init__(
        self,
        name: str,
        ui_oracle: Oracle | None = None,
        on_deciding: Callable[[], object] | None = None,
        on_waiting: Callable[[], object] | None = None,
        paced: bool = True,
    ) -> None:
        self.name = f"human:{name}"
        self.ui_oracle = ui_oracle
        self.on_deciding = on_deciding
        self.on_waiting = on_waiting
        self.paced = paced
        self._go: asyncio.Future[None] | None = None
        self._lock = threading.Lock()
        self._credence = 0.5
        self._action: Action = "continue"
        self._decision: Decision | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._future: asyncio.Future[Decision] | None = None
        self._task: asyncio.Task[Any] | None = None
        self._replayed = 0
        #: Set when the engine is waiting for the decision.
        self.deciding = threading.Event()

    # -- called from the UI thread -------------------------------------------------------

    def set_credence(self, credence_a: float) -> None:
        with self._lock:
            self._credence = min(1.0, max(0.0, credence_a))

    def request(self, action: Action) -> None:
        """Ask to end the debate (`end`) or for one more round (`more`); goes on at once."""
        with self._lock:
            if self._action != "end":
                self._action = action
        self.proceed()

    def proceed(self) -> None:
        """The human has read the last speech: let the next one come."""
        with self._lock:
            loop, go = self._loop, self._go
        if loop is not None and go is not None:
            _call_soon(loop, _release, go)

    def submit(self, decision: Decision) -> None:
        """The judge's answer: resolves `decide`, or ends the debate and answers at once."""
        with self._lock:
            self._decision = decision
            self._action = "end"
            loop, fut, go = self._loop, self._future, self._go
        if loop is not None:
            # one call: resolving `decide` may end the debate and close its loop at once
            _call_soon(loop, _answer, fut, go, decision)

    def cancel(self) -> None:
        """Stop the debate (the judge left the round); run() then raises CancelledError."""
        with self._lock:
            loop, task = self._loop, self._task
        if loop is not None and task is not None:
            _call_soon(loop, task.cancel)

    # -- the Judge protocol (called in the engine's thread) ------------------------------

    def _replay(self, oracle: Oracle) -> None:
        """Ask the engine's oracle what the judge asked the UI's (same world, same budget)."""
        if self.ui_oracle is None:
            return
        log = list(self.ui_oracle.log)
        for ids, _, _ in log[self._replayed :]:
            # the same world, budget and order: cannot fail, but must never crash the debate
            with contextlib.suppress(Exception):
                oracle.prob(ids)
        self._replayed = len(log)

    async def observe(self, view: JudgeView, oracle: Oracle) -> tuple[float, Action]:
        self._replay(oracle)
        if self.paced:
            with self._lock:
                waiting = self._decision is None and self._action != "end"
                if waiting:
                    self._go = asyncio.get_running_loop().create_future()
                go = self._go
            if waiting and go is not None:
                if self.on_waiting is not None:
                    self.on_waiting()
                await go
        with self._lock:
            action = self._action
            if action == "more":
                # The engine only looks at the action that closes a round (B's speech);
                # keep the request until then.
                last = view.transcript[-1] if view.transcript else None
                if last is None or last.phase != "round" or last.speaker != "b":
                    return self._credence, "continue"
                self._action = "continue"
            return self._credence, action

    async def decide(self, view: JudgeView, oracle: Oracle) -> Decision:
        self._replay(oracle)
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._decision is not None:
                return self._decision
            self._future = loop.create_future()
            fut = self._future
        self.deciding.set()
        if self.on_deciding is not None:
            self.on_deciding()
        decision = await fut
        self._replay(oracle)
        return decision

    def run(self, make: Callable[[], Awaitable[T]]) -> T:
        """Run a coroutine (the debate) to the end on a fresh loop in this thread."""
        loop = asyncio.new_event_loop()
        try:

            async def main() -> T:
                return await make()

            task = loop.create_task(main())
            with self._lock:
                self._loop, self._task = loop, task
            return loop.run_until_complete(task)
        finally:
            with self._lock:
                self._loop = None
            loop.close()


def _call_soon(loop: asyncio.AbstractEventLoop, fn: Callable[..., Any], *args: Any) -> None:
    """Schedule `fn` on the debate's loop from the UI thread; nothing if the debate has just
    ended and closed its loop (the UI's read of the loop and its closing race)."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(fn, *args)


def _answer(
    fut: asyncio.Future[Decision] | None, go: asyncio.Future[None] | None, decision: Decision
) -> None:
    if fut is not None:
        _resolve(fut, decision)
    if go is not None:
        _release(go)


def _resolve(fut: asyncio.Future[Decision], decision: Decision) -> None:
    if not fut.done():
        fut.set_result(decision)


def _release(go: asyncio.Future[None]) -> None:
    if not go.done():
        go.set_result(None)
