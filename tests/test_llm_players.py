"""LLM debaters and judges end to end against a loopback OpenAI-compatible server."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from llm_server import Hang, LLMServer, Reply

from debate.builtin import builtin
from debate.engine import run_debate
from debate.llm_players import LLMDebater, LLMJudge
from debate.rules import Rules
from latent.world import load_world

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
KEY = "sk-test-secret-key-123"


def _arg(text: str, ids: list[str], p: float) -> str:
    return json.dumps({"text": text, "citations": [{"kind": "prob", "ids": ids, "claimed": p}]})


def test_llm_debate_with_messy_output_and_a_hang(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    world = load_world(EXAMPLES / "small.json")
    with LLMServer() as server:
        server.script(
            # opening: prose around fenced JSON — parsed
            Reply("Sure!\n```json\n" + _arg("pairs look fine", ["s03", "s09"], 0.2) + "\n```"),
            # round 1: garbage, then garbage again after the repair -> forfeit
            Reply("I refuse to answer in JSON."),
            Reply("still not json"),
            # round 2: the server hangs -> read timeout -> forfeit
            Hang(5.0),
        )
        deb = LLMDebater("tiny", base_url=server.url, read_timeout=0.5, max_retries=0)
        deb.on_token = lambda tok: None  # stream, as the UI does
        rules = Rules(rounds=2, turn_timeout=10)
        res = asyncio.run(
            run_debate(world, deb, builtin("honest"), _judge(), rules, honest_side="b")
        )
        bodies = [r.body for r in server.requests]
        headers = [r.headers for r in server.requests]
    a = [t for t in res.turns if t.speaker == "a"]
    assert a[0].forfeit is None and a[0].citations[0].true_value == pytest.approx(0.265)
    assert a[0].citations[0].verified is False  # claimed 0.2, truth 0.265
    assert a[1].forfeit and "after one repair" in a[1].forfeit
    assert a[2].forfeit and "read timeout" in a[2].forfeit
    assert all(t.forfeit is None for t in res.turns if t.speaker == "b")
    assert bodies[0]["stream"] is True
    assert all(KEY not in json.dumps(b) for b in bodies)
    assert {k.lower(): v for k, v in headers[0].items()}["authorization"] == f"Bearer {KEY}"
    assert KEY not in res.model_dump_json()


def _judge():  # type: ignore[no-untyped-def]
    from debate.specs import make_judge

    return make_judge("maxent")


def test_llm_judge_answers_and_failures_fall_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    world = load_world(EXAMPLES / "small.json")
    reply = json.dumps(
        {
            "log10_p": -3.5,
            "log10_low": -5,
            "log10_high": -2,
            "trust": "b",
            "credence_a": 0.2,
            "reason": "b cites the triple",
        }
    )
    with LLMServer(default=Reply(reply)) as server:
        judge = LLMJudge("tiny", base_url=server.url, max_retries=0)
        res = asyncio.run(
            run_debate(
                world,
                builtin("independence"),
                builtin("honest"),
                judge,
                Rules(rounds=1),
                honest_side="b",
            )
        )
    assert res.judgement.estimate == pytest.approx(10**-3.5)
    assert res.judgement.interval == pytest.approx((1e-5, 1e-2))
    assert [c.credence_a for c in res.judgement.credences] == [0.2] * 4
    assert res.scores.trusted_honest is True
    with LLMServer(default=Reply("no json here")) as server:
        judge = LLMJudge("tiny", base_url=server.url, max_retries=0)
        res = asyncio.run(
            run_debate(
                world,
                builtin("independence"),
                builtin("honest"),
                judge,
                Rules(rounds=1),
                honest_side="b",
            )
        )
    assert res.judgement.errors and "repair" in res.judgement.errors[0]
    assert res.judgement.credence_a == 0.5
    assert res.judgement.estimate == pytest.approx(res.baselines.independence)


def test_hanging_server_costs_at_most_one_turn_timeout_per_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Debaters and judge all behind a server that never answers, with the default client
    settings (120 s read timeout, 3 retries): every call ends at the turn timeout, so the
    debate (2 openings, 2 observations, 1 decision) takes a few turn timeouts."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    world = load_world(EXAMPLES / "small.json")
    with LLMServer(default=Hang(60)) as server:
        a = LLMDebater("tiny", base_url=server.url)
        b = LLMDebater("tiny", base_url=server.url)
        judge = LLMJudge("tiny", base_url=server.url)
        rules = Rules(rounds=0, max_rounds=0, turn_timeout=0.4)
        t0 = time.monotonic()
        res = asyncio.run(
            asyncio.wait_for(run_debate(world, a, b, judge, rules, honest_side="a"), 30)
        )
        took = time.monotonic() - t0
    assert took < 6.0  # 2 x 0.4 s of openings (in parallel) + 3 judge calls + slack
    assert all(t.forfeit for t in res.turns) and len(res.turns) == 2
    assert len(res.judgement.errors) == 3
    assert all("within 0.4 s" in e for e in res.judgement.errors)


def test_runaway_reply_forfeits_the_turn_with_the_cap_in_the_reason() -> None:
    world = load_world(EXAMPLES / "small.json")
    huge = '{"text": "' + "blah " * 4000 + '", "citations": []}'  # ~20 kB of text
    with LLMServer(default=Reply(huge, chunk=500)) as server:
        deb = LLMDebater("tiny", base_url=server.url, max_retries=0)
        rules = Rules(rounds=0, max_rounds=0, reply_bytes=8192)
        res = asyncio.run(run_debate(world, deb, builtin("honest"), _judge(), rules))
        n_requests = len(server.requests)
    a = next(t for t in res.turns if t.speaker == "a")
    assert a.forfeit and "longer than 8192 bytes" in a.forfeit and "reply_bytes" in a.forfeit
    assert n_requests == 1  # not retried, no repair sending it back
