"""An LLM decoder for M_Z: the built-in decoder decides what each statement means, a chat
model words it.

`rewrite_world` takes a generated world and asks an OpenAI-compatible model to reword every
statement as one fluent sentence of the same meaning. The meaning comes from the built-in
decoder (`latent.decoder.BuiltinDecoder`) at the statement's stored latent point: its topic,
subject, verb and the side of the polar pair it asserts (a flip asserts the opposite side,
so a negation is passed as what the sentence must say, never as a label that could leak
into its words); a statement without a latent point (a planted block's) passes its built-in
sentence as its meaning. A statement of a family also shows the model its neighbour's
sentence, so that neighbours along a path stay near-paraphrases.

The sentences are stored in the world file, so the world stays reproducible and playable
offline. A call that fails (no answer within the time, invalid or parroted reply, a text that
repeats another statement's) keeps the built-in sentence and the report says how many and
why. Truth never comes from a decoder: only texts change, never thresholds, flips, outcomes
or covariances.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, field_validator

from debate.errors import DebateError
from debate.llm import LLMClient, LLMConfig, gather_limited, load_prompt
from debate.llm_players import llm_config, parroted
from latent.decoder import TOPICS, BuiltinDecoder
from latent.text import CleanText
from latent.world import GaussianStatement, World

__all__ = ["Meaning", "RewriteReport", "meanings", "rewrite_world"]

#: Longest sentence kept; a longer one keeps the built-in text.
MAX_SENTENCE = 300
SENTENCE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"sentence": {"type": "string"}},
    "required": ["sentence"],
    "additionalProperties": False,
}


class Meaning(BaseModel):
    """What a statement says, as the built-in decoder chose it."""

    model_config = ConfigDict(frozen=True)

    id: str
    sentence: str
    #: The decoder's topic (None for a statement without a latent point).
    topic: str | None = None
    #: "subject verb complement": what the sentence must assert.
    asserts: str | None = None
    #: The other side of the polar pair: what it must not assert.
    denies: str | None = None
    #: The built-in sentence of the previous statement of the same family, if any.
    neighbour: str | None = None


class _Sentence(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sentence: CleanText

    @field_validator("sentence")
    @classmethod
    def _one_line(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("the sentence is empty")
        if len(value) > MAX_SENTENCE:
            raise ValueError(f"the sentence has {len(value)} characters, at most {MAX_SENTENCE}")
        return value


@dataclass
class RewriteReport:
    """How the rewriting went: sentences reworded, and why the others kept the built-in."""

    rewritten: int = 0
    kept: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        """One line for the command line."""
        line = f"{self.rewritten} sentences reworded by the LLM"
        if self.kept:
            top = "; ".join(f"{n} × {r}" for r, n in self.reasons.most_common(3))
            line += f", {self.kept} kept the built-in text ({top})"
        return line


def meanings(world: World) -> list[Meaning]:
    """The meaning of every statement of `world`, in file order (see the module notes)."""
    settings = world.meta.settings if world.meta else {}
    seed, dim = settings.get("decoder_seed", 0), settings.get("decoder_dim", 8)
    dec = BuiltinDecoder(seed=seed if isinstance(seed, int) else 0, dim=int(dim))
    out = []
    for block in world.blocks:
        family = (block.name or "").startswith("family")
        previous: str | None = None
        for st in block.statements:
            kw: dict[str, Any] = {}
            if isinstance(st, GaussianStatement) and st.latent and len(st.latent) == dec.dim:
                r = dec.locate(st.latent)  # type: ignore[arg-type]
                topic = TOPICS[r.topic]
                head = f"{topic.subjects[r.subject]} {topic.verbs[r.verb].plain}"
                said, other = topic.pairs[r.pair][::-1] if st.flip else topic.pairs[r.pair]
                tail = topic.tails[r.tail]
                kw = {
                    "topic": topic.name,
                    "asserts": f"{head} {said}{tail}",
                    "denies": f"{head} {other}{tail}",
                }
            out.append(
                Meaning(id=st.id, sentence=st.text, neighbour=previous if family else None, **kw)
            )
            previous = st.text
    return out


def _prompt(m: Meaning) -> str:
    if m.asserts:
        meaning = f"{m.asserts} (topic: {m.topic}); it must not say that {m.denies}"
    else:
        meaning = "what the statement itself says, no more and no less"
    neighbour = (
        f'- A neighbouring statement of the set, to stay close to in wording: "{m.neighbour}"\n'
        if m.neighbour
        else ""
    )
    return load_prompt("decoder_rewrite", sentence=m.sentence, meaning=meaning, neighbour=neighbour)


async def rewrite_world(
    world: World,
    model: str,
    *,
    base_url: str | None = None,
    concurrency: int = 4,
    timeout: float = 60.0,
    transport: httpx.AsyncBaseTransport | None = None,
    **config: Any,
) -> tuple[World, RewriteReport]:
    """`world` with every statement reworded by `model` (see the module notes), and a report.

    Each call ends within `timeout` seconds; at most `concurrency` run at once. Raises
    DebateError only for a bad configuration; failed calls keep the built-in sentence."""
    cfg: LLMConfig = llm_config(model, base_url, **config)
    instructions = load_prompt("decoder_rewrite", sentence="", meaning="", neighbour="")
    items = meanings(world)
    report = RewriteReport()

    async with LLMClient(cfg, transport=transport) as llm:

        async def one(m: Meaning) -> str:
            prompt = _prompt(m)

            def check(reply: _Sentence) -> None:
                # against the instructions alone: a good sentence may well repeat the meaning
                why = parroted(reply.sentence, instructions)
                if why:
                    raise ValueError(why)

            reply, _ = await llm.structured(
                [{"role": "user", "content": prompt}],
                _Sentence,
                timeout=timeout,
                schema=SENTENCE_SCHEMA,
                schema_name="sentence",
                check=check,
            )
            return reply.sentence

        got = await gather_limited([one(m) for m in items], concurrency, return_exceptions=True)

    texts: dict[str, str] = {}
    taken = {m.sentence for m in items}
    for m, result in zip(items, got, strict=True):
        if isinstance(result, str) and result != m.sentence and result not in taken:
            texts[m.id] = result
            taken.add(result)
            report.rewritten += 1
            continue
        if isinstance(result, Exception) and not isinstance(result, DebateError):
            raise result  # a bug, not the model's failure
        report.kept += 1
        if isinstance(result, DebateError):
            reason = str(result).split(": ")[0][:80]
        elif result == m.sentence:
            reason = "unchanged"
        else:
            reason = "the sentence repeats another statement's"
        report.reasons[reason] += 1
    data = world.model_dump(mode="json")
    for block in data["blocks"]:
        for st in block["statements"]:
            st["text"] = texts.get(st["id"], st["text"])
    meta = data.get("meta") or {"settings": {}}
    meta["settings"] = {
        **meta.get("settings", {}),
        "sentences": f"openai:{model}",
        "sentences_rewritten": report.rewritten,
        "sentences_builtin": report.kept,
    }
    data["meta"] = meta
    return World.model_validate(data), report


def rewrite_world_sync(world: World, model: str, **kw: Any) -> tuple[World, RewriteReport]:
    """`rewrite_world` for callers without an event loop (the command line)."""
    return asyncio.run(rewrite_world(world, model, **kw))
