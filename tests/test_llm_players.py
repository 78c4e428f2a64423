"""LLM debaters and judges end to end against a loopback OpenAI-compatible server."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from llm_server import Behaviour, Hang, LLMServer, Reply, Trickle

from debate.builtin import builtin
from debate.engine import DebateResult, run_debate
from debate.llm import SERVERS, load_prompt
from debate.llm_players import LLMDebater, LLMJudge, parroted
from debate.llm_reply import CUT_MARK
from debate.rules import Rules
from latent.world import load_world
from store.db import Store
from store.export import export_rows

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
KEY = "sk-test-secret-key-123"
WORLD_IDS = {"s01", "s02", "s03", "s04", "s05", "s06", "s07", "s08", "s09", "s11"}


@pytest.fixture(autouse=True)
def fresh_servers() -> Iterator[None]:
    """Each test starts with a run that has learned nothing about any server."""
    SERVERS.forget()
    yield
    SERVERS.forget()


def _arg(text: str, ids: list[str], p: float) -> str:
    """A speech as the schema orders it: citations, then the text."""
    return json.dumps({"citations": [{"kind": "prob", "ids": ids, "claimed": p}], "text": text})


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

    def judged(server: LLMServer) -> DebateResult:
        """A debate on the small world judged by an LLM behind `server`."""
        judge = LLMJudge("tiny", base_url=server.url, max_retries=0)
        rules = Rules(rounds=1)
        a, b = builtin("independence"), builtin("honest")
        return asyncio.run(run_debate(world, a, b, judge, rules, honest_side="b"))

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
        res = judged(server)
    assert res.judgement.estimate == pytest.approx(10**-3.5)
    assert res.judgement.interval == pytest.approx((1e-5, 1e-2))
    assert [c.credence_a for c in res.judgement.credences] == [0.2] * 4
    assert res.scores.trusted_honest is True
    with LLMServer(default=Reply("no json here")) as server:
        res = judged(server)
    assert res.judgement.errors and "repair" in res.judgement.errors[0]
    assert res.judgement.failed and res.scores.trusted_honest is None
    assert res.judgement.credences == []  # no credence is made up for a judge that failed
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


#: As a grammar-constrained server writes it: the numbers as the schema's strings, in its
#: order (the reason last).
JUDGE_REPLY = json.dumps(
    {
        "log10_p": "-3.5",
        "log10_low": "-5",
        "log10_high": "-2",
        "trust": "b",
        "credence_a": "0.2",
        "reason": "b cites the triple of the die, which a ignores",
    }
)
SPEECH = _arg("the die's pairs look independent but the triple is rare", ["s03", "s09"], 0.26)


def by_role(judge: Behaviour, debater: Behaviour) -> Any:
    """A server answer chosen by who asks: the judge's schema has `log10_p`."""

    def respond(body: dict[str, Any]) -> Behaviour:
        return judge if "log10_p" in json.dumps(body.get("response_format")) else debater

    return respond


def _debate(server: LLMServer, judge: Any = None, **rules: Any) -> Any:
    """An LLM debater (a) against the honest built-in on the small world, judged by `judge`
    (maxent by default); no rounds unless `rules` say so."""
    deb = LLMDebater("tiny", base_url=server.url, max_retries=0)
    return asyncio.run(
        run_debate(
            load_world(EXAMPLES / "small.json"),
            deb,
            builtin("honest"),
            judge or _judge(),
            Rules(**{"rounds": 0, "max_rounds": 0, **rules}),
            honest_side="b",
        )
    )


def test_the_schema_sent_is_made_for_the_turn_and_checked_by_the_server() -> None:
    with LLMServer(default=Reply(SPEECH)) as server:
        res = _debate(server, citations_per_turn=4, max_order=2)
        bad = _arg("s99 says it all", ["s99"], 0.5)
        server.script(Reply(bad), Reply(bad))
        _debate(server, citations_per_turn=4, max_order=2)
        first, later = server.requests[0], server.requests[1]
    assert first.mode == "json_schema"
    assert first.body["response_format"]["json_schema"]["strict"] is True
    schema = first.schema
    assert schema is not None and schema["required"] == ["citations", "text"]
    cites = schema["properties"]["citations"]
    assert cites["maxItems"] == 4
    statement, prob = cites["items"]["anyOf"]
    assert set(statement["properties"]["id"]["enum"]) == WORLD_IDS
    assert "kind" in statement["required"] and "kind" in prob["required"]
    assert prob["properties"]["ids"]["maxItems"] == 2
    assert "maxLength" not in json.dumps(schema)  # llama-cpp-python crashes on it
    assert first.schema_problems == []  # the good speech meets the schema sent
    assert any("s99" in p for p in later.schema_problems)  # and the server does check
    assert res.turns[0].forfeit is None


def test_a_llama_cpp_python_like_server_is_learned_once_for_the_run() -> None:
    """json_schema answered with 500 naming it: one refusal in the whole debate, then every
    call (debater, judge, each with its own client) uses json_object with the schema."""
    with LLMServer(
        accepts={"json_object_schema", "json_object", "plain"},
        refusal=(500, "Unsupported response_format json_schema"),
        respond=by_role(Reply(JUDGE_REPLY), Reply(SPEECH)),
    ) as server:
        judge = LLMJudge("tiny", base_url=server.url, max_retries=0)
        res = _debate(server, judge, rounds=1, max_rounds=Rules().max_rounds)
        modes = [r.mode for r in server.requests]
        problems = [p for r in server.requests for p in r.schema_problems]
    assert modes[0] == "json_schema" and modes[1:] == ["json_object_schema"] * (len(modes) - 1)
    assert len(modes) == 1 + 2 + 5  # the refusal, 2 speeches, 4 observations and a decision
    assert problems == []
    assert all(t.forfeit is None for t in res.turns) and not res.judgement.errors
    assert res.judgement.estimate == pytest.approx(10**-3.5)


def test_the_judge_schema_holds_the_bounds_a_grammar_server_can_enforce() -> None:
    """llama.cpp's grammars ignore numeric bounds: gemma-3-270m answered log10 P(Z) = 0.885,
    a credence of 50 and trust "> [0.47932], " through the old schema. The schema sent now
    refuses each of them (the loopback server checks replies against what it was sent),
    in a form llama-cpp-python's converter turns into a grammar: no escaped dot, no bounded
    repetition, no enum beside a list of types. The numbers as numbers still parse."""
    bad = json.dumps(
        {
            "reason": "a and b",
            "log10_p": "0.885",
            "log10_low": "-2e8",
            "log10_high": "70",
            "trust": "> [0.47932], ",
            "credence_a": "50",
        }
    )
    as_numbers = json.dumps({**json.loads(JUDGE_REPLY), "log10_p": -3.5, "credence_a": 0.2})
    with LLMServer(respond=by_role(Reply(JUDGE_REPLY), Reply(SPEECH))) as server:
        judge = LLMJudge("tiny", base_url=server.url, max_retries=0)
        res = _debate(server, judge)
        server.script(Reply(SPEECH), Reply(bad), Reply(bad), Reply(as_numbers))
        again = _debate(server, LLMJudge("tiny", base_url=server.url, max_retries=0))
        judged = [r for r in server.requests if "log10_p" in json.dumps(r.body)]
    good, refused = judged[0], judged[len(judged) // 2 :]
    assert good.schema_problems == [] and not res.judgement.errors
    assert res.judgement.estimate == pytest.approx(10**-3.5)
    problems = " ".join(refused[0].schema_problems)
    for key in ("log10_p", "log10_low", "log10_high", "trust", "credence_a"):
        assert f"['{key}']" in problems, (key, problems)
    schema = json.dumps(good.schema)
    assert "\\\\." not in schema and "{1," not in schema and '"type": ["' not in schema
    # the bad answer (and its repair) fail; the next, numbers as numbers, is read
    assert len(again.judgement.errors) == 1 and not again.judgement.failed
    assert again.judgement.estimate == pytest.approx(10**-3.5)


def test_a_template_without_system_role_gets_the_rules_folded_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with LLMServer(default=Reply(SPEECH), system_role=False) as server:
        res = _debate(server, rounds=1, max_rounds=1)
        messages = [r.body["messages"] for r in server.requests]
    assert [m[0]["role"] for m in messages] == ["system", "user", "user"]
    assert messages[1][0]["content"].startswith("You are debater a")
    assert all(t.forfeit is None for t in res.turns)
    monkeypatch.setenv("PZJUDGE_LLM_SYSTEM", "user")  # gemma's template drops it silently
    with LLMServer(default=Reply(SPEECH)) as server:
        _debate(server)
        roles = [m["role"] for m in server.requests[0].body["messages"]]
    assert roles == ["user"]


@pytest.mark.parametrize(
    "text",
    [
        "your speech to the judge in your own words",  # copied from the prompt
        "your argument, in plain words",  # the placeholder of an earlier prompt
        "<your argument>",
        "",
    ],
)
def test_a_parroted_speech_is_forfeited_with_the_reason_and_kept(text: str) -> None:
    reply = json.dumps({"text": text, "citations": []})
    with LLMServer(default=Reply(reply)) as server:
        res = _debate(server)
        n = len(server.requests)
    a = next(t for t in res.turns if t.speaker == "a")
    assert a.forfeit and "after one repair" in a.forfeit
    assert "prompt's wording" in a.forfeit or "placeholder" in a.forfeit or "no words" in a.forfeit
    assert a.raw_reply == reply and n == 2


def test_parroted_only_for_text_of_its_own() -> None:
    prompt = load_prompt("judge_system", max_order=3, char_limit=600)
    assert parroted("your reasoning in your own words", prompt)
    assert parroted("  ...  ", prompt)
    assert parroted("why, in a few sentences", prompt)
    assert parroted("b cites the triple of the die, which a ignores", prompt) is None
    assert parroted("The pairs look independent; the triple is far rarer.", prompt) is None
    # words of its own that happen to be inside the prompt's words ("log10", "estimate")
    for own in ("10", "ate", "Mat."):
        assert own.lower().strip(".") in prompt.lower()  # as characters, it is in there
        assert parroted(own, prompt) is None, own


def test_a_judge_reason_over_the_limit_is_cut_and_marked() -> None:
    from debate.llm_players import JUDGE_REASON_CHARS, JudgeReply

    long = JudgeReply.model_validate({"reason": "x" * (JUDGE_REASON_CHARS + 50), "log10_p": -2})
    assert len(long.reason) == JUDGE_REASON_CHARS and long.reason.endswith("…")
    fits = JudgeReply.model_validate({"reason": "y" * JUDGE_REASON_CHARS, "log10_p": -2})
    assert fits.reason == "y" * JUDGE_REASON_CHARS


def test_an_over_long_speech_is_cut_and_marked_not_forfeited() -> None:
    long = json.dumps({"text": "the die is fair " * 200, "citations": []})  # 3,200 characters
    with LLMServer(default=Reply(long)) as server:
        res = _debate(server, char_limit=500)
        n = len(server.requests)
    a = next(t for t in res.turns if t.speaker == "a")
    assert a.forfeit is None and a.truncated and len(a.text) == 500 and n == 1


def test_a_citation_without_kind_is_read_by_its_keys() -> None:
    reply = json.dumps(
        {
            "text": "s03 and s09 look independent",
            "citations": [{"id": "s03"}, {"ids": ["s03", "s09"], "claimed": 0.26}],
        }
    )
    with LLMServer(default=Reply(reply, stream=False)) as server:
        res = _debate(server)
    a = next(t for t in res.turns if t.speaker == "a")
    assert a.forfeit is None and [c.kind for c in a.citations] == ["statement", "prob"]


def test_a_stream_cut_by_the_server_and_a_reply_cut_at_max_tokens_are_named() -> None:
    with LLMServer(default=Reply(SPEECH[:30], finish=None)) as server:
        res = _debate(server)
    a = next(t for t in res.turns if t.speaker == "a")
    assert a.forfeit and "without a finish_reason" in a.forfeit and a.raw_reply == SPEECH[:30]
    with LLMServer(default=Reply(SPEECH[:30], finish="length")) as server:
        res = _debate(server)
    a = next(t for t in res.turns if t.speaker == "a")
    assert a.forfeit and "cut at max_tokens (800)" in a.forfeit


def test_a_reply_cut_at_max_tokens_inside_its_last_text_is_an_over_long_text() -> None:
    """gemma-3-270m rambled in its reason until max_tokens (800 tokens, 250 s a call on a
    busy CPU) and every such answer was lost. With the free text last in the schema, a
    reply cut inside it has said everything else: the text is closed and marked as cut, the
    speech cut by the engine as the rules say, the judge's answer kept; one request each."""
    ramble = "the pairs look independent and " * 80
    speech = _arg(ramble, ["s03", "s09"], 0.26)
    answer = JUDGE_REPLY[: JUDGE_REPLY.index('"reason"')] + f'"reason": "{ramble}'
    with LLMServer(
        respond=by_role(Reply(answer, finish="length"), Reply(speech[:-40], finish="length"))
    ) as server:
        judge = LLMJudge("tiny", base_url=server.url, max_retries=0)
        res = _debate(server, judge, char_limit=300)
        n_requests = len(server.requests)
    a = next(t for t in res.turns if t.speaker == "a")
    assert a.forfeit is None and a.truncated and len(a.text) <= 300 + 10
    assert a.text.startswith("the pairs look independent") and a.citations
    assert not res.judgement.errors and not res.judgement.failed
    assert res.judgement.estimate == pytest.approx(10**-3.5)
    assert judge.last is not None and judge.last.reason.endswith(CUT_MARK)
    assert n_requests == 1 + 3  # no repair asked for
    # cut anywhere else (in the citations) the reply is still broken, and says why
    with LLMServer(default=Reply(speech[:25], finish="length")) as server:
        res = _debate(server)
    a = next(t for t in res.turns if t.speaker == "a")
    assert a.forfeit and "cut at max_tokens (800)" in a.forfeit


def test_a_slow_judge_answer_is_waited_for_within_the_turn_not_retried() -> None:
    """A judge's answer is not streamed, so a read timeout shorter than the turn cut a slow
    local model's answer and sent it again (queued behind the first on llama_cpp.server):
    within the turn timeout the answer is awaited, once."""
    with LLMServer(respond=by_role(Reply(JUDGE_REPLY, delay=0.8), Reply(SPEECH))) as server:
        judge = LLMJudge("tiny", base_url=server.url, read_timeout=0.3, max_retries=1)
        res = _debate(server, judge, turn_timeout=5)
        judged = [r for r in server.requests if "log10_p" in json.dumps(r.body)]
    assert not res.judgement.errors and res.judgement.estimate == pytest.approx(10**-3.5)
    assert len(judged) == 3  # two observations and the decision, none sent twice


def test_a_failed_llm_judge_is_stored_and_exported_as_failed(tmp_path: Path) -> None:
    garbage = "I think P(Z) is small."
    with LLMServer(respond=by_role(Reply(garbage), Reply("not json either"))) as server:
        res = _debate(server, LLMJudge("tiny", base_url=server.url, max_retries=0))
    assert res.judgement.failed
    with Store(tmp_path / "db.sqlite") as store:
        store.record_debate(res, judge=res.judge)
        (row,) = export_rows(store, transcripts=True)
        with store.reading() as conn:
            stored = conn.execute("SELECT judge_failed, credence_a FROM judgements").fetchone()
    assert stored == (1, None)
    assert row["judge_failed"] is True and "after one repair" in row["judge_error"]
    assert row["credence_a"] is None and row["trust"] is None and row["credences"] == []
    a = next(t for t in row["turns"] if t["speaker"] == "a")
    assert a["forfeit"] and a["raw_reply"] == "not json either"


@pytest.mark.parametrize("stall", [Hang(30), Trickle(30)], ids=["hang", "trickle"])
def test_every_call_ends_within_the_turn_timeout_repair_included(stall: Behaviour) -> None:
    """Default client settings (120 s read timeout, 3 retries). The debater's first reply is
    garbage and its repair request stalls; the judge's calls stall (a server that trickles
    keep-alives never trips a read timeout): each call still ends at the turn timeout."""
    with LLMServer(respond=by_role(stall, stall)) as server:
        server.script(Reply("garbage, not JSON"))
        deb = LLMDebater("tiny", base_url=server.url)
        judge = LLMJudge("tiny", base_url=server.url)
        t0 = time.monotonic()
        res = asyncio.run(
            asyncio.wait_for(
                run_debate(
                    load_world(EXAMPLES / "small.json"),
                    deb,
                    builtin("honest"),
                    judge,
                    Rules(rounds=0, max_rounds=0, turn_timeout=0.5),
                    honest_side="b",
                ),
                30,
            )
        )
        took = time.monotonic() - t0
        n = len(server.requests)
    a = next(t for t in res.turns if t.speaker == "a")
    assert a.forfeit and "within" in a.forfeit and "0.5 s" in a.forfeit
    assert n == 2 + 3  # the speech and its repair, two observations and the decision
    assert res.judgement.failed and len(res.judgement.errors) == 3
    assert took < 0.5 * 4 + 2.0  # the opening, 3 judge calls, slack for a loaded machine


def test_a_headless_debate_shows_its_progress_line_by_line() -> None:
    """What `pzjudge debate` writes to a terminal's stderr as the debate goes."""
    import io

    from tui.cli_debate import debate_progress

    out = io.StringIO()
    with LLMServer(respond=by_role(Reply("no json"), Reply("nor here"))) as server:
        asyncio.run(
            run_debate(
                load_world(EXAMPLES / "small.json"),
                LLMDebater("tiny", base_url=server.url, max_retries=0),
                builtin("honest"),
                LLMJudge("tiny", base_url=server.url, max_retries=0),
                Rules(rounds=0, max_rounds=0),
                honest_side="b",
                on_event=debate_progress(out),
            )
        )
    lines = out.getvalue().splitlines()
    assert lines[:2] == ["a opening 0: speaking…", "b opening 0: speaking…"]
    assert any(
        ln.startswith("a opening 0: forfeited (tiny reply was not a valid argument ")
        for ln in lines
    )
    spoke = r"b opening 0: \d+ characters, \d+ citations, \d+\.\d s"
    assert any(re.match(spoke, ln) for ln in lines)
    assert sum(ln.startswith("judge failed to answer:") for ln in lines) == 2
    assert not any("honest" in ln for ln in lines)
