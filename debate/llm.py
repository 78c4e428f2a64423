"""A small client for OpenAI-compatible chat completions, for LLM debaters and judges.

What it promises:

- The API key is read from the environment variable named by `LLMConfig.api_key_env` at the
  moment of each request. It is never stored on any object, logged, or put in an error message
  (server replies that echo it are scrubbed).
- Every failure reaches the caller as one `DebateError` line that says what went wrong and what
  to try: connect timeout, read timeout, connection refused, an HTTP status with a short excerpt
  of the body, or rate limiting that outlasted the retries.
- 429, 5xx, timeouts and broken connections are retried with exponential backoff and jitter,
  honouring `Retry-After` (seconds or an HTTP date, capped).
- `structured` returns a validated pydantic model, tolerating code fences and prose around the
  JSON, and gives the model exactly one chance to repair an invalid or over-long reply (the
  reply it sends back is cut to a few thousand characters).
- With `timeout`, a call (retries, backoff and the repair included) ends within that many
  seconds whatever the server does: hangs, trickles bytes, or keeps answering 5xx.
- Given a JSON schema, `structured` asks for it by the strongest response format the server
  takes: ``json_schema`` (``strict`` only when the schema meets OpenAI's strict rules), then
  ``json_object`` with a ``schema`` (llama-cpp-python), then plain ``json_object``, then no
  response format (the repair still applies). A 400/422/500 whose body names the response
  format moves one step down at once, without retries; the step is remembered for the whole
  run per (base URL, model) in `SERVERS`, so a run learns it once, not once per turn.
- A server or chat template that refuses a system role gets the system text folded into the
  first user message, also remembered per (base URL, model); ``system_role="user"`` always
  folds (for templates that drop a system message silently, such as gemma's).
- A stream that ends without a ``finish_reason`` and a reply cut at ``max_tokens``
  (``finish_reason: length``) each fail with a reason that says so.
- A reply is read up to `LLMConfig.max_reply_bytes` of text (and `RAW_FACTOR` times that of
  raw response): past the cap the stream is abandoned and the call fails with one line, so a
  runaway or hostile server cannot fill memory.
- The key is masked in the reply text too (streamed tokens included, even when the key is
  split across them), as is any other known secret (`debate.secrets`).

Prompts live in `debate/prompts/*.md` and are loaded with `load_prompt`. The client is split by
what each part holds: `debate.llm_config` (settings, what a run learned of each server),
`debate.llm_reply` (schemas and reading replies), `debate.llm_http` (the request, retried);
the names callers use are all importable from here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from importlib import resources
from string import Template
from typing import Any, Literal, TypeVar, overload

from pydantic import BaseModel

from debate.errors import DebateError
from debate.llm_config import FORMAT_CHAIN, SERVERS, FormatMode, LLMConfig, ServerMemory
from debate.llm_http import (
    ChatHTTP,
    Completion,
    LLMHTTPError,
    LLMReplyError,
    Refused,
    one_line,
    parse_retry_after,
)
from debate.llm_reply import (
    CUT_MARK,
    close_cut,
    echo,
    extract_json,
    kind_name,
    parse_reply,
    strict_compatible,
)

__all__ = [
    "FORMAT_CHAIN",
    "SERVERS",
    "ChatMessage",
    "LLMClient",
    "LLMConfig",
    "LLMHTTPError",
    "LLMReplyError",
    "ServerMemory",
    "extract_json",
    "fold_system",
    "gather_limited",
    "load_prompt",
    "parse_reply",
    "parse_retry_after",
    "strict_compatible",
]

log = logging.getLogger(__name__)

ChatMessage = Mapping[str, Any]
"""One chat message, e.g. ``{"role": "user", "content": "..."}``."""

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


def fold_system(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """`messages` with every system message's text put at the head of the first user message
    (for chat templates without a system role); the order of the others is kept."""
    system = [str(m.get("content") or "") for m in messages if m.get("role") == "system"]
    rest = [dict(m) for m in messages if m.get("role") != "system"]
    if not system:
        return rest
    head = "\n\n".join(system)
    for m in rest:
        if m.get("role") == "user":
            m["content"] = f"{head}\n\n{m.get('content') or ''}"
            return rest
    return [{"role": "user", "content": head}, *rest]


# --------------------------------------------------------------------------- prompts


def load_prompt(name: str, **fields: Any) -> str:
    """Return prompt `name` (``debate/prompts/<name>.md``) with ``$field`` placeholders filled.

    Uses `string.Template`, so JSON braces in prompts need no escaping and ``$$`` is a literal
    dollar. A missing or unknown field is an error, so a typo never reaches a model silently.
    """
    resource = resources.files("debate").joinpath("prompts", f"{name}.md")
    try:
        text = resource.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DebateError(f"no prompt named {name!r} in debate/prompts/") from None
    template = Template(text)
    wanted = set(template.get_identifiers())
    missing = sorted(wanted - fields.keys())
    unknown = sorted(fields.keys() - wanted)
    if missing or unknown:
        raise DebateError(
            f"prompt {name!r} needs fields {sorted(wanted)}; missing {missing}, unknown {unknown}"
        )
    return template.substitute({k: str(v) for k, v in fields.items()})


# --------------------------------------------------------------------------- concurrency


@overload
async def gather_limited(
    aws: Iterable[Awaitable[T]], limit: int, *, return_exceptions: Literal[False] = False
) -> list[T]: ...


@overload
async def gather_limited(
    aws: Iterable[Awaitable[T]], limit: int, *, return_exceptions: Literal[True]
) -> list[T | Exception]: ...


async def gather_limited(
    aws: Iterable[Awaitable[T]], limit: int, *, return_exceptions: bool = False
) -> list[T] | list[T | Exception]:
    """Await all of `aws` with at most `limit` running at once; results keep the input order.

    On the first failure (unless `return_exceptions`) the running ones are cancelled, the
    unstarted coroutines are closed (no "never awaited" warnings), and that exception is raised
    as it is. With `return_exceptions`, each failure takes its slot in the result list.

    The limit is a pool of `limit` workers sharing one iterator (a counting semaphore in
    effect), not one task per awaitable: thousands of debates cost `limit` tasks, and what never
    started can be closed cleanly.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    items = list(aws)
    results: list[Any] = [None] * len(items)
    todo = iter(enumerate(items))

    async def worker() -> None:
        for index, aw in todo:
            try:
                results[index] = await aw
            except Exception as exc:
                if not return_exceptions:
                    raise
                results[index] = exc

    tasks = [asyncio.ensure_future(worker()) for _ in range(min(limit, len(items)))]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for _, aw in todo:
            if asyncio.iscoroutine(aw):
                aw.close()
        raise
    return results


# --------------------------------------------------------------------------- the client


class LLMClient(ChatHTTP):
    """Chat completions against one OpenAI-compatible endpoint, over one httpx.AsyncClient:
    the requests of `ChatHTTP`, plus response formats, folding and replies parsed.

    Use it as ``async with LLMClient(cfg) as llm: ...`` (or call `aclose`). `transport` lets tests
    plug in ``httpx.MockTransport``; `sleep` lets them observe backoff without waiting.
    """

    def __repr__(self) -> str:
        return f"LLMClient(model={self.config.model!r}, base_url={self.shown_url!r})"

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # ---------------------------------------------------------------- public API

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        stream: bool = False,
        on_token: Callable[[str], None] | None = None,
        timeout: float | None = None,
    ) -> str:
        """Return the assistant's reply text to `messages`.

        With `stream`, tokens arrive by server-sent events and each piece is passed to
        `on_token` as it comes (for a live UI). With `timeout`, the whole call (retries
        included) ends within that many seconds. Raises DebateError on any failure.
        """
        done = await self._within(
            timeout, self._chat(messages, stream=stream, on_token=on_token, json_mode=False)
        )
        return done.text

    async def structured(
        self,
        messages: Sequence[ChatMessage],
        model_cls: type[M],
        *,
        stream: bool = False,
        on_token: Callable[[str], None] | None = None,
        char_limit: int | None = None,
        on_repair: Callable[[str], None] | None = None,
        timeout: float | None = None,
        schema: Mapping[str, Any] | None = None,
        schema_name: str = "reply",
        check: Callable[[M], None] | None = None,
        cut_field: str | None = None,
    ) -> tuple[M, str]:
        """Ask for JSON, return ``(validated model, raw reply text)``.

        With `schema` (a JSON schema the reply must meet), the server is asked for it by the
        strongest response format it takes (see the module's notes); pydantic still checks
        the reply, bounds included. `check(parsed)` may raise ValueError with a reason to
        reject a reply that parses (a parroted prompt, say): that reason is handled like
        invalid JSON. If the reply is not a valid `model_cls` (or its text is over
        `char_limit`), the model gets its reply back (cut to `_REPAIR_ECHO_CHARS`) with the
        reason and ONE chance to fix it; `on_repair(reason)` is called first so a UI
        streaming tokens can start a fresh view. With `timeout`, both requests together end
        within that many seconds. Raises LLMReplyError (with the last raw reply) if the
        repair fails too, DebateError on any other failure.

        `cut_field` names a free-text string that the schema puts last: a reply cut at
        max_tokens inside it is an over-long text, not a broken reply, so it is closed,
        marked with `CUT_MARK` and used (a small model that rambles then still answers).
        """
        return await self._within(
            timeout,
            self._structured(
                messages,
                model_cls,
                stream=stream,
                on_token=on_token,
                char_limit=char_limit,
                on_repair=on_repair,
                schema=schema,
                schema_name=schema_name,
                check=check,
                cut_field=cut_field,
            ),
        )

    async def _within(self, timeout: float | None, call: Awaitable[T]) -> T:
        """Await `call`, failing with one line if it is not done within `timeout` seconds."""
        if timeout is None:
            return await call
        try:
            async with asyncio.timeout(timeout):
                return await call
        except TimeoutError:
            raise DebateError(
                f"{self.where} gave no complete answer within {timeout:g} s (the time allowed "
                "for this turn); check the server, or raise turn_timeout in the rules"
            ) from None

    def _judge_reply(
        self,
        done: Completion,
        model_cls: type[M],
        char_limit: int | None,
        check: Callable[[M], None] | None,
        cut_field: str | None = None,
    ) -> M:
        """The reply parsed, validated and checked; ValueError with the reason if not (a
        reply cut at max_tokens says so first, since that is why its JSON is broken). A
        reply cut inside `cut_field` is closed and used, that text marked as cut."""
        try:
            parsed = parse_reply(done.text, model_cls, char_limit)
            if check is not None:
                check(parsed)
        except ValueError as exc:
            closed = close_cut(done.text, cut_field) if cut_field else None
            if done.finish == "length" and cut_field and closed is not None:
                try:
                    parsed = parse_reply(closed, model_cls)
                    parsed = parsed.model_copy(
                        update={cut_field: str(getattr(parsed, cut_field)) + CUT_MARK}
                    )
                    if check is not None:
                        check(parsed)
                    return parsed
                except ValueError:
                    pass  # broken elsewhere too: the reason below
            if done.finish == "length":
                limit = self.config.max_tokens
                at = f"max_tokens ({limit})" if limit else "the server's token limit"
                raise ValueError(
                    f"the reply was cut at {at} before it was complete ({exc}); keep it shorter"
                ) from None
            raise
        return parsed

    async def _structured(
        self,
        messages: Sequence[ChatMessage],
        model_cls: type[M],
        *,
        stream: bool,
        on_token: Callable[[str], None] | None,
        char_limit: int | None,
        on_repair: Callable[[str], None] | None,
        schema: Mapping[str, Any] | None,
        schema_name: str,
        check: Callable[[M], None] | None,
        cut_field: str | None = None,
    ) -> tuple[M, str]:
        async def ask(sent: Sequence[ChatMessage]) -> Completion:
            return await self._chat(
                sent,
                stream=stream,
                on_token=on_token,
                json_mode=True,
                schema=schema,
                name=schema_name,
            )

        done = await ask(messages)
        try:
            return self._judge_reply(done, model_cls, char_limit, check, cut_field), done.text
        except ValueError as exc:
            reason = str(exc)
        log.info("%s reply invalid (%s); asking for one repair", self.config.model, reason)
        if on_repair is not None:
            on_repair(reason)
        repair = load_prompt(
            "repair",
            reason=reason,
            limit_note=(
                f"The text field must be at most {char_limit} characters." if char_limit else ""
            ),
        )
        retry_messages = [
            *messages,
            {"role": "assistant", "content": echo(done.text)},
            {"role": "user", "content": repair},
        ]
        done = await ask(retry_messages)
        try:
            return self._judge_reply(done, model_cls, char_limit, check, cut_field), done.text
        except ValueError as exc:
            raise LLMReplyError(
                f"{self.config.model} reply was not a valid {kind_name(model_cls)} after one "
                f"repair: {one_line(str(exc), 160)}",
                raw=done.text,
            ) from None

    # ---------------------------------------------------------------- internals

    @property
    def _key(self) -> tuple[str, str]:
        """What `SERVERS` remembers things by."""
        return (self.config.base_url, self.config.model)

    def _mode(self, json_mode: bool, schema: Mapping[str, Any] | None) -> FormatMode:
        """The response format to ask for now (see `LLMConfig.use_response_format`)."""
        setting = self.config.use_response_format
        if not json_mode or setting is False:
            return "plain"
        if setting is True:
            return "json_object"
        needs_schema = ("json_schema", "json_object_schema")
        if setting != "auto":
            return "json_object" if setting in needs_schema and schema is None else setting
        start = 0 if schema is not None else FORMAT_CHAIN.index("json_object")
        return FORMAT_CHAIN[max(start, SERVERS.floor(self._key))]

    def _payload(
        self,
        messages: Sequence[ChatMessage],
        *,
        stream: bool,
        mode: FormatMode,
        schema: Mapping[str, Any] | None,
        name: str,
    ) -> dict[str, Any]:
        """The request body (never containing the key)."""
        cfg = self.config
        payload: dict[str, Any] = {**cfg.extra_body, "model": cfg.model}
        payload["messages"] = [dict(m) for m in messages]
        if cfg.temperature is not None:
            payload["temperature"] = cfg.temperature
        if cfg.max_tokens is not None:
            payload["max_tokens"] = cfg.max_tokens
        if stream:
            payload["stream"] = True
        if mode == "json_schema" and schema is not None:
            spec: dict[str, Any] = {"name": name, "schema": dict(schema)}
            if strict_compatible(schema):
                spec["strict"] = True
            payload["response_format"] = {"type": "json_schema", "json_schema": spec}
        elif mode == "json_object_schema" and schema is not None:
            payload["response_format"] = {"type": "json_object", "schema": dict(schema)}
        elif mode in ("json_object", "json_schema", "json_object_schema"):
            payload["response_format"] = {"type": "json_object"}
        return payload

    async def _chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        stream: bool,
        on_token: Callable[[str], None] | None,
        json_mode: bool,
        schema: Mapping[str, Any] | None = None,
        name: str = "reply",
    ) -> Completion:
        """One logical request: moves down FORMAT_CHAIN, or folds the system text, when the
        server refuses what it was sent (and "auto" allows it), remembering that in SERVERS.
        Each step is a strict move down, so this ends."""
        cfg = self.config
        while True:
            mode = self._mode(json_mode, schema)
            fold = cfg.system_role == "user" or (
                cfg.system_role == "auto" and SERVERS.folds(self._key)
            )
            sent = fold_system(messages) if fold else messages
            payload = self._payload(sent, stream=stream, mode=mode, schema=schema, name=name)
            try:
                return await self.send(payload, stream=stream, on_token=on_token)
            except Refused as exc:
                if exc.what == "system" and cfg.system_role == "auto" and not fold:
                    log.info("%s refused a system message; folding it", self.where)
                    SERVERS.fold(self._key)
                    continue
                if exc.what == "format" and cfg.use_response_format == "auto" and mode != "plain":
                    log.info("%s refused response format %s; stepping down", self.where, mode)
                    SERVERS.refuse(self._key, mode)
                    continue
                if exc.what == "system":
                    raise DebateError(
                        f"{self.where} refused the system message ({exc.excerpt}); "
                        "set system_role to 'auto' or 'user'"
                    ) from None
                raise DebateError(
                    f"{self.where} does not support response_format {mode} "
                    f"({exc.excerpt}); set use_response_format to 'auto' or false"
                ) from None
