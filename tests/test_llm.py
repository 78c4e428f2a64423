"""The LLM client: parsing, repair, retries, timeouts, secrecy of the key, concurrency.

Unit tests use httpx.MockTransport; end-to-end tests talk HTTP to the loopback server in
tests/llm_server.py. No internet, no real key.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from llm_server import Drop, Hang, LLMServer, Reply, Status
from pydantic import BaseModel, ValidationError

from debate.errors import DebateError
from debate.llm import (
    SERVERS,
    LLMClient,
    LLMConfig,
    LLMHTTPError,
    LLMReplyError,
    extract_json,
    fold_system,
    gather_limited,
    load_prompt,
    parse_reply,
    parse_retry_after,
    strict_compatible,
)
from debate.models import Argument, ProbCitation, StatementCitation

KEY = "sk-test-DO-NOT-LEAK-4f9a1c"
GOOD = '{"text": "s1 and s2 move together", "citations": [{"kind": "prob", "ids": ["s1", "s2"], "claimed": 0.4}]}'  # noqa: E501
USER = [{"role": "user", "content": "argue"}]


# --------------------------------------------------------------------------- helpers


def completion(content: str) -> dict[str, Any]:
    """A non-streamed chat completion body."""
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}


def mock_client(
    handler: Callable[[httpx.Request], httpx.Response], **cfg: Any
) -> tuple[LLMClient, list[float]]:
    """A client over MockTransport whose backoff sleeps are recorded, not slept."""
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    config = LLMConfig(base_url="http://mock.test/v1", model="m", backoff_base=0.1, **cfg)
    return LLMClient(config, transport=httpx.MockTransport(handler), sleep=fake_sleep), slept


def scripted(
    *responses: httpx.Response,
) -> tuple[Callable[[httpx.Request], httpx.Response], list[httpx.Request]]:
    """A MockTransport handler answering `responses` in order, recording the requests."""
    queue = list(responses)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return queue.pop(0)

    return handler, seen


def body(request: httpx.Request) -> dict[str, Any]:
    """The JSON body of a recorded request."""
    return json.loads(request.content)


def run(coro: Any) -> Any:
    """Run one coroutine to completion (no pytest-asyncio needed)."""
    return asyncio.run(coro)


@pytest.fixture
def server() -> Iterator[LLMServer]:
    with LLMServer() as srv:
        yield srv


def live(server: LLMServer, **kw: Any) -> LLMClient:
    """A client for the loopback server with short timeouts and backoff."""
    settings: dict[str, Any] = {
        "connect_timeout": 1.0,
        "read_timeout": 3.0,
        "backoff_base": 0.01,
        "max_retries": 2,
    }
    settings.update(kw)
    return LLMClient(LLMConfig(base_url=server.url, model="loop", **settings))


def free_closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- parsing


def test_extract_json_plain_fenced_prose_and_think() -> None:
    obj = {"text": "a {brace} in text", "citations": []}
    plain = json.dumps(obj)
    assert extract_json(plain) == obj
    assert extract_json(f"```json\n{plain}\n```") == obj
    assert extract_json(f"```\n{plain}\n```\nHope this helps!") == obj
    assert extract_json(f"Sure! Here is my argument: {plain} Let me know.") == obj
    assert extract_json(f'<think>maybe {{"text": 1}}</think>\n{plain}') == obj
    # a stray brace in the prose before the real object is skipped
    assert extract_json(f"I think {{this}} matters: {plain}") == obj
    # literal newlines inside strings are tolerated
    assert extract_json('{"text": "line one\nline two"}') == {"text": "line one\nline two"}


def test_extract_json_reports_why_not() -> None:
    with pytest.raises(ValueError, match="no JSON object"):
        extract_json("I refuse to answer in JSON.")
    with pytest.raises(ValueError, match="invalid JSON"):
        extract_json('{"text": "unterminated')


def test_parse_reply_validates_and_limits() -> None:
    arg = parse_reply(GOOD, Argument)
    assert isinstance(arg.citations[0], ProbCitation)
    assert arg.citations[0].claimed == 0.4
    arg = parse_reply('{"text": "x", "citations": [{"kind": "statement", "id": "s9"}]}', Argument)
    assert arg.citations == [StatementCitation(id="s9")]
    with pytest.raises(ValueError, match=r"citations\.0"):
        parse_reply('{"text": "x", "citations": [{"kind": "vibe", "id": "s1"}]}', Argument)
    with pytest.raises(ValueError, match="Extra inputs"):
        parse_reply('{"text": "x", "mood": "smug"}', Argument)
    with pytest.raises(ValueError, match="your text has 10 characters, the limit is 5"):
        parse_reply('{"text": "0123456789"}', Argument, char_limit=5)


# --------------------------------------------------------------------------- unit: requests


def test_complete_non_streamed_payload_and_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    handler, seen = scripted(httpx.Response(200, json=completion("hello")))
    client, _ = mock_client(handler, temperature=0.2, max_tokens=50, extra_body={"seed": 7})
    assert run(client.complete(USER)) == "hello"
    (request,) = seen
    assert request.url == "http://mock.test/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    sent = body(request)
    assert sent["model"] == "m" and sent["messages"] == USER
    assert sent["temperature"] == 0.2 and sent["max_tokens"] == 50 and sent["seed"] == 7
    assert "stream" not in sent and "response_format" not in sent


def test_no_key_means_no_authorization_header(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    handler, seen = scripted(httpx.Response(401, json={"error": {"message": "no key"}}))
    client, _ = mock_client(handler)
    with pytest.raises(
        LLMHTTPError, match="set the API key in the environment variable OPENAI_API_KEY"
    ) as info:
        run(client.complete(USER))
    assert "authorization" not in seen[0].headers
    assert info.value.status == 401 and len(seen) == 1  # 4xx is not retried


def test_key_never_leaks(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("MY_KEY", KEY)
    caplog.set_level(logging.DEBUG)
    echo = {"error": {"message": f"Incorrect API key provided: {KEY}. Find yours online."}}
    handler, seen = scripted(
        httpx.Response(500, json=echo),
        httpx.Response(401, json=echo),
    )
    client, _ = mock_client(handler, api_key_env="MY_KEY", max_retries=1)
    with pytest.raises(DebateError) as info:
        run(client.complete(USER))
    text = "".join(traceback.format_exception(info.value))
    assert KEY not in text and "***" in str(info.value)
    assert "HTTP 401" in str(info.value) and "MY_KEY" in str(info.value)
    # the key travels only in the Authorization header
    for request in seen:
        assert KEY not in request.content.decode() and KEY not in str(request.url)
        others = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
        assert KEY not in repr(others)
        assert request.headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in caplog.text and "retrying" in caplog.text
    assert KEY not in repr(client) + repr(client.config) + client.config.model_dump_json()
    # a key passed to the config by mistake is refused without echoing it
    with pytest.raises(ValidationError) as bad:
        LLMConfig.model_validate({"api_key": KEY})
    assert KEY not in str(bad.value)


def test_key_scrubbed_from_mid_stream_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    sse = f'data: {{"error": {{"message": "bad key {KEY}"}}}}\n\n'.encode()
    handler, _ = scripted(
        httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse)
    )
    client, _ = mock_client(handler)
    with pytest.raises(DebateError, match="mid-stream") as info:
        run(client.complete(USER, stream=True))
    assert KEY not in str(info.value)


def test_streaming_sse_parsing() -> None:
    events = [
        {"choices": [{"delta": {"role": "assistant"}}]},
        {"choices": [{"delta": {"content": "Hel"}}]},
        {"choices": [{"delta": {"content": "lo"}}]},
        {"choices": [{"delta": {}, "finish_reason": "stop"}]},
    ]
    sse = "".join(f"data: {json.dumps(e)}\n\n" for e in events)
    sse = ": keep-alive\n\n" + sse + "data: [DONE]\n\n"
    handler, seen = scripted(
        httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse.encode())
    )
    client, _ = mock_client(handler)
    tokens: list[str] = []
    assert run(client.complete(USER, stream=True, on_token=tokens.append)) == "Hello"
    assert tokens == ["Hel", "lo"]
    assert body(seen[0])["stream"] is True


def test_stream_request_answered_without_sse() -> None:
    handler, _ = scripted(httpx.Response(200, json=completion("whole")))
    client, _ = mock_client(handler)
    tokens: list[str] = []
    assert run(client.complete(USER, stream=True, on_token=tokens.append)) == "whole"
    assert tokens == ["whole"]


def test_mid_stream_failure_is_not_retried_after_tokens_shown() -> None:
    async def broken() -> Any:
        yield b'data: {"choices": [{"delta": {"content": "half"}}]}\n\n'
        raise httpx.ReadTimeout("stalled")

    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=broken())

    client, _ = mock_client(handler, read_timeout=0.5)
    tokens: list[str] = []
    with pytest.raises(DebateError, match="after streaming 4 characters"):
        run(client.complete(USER, stream=True, on_token=tokens.append))
    assert tokens == ["half"] and len(calls) == 1


def test_backoff_and_retry_after_are_used_and_capped() -> None:
    handler, seen = scripted(
        httpx.Response(503, text="busy"),
        httpx.Response(502, text="bad gateway"),
        httpx.Response(429, headers={"Retry-After": "100"}, json={"error": "slow down"}),
        httpx.Response(200, json=completion("ok")),
    )
    client, slept = mock_client(handler, retry_after_cap=5.0, max_retries=3)
    assert run(client.complete(USER)) == "ok"
    assert len(seen) == 4
    assert 0.05 <= slept[0] <= 0.1 and 0.1 <= slept[1] <= 0.2  # exponential, jittered
    assert slept[2] == 5.0  # Retry-After 100 s capped at 5 s


def test_retry_after_http_date() -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (parse_retry_after(when, cap=60) or 0) <= 30
    assert parse_retry_after(when, cap=3) == 3
    past = format_datetime(datetime.now(UTC) - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(past, cap=60) == 0
    assert parse_retry_after("soon", cap=60) is None
    assert parse_retry_after("1.5", cap=60) == 1.5


def test_rate_limited_after_retries() -> None:
    handler, seen = scripted(*[httpx.Response(429, json={"error": {"message": "quota"}})] * 3)
    client, slept = mock_client(handler, max_retries=2)
    with pytest.raises(DebateError, match=r"rate limited .*HTTP 429.* after 2 retries: quota"):
        run(client.complete(USER))
    assert len(seen) == 3 and len(slept) == 2


def test_not_found_gives_a_hint_and_is_not_retried() -> None:
    handler, seen = scripted(httpx.Response(404, text="<html>Not Found</html>"))
    client, _ = mock_client(handler)
    with pytest.raises(LLMHTTPError, match="HTTP 404: <html>Not Found</html> — check base_url"):
        run(client.complete(USER))
    assert len(seen) == 1


def test_garbage_completion_body() -> None:
    handler, _ = scripted(httpx.Response(200, text="<html>proxy login</html>"))
    client, _ = mock_client(handler)
    with pytest.raises(DebateError, match="not a chat completion: <html>proxy login"):
        run(client.complete(USER))


def test_response_format_auto_falls_back_and_remembers() -> None:
    refuse = httpx.Response(400, json={"error": {"message": "response_format is not supported"}})
    handler, seen = scripted(
        refuse,
        httpx.Response(200, json=completion(GOOD)),
        httpx.Response(200, json=completion(GOOD)),
    )
    client, _ = mock_client(handler)
    arg, raw = run(client.structured(USER, Argument))
    assert isinstance(arg, Argument) and raw == GOOD
    run(client.structured(USER, Argument))
    assert [("response_format" in body(r)) for r in seen] == [True, False, False]


def test_response_format_true_reports_and_false_never_sends() -> None:
    refuse = httpx.Response(400, json={"error": {"message": "Unknown field response_format"}})
    handler, _ = scripted(refuse)
    client, _ = mock_client(handler, use_response_format=True)
    with pytest.raises(DebateError, match="set use_response_format to 'auto' or false"):
        run(client.structured(USER, Argument))
    handler, seen = scripted(httpx.Response(200, json=completion(GOOD)))
    client, _ = mock_client(handler, use_response_format=False)
    run(client.structured(USER, Argument))
    assert "response_format" not in body(seen[0])


def test_repair_path_sends_previous_reply_and_reason() -> None:
    bad = '```json\n{"text": "x", "citations": [{"kind": "prob", "ids": []}]}\n```'
    handler, seen = scripted(
        httpx.Response(200, json=completion(bad)),
        httpx.Response(200, json=completion(f"Fixed:\n{GOOD}")),
    )
    client, _ = mock_client(handler)
    reasons: list[str] = []
    arg, raw = run(client.structured(USER, Argument, on_repair=reasons.append))
    assert arg.text == "s1 and s2 move together" and raw.startswith("Fixed:")
    sent = body(seen[1])["messages"]
    assert sent[:-2] == USER
    assert sent[-2] == {"role": "assistant", "content": bad}
    assert sent[-1]["role"] == "user" and "citations.0.prob.ids" in sent[-1]["content"]
    assert reasons and "citations.0.prob.ids" in reasons[0]


def test_repair_fails_once_then_gives_up() -> None:
    handler, seen = scripted(
        httpx.Response(200, json=completion("no json here")),
        httpx.Response(200, json=completion("still none")),
    )
    client, _ = mock_client(handler)
    with pytest.raises(
        DebateError, match="reply was not a valid argument after one repair: no JSON object"
    ):
        run(client.structured(USER, Argument))
    assert len(seen) == 2


def test_error_message_is_one_line() -> None:
    assert str(DebateError("first\nsecond   third")) == "first second third"


# --------------------------------------------------------------------------- prompts


def test_prompts_load_and_fill() -> None:
    text = load_prompt(
        "debater_system",
        side="a",
        goal="Help the judge.",
        max_order=3,
        max_citations=6,
        char_limit=800,
    )
    assert "debater a" in text and "At most 800 characters" in text and "$" not in text
    judge = load_prompt("judge_system", max_order=2, char_limit=500)
    assert "log10_p" in judge and "order 2" in judge
    # no literal example a small model could copy back: no JSON sample, no sample id, and
    # no number but the limits filled in (and the 0 to 1, 90% of the definitions)
    for prompt in (text, judge):
        assert '{"' not in prompt and not re.search(r"\bs\d+\b", prompt)
        numbers = set(re.findall(r"\d+(?:\.\d+)?", prompt))
        assert numbers <= {"0", "1", "2", "3", "6", "800", "500", "10", "90"}, numbers
    with pytest.raises(DebateError, match=r"missing \['goal'"):
        load_prompt("debater_system", side="a", max_order=3, max_citations=6, char_limit=8)
    with pytest.raises(DebateError, match=r"unknown \['colour'\]"):
        load_prompt("judge_system", max_order=2, char_limit=500, colour="red")
    with pytest.raises(DebateError, match="no prompt named 'nope'"):
        load_prompt("nope")


# --------------------------------------------------------------------------- concurrency


def test_gather_limited_order_and_limit() -> None:
    running = 0
    peak = 0

    async def job(i: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01 * (i % 3))
        running -= 1
        return i * i

    assert run(gather_limited([job(i) for i in range(20)], 4)) == [i * i for i in range(20)]
    assert peak == 4
    assert run(gather_limited([], 4)) == []


def test_gather_limited_failure_cancels_and_closes() -> None:
    started: list[int] = []

    async def job(i: int) -> int:
        started.append(i)
        if i == 1:
            raise DebateError("boom")
        await asyncio.sleep(1)
        return i

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a "never awaited" coroutine would fail the test
        t0 = time.monotonic()
        with pytest.raises(DebateError, match="boom"):
            run(gather_limited([job(i) for i in range(10)], 2))
        assert time.monotonic() - t0 < 0.5
    assert started == [0, 1]

    async def maybe(i: int) -> int:
        if i % 2:
            raise ValueError(str(i))
        return i

    out = run(gather_limited([maybe(i) for i in range(4)], 2, return_exceptions=True))
    assert out[0] == 0 and out[2] == 2
    assert isinstance(out[1], ValueError) and isinstance(out[3], ValueError)


# --------------------------------------------------------------------------- end to end


def test_e2e_non_streamed_and_streamed(server: LLMServer) -> None:
    server.script(Reply("plain answer"), Reply("a streamed answer, in pieces", chunk=5))

    async def go() -> tuple[str, str, list[str]]:
        tokens: list[str] = []
        async with live(server) as llm:
            plain = await llm.complete(USER)
            streamed = await llm.complete(USER, stream=True, on_token=tokens.append)
        return plain, streamed, tokens

    plain, streamed, tokens = run(go())
    assert plain == "plain answer"
    assert streamed == "a streamed answer, in pieces" and "".join(tokens) == streamed
    assert len(tokens) == 6
    assert server.requests[1].body["stream"] is True


def test_e2e_structured_streamed(server: LLMServer) -> None:
    server.script(Reply(f"Here you go:\n```json\n{GOOD}\n```", chunk=4))
    tokens: list[str] = []

    async def go() -> tuple[BaseModel, str]:
        async with live(server) as llm:
            return await llm.structured(USER, Argument, stream=True, on_token=tokens.append)

    arg, raw = run(go())
    assert isinstance(arg, Argument) and "".join(tokens) == raw
    assert server.requests[0].body["response_format"] == {"type": "json_object"}


def test_e2e_429_retry_after_is_honoured(server: LLMServer) -> None:
    server.script(Status(429, headers={"Retry-After": "0.2"}), Reply("after the wait"))

    async def go() -> str:
        async with live(server) as llm:
            return await llm.complete(USER)

    assert run(go()) == "after the wait"
    first, second = server.requests
    assert second.at - first.at >= 0.2


def test_e2e_500_then_success_and_dropped_connection(server: LLMServer) -> None:
    server.script(Status(500, body="oops"), Drop(), Reply("fine now"))

    async def go() -> str:
        async with live(server) as llm:
            return await llm.complete(USER)

    assert run(go()) == "fine now"
    assert len(server.requests) == 3


def test_e2e_malformed_json_then_repaired(server: LLMServer) -> None:
    server.script(Reply('{"text": "missing brace", "citations": ['), Reply(GOOD))

    async def go() -> tuple[BaseModel, str]:
        async with live(server) as llm:
            return await llm.structured(USER, Argument)

    arg, raw = run(go())
    assert isinstance(arg, Argument) and raw == GOOD
    repair = server.requests[1].body["messages"][-1]["content"]
    assert "invalid JSON" in repair


def test_e2e_over_long_reply_mentions_overage(server: LLMServer) -> None:
    long = json.dumps({"text": "x" * 50, "citations": []})
    short = json.dumps({"text": "x" * 15, "citations": []})
    server.script(Reply(long), Reply(short))

    async def go() -> tuple[BaseModel, str]:
        async with live(server) as llm:
            return await llm.structured(USER, Argument, char_limit=20)

    arg, _ = run(go())
    assert isinstance(arg, Argument) and len(arg.text) == 15
    repair = server.requests[1].body["messages"][-1]["content"]
    assert "your text has 50 characters, the limit is 20" in repair
    assert "at most 20 characters" in repair


def test_e2e_still_invalid_after_repair(server: LLMServer) -> None:
    long = json.dumps({"text": "x" * 50})
    server.script(Reply(long), Reply(long))

    async def go() -> Any:
        async with live(server) as llm:
            return await llm.structured(USER, Argument, char_limit=20)

    with pytest.raises(DebateError, match="after one repair: your text has 50 characters"):
        run(go())


def test_e2e_read_timeout(server: LLMServer) -> None:
    server.script(Hang())

    async def go() -> str:
        async with live(server, read_timeout=0.3, max_retries=0) as llm:
            return await llm.complete(USER)

    t0 = time.monotonic()
    with pytest.raises(DebateError, match=r"did not answer within 0.3 s \(read timeout\)"):
        run(go())
    assert time.monotonic() - t0 < 2


def test_e2e_refused_connection() -> None:
    config = LLMConfig(
        base_url=f"http://127.0.0.1:{free_closed_port()}/v1", max_retries=1, backoff_base=0.01
    )

    async def go() -> str:
        async with LLMClient(config) as llm:
            return await llm.complete(USER)

    with pytest.raises(DebateError, match=r"refused \(2 attempts\) — is a server running"):
        run(go())


def test_e2e_concurrent_requests_overlap() -> None:
    with LLMServer(latency=0.1) as srv:

        async def go() -> list[str]:
            async with live(srv) as llm:
                return await gather_limited([llm.complete(USER) for _ in range(8)], 8)

        t0 = time.monotonic()
        out = run(go())
        elapsed = time.monotonic() - t0
    assert len(out) == 8 and elapsed < 0.65  # one at a time would take >= 0.8 s


# --------------------------------------------------------------------------- hardening


def sse_events(pieces: Iterator[str] | list[str]) -> Any:
    """An async SSE body with one content delta per piece (for MockTransport streams)."""

    async def body() -> Any:
        for piece in pieces:
            chunk = {"choices": [{"delta": {"content": piece}}]}
            yield f"data: {json.dumps(chunk)}\n\n".encode()
        yield b'data: {"choices": [{"delta": {}, "finish_reason": "stop"}]}\n\n'
        yield b"data: [DONE]\n\n"

    return body()


def endless(piece: str) -> Iterator[str]:
    while True:
        yield piece


def test_timeout_bounds_the_whole_call_retries_included() -> None:
    """A server that never answers: 4 attempts x 120 s read timeout, cut to the deadline."""

    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(60)
        raise AssertionError("not reached")

    config = LLMConfig(base_url="http://mock.test/v1", model="m")  # read_timeout 120, 3 retries
    client = LLMClient(config, transport=httpx.MockTransport(hang))
    t0 = time.monotonic()
    with pytest.raises(DebateError, match=r"no complete answer within 0.3 s"):
        run(client.structured(USER, Argument, timeout=0.3))
    assert time.monotonic() - t0 < 3.0


def test_timeout_covers_the_repair_request() -> None:
    calls: list[httpx.Request] = []

    async def garbage_then_hang(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            return httpx.Response(200, json=completion("not json at all"))
        await asyncio.sleep(60)
        raise AssertionError("not reached")

    config = LLMConfig(base_url="http://mock.test/v1", model="m")
    client = LLMClient(config, transport=httpx.MockTransport(garbage_then_hang))
    t0 = time.monotonic()
    with pytest.raises(DebateError, match=r"within 0\.4 s"):
        run(client.structured(USER, Argument, timeout=0.4))
    assert len(calls) == 2 and time.monotonic() - t0 < 3.0


def test_endless_stream_is_cut_at_the_reply_cap() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=sse_events(endless("ab"))
        )

    client, _ = mock_client(handler, max_reply_bytes=4096)
    tokens: list[str] = []
    with pytest.raises(DebateError, match="longer than 4096 bytes") as info:
        run(client.complete(USER, stream=True, on_token=tokens.append))
    assert "\n" not in str(info.value)
    assert 4000 <= len("".join(tokens)) <= 4096


@pytest.mark.parametrize(
    "content",
    [
        b"data: " + b"x" * 10_000_000,  # one line that never ends
        b"".join(b": keep-alive\n\n" for _ in range(100_000)),  # framing without text
    ],
    ids=["endless-line", "endless-comments"],
)
def test_raw_stream_is_capped_too(content: bytes) -> None:
    async def body() -> Any:
        for start in range(0, len(content), 65536):
            yield content[start : start + 65536]

    received: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body())

    client, _ = mock_client(handler, max_reply_bytes=1024)
    with pytest.raises(DebateError, match="longer than 1024 bytes"):
        run(client.complete(USER, stream=True, on_token=lambda t: received.append(len(t))))
    assert not received


def test_huge_plain_reply_is_refused_and_not_retried() -> None:
    handler, seen = scripted(httpx.Response(200, json=completion("y" * 200_000)))
    client, _ = mock_client(handler, max_reply_bytes=100_000)
    with pytest.raises(DebateError, match="longer than 100000 bytes"):
        run(client.structured(USER, Argument))
    assert len(seen) == 1  # no repair request carrying it back


def test_repair_request_never_echoes_a_huge_reply() -> None:
    long_garbage = "no json here " * 5000  # 65,000 characters, under the cap
    handler, seen = scripted(
        httpx.Response(200, json=completion(long_garbage)),
        httpx.Response(200, json=completion(GOOD)),
    )
    client, _ = mock_client(handler, max_reply_bytes=200_000)
    arg, _ = run(client.structured(USER, Argument))
    assert arg.text.startswith("s1 and s2")
    echoed = body(seen[1])["messages"][-2]
    assert echoed["role"] == "assistant"
    assert len(echoed["content"]) < 4100 and "more characters cut" in echoed["content"]
    assert len(seen[1].content) < 10_000


@pytest.mark.parametrize("chunk", [1, 3, 7, 100])
def test_key_echoed_in_a_streamed_reply_is_masked_even_when_split(
    monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    text = f'{{"text": "your key is {KEY}, again {KEY}", "citations": []}}'
    pieces = [text[i : i + chunk] for i in range(0, len(text), chunk)]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=sse_events(pieces)
        )

    client, _ = mock_client(handler)
    tokens: list[str] = []
    arg, raw = run(client.structured(USER, Argument, stream=True, on_token=tokens.append))
    assert KEY not in arg.text and KEY not in raw and KEY not in "".join(tokens)
    assert all(KEY[:10] not in t for t in tokens)
    assert arg.text == "your key is ***, again ***"
    assert "".join(tokens) == raw


def test_key_echoed_in_a_plain_reply_is_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    handler, _ = scripted(httpx.Response(200, json=completion(f"the key: {KEY}")))
    client, _ = mock_client(handler)
    assert run(client.complete(USER)) == "the key: ***"


# --------------------------------------------------------------------------- response formats

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"text": {"type": "string"}, "citations": {"type": "array", "maxItems": 0}},
    "required": ["text", "citations"],
    "additionalProperties": False,
}
PLAIN_GOOD = '{"text": "s1 and s2 move together", "citations": []}'


@pytest.fixture(autouse=True)
def fresh_servers() -> Iterator[None]:
    """Each test starts with a run that has learned nothing about any server."""
    SERVERS.forget()
    yield
    SERVERS.forget()


def refusing(*statuses_and_words: tuple[int, str]) -> Callable[[httpx.Request], httpx.Response]:
    """A handler that refuses each response format named in `statuses_and_words` (mode ->
    that status, with a body naming it) and answers PLAIN_GOOD to anything else."""
    refuse = dict((w, s) for s, w in statuses_and_words)

    def handler(request: httpx.Request) -> httpx.Response:
        mode = sent_mode(body(request))
        if mode in refuse:
            text = f"response_format {mode} is not supported"
            return httpx.Response(refuse[mode], json={"error": {"message": text}})
        return httpx.Response(200, json=completion(PLAIN_GOOD))

    return handler


def sent_mode(payload: dict[str, Any]) -> str:
    """Which step of the chain a request body asks for."""
    rf = payload.get("response_format")
    if rf is None:
        return "plain"
    if rf["type"] == "json_schema":
        return "json_schema"
    return "json_object_schema" if "schema" in rf else "json_object"


def test_schema_is_sent_as_json_schema_and_strict_only_when_it_qualifies() -> None:
    handler, seen = scripted(*[httpx.Response(200, json=completion(PLAIN_GOOD))] * 2)
    client, _ = mock_client(handler)
    run(client.structured(USER, Argument, schema=SCHEMA, schema_name="argument"))
    assert body(seen[0])["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "argument", "schema": SCHEMA, "strict": True},
    }
    loose = {**SCHEMA, "required": ["text"]}  # strict mode needs every property required
    run(client.structured(USER, Argument, schema=loose))
    assert "strict" not in body(seen[1])["response_format"]["json_schema"]


def test_strict_compatible_follows_openai_rules() -> None:
    assert strict_compatible(SCHEMA)
    assert not strict_compatible({**SCHEMA, "additionalProperties": True})
    nested = {
        **SCHEMA,
        "properties": {
            "text": {"type": "string"},
            "citations": {
                "type": "array",
                "items": {"anyOf": [{"type": "object", "properties": {"id": {"type": "string"}}}]},
            },
        },
    }
    assert not strict_compatible(nested)  # the item object lacks required/additionalProperties
    item = nested["properties"]["citations"]["items"]["anyOf"][0]
    item.update(required=["id"], additionalProperties=False)
    assert strict_compatible(nested)
    assert not strict_compatible({"type": "array"})


@pytest.mark.parametrize("status", [400, 422, 500])
def test_each_refusal_moves_one_step_down_at_once_and_is_remembered(status: int) -> None:
    """json_schema -> json_object+schema -> json_object -> plain, one request per step (a 500
    naming the format is not retried), and the run remembers where it ended: the next
    call, and a new client for the same server and model, start there; another model
    starts at the top."""
    handler = refusing(
        (status, "json_schema"), (status, "json_object_schema"), (status, "json_object")
    )
    seen: list[str] = []

    def recording(request: httpx.Request) -> httpx.Response:
        seen.append(sent_mode(body(request)))
        return handler(request)

    client, slept = mock_client(recording)
    arg, _ = run(client.structured(USER, Argument, schema=SCHEMA))
    assert arg.text.startswith("s1 and s2")
    assert seen == ["json_schema", "json_object_schema", "json_object", "plain"] and not slept
    run(client.structured(USER, Argument, schema=SCHEMA))
    again, _ = mock_client(recording)
    run(again.structured(USER, Argument, schema=SCHEMA))
    assert seen[4:] == ["plain", "plain"]
    other = LLMClient(
        LLMConfig(base_url="http://mock.test/v1", model="other"),
        transport=httpx.MockTransport(recording),
    )
    run(other.structured(USER, Argument, schema=SCHEMA))
    assert seen[6:] == ["json_schema", "json_object_schema", "json_object", "plain"]


def test_a_server_taking_json_object_schema_keeps_it() -> None:
    """llama-cpp-python: json_schema gives 500, json_object with a schema works."""
    seen: list[dict[str, Any]] = []
    handler = refusing((500, "json_schema"))

    def recording(request: httpx.Request) -> httpx.Response:
        seen.append(body(request))
        return handler(request)

    client, _ = mock_client(recording)
    for _ in range(3):
        run(client.structured(USER, Argument, schema=SCHEMA))
    assert [sent_mode(b) for b in seen] == ["json_schema"] + ["json_object_schema"] * 3
    assert seen[-1]["response_format"] == {"type": "json_object", "schema": SCHEMA}


def test_500_not_about_the_format_is_retried_not_stepped_down() -> None:
    handler, seen = scripted(
        httpx.Response(500, json={"error": {"message": "out of memory"}}),
        httpx.Response(200, json=completion(PLAIN_GOOD)),
    )
    client, slept = mock_client(handler)
    run(client.structured(USER, Argument, schema=SCHEMA))
    assert [sent_mode(body(r)) for r in seen] == ["json_schema", "json_schema"] and slept


def test_without_a_schema_the_chain_starts_at_json_object() -> None:
    handler, seen = scripted(httpx.Response(200, json=completion(PLAIN_GOOD)))
    client, _ = mock_client(handler)
    run(client.structured(USER, Argument))
    assert body(seen[0])["response_format"] == {"type": "json_object"}


def test_pinned_mode_is_an_error_when_refused() -> None:
    client, _ = mock_client(refusing((500, "json_schema")), use_response_format="json_schema")
    with pytest.raises(DebateError, match="does not support response_format json_schema"):
        run(client.structured(USER, Argument, schema=SCHEMA))


SYSTEM = [{"role": "system", "content": "RULES"}, {"role": "user", "content": "argue"}]


def test_system_role_refused_is_folded_and_remembered() -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        payload = body(request)
        seen.append(payload)
        if any(m["role"] == "system" for m in payload["messages"]):
            # what a jinja chat template without a system role says
            msg = "Conversation roles must alternate user/assistant/user/assistant/..."
            return httpx.Response(400, json={"error": {"message": msg}})
        return httpx.Response(200, json=completion(PLAIN_GOOD))

    client, _ = mock_client(handler)
    run(client.structured(SYSTEM, Argument, schema=SCHEMA))
    assert len(seen) == 2
    assert seen[1]["messages"] == [{"role": "user", "content": "RULES\n\nargue"}]
    assert seen[1]["response_format"]["type"] == "json_schema"  # the format was not blamed
    again, _ = mock_client(handler)
    run(again.structured(SYSTEM, Argument, schema=SCHEMA))
    assert len(seen) == 3 and seen[2]["messages"][0]["role"] == "user"


def test_system_role_user_always_folds() -> None:
    handler, seen = scripted(httpx.Response(200, json=completion(PLAIN_GOOD)))
    client, _ = mock_client(handler, system_role="user")
    run(client.structured(SYSTEM, Argument))
    assert body(seen[0])["messages"] == [{"role": "user", "content": "RULES\n\nargue"}]
    assert fold_system([{"role": "system", "content": "only"}]) == [
        {"role": "user", "content": "only"}
    ]


def test_reply_cut_at_max_tokens_says_so() -> None:
    cut = {"choices": [{"message": {"content": '{"text": "the pairs'}, "finish_reason": "length"}]}
    handler, seen = scripted(httpx.Response(200, json=cut), httpx.Response(200, json=cut))
    client, _ = mock_client(handler, max_tokens=50)
    with pytest.raises(LLMReplyError, match=r"cut at max_tokens \(50\)") as info:
        run(client.structured(USER, Argument))
    assert info.value.raw == '{"text": "the pairs'
    assert "cut at max_tokens (50)" in body(seen[1])["messages"][-1]["content"]


def test_stream_without_finish_reason_is_named_and_keeps_what_came() -> None:
    async def cut() -> Any:
        yield b'data: {"choices": [{"delta": {"content": "{\\"text\\": \\"half"}}]}\n\n'
        yield b"data: [DONE]\n\n"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=cut())

    client, _ = mock_client(handler)
    with pytest.raises(LLMReplyError, match="ended after 14 characters without a finish_reason"):
        run(client.structured(USER, Argument, stream=True))
    with pytest.raises(LLMReplyError) as info:
        run(client.structured(USER, Argument, stream=True, on_token=lambda t: None))
    assert info.value.raw == '{"text": "half'


def test_check_rejects_a_parsed_reply_and_its_reason_reaches_the_repair() -> None:
    handler, seen = scripted(
        httpx.Response(200, json=completion(PLAIN_GOOD)),
        httpx.Response(200, json=completion(PLAIN_GOOD)),
    )
    client, _ = mock_client(handler)

    def check(arg: Argument) -> None:
        raise ValueError("the text repeats the prompt")

    with pytest.raises(LLMReplyError, match="after one repair: the text repeats the prompt"):
        run(client.structured(USER, Argument, check=check))
    assert "the text repeats the prompt" in body(seen[1])["messages"][-1]["content"]


def test_a_refusal_that_echoes_the_key_never_shows_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    said = f"json_schema is not supported for key {KEY}"
    handler, _ = scripted(httpx.Response(500, json={"error": {"message": said}}))
    client, _ = mock_client(handler, use_response_format="json_schema")
    with pytest.raises(DebateError, match="does not support response_format") as info:
        run(client.structured(USER, Argument, schema=SCHEMA))
    assert KEY not in str(info.value) and "***" in str(info.value)
