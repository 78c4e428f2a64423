"""LLM debaters and judges behind any OpenAI-compatible chat-completions endpoint.

The model sees what any debater or judge sees (statements, verified transcript, claims),
written out as text; prompts live in debate/prompts/. A model cannot call the oracle in the
middle of a reply, so a debater's message also carries a digest of what its oracle says
about pairs (the most and least related ones). Failures become DebateErrors, which the
engine records as a forfeited turn (with the model's last raw reply, when there was one).

Each request carries a JSON schema made for the turn (`argument_schema`, `judge_schema`):
statement ids as an enum of the world's ids, citations at most the rules' count, `kind`
required; no string lengths (a speech over the limit is cut and marked by the engine, as
the rules say) and no numeric bounds (servers do not enforce them; pydantic checks them
after parsing). A reply whose free text repeats the instructions or a placeholder instead
of saying something is refused as parroted (`parroted`).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from debate.builtin_analysis import pair_lifts
from debate.errors import DebateError
from debate.fmt import fmt_p
from debate.llm import LLMClient, LLMConfig, load_prompt
from debate.models import Argument
from debate.protocol import (
    Action,
    BaseDebater,
    DebaterView,
    Decision,
    JudgeView,
    StatementView,
    Turn,
)
from debate.rules import Rules
from debate.scoring import LOG10_FLOOR
from debate.verify import Oracle

#: Environment variable with the default endpoint when --base-url is not given.
BASE_URL_ENV = "PZJUDGE_BASE_URL"
#: Environment variable choosing how the system prompt is sent: "auto" (as a system message,
#: folded into the user message once a server refuses one), "system", or "user" (always
#: folded: for chat templates that drop a system message without a word, such as gemma's).
SYSTEM_ROLE_ENV = "PZJUDGE_LLM_SYSTEM"
#: Characters of a judge's reason kept (a longer one is cut, never refused).
JUDGE_REASON_CHARS = 600
#: Most statements written into one prompt (beyond that, the first ones by id).
PROMPT_STATEMENTS = 400


#: Reply length cap: a speech of the default 1,200 characters is ~300 tokens plus JSON; a
#: cap keeps a small local model from rambling until the turn times out.
MAX_TOKENS = 800
#: A judge's answer: its numbers (~40 tokens) and a reason of `JUDGE_REASON_CHARS` (~150).
JUDGE_MAX_TOKENS = 400


def llm_config(model: str, base_url: str | None, **kw: Any) -> LLMConfig:
    """The endpoint's config for `model`: `base_url`, else $PZJUDGE_BASE_URL, else
    $OPENAI_BASE_URL; the system role from $PZJUDGE_LLM_SYSTEM; a one-line DebateError for a
    bad setting."""
    url = base_url or os.environ.get(BASE_URL_ENV) or os.environ.get("OPENAI_BASE_URL")
    if url:
        kw["base_url"] = url
    kw.setdefault("max_tokens", MAX_TOKENS)
    role = os.environ.get(SYSTEM_ROLE_ENV, "").strip()
    if role and "system_role" not in kw:
        if role not in ("auto", "system", "user"):
            raise DebateError(f"${SYSTEM_ROLE_ENV} must be auto, system or user, not {role!r}")
        kw["system_role"] = role
    try:
        return LLMConfig(model=model, **kw)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(x) for x in err["loc"]) or "settings"
        msg = str(err["msg"]).removeprefix("Value error, ")
        msg = msg if msg.startswith(field) else f"{field}: {msg}"
        raise DebateError(f"LLM {model}: {msg}; e.g. --base-url http://127.0.0.1:8080/v1") from None


def _for_rules(config: LLMConfig, rules: Rules) -> LLMConfig:
    """The endpoint's config with the reply cap of the rules in force."""
    return config.model_copy(update={"max_reply_bytes": rules.reply_bytes})


def _p(p: float | None) -> str:
    """A probability in a prompt, as the screens write it; "?" where it is not known."""
    return "?" if p is None else fmt_p(p)


def statements_text(statements: list[StatementView]) -> str:
    """One line per statement: id, own probability when known, text."""
    rows = [f"{s.id} (p={_p(s.p)}): {s.text}" for s in statements[:PROMPT_STATEMENTS]]
    more = len(statements) - PROMPT_STATEMENTS
    if more > 0:
        rows.append(f"… and {more} more statements not shown")
    return "\n".join(rows)


def transcript_text(turns: list[Turn]) -> str:
    """The verified transcript as a judge reads it: speeches and checked citations."""
    if not turns:
        return "(no speeches yet)"
    out = []
    for t in turns:
        head = f"[{t.speaker} {t.phase} {t.round}]"
        if t.forfeit:
            out.append(f"{head} forfeited: {t.forfeit}")
            continue
        out.append(f"{head} {t.text}")
        for c in t.citations:
            if c.kind == "statement":
                out.append(f"   cites statement {c.ids[0]} ({c.status})")
            elif c.status in ("rejected", "dropped"):
                out.append(f"   citation P({', '.join(c.ids)}) {c.status}: {c.reason}")
            else:
                mark = "FALSE" if c.verified is False else "verified"
                claim = "" if c.claimed is None else f" claimed {_p(c.claimed)},"
                out.append(f"   P({', '.join(c.ids)}):{claim} true {_p(c.true_value)} [{mark}]")
    return "\n".join(out)


def oracle_digest(view: DebaterView, oracle: Oracle, k: int = 8) -> str:
    """The k most and least related pairs by the oracle (what a model would query first)."""
    ids = [s.id for s in view.statements][:PROMPT_STATEMENTS]
    if len(ids) < 2 or oracle.max_order < 2:
        return ""
    pm, p1, _, iu, ju, order = pair_lifts(oracle, ids)
    rows = []
    for label, picks in (("most related", order[:k]), ("least related", order[::-1][:k])):
        rows.append(f"{label} pairs:")
        for t in picks:
            i, j = int(iu[t]), int(ju[t])
            rows.append(
                f"  P({ids[i]}, {ids[j]}) = {_p(pm[i, j])} (independent would be "
                f"{_p(p1[i] * p1[j])})"
            )
    return "\n".join(rows)


def argument_schema(ids: Sequence[str], rules: Rules) -> dict[str, Any]:
    """The JSON schema of one speech under `rules`: statement ids from `ids` only, at most
    `citations_per_turn` citations of order at most `max_order`, every key required (so it
    meets OpenAI's strict rules); no maxLength (llama-cpp-python crashes on it, and the
    engine cuts long text) and no numeric bounds (pydantic checks them)."""
    id_enum = {"type": "string", "enum": list(dict.fromkeys(ids))}
    statement = {
        "type": "object",
        "properties": {"kind": {"type": "string", "enum": ["statement"]}, "id": id_enum},
        "required": ["kind", "id"],
        "additionalProperties": False,
    }
    prob = {
        "type": "object",
        "properties": {
            "kind": {"type": "string", "enum": ["prob"]},
            "ids": {"type": "array", "items": id_enum, "minItems": 1, "maxItems": rules.max_order},
            "claimed": {"type": ["number", "null"]},
        },
        "required": ["kind", "ids", "claimed"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "citations": {
                "type": "array",
                "items": {"anyOf": [statement, prob]},
                "maxItems": rules.citations_per_turn,
            },
            "text": {"type": "string"},
        },
        "required": ["citations", "text"],
        "additionalProperties": False,
    }


#: A log10 probability (0 or less) and a probability (0 to 1), as the patterns of strings:
#: grammar-constrained servers (llama.cpp, llama-cpp-python) ignore numeric bounds but
#: enforce a pattern, so a small model cannot answer log10 P(Z) = 0.885 or a credence of 7.
#: `[.]`, not an escaped dot (llama-cpp-python writes that into a grammar it cannot parse),
#: and no bounded repetition (it crashes on long ones, as on maxLength).
LOG10_PATTERN = r"^(0|-[0-9]+([.][0-9]+)?)$"
PROB_PATTERN = r"^(0([.][0-9]+)?|1([.]0+)?)$"


def judge_schema() -> dict[str, Any]:
    """The JSON schema of a judge's answer: the numbers first and the reason last (a small
    model that rambles in its reason until max_tokens has then answered already, and the
    reason is cut, as the rules say, not the answer lost), every key required, nullable
    where the prompt allows;
    the numbers as strings of `LOG10_PATTERN` and `PROB_PATTERN` (pydantic reads either a
    number or such a string, and checks the bounds again), `trust` an enum in an anyOf
    (llama-cpp-python ignores an enum beside a list of types)."""

    def pattern_or_null(pattern: str) -> dict[str, Any]:
        return {"anyOf": [{"type": "string", "pattern": pattern}, {"type": "null"}]}

    return {
        "type": "object",
        "properties": {
            "log10_p": {"type": "string", "pattern": LOG10_PATTERN},
            "log10_low": pattern_or_null(LOG10_PATTERN),
            "log10_high": pattern_or_null(LOG10_PATTERN),
            "trust": {"anyOf": [{"type": "string", "enum": ["a", "b"]}, {"type": "null"}]},
            "credence_a": pattern_or_null(PROB_PATTERN),
            "reason": {"type": "string"},
        },
        "required": ["log10_p", "log10_low", "log10_high", "trust", "credence_a", "reason"],
        "additionalProperties": False,
    }


_WORDS = re.compile(r"[a-z0-9]+")
#: Free text that is only a placeholder: angle brackets, dots, or a type name.
_PLACEHOLDER = re.compile(
    r"^\s*(<[^<>]*>|\.{3}|…|string|text|reason|null|none|todo|tbd)?\s*$", re.I
)
#: Placeholders that earlier prompts used and that small models copied back.
KNOWN_PLACEHOLDERS = ("your argument, in plain words", "why, in a few sentences")


def _norm(text: str) -> str:
    return " ".join(_WORDS.findall(text.lower()))


def parroted(text: str, instructions: str) -> str | None:
    """Why `text` (a speech or a judge's reason) says nothing of its own, or None: it is empty
    or a placeholder, or every word of it is copied, in order, from `instructions` (the
    prompt's own wording) or from a known placeholder."""
    if _PLACEHOLDER.match(text):
        return "the text is empty or a placeholder"
    said = _norm(text)
    if not said:
        return "the text has no words"
    # whole words in order: "10" is not a copy of "log10", nor "ate" of "estimate"
    if any(f" {said} " in f" {_norm(src)} " for src in (instructions, *KNOWN_PLACEHOLDERS)):
        quote = text.strip()[:60]
        return f"the text repeats the prompt's wording ({quote!r}) instead of saying something"
    return None


class _Citations(Argument):
    """An Argument read from a model: a citation without `kind` gets the one its keys imply
    (``id`` a statement, ``ids`` a probability), so a server that ignores the schema's
    required `kind` does not cost the turn."""

    @model_validator(mode="before")
    @classmethod
    def _infer_kinds(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("citations"), list):
            return data
        cites = []
        for c in data["citations"]:
            if isinstance(c, dict) and "kind" not in c:
                if "id" in c and "ids" not in c:
                    c = {**c, "kind": "statement"}
                elif "ids" in c and "id" not in c:
                    c = {**c, "kind": "prob"}
            cites.append(c)
        return {**data, "citations": cites}


M = TypeVar("M", bound=BaseModel)


def _messages(system: str, *parts: str) -> list[dict[str, str]]:
    """The system prompt, then one user message of `parts` a blank line apart."""
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n\n".join(parts)}]


def _not_parroting(system: str, text_of: Callable[[M], str]) -> Callable[[M], None]:
    """A reply check for `LLMClient.structured`: ValueError when the reply's own text (as
    `text_of` reads it) only parrots the system prompt."""

    def check(reply: M) -> None:
        why = parroted(text_of(reply), system)
        if why:
            raise ValueError(why)

    return check


class LLMDebater(BaseDebater):
    """`openai:MODEL` — a debater played by a chat model (it streams: see `on_token`)."""

    def __init__(self, model: str, *, base_url: str | None = None, **config: Any) -> None:
        self.config = llm_config(model, base_url, **config)
        self.name = f"openai:{model}"

    async def argue(self, view: DebaterView, oracle: Oracle) -> Argument:
        goal = (
            f"Convince the judge that P(Z) is about {_p(view.claim)} (your opponent says "
            f"{_p(view.opponent_claim)}). Use true, verifiable evidence."
        )
        system = load_prompt(
            "debater_system",
            side=view.side,
            goal=goal,
            max_order=view.rules.max_order,
            max_citations=view.rules.citations_per_turn,
            char_limit=view.rules.char_limit,
        )
        messages = _messages(
            system,
            "Statements:\n" + statements_text(view.statements),
            "What your oracle says:\n" + oracle_digest(view, oracle),
            "Transcript so far:\n" + transcript_text(view.transcript),
            f"Now give your {view.phase} speech (round {view.round}).",
        )
        async with LLMClient(_for_rules(self.config, view.rules)) as llm:
            arg, _ = await llm.structured(
                messages,
                _Citations,
                # always streamed: the read timeout then bounds the gap between tokens,
                # not the whole speech (slow local models take minutes)
                stream=True,
                on_token=self.on_token,
                # no char_limit: an over-long speech is cut and marked by the engine, as the
                # rules promise, not forfeited
                timeout=view.rules.turn_timeout,
                schema=argument_schema([s.id for s in view.statements], view.rules),
                schema_name="argument",
                check=_not_parroting(system, lambda arg: arg.text),
                cut_field="text",
            )
        return Argument(text=arg.text, citations=arg.citations)


class JudgeReply(BaseModel):
    """What an LLM judge answers (see prompts/judge_system.md). A reason over
    `JUDGE_REASON_CHARS` is cut and marked with "…", not refused."""

    reason: str = ""
    log10_p: float = Field(le=0.0, allow_inf_nan=False)
    log10_low: float | None = Field(default=None, le=0.0, allow_inf_nan=False)
    log10_high: float | None = Field(default=None, le=0.0, allow_inf_nan=False)
    trust: Literal["a", "b"] | None = None
    credence_a: float | None = Field(default=None, ge=0.0, le=1.0)

    @field_validator("reason", mode="before")
    @classmethod
    def _cut(cls, value: Any) -> Any:
        if isinstance(value, str) and len(value) > JUDGE_REASON_CHARS:
            return value[: JUDGE_REASON_CHARS - 1] + "…"
        return value


class LLMJudge:
    """`llm:MODEL` — a judge played by a chat model, asked after every turn."""

    honest = None

    def __init__(self, model: str, *, base_url: str | None = None, **config: Any) -> None:
        config.setdefault("max_tokens", JUDGE_MAX_TOKENS)
        self.config = llm_config(model, base_url, **config)
        self.name = f"llm:{model}"
        self.last: JudgeReply | None = None

    async def _ask(self, view: JudgeView) -> JudgeReply:
        system = load_prompt(
            "judge_system", max_order=view.rules.max_order, char_limit=JUDGE_REASON_CHARS
        )
        known = "\n".join(
            f"P({k.replace('&', ', ')}) = {_p(v)}"
            for k, v in sorted(view.evidence.items())
            if "&" in k
        )
        messages = _messages(
            system,
            "Statements:\n" + statements_text(view.statements),
            f"Claims: a says P(Z) = {_p(view.claims['a'])}, b says {_p(view.claims['b'])}.",
            "Transcript:\n" + transcript_text(view.transcript),
            "Joint probabilities known so far:\n" + (known or "(none)"),
        )
        config = _for_rules(self.config, view.rules)
        # not streamed: the read timeout spans the whole answer, and a retry after a shorter
        # one only queues behind the abandoned answer on a one-slot local server
        config = config.model_copy(
            update={"read_timeout": max(config.read_timeout, view.rules.turn_timeout)}
        )
        async with LLMClient(config) as llm:
            # a judge's answer is bounded like a speech: a hanging server costs one turn
            # timeout per question, not retries x read timeout
            reply, _ = await llm.structured(
                messages,
                JudgeReply,
                timeout=view.rules.turn_timeout,
                schema=judge_schema(),
                schema_name="judgement",
                check=_not_parroting(system, lambda reply: reply.reason),
                cut_field="reason",
            )
        self.last = reply
        return reply

    @staticmethod
    def _credence(reply: JudgeReply) -> float:
        if reply.credence_a is not None:
            return reply.credence_a
        return {"a": 0.75, "b": 0.25}.get(reply.trust or "", 0.5)

    async def observe(self, view: JudgeView, oracle: Oracle) -> tuple[float, Action]:
        return self._credence(await self._ask(view)), "continue"

    async def decide(self, view: JudgeView, oracle: Oracle) -> Decision:
        reply = await self._ask(view)
        interval = None
        if reply.log10_low is not None and reply.log10_high is not None:
            lo, hi = sorted((reply.log10_low, reply.log10_high))
            interval = (10.0 ** max(lo, LOG10_FLOOR), 10.0 ** max(hi, LOG10_FLOOR))
        est = 10.0 ** max(reply.log10_p, LOG10_FLOOR)
        return Decision(
            estimate=est if math.isfinite(est) else 0.0,
            interval=interval,
            credence_a=self._credence(reply),
        )
