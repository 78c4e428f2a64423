"""`--endpoint-limit` in one process: at most N LLM calls at once per endpoint, whatever
`--concurrency` lets run (the Ray form is in tests/test_tournament_ray.py)."""

from __future__ import annotations

import asyncio

import pytest
from helpers import timeless
from llm_server import LLMServer, Reply

from debate.endpoints import GATES
from debate.errors import DebateError
from debate.tournament import TournamentResult, run_tournament

SPEECH = '{"text": "The pairs I cite are as the oracle says.", "citations": []}'


def _tournament(server: LLMServer, limit: int | None) -> TournamentResult:
    """Two LLM debaters (two models: two endpoints) both ways round over 2 worlds, all 4
    debates at once: up to 8 calls at once in the openings."""
    return asyncio.run(
        run_tournament(
            2,
            2,
            ["openai:one", "openai:two"],
            ["maxent"],
            statements=16,
            concurrency=4,
            base_url=server.url,
            endpoint_limit=limit,
        )
    )


def test_the_endpoint_limit_holds_per_endpoint_in_one_process() -> None:
    with LLMServer(latency=0.2, default=Reply(SPEECH)) as server:
        free = _tournament(server, None)
        free_peaks = [server.max_concurrent(m) for m in ("one", "two")]
    assert min(free_peaks) > 2, "the debates never overlapped: the check below shows nothing"

    with LLMServer(latency=0.2, default=Reply(SPEECH)) as server:
        capped = _tournament(server, 2)
        peaks = [server.max_concurrent(m) for m in ("one", "two")]
        both = server.max_concurrent()
        calls = len(server.requests)
    # each endpoint (model) has its own 2 slots: 4 calls at once in all, never 3 to one
    assert peaks == [2, 2] and both == 4
    assert calls == 4 * 6  # six speeches per debate, every one made
    assert timeless(capped.model_dump(mode="json")) == timeless(free.model_dump(mode="json"))
    assert GATES.get() is None  # the gate ended with the run


def test_an_endpoint_limit_below_one_is_refused() -> None:
    with pytest.raises(DebateError, match="at least 1"):
        asyncio.run(run_tournament(1, 0, ["builtin:honest"], ["maxent"], endpoint_limit=0))
