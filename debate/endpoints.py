"""A cap on the LLM calls made at once to one endpoint (base URL and model).

`debate.llm_http` asks `endpoint_slot` for a slot around every request it sends (each retry
is a request of its own; the backoff between them holds no slot). Outside a tournament that
set a cap there is no gate and a slot costs nothing. A tournament run in one process sets
`LocalGates` (asyncio semaphores, one per endpoint); a Ray task sets the gate of
`debate.ray_runner`, whose slots are counted by one named Ray actor per endpoint, so the cap
holds across every worker of the cluster.

The gate is a context variable, so it reaches every debate (task) started under it and
nothing else in the process.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from contextvars import ContextVar
from typing import Protocol


class Gates(Protocol):
    """Hands out slots for calls to an endpoint; a slot is held for the length of one call."""

    def slot(self, base_url: str, model: str) -> AbstractAsyncContextManager[None]: ...


#: The gate of the debates running in this context (None: calls are not capped).
GATES: ContextVar[Gates | None] = ContextVar("pzjudge_endpoint_gates", default=None)


def endpoint_slot(base_url: str, model: str) -> AbstractAsyncContextManager[None]:
    """Hold this for the length of one request to `model` at `base_url`: it waits while the
    gate in force has that endpoint's every slot taken (a no-op when no gate is set)."""
    gates = GATES.get()
    if gates is None:
        return nullcontext()
    return gates.slot(base_url, model)


def endpoint_key(base_url: str, model: str) -> str:
    """How gates name an endpoint: the base URL (any trailing slash dropped) and the model."""
    return f"{base_url.rstrip('/')} {model}"


class LocalGates:
    """At most `limit` calls at once per endpoint in this process (one asyncio event loop)."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("an endpoint limit must be at least 1")
        self.limit = limit
        self._sems: dict[str, asyncio.Semaphore] = {}

    @asynccontextmanager
    async def slot(self, base_url: str, model: str) -> AsyncIterator[None]:
        """Wait for one of the endpoint's `limit` slots and hold it inside the block."""
        key = endpoint_key(base_url, model)
        sem = self._sems.setdefault(key, asyncio.Semaphore(self.limit))
        async with sem:
            yield
