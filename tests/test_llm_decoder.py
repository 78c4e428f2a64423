"""The LLM decoder: the built-in decoder's meaning reaches the model, failures keep the
built-in sentence, and the world it writes plays like any other (loopback server only)."""

from __future__ import annotations

import asyncio
import json
import re
import zlib
from pathlib import Path
from typing import Any

import pytest
from llm_server import Behaviour, Hang, LLMServer, Reply, Status

from debate.builtin import builtin
from debate.engine import run_debate
from debate.llm_decoder import meanings, rewrite_world
from debate.rules import Rules
from latent.decoder import TOPICS, BuiltinDecoder
from latent.generate import generate_world
from latent.pz import world_pz
from latent.world import GaussianStatement, World, load_world
from tui.cli import main


def _world() -> World:
    return generate_world(seed=7, statements=14, families=2, counterexamples=1, flips=2)


def _prompt(body: dict[str, Any]) -> str:
    return str(body["messages"][-1]["content"])


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
    # a family's statements see their neighbour's sentence; an independent one sees none
    fam = next(b for b in world.blocks if (b.name or "").startswith("family"))
    second = fam.statements[1]
    assert f'"{fam.statements[0].text}"' in prompts[second.id].split("neighbouring")[1]
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
    same = json.dumps({"sentence": "One and the same sentence."})
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
    assert got[2] == "One and the same sentence." and got[3] == old[3]
    assert got[4] == old[4]  # no answer within the time
    assert got[5] != old[5]
    assert report.rewritten == 2 and report.kept == 4
    assert "4 kept the built-in text" in report.summary()
    assert new.meta is not None and new.meta.settings["sentences_builtin"] == 4


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


def _judge() -> Any:
    from debate.specs import make_judge

    return make_judge("maxent")
