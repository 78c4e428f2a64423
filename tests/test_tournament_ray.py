"""Tournaments on a small local Ray (2 CPUs, no dashboard), shared by this file's tests: the
cap on LLM calls per endpoint holds across workers, and a debate that fails after Ray's
retries is stored with its partial turns while the run goes on."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import timeless
from llm_server import LLMServer, Reply

from debate.events import Event
from debate.ray_runner import RAY_RETRIES, endpoint_actor
from debate.tournament import DebateJob, TournamentResult, play_debate, run_tournament
from store.db import Store
from store.recorder import DebateRecorder

ray = pytest.importorskip("ray")

SPEECH = '{"text": "The pairs I cite are as the oracle says.", "citations": []}'


def _warm_body() -> int:
    import time

    import debate.tournament  # noqa: F401 (what every task imports first)

    time.sleep(1.0)
    return os.getpid()


_warm = ray.remote(_warm_body)


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """One small local Ray for the file: starting one costs seconds, so tests share it."""
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    # the tasks of this file play functions defined here: ship them by value
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, namespace="pzjudge")
    # warm 6 workers (a quarter CPU each, as the tasks below), so that tasks overlap from
    # the start instead of waiting for workers to boot one by one
    ray.get([_warm.options(num_cpus=0.25).remote() for _ in range(6)])
    yield
    ray.shutdown()


def _tournament(server: LLMServer, limit: int | None) -> TournamentResult:
    """An LLM debater against a built-in one, both ways round, over 3 worlds: 6 debates, up
    to 6 at once as Ray tasks of a quarter CPU each."""
    return asyncio.run(
        run_tournament(
            3,
            2,
            ["openai:capped", "builtin:honest"],
            ["maxent"],
            statements=16,
            concurrency=6,
            base_url=server.url,
            use_ray=True,
            task_cpus=0.25,
            endpoint_limit=limit,
        )
    )


#: Seconds the loopback server takes per call. Long against dealing a debate (~0.2 s of CPU,
#: seconds at load 20), so that calls overlap however loaded the machine: at 0.2 s the
#: uncapped control once saw only 2 at once under load and showed nothing.
LATENCY = 1.0


def test_the_endpoint_limit_holds_across_ray_workers(local_ray: None) -> None:
    # without a limit the debates in flight call the endpoint at once: the check can fail
    with LLMServer(latency=LATENCY, default=Reply(SPEECH)) as server:
        free = _tournament(server, None)
        free_peak = server.max_concurrent()
    assert not free.failed and len(free.debates) == 6
    assert free_peak > 2, f"the tasks never overlapped ({free_peak}): the test shows nothing"

    with LLMServer(latency=LATENCY, default=Reply(SPEECH)) as server:
        capped = _tournament(server, 2)
        peak = server.max_concurrent()
        calls = len(server.requests)
        held, most = ray.get(endpoint_actor(server.url, "capped").stats.remote())
    assert peak <= 2 and most == 2 and held == 0
    assert calls == 6 * 3  # three speeches of the LLM debater per debate, none lost
    assert not capped.failed
    assert timeless(capped.model_dump(mode="json")) == timeless(free.model_dump(mode="json"))


class _Exploding:
    """A maxent judge whose endpoint goes down after the openings: the debate has made
    turns when it fails."""

    def __init__(self) -> None:
        from debate.specs import make_judge

        self.inner = make_judge("maxent")
        self.name, self.honest = self.inner.name, self.inner.honest
        self.seen = 0

    async def observe(self, view: Any, oracle: Any) -> Any:
        self.seen += 1
        if self.seen > 2:
            raise RuntimeError("the judge's endpoint went away")
        return await self.inner.observe(view, oracle)

    async def decide(self, view: Any, oracle: Any) -> Any:
        return await self.inner.decide(view, oracle)


#: The one debate that fails: world 1, honest as debater a.
DOOMED = {"seed": 4 * 7919 + 1, "spec_a": "builtin:honest"}


def _play_one_failing(job: DebateJob) -> tuple[list[Event], Any]:
    """The product's `play_debate`, with the doomed debate's judge failing mid-debate."""
    import debate.tournament as t

    if job.seed != DOOMED["seed"] or job.spec_a != DOOMED["spec_a"]:
        return play_debate(job)
    real = t.make_judge
    t.make_judge = lambda spec, **kw: _Exploding()  # type: ignore[assignment]
    try:
        return play_debate(job)
    finally:
        t.make_judge = real


def _run(db: Path, **kw: Any) -> TournamentResult:
    store = Store(db)
    played = store.played_debates()

    def watch(world: Any, did: str) -> DebateRecorder:
        return DebateRecorder(store, world_json=world.to_json(), kind="tournament", debate_id=did)

    from debate.engine import DebateResult

    try:
        return asyncio.run(
            run_tournament(
                2,
                4,
                ["builtin:honest", "builtin:pairwise"],
                ["maxent"],
                statements=16,
                concurrency=2,
                watch=watch,
                played={k: DebateResult.model_validate_json(v) for k, v in played.items()},
                **kw,
            )
        )
    finally:
        store.close()


def _rounds(db: Path) -> list[tuple[str, bool, str | None, int]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT r.debate_id, r.debate_result IS NOT NULL, r.abandon_reason, COUNT(t.id)"
            " FROM rounds r LEFT JOIN turns t ON t.round_id = r.id GROUP BY r.id ORDER BY r.id"
        ).fetchall()
    return [(d, bool(j), why, n) for d, j, why, n in rows]


def test_a_debate_failing_on_ray_is_stored_and_the_run_goes_on(
    local_ray: None, tmp_path: Path
) -> None:
    straight = _run(tmp_path / "straight.db", use_ray=True)
    db = tmp_path / "failing.db"
    res = _run(db, use_ray=True, ray_play=_play_one_failing)
    (failed,) = res.failed
    assert failed.world == 1 and failed.debater_a == "builtin:honest"
    assert f"failed after {RAY_RETRIES} retries on Ray" in failed.error
    assert "the judge's endpoint went away" in failed.error
    # the others finished and count; the failed one is in neither standings nor ratings
    assert len(res.debates) == 3
    assert sum(d.debates for d in res.ratings.judges) == 3
    rounds = _rounds(db)
    assert len(rounds) == 4
    # its turns up to the failure are stored, the round marked abandoned with the reason
    (lost,) = [r for r in rounds if not r[1]]
    assert lost[3] == failed.turns >= 2
    assert lost[2] is not None and "the judge's endpoint went away" in lost[2]
    every = {r[0] for r in _rounds(tmp_path / "straight.db")}
    assert len(every) == 4 and failed.debate_id in every
    assert {r[0] for r in rounds if r[1]} == every - {failed.debate_id}

    # a rerun on the same store plays only the failed debate, and ends as a straight run
    again = _run(db, use_ray=True)
    assert not again.failed
    assert timeless(again.model_dump(mode="json")) == timeless(straight.model_dump(mode="json"))
    assert sum(judged for _, judged, _, _ in _rounds(db)) == 4
