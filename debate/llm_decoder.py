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

A rewrite is checked before it is kept (`drift`, a cheap token measure, no NLP model): it
must keep at least `DRIFT_THRESHOLD` of its meaning's content words (subject, verb and
complement, tail; small stem-less normalisation: case, plural "s"/"ies") and its polarity (an
odd number of negation words, `NEGATION_WORDS`, exactly when it words the denied side's
complement, or, for a statement without a latent point, as many as the built-in sentence
modulo 2). It must be one declarative sentence (`not_one_statement`): a second sentence
could add or retract a claim with every word and the polarity kept. Nor may it add a hedge,
a name or the prompt's labels (`adds`). A rewrite that drifts
keeps the built-in sentence; so the neighbours of a family, which share most content words,
stay near-paraphrases of one another.

The sentences are stored in the world file, so the world stays reproducible and playable
offline. A call that fails (no answer within the time, invalid or parroted reply, a rewrite
that drifts, a text that repeats another statement's) keeps the built-in sentence; the report
says how many and why, and the world file's `meta.settings.sentences_kept` names each such
statement with its reason. Truth never comes from a decoder: only texts change, never
thresholds, flips, outcomes or covariances.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, field_validator

from debate.errors import DebateError
from debate.llm import LLMClient, LLMConfig, gather_limited, load_prompt
from debate.llm_http import LLMUnreachable
from debate.llm_players import llm_config, parroted
from debate.rounds import DealtRound
from debate.views import statement_views
from latent.decoder import TOPICS, BuiltinDecoder
from latent.text import CleanText
from latent.world import GaussianStatement, World

__all__ = [
    "DRIFT_THRESHOLD",
    "Meaning",
    "RewriteReport",
    "drift",
    "meanings",
    "reword_round",
    "rewrite_world",
]

#: Longest reason a kept built-in sentence records.
REASON_CHARS = 160
#: Longest sentence kept; a longer one keeps the built-in text.
MAX_SENTENCE = 300
#: Least share of the meaning's content words a rewrite keeps (see `drift`). A paraphrase
#: keeps the subject and the complement's noun at least ("Huskies are naturally big dogs"
#: keeps 2 of "a husky is a large dog by nature"'s 4); a sentence about something else
#: keeps fewer.
DRIFT_THRESHOLD = 0.5
#: Words that negate what they govern (the built-in decoder's negation styles and leads, and
#: the usual others); a sentence with an odd number of them says the opposite of its words.
NEGATION_WORDS = frozenset(
    re.findall(
        r"\w+",
        "not no never hardly cannot nobody none nothing neither nor without false untrue "
        "myth wrong rarely seldom fails fail failed",
    )
)
#: Words that carry no content of the meaning (articles, copulas, prepositions, pronouns).
STOP_WORDS = frozenset(
    re.findall(
        r"\w+",
        "a an the is are was were be been being am do does did of in on at to for by with "
        "from as and or that this these those it its there their they them than then",
    )
)
#: A full stop, "!", "?" or ";" with more words after it ends one sentence and starts
#: another, unless it ends an abbreviation a fluent sentence uses.
_SENTENCE_END = re.compile(r"(\S*)[.!?;](?=\s+\S)")
_ABBREVIATIONS = frozenset(
    {"e.g", "i.e", "etc", "vs", "mr", "mrs", "ms", "dr", "st", "no", "approx"}
)
#: Words and phrases that hedge a claim ("or so they say", "allegedly"): a statement asserts
#: plainly, so a rewrite may not add one its meaning does not have.
HEDGES = (
    "or so",
    "they say",
    "some say",
    "it is said",
    "supposedly",
    "allegedly",
    "reportedly",
    "rumoured",
    "rumored",
    "perhaps",
    "maybe",
    "possibly",
    "probably",
    "might",
    "apparently",
    "arguably",
    "likely",
)
#: The labels of the rewrite prompt (`prompts/decoder_rewrite.md`), which a small model
#: copies into its sentence.
PROMPT_LABELS = ("the statement", "what it says", "rewrite", "rewritten", "reworded")
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
        why = not_one_statement(value)
        if why:
            raise ValueError(why)
        return value


def _known(m: Meaning) -> str:
    """Every text the meaning gives the model, lower case: what a rewrite may repeat."""
    return " ".join(t for t in (m.sentence, m.asserts, m.denies, m.neighbour) if t).lower()


def adds(m: Meaning, sentence: str) -> str | None:
    """Why `sentence` says more than `m`, or None: a hedge, a name (a capitalised word past
    the first, unless the meaning has a word of the same 5-letter stem: "European" for
    "Europe"), or the prompt's labels. `drift` counts the meaning's words kept; it cannot
    see "... printer in Asia" for "... in Europe" or a sentence headed "The statement:"."""
    low, known = f" {sentence.lower()} ", f" {_known(m)} "
    for label in PROMPT_LABELS:
        if re.search(rf"\b{label}\b", low) and not re.search(rf"\b{label}\b", known):
            return f"the sentence repeats the prompt's label {label!r}"
    for hedge in HEDGES:
        if re.search(rf"\b{hedge}\b", low) and not re.search(rf"\b{hedge}\b", known):
            return f"the sentence adds a hedge ({hedge!r}); assert the meaning plainly"
    stems = {w[:5] for w in re.findall(r"[a-z]+", known)}
    for name in re.findall(r"[A-Za-z][A-Za-z]*", sentence)[1:]:
        if name[0].isupper() and name.lower()[:5] not in stems:
            return f"the sentence adds a name the meaning does not have ({name!r})"
    return None


def not_one_statement(text: str) -> str | None:
    """Why `text` is not one declarative sentence, or None. A statement is one assertion:
    a second sentence could add a claim (or retract the first) that the content-word and
    negation checks of `drift` do not see, and a question asserts nothing."""
    ends = (m.group(1).lstrip("([\"'").lower() for m in _SENTENCE_END.finditer(text))
    if any(end not in _ABBREVIATIONS for end in ends):
        return "the reply is more than one sentence; write exactly one"
    if text.rstrip().endswith("?"):
        return "the reply is a question; write one sentence that asserts the meaning"
    return None


@dataclass
class RewriteReport:
    """How the rewriting went: sentences reworded, and why the others kept the built-in."""

    rewritten: int = 0
    kept: int = 0
    #: Statements whose call has ended (for progress).
    done: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        """One line for the command line."""
        line = f"{self.rewritten} sentences reworded by the LLM"
        if self.kept:
            line += f", {self.kept} kept the built-in text ({self.top_reasons()})"
        return line

    def top_reasons(self) -> str:
        """The three commonest reasons a built-in sentence was kept, with their counts."""
        return "; ".join(f"{n} × {r}" for r, n in self.reasons.most_common(3))


def _words(text: str) -> list[str]:
    """Lower-case word tokens; "n't" is its own "not"."""
    text = re.sub(r"n't\b", " not", text.lower().replace("\u2019", "'"))
    return re.findall(r"[a-z0-9]+", text)


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def content_words(text: str) -> Counter[str]:
    """The words of `text` that carry its content (no stop or negation words), stemmed, with
    how often each occurs ("hot peppers are hot": the complement repeats a subject word)."""
    return Counter(
        _stem(w) for w in _words(text) if w not in STOP_WORDS and w not in NEGATION_WORDS
    )


def negated(text: str) -> bool:
    """Whether `text` has an odd number of negation words."""
    return sum(w in NEGATION_WORDS for w in _words(text)) % 2 == 1


def drift(m: Meaning, sentence: str) -> str | None:
    """Why `sentence` is not a faithful rewording of `m` (see the module notes), or None.

    The content words come from what the sentence must assert or what it must deny (the
    better kept of the two; the built-in sentence when there is no latent point); the
    polarity from which side of the polar pair it words."""
    got = content_words(sentence)
    # either side's words: "by no means unimportant" words the denied side, negated
    sides = [m.asserts, m.denies] if m.asserts and m.denies else [m.sentence]
    kept = max(len(w.keys() & got.keys()) / max(1, len(w)) for w in map(content_words, sides))
    if kept < DRIFT_THRESHOLD:
        return (
            f"drifted: kept {kept:.0%} of the meaning's words "
            f"(at least {DRIFT_THRESHOLD:.0%} needed)"
        )
    if m.asserts and m.denies:
        says, denied = content_words(m.asserts), content_words(m.denies)

        def words(side: Counter[str], other: Counter[str]) -> bool:
            return any(got[w] >= side[w] for w in side - other)

        # worded with the denied side's complement ("not small" for "large"): negated
        other_side = words(denied, says) and not words(says, denied)
        expected = not negated(m.denies) if other_side else negated(m.asserts)
    else:
        expected = negated(m.sentence)
    if negated(sentence) != expected:
        return "drifted: the polarity (negation) changed"
    return None


def _reason(exc: DebateError) -> str:
    """The short reason a call failed: what the repair could not fix, else the head of the
    error's line (which names the server, never a key)."""
    text = str(exc)
    head, sep, tail = text.partition("after one repair: ")
    reason = tail if sep else head.split(": ")[0]
    # cut at a word, and said so (a URL cut at 80 characters read "running at http://1")
    return reason if len(reason) <= REASON_CHARS else reason[:REASON_CHARS].rsplit(" ", 1)[0] + " …"


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
    on_progress: Callable[[int, int], None] | None = None,
    **config: Any,
) -> tuple[World, RewriteReport]:
    """`world` with every statement reworded by `model` (see the module notes), and a report.

    Each call ends within `timeout` seconds; at most `concurrency` run at once;
    `on_progress(done, total)` follows each statement's end. Raises DebateError only for a
    bad configuration; failed calls keep the built-in sentence."""
    cfg: LLMConfig = llm_config(model, base_url, **config)
    instructions = load_prompt("decoder_rewrite", sentence="", meaning="", neighbour="")
    items = meanings(world)
    report = RewriteReport()

    async with LLMClient(cfg, transport=transport) as llm:

        async def one(m: Meaning) -> str:
            prompt = _prompt(m)

            def check(reply: _Sentence) -> None:
                # against the instructions alone: a good sentence may well repeat the meaning
                why = (
                    parroted(reply.sentence, instructions)
                    or drift(m, reply.sentence)
                    or adds(m, reply.sentence)
                )
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

        async def counted(m: Meaning) -> str:
            try:
                return await one(m)
            finally:
                report.done += 1
                if on_progress is not None:
                    on_progress(report.done, len(items))

        # the first alone: a server that is not there fails it, and then no other call is made
        first = await gather_limited([counted(m) for m in items[:1]], 1, return_exceptions=True)
        if first and isinstance(first[0], LLMUnreachable):
            got: list[str | Exception] = [first[0]] * len(items)
            report.done = len(items)
        else:
            rest = [counted(m) for m in items[1:]]
            got = first + await gather_limited(rest, concurrency, return_exceptions=True)

    texts: dict[str, str] = {}
    kept: dict[str, str] = {}
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
            reason = _reason(result)
        elif result == m.sentence:
            reason = "unchanged"
        else:
            reason = "the sentence repeats another statement's"
        report.reasons[reason] += 1
        kept[m.id] = reason
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
        "sentences_kept": kept,
        "sentences_drift_threshold": DRIFT_THRESHOLD,
    }
    data["meta"] = meta
    return World.model_validate(data), report


def rewrite_world_sync(world: World, model: str, **kw: Any) -> tuple[World, RewriteReport]:
    """`rewrite_world` for callers without an event loop (the command line)."""
    return asyncio.run(rewrite_world(world, model, **kw))


def reword_round(
    dealt: DealtRound, decoder: str, base_url: str | None = None, **kw: Any
) -> tuple[DealtRound, RewriteReport | None]:
    """`dealt` with its world's statements worded by `decoder` ("builtin": as it is, and no
    report; "openai:MODEL": `rewrite_world`, `kw` passed on). The round is dealt first, so
    the truth, claims and sides are those of the built-in round; only the texts (and the
    statement views showing them) change. For callers without an event loop (the game's
    worker thread)."""
    if decoder == "builtin":
        return dealt, None
    kind, _, model = decoder.partition(":")
    if kind != "openai" or not model:
        raise DebateError(f"decoder {decoder!r}: use builtin or openai:MODEL")
    world, report = rewrite_world_sync(dealt.world, model, base_url=base_url, **kw)
    views = sorted(statement_views(world, dealt.rules), key=lambda v: v.id)
    return dealt.model_copy(update={"world": world, "statements": views}), report
