"""The LLM decoder: the built-in decoder's meaning reaches the model, failures keep the
built-in sentence, and the world it writes plays like any other (loopback server only)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import re
import sqlite3
import zlib
from pathlib import Path
from typing import Any

import pytest
from llm_server import Behaviour, Hang, LLMServer, Reply, Status
from tui_steps import STEPS, on_screen, type_text, until

from debate.builtin import builtin
from debate.engine import run_debate
from debate.llm_decoder import (
    DRIFT_THRESHOLD,
    Meaning,
    adds,
    drift,
    meanings,
    not_one_statement,
    rewrite_world,
)
from debate.llm_decoder import _prompt as _prompt_of
from debate.rounds import SessionSettings, deal_round
from debate.rules import Rules
from debate.views import statement_views
from latent.decoder import TOPICS, BuiltinDecoder
from latent.generate import generate_world
from latent.pz import world_pz
from latent.world import GaussianStatement, World, load_world
from tui.cli import main


def _world() -> World:
    return generate_world(seed=7, statements=14, families=2, counterexamples=1, flips=2)


def _prompt(body: dict[str, Any]) -> str:
    """The request's first user message (a repair request's last one is the repair)."""
    return str(next(m["content"] for m in body["messages"] if m["role"] == "user"))


def _quoted(prompt: str) -> str:
    return re.search(r'The statement: "(.*?)"', prompt).group(1)  # type: ignore[union-attr]


def fluent(body: dict[str, Any]) -> Behaviour:
    """A model that words the meaning it is given (or the sentence, when it has none)."""
    prompt = _prompt(body)
    sentence = _quoted(prompt)
    said = re.search(r"What it says: (.*?) \(topic:", prompt)
    # two wordings of one meaning get two sentences (a number from the wording)
    mark = zlib.crc32(sentence.encode()) % 9973
    text = f"It is plainly so that {said.group(1)} ({mark})." if said else f"Simply: {sentence}"
    return Reply(json.dumps({"sentence": text}))


def test_the_meaning_reaches_the_model_and_only_texts_change() -> None:
    world = _world()
    with LLMServer(respond=fluent) as server:
        new, report = asyncio.run(rewrite_world(world, "tiny", base_url=server.url))
        # requests run concurrently: match each to its statement by the sentence it quotes
        by_text = {_quoted(_prompt(r.body)): _prompt(r.body) for r in server.requests}
        prompts = {m.id: by_text[m.sentence] for m in meanings(world)}
        modes = {r.mode for r in server.requests}
        problems = [p for r in server.requests for p in r.schema_problems]
    assert report.rewritten == world.n_statements and report.kept == 0
    assert modes == {"json_schema"} and problems == []
    dec = BuiltinDecoder()
    flips = 0
    for block in world.blocks:
        for st in block.statements:
            prompt = prompts[st.id]
            assert f'The statement: "{st.text}"' in prompt
            if not (isinstance(st, GaussianStatement) and st.latent):
                continue
            # the reading, found here from the decoder's own parts: topic and polar side
            r = dec.locate(st.latent)  # type: ignore[arg-type]
            topic = TOPICS[r.topic]
            claim, opposite = topic.pairs[r.pair]
            head = f"{topic.subjects[r.subject]} {topic.verbs[r.verb].plain}"
            tail = topic.tails[r.tail]
            said, denied = (opposite, claim) if st.flip else (claim, opposite)
            assert f"What it says: {head} {said}{tail} (topic: {topic.name})" in prompt
            assert f"must not say that {head} {denied}{tail}\n" in prompt
            flips += st.flip
    assert flips == 2
    # along a family each statement sees the one before it, to stay a near-paraphrase of it;
    # the first of a family and an independent statement see none
    families = [b for b in world.blocks if (b.name or "").startswith("family")]
    assert len(families) == 2
    for fam in families:
        assert "neighbouring" not in prompts[fam.statements[0].id]
        for before, st in zip(fam.statements, fam.statements[1:], strict=False):
            shown = prompts[st.id].split("neighbouring statement of the set")[1]
            assert shown.split("\n")[0].endswith(f'"{before.text}"')
    lone = next(b for b in world.blocks if b.name == "independent").statements[0]
    assert "neighbouring" not in prompts[lone.id]
    # only the texts changed: the world model, and so P(Z), is the same
    old_dump, new_dump = world.model_dump(), new.model_dump()
    for b_old, b_new in zip(old_dump["blocks"], new_dump["blocks"], strict=True):
        for s_old, s_new in zip(b_old["statements"], b_new["statements"], strict=True):
            assert s_new["text"] != s_old["text"]
            assert {**s_new, "text": ""} == {**s_old, "text": ""}
        assert {**b_new, "statements": []} == {**b_old, "statements": []}
    assert world_pz(new).log10_pz == world_pz(world).log10_pz
    assert new.meta is not None and new.meta.settings["sentences"] == "openai:tiny"


def test_failures_keep_the_built_in_sentence_and_are_counted() -> None:
    world = generate_world(seed=3, statements=6, families=1)
    # faithful to statements 2 and 3 alike (neighbours: same words, same polarity)
    one = f"Indeed {meanings(world)[2].asserts}."
    same = json.dumps({"sentence": one})
    with LLMServer(respond=fluent) as server:
        server.script(
            Status(400, '{"error": {"message": "model not loaded"}}'),
            Reply("no JSON at all"),
            Reply("still none"),
            Reply(same),
            Reply(same),  # repeats another statement's new text
            Hang(10),
        )
        new, report = asyncio.run(
            rewrite_world(world, "tiny", base_url=server.url, concurrency=1, timeout=0.5)
        )
    old = [st.text for b in world.blocks for st in b.statements]
    got = [st.text for b in new.blocks for st in b.statements]
    assert got[0] == old[0] and got[1] == old[1]  # the 400, the invalid reply and its repair
    assert got[2] == one and got[3] == old[3]
    assert got[4] == old[4]  # no answer within the time
    assert got[5] != old[5]
    assert report.rewritten == 2 and report.kept == 4
    assert "4 kept the built-in text" in report.summary()
    assert new.meta is not None and new.meta.settings["sentences_builtin"] == 4
    ids = [st.id for b in world.blocks for st in b.statements]
    kept = new.meta.settings["sentences_kept"]
    assert set(kept) == {ids[0], ids[1], ids[3], ids[4]}
    assert kept[ids[3]] == "the sentence repeats another statement's"
    assert "within 0.5 s" in kept[ids[4]] or "no complete answer" in kept[ids[4]]


HUSKY = Meaning(
    id="s1",
    sentence="A husky is a large dog by nature.",
    topic="husky",
    asserts="a husky is a large dog by nature",
    denies="a husky is a small dog by nature",
)


@pytest.mark.parametrize(
    ("sentence", "why"),
    [
        ("Huskies are naturally big dogs.", None),  # 2 of 4 content words: the threshold
        ("By nature, huskies are not small dogs.", None),
        ("A husky isn't a small dog by nature.", None),
        ("Huskies are small dogs by nature.", "polarity"),
        ("A husky is never a large dog by nature.", "polarity"),
        ("It is false that a husky is a large dog.", "polarity"),
        ("Ripe tomatoes are usually red.", "words"),
        ("Wolves are large animals.", "words"),  # 1 of 4
    ],
)
def test_drift_reads_words_and_polarity(sentence: str, why: str | None) -> None:
    got = drift(HUSKY, sentence)
    if why is None:
        assert got is None
    else:
        assert got is not None and got.startswith("drifted")
        assert ("polarity" in got) == (why == "polarity")


def test_drift_keeps_every_built_in_sentence_and_catches_changed_meanings() -> None:
    """The measure against the decoder's own texts, on many worlds: each built-in sentence
    is a faithful wording of its meaning; saying the denied side, negating the asserted
    one, or a sentence of another topic drifts; negating the denied side does not."""
    checked = 0
    for seed in range(20):
        world = generate_world(seed=seed, statements=40, families=4, counterexamples=2, flips=4)
        ms = meanings(world)
        for m in ms:
            assert drift(m, m.sentence) is None, m
            if not (m.asserts and m.denies):
                continue
            checked += 1
            assert drift(m, f"{m.asserts}.") is None
            assert "polarity" in (drift(m, f"{m.denies}.") or "")
            assert "polarity" in (drift(m, f"It is not true that {m.asserts}.") or "")
            assert drift(m, f"It is not true that {m.denies}.") is None
            for other in ms:
                if other.topic and other.topic != m.topic:
                    assert drift(m, other.sentence) is not None, (m, other)
    assert checked > 500


def test_a_rewrite_that_drifts_is_repaired_once_else_keeps_the_built_in_sentence() -> None:
    world = generate_world(seed=3, statements=6, families=1)
    ms = meanings(world)
    off = json.dumps({"sentence": "Ripe tomatoes are usually red."})
    with LLMServer(respond=fluent) as server:
        server.script(Reply(off), Reply(off), Reply(off))  # 1st: twice; 2nd: once
        new, report = asyncio.run(rewrite_world(world, "tiny", base_url=server.url, concurrency=1))
        repair = str(server.requests[1].body["messages"][-1]["content"])
    assert "drifted: kept 0% of the meaning's words" in repair
    got = [st.text for b in new.blocks for st in b.statements]
    assert got[0] == ms[0].sentence and got[1].startswith("It is plainly so that")
    assert report.rewritten == 5 and report.kept == 1
    assert new.meta is not None
    assert new.meta.settings["sentences_kept"] == {
        ms[0].id: "drifted: kept 0% of the meaning's words (at least 50% needed)"
    }
    assert new.meta.settings["sentences_drift_threshold"] == DRIFT_THRESHOLD


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("Huskies are naturally big dogs.", None),
        ("Huskies, e.g. Siberian ones, are big by nature.", None),
        ("It is so (i.e. by nature) that a husky is a large dog.", None),
        ("Simply: a husky is a large dog by nature.", None),
        ("A husky weighs 2.5 times a terrier, a large dog by nature.", None),
        # every word and the polarity kept: drift alone lets this through
        ("A husky is a large dog by nature. Or so they say.", "more than one"),
        ("A husky is a large dog by nature; not really.", "more than one"),
        ("A husky is a large dog by nature! Huskies are small.", "more than one"),
        ("Is a husky a large dog by nature?", "question"),
    ],
)
def test_a_statement_is_one_declarative_sentence(text: str, why: str | None) -> None:
    """A second sentence can add or retract a claim that the word and negation checks do
    not see ("... by nature. Or so they say." keeps every word and the polarity)."""
    if "say" in text:
        assert drift(HUSKY, text) is None
    got = not_one_statement(text)
    assert (got is None) if why is None else (got is not None and why in got)


def test_every_built_in_sentence_is_one_statement_that_adds_nothing() -> None:
    """The checks never refuse what the built-in decoder writes (many worlds, every style;
    names such as "Mainz", hedges such as "likely" where the meaning has them)."""
    seen = 0
    for seed in range(20):
        world = generate_world(seed=seed, statements=40, families=4, counterexamples=2, flips=4)
        for m in meanings(world):
            assert not_one_statement(m.sentence) is None, m.sentence
            assert adds(m, m.sentence) is None, m.sentence
            seen += 1
    assert seen == 800


GUTENBERG = Meaning(
    id="s2",
    sentence="Gutenberg of Mainz was an important printer in Europe.",
    topic="gutenberg",
    asserts="gutenberg of mainz was an important printer in europe",
    denies="gutenberg of mainz was an unimportant printer in europe",
)


@pytest.mark.parametrize(
    ("sentence", "why"),
    [
        ("In Europe, Gutenberg of Mainz was an important printer.", None),
        ("Gutenberg of Mainz was an important European printer.", None),  # a stem it has
        ("Gutenberg, from Mainz, was a printer of importance in Europe.", None),
        ("Gutenberg of Mainz was an important printer in Asia.", "name"),
        ("Gutenberg of Mainz in Germany was an important printer in Europe.", "name"),
        ("Gutenberg of Mainz was an important printer in Europe, or so they say.", "hedge"),
        ("Gutenberg of Mainz was probably an important printer in Europe.", "hedge"),
        ("The statement: Gutenberg of Mainz was an important printer in Europe.", "label"),
    ],
)
def test_a_rewrite_adds_no_name_hedge_or_label(sentence: str, why: str | None) -> None:
    """What `drift` cannot see: every word of the meaning kept, its polarity kept, and yet
    a different place, an added name, a hedge, or the prompt's label copied in."""
    if why in ("hedge", "label"):
        assert drift(GUTENBERG, sentence) is None
    got = adds(GUTENBERG, sentence)
    assert (got is None) if why is None else (got is not None and why in got)


def test_a_reply_of_two_sentences_is_repaired_once_else_keeps_the_built_in_sentence() -> None:
    world = generate_world(seed=3, statements=6, families=1)
    ms = meanings(world)
    two = json.dumps({"sentence": f"{ms[0].sentence} Or so they say."})
    with LLMServer(respond=fluent) as server:
        server.script(Reply(two), Reply(two))
        new, report = asyncio.run(rewrite_world(world, "tiny", base_url=server.url, concurrency=1))
        repair = str(server.requests[1].body["messages"][-1]["content"])
    assert "more than one sentence" in repair
    got = [st.text for b in new.blocks for st in b.statements]
    assert got[0] == ms[0].sentence and "Or so they say" not in " ".join(got)
    assert report.kept == 1 and new.meta is not None
    assert "more than one sentence" in new.meta.settings["sentences_kept"][ms[0].id]


def test_generate_with_an_llm_decoder_writes_a_world_that_plays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "w.json"
    with LLMServer(respond=fluent) as server:
        code = main(
            [
                "generate",
                "--seed", "5", "--statements", "8", "--families", "1", "--flips", "1",
                "--decoder", "openai:tiny", "--base-url", server.url, "-o", str(out),
            ]
        )  # fmt: skip
    assert code == 0 and "8 sentences reworded by the LLM" in capsys.readouterr().err
    world = load_world(out)
    assert all(st.text.startswith("It is plainly so that") for st in world.blocks[0].statements)
    res = asyncio.run(
        run_debate(world, builtin("honest"), builtin("independence"), _judge(), Rules(rounds=1))
    )
    assert res.turns and all(t.forfeit is None for t in res.turns)
    assert main(["generate", "--seed", "1", "--statements", "3", "--decoder", "gpt"]) == 2
    assert "use builtin or openai:MODEL" in capsys.readouterr().err


def test_generate_against_no_server_stops_at_the_first_call_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """A base URL where nothing listens: one statement's call and its retries, then the
    others keep the built-in text without calls of their own; the command refuses in one
    line naming the server (whole, not cut mid-URL) and writes no world labelled with
    sentences it does not have."""
    import socket

    with socket.socket() as sock:  # a loopback port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    out = tmp_path / "w.json"
    code = main(
        [
            "generate", "--seed", "3", "--statements", "12",
            "--decoder", "openai:x", "--base-url", url, "-o", str(out),
        ]
    )  # fmt: skip
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and not out.exists()
    retries = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert 1 <= len(retries) <= 3  # one call's retries (before: every statement's, 36)
    assert "no sentence was reworded (12 × " in line and f"running at {url}?" in line
    assert "nothing written" in line


def _judge() -> Any:
    from debate.specs import make_judge

    return make_judge("maxent")


def _shifted(world: World) -> World:
    """`world` with other truth (every threshold, correlation and outcome weight changed),
    the same texts, latent points and flips: what a decoder may see is all the same."""
    data = world.model_dump(mode="json")
    for block in data["blocks"]:
        if block["kind"] == "gaussian":
            for st in block["statements"]:
                st["threshold"] = -st["threshold"] - 0.7
            n = len(block["covariance"])
            block["covariance"] = [[1.0 if i == j else 0.1 for j in range(n)] for i in range(n)]
        else:
            keys = sorted(block["outcomes"])
            weights = [i + 1.0 for i in range(len(keys))]
            block["outcomes"] = {k: w / sum(weights) for k, w in zip(keys, weights, strict=True)}
    return World.model_validate(data)


def test_what_the_decoder_is_sent_does_not_depend_on_the_truth() -> None:
    """Truth never comes from (or reaches) a decoder: two worlds that differ only in their
    truth get the very same requests, so their sentences cannot tell them apart."""
    world = _world()
    other = _shifted(world)
    assert world_pz(other).log10_pz != pytest.approx(world_pz(world).log10_pz, abs=0.1)
    sent = []
    for w in (world, other):
        with LLMServer(respond=fluent) as server:
            asyncio.run(rewrite_world(w, "tiny", base_url=server.url))
            sent.append(sorted(json.dumps(r.body["messages"]) for r in server.requests))
    assert sent[0] == sent[1] and len(sent[0]) == world.n_statements


# -- the game's setup offers the decoder -------------------------------------------------


async def _set(pilot: Any, field: str, text: str) -> None:
    """Replace what field `#f-<field>` of the setup holds by `text`, typed."""
    await pilot.click(f"#f-{field}")
    await pilot.press("end", *["backspace"] * 40)
    await type_text(pilot, text)


def _play_with_decoder(
    db: Path, url: str, statements_seen: list[list[str]], loading: list[str] | None = None
) -> list[str]:
    """From home, a one-round debate of 16 statements whose sentences `openai:tiny` at
    `url` words; answered; returns the notifications shown."""
    from textual.widgets import Static

    from tui.app import PzJudgeApp
    from tui.widgets.statements import StatementList

    loading = [] if loading is None else loading

    paused: list[object] = []

    def hook(m: object) -> None:
        if type(m).__name__ == "DebatePaused":
            paused.append(m)

    async def main() -> list[str]:
        app = PzJudgeApp(db_path=db, judge="tester", seed=11)
        async with app.run_test(size=(100, 50), message_hook=hook) as pilot:
            await pilot.press("p")
            await on_screen(app, pilot, "SetupScreen")
            await _set(pilot, "statements", "16")
            await _set(pilot, "rounds", "1")
            await _set(pilot, "base_url", url)
            await _set(pilot, "decoder", "openai:tiny")
            await pilot.press("ctrl+s")
            for _ in range(STEPS):  # the loading screen counts the sentences as they come
                if type(app.screen).__name__ == "RoundScreen":
                    break
                if type(app.screen).__name__ == "LoadingScreen":
                    loading.append(str(app.screen.query_one("#loading-text", Static).render()))
                await pilot.pause(0.02)
            await on_screen(app, pilot, "RoundScreen")
            lst = app.screen.query_one(StatementList)
            statements_seen.append(
                [lst.render_line(y).text for y in range(lst.size.height)]
                + [s.text for s in lst.statements]
            )
            await until(pilot, lambda: bool(paused), "the debate's first speech")
            await pilot.press("a", "end")
            await type_text(pilot, "1e-4")
            await pilot.press("enter")
            await on_screen(app, pilot, "RevealScreen")
            return [str(n.message) for n in app._notifications]

    return asyncio.run(main())


def _stored_round(db: Path) -> tuple[SessionSettings, dict[str, Any]]:
    with contextlib.closing(sqlite3.connect(db)) as con:
        con.row_factory = sqlite3.Row
        settings = json.loads(con.execute("SELECT settings FROM sessions").fetchone()[0])
        row = dict(
            con.execute(
                "SELECT r.*, COALESCE(r.world_json, w.world_json) AS world FROM rounds r"
                " LEFT JOIN worlds w ON w.id = r.world_id"
            ).fetchone()
        )
    return SessionSettings.model_validate(settings), row


def test_the_games_setup_offers_the_llm_decoder_and_the_round_plays_its_sentences(
    tmp_path: Path,
) -> None:
    db = tmp_path / "g.db"
    seen: list[list[str]] = []
    loading: list[str] = []

    def slowly(body: dict[str, Any]) -> Behaviour:
        return dataclasses.replace(fluent(body), delay=0.1)  # type: ignore[type-var]

    with LLMServer(respond=slowly) as server:
        notes = _play_with_decoder(db, server.url, seen, loading)
        prompts = sorted(_prompt(r.body) for r in server.requests)
    settings, row = _stored_round(db)
    assert settings.decoder == "openai:tiny" and settings.base_url == server.url
    stored = World.model_validate_json(row["world"])
    texts = [st.text for b in stored.blocks for st in b.statements]
    # the round showed, and stored, the LLM's sentences: every one of them
    assert all(t.startswith(("It is plainly so that", "Simply:")) for t in texts)
    assert sorted(texts) == sorted(seen[0][-16:])
    assert any("It is plainly so that" in line for line in seen[0][:-16])
    assert not any("kept the built-in text" in n for n in notes)
    counts = [re.search(r"openai:tiny words them \((\d+)/16\)", t) for t in loading]
    done = [int(m.group(1)) for m in counts if m]
    assert done and done == sorted(done) and done[-1] <= 16
    # the same round dealt with the built-in decoder: the same truth and the same shown
    # probabilities, and its meanings are what the model was asked to word
    builtin = deal_round(settings.model_copy(update={"decoder": "builtin"}), row["world_seed"])
    assert row["truth_pz"] == builtin.secret.truth
    assert world_pz(stored).pz == pytest.approx(builtin.secret.truth, rel=1e-9)
    assert sorted((s.id, s.p) for s in statement_views(stored, builtin.rules)) == sorted(
        (s.id, s.p) for s in builtin.statements
    )
    assert prompts == sorted(_prompt_of(m) for m in meanings(builtin.world))
    assert stored.meta is not None and stored.meta.settings["sentences"] == "openai:tiny"


def test_a_failing_decoder_keeps_the_built_in_sentences_and_says_so_in_one_line(
    tmp_path: Path,
) -> None:
    db = tmp_path / "f.db"
    seen: list[list[str]] = []
    with LLMServer(respond=lambda body: Status(400, '{"error": {"message": "no model"}}')) as s:
        notes = _play_with_decoder(db, s.url, seen)
    settings, row = _stored_round(db)
    builtin = deal_round(settings.model_copy(update={"decoder": "builtin"}), row["world_seed"])
    stored = World.model_validate_json(row["world"])
    assert [st.text for b in stored.blocks for st in b.statements] == [
        st.text for b in builtin.world.blocks for st in b.statements
    ]
    said = [n for n in notes if "kept the built-in text" in n]
    assert len(said) == 1 and "\n" not in said[0]
    assert said[0].startswith("openai:tiny: 0 sentences reworded by the LLM, 16 kept")
