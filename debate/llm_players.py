"""LLM debaters and judges behind any OpenAI-compatible chat-completions endpoint.

The model sees what any debater or judge sees (statements, verified transcript, claims),
written out as text; prompts live in debate/prompts/. A model cannot call the oracle in the
middle of a reply, so a debater's message also carries a digest of what its oracle says
about pairs (the most and least related ones). Failures become DebateErrors, which the
engine records as a forfeited turn.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from debate.builtin import pair_lifts
from debate.errors import DebateError
from debate.llm import LLMClient, LLMConfig, load_prompt
from debate.models import Argument
from debate.protocol import Action, DebaterView, Decision, JudgeView, StatementView, Turn
from debate.rules import Rules
from debate.verify import Oracle

#: Environment variable with the default endpoint when --base-url is not given.
BASE_URL_ENV = "PZJUDGE_BASE_URL"
#: Most statements written into one prompt (beyond that, the first ones by id).
PROMPT_STATEMENTS = 400


#: Reply length cap: a speech of the default 1,200 characters is ~300 tokens plus JSON; a
#: cap keeps a small local model from rambling until the turn times out.
MAX_TOKENS = 800


def _config(model: str, base_url: str | None, **kw: Any) -> LLMConfig:
    url = base_url or os.environ.get(BASE_URL_ENV) or os.environ.get("OPENAI_BASE_URL")
    if url:
        kw["base_url"] = url
    kw.setdefault("max_tokens", MAX_TOKENS)
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
    if p is None:
        return "?"
    return f"{p:.3g}" if p >= 1e-3 or p == 0 else f"{p:.2e}"


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


class LLMDebater:
    """`openai:MODEL` — a debater played by a chat model."""

    honest = None

    def __init__(self, model: str, *, base_url: str | None = None, **config: Any) -> None:
        self.config = _config(model, base_url, **config)
        self.name = f"openai:{model}"
        #: Set by a UI to receive the speech's tokens as they arrive.
        self.on_token: Callable[[str], None] | None = None

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
        user = "\n\n".join(
            [
                "Statements:\n" + statements_text(view.statements),
                "What your oracle says:\n" + oracle_digest(view, oracle),
                "Transcript so far:\n" + transcript_text(view.transcript),
                f"Now give your {view.phase} speech (round {view.round}).",
            ]
        )
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        async with LLMClient(_for_rules(self.config, view.rules)) as llm:
            arg, _ = await llm.structured(
                messages,
                Argument,
                # always streamed: the read timeout then bounds the gap between tokens,
                # not the whole speech (slow local models take minutes)
                stream=True,
                on_token=self.on_token,
                char_limit=view.rules.char_limit,
                timeout=view.rules.turn_timeout,
            )
        return arg


class JudgeReply(BaseModel):
    """What an LLM judge answers (see prompts/judge_system.md)."""

    log10_p: float = Field(le=0.0)
    log10_low: float | None = None
    log10_high: float | None = None
    trust: Literal["a", "b"] | None = None
    credence_a: float | None = Field(default=None, ge=0.0, le=1.0)
    reason: str = ""


class LLMJudge:
    """`llm:MODEL` — a judge played by a chat model, asked after every turn."""

    honest = None

    def __init__(self, model: str, *, base_url: str | None = None, **config: Any) -> None:
        self.config = _config(model, base_url, **config)
        self.name = f"llm:{model}"
        self.last: JudgeReply | None = None

    async def _ask(self, view: JudgeView) -> JudgeReply:
        system = load_prompt("judge_system", max_order=view.rules.max_order, char_limit=600)
        known = "\n".join(
            f"P({k.replace('&', ', ')}) = {_p(v)}"
            for k, v in sorted(view.evidence.items())
            if "&" in k
        )
        user = "\n\n".join(
            [
                "Statements:\n" + statements_text(view.statements),
                f"Claims: a says P(Z) = {_p(view.claims['a'])}, b says {_p(view.claims['b'])}.",
                "Transcript:\n" + transcript_text(view.transcript),
                "Joint probabilities known so far:\n" + (known or "(none)"),
            ]
        )
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        async with LLMClient(_for_rules(self.config, view.rules)) as llm:
            # a judge's answer is bounded like a speech: a hanging server costs one turn
            # timeout per question, not retries x read timeout
            reply, _ = await llm.structured(
                messages, JudgeReply, char_limit=None, timeout=view.rules.turn_timeout
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
            interval = (10.0 ** min(lo, 0.0), 10.0 ** min(hi, 0.0))
        est = 10.0 ** max(reply.log10_p, -300.0)
        return Decision(
            estimate=est if math.isfinite(est) else 0.0,
            interval=interval,
            credence_a=self._credence(reply),
        )
