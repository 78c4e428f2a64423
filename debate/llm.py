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

Prompts live in `debate/prompts/*.md` and are loaded with `load_prompt`.
"""

from __future__ import annotations

import asyncio
import codecs
import email.utils
import json
import logging
import os
import random
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from string import Template
from typing import Any, Literal, TypeVar, overload

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from debate.errors import DebateError
from debate.secrets import MIN_SECRET

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
    "strict_compatible",
]

log = logging.getLogger(__name__)

ChatMessage = Mapping[str, Any]
"""One chat message, e.g. ``{"role": "user", "content": "..."}``."""

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

_EXCERPT_CHARS = 200
#: The raw response (SSE framing, JSON escapes) may be this many times the reply cap.
RAW_FACTOR = 64
#: Bytes of an error body read for its excerpt (the rest is never read).
_ERROR_BODY_BYTES = 65_536
#: Characters of an invalid reply sent back in the repair request, at most.
_REPAIR_ECHO_CHARS = 4000
_RESPONSE_FORMAT_HINTS = (
    "response_format",
    "response format",
    "json_object",
    "json_schema",
    "schema",
    "grammar",
)
#: Words of an error body that say the chat template or server refuses a system message.
_SYSTEM_ROLE_HINTS = (
    "system role",
    "system message",
    "system prompt",
    "role 'system'",
    'role "system"',
    "roles must alternate",
)
#: Statuses whose body may say the request's response format or system role was refused
#: (llama-cpp-python answers an unsupported json_schema with 500).
_REFUSAL_STATUSES = (400, 422, 500)

FormatMode = Literal["json_schema", "json_object_schema", "json_object", "plain"]
#: Response formats from strongest to weakest; `structured` starts at the strongest the call
#: can use and the server has not refused.
FORMAT_CHAIN: tuple[FormatMode, ...] = ("json_schema", "json_object_schema", "json_object", "plain")


class LLMConfig(BaseModel):
    """Where and how to reach an OpenAI-compatible endpoint. Holds no secret.

    `api_key_env` names the environment variable holding the key; the key itself is read at
    call time. `use_response_format`: "auto" walks down `FORMAT_CHAIN` as the server refuses
    formats (remembered per base URL and model); a mode name always uses that mode (a server
    that refuses it is an error); True means "json_object" and False "plain" (no response
    format). `system_role`: "system" sends the system message as it is, "user" folds it into
    the first user message, "auto" sends it and folds once a server refuses it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    base_url: str = "https://api.openai.com/v1"
    model: str = "gpt-4o-mini"
    api_key_env: str = "OPENAI_API_KEY"
    connect_timeout: float = Field(default=10.0, gt=0)
    read_timeout: float = Field(default=120.0, gt=0)
    max_retries: int = Field(default=3, ge=0)
    backoff_base: float = Field(default=0.5, ge=0)
    backoff_max: float = Field(default=30.0, ge=0)
    retry_after_cap: float = Field(default=60.0, ge=0)
    temperature: float | None = 0.7
    max_tokens: int | None = Field(default=None, gt=0)
    use_response_format: bool | Literal["auto"] | FormatMode = "auto"
    system_role: Literal["auto", "system", "user"] = "auto"
    extra_body: dict[str, Any] = Field(default_factory=dict)
    #: Most bytes (UTF-8) of reply text read; a longer reply is cut off and the call fails.
    max_reply_bytes: int = Field(default=65_536, ge=256, le=64_000_000)

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        """Accept only http(s) URLs and drop a trailing slash so paths join cleanly."""
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        try:
            host = httpx.URL(value).host
        except (httpx.InvalidURL, ValueError) as exc:
            raise ValueError(f"base_url is not a valid URL ({exc})") from None
        if not host:
            raise ValueError("base_url has no host name")
        return value.rstrip("/")


class LLMHTTPError(DebateError):
    """The server answered with an HTTP error status that was not (or no longer) retried."""

    def __init__(self, message: str, *, status: int, excerpt: str) -> None:
        super().__init__(message)
        self.status = status
        self.excerpt = excerpt


class LLMReplyError(DebateError):
    """The model answered, but not usably (invalid after the repair, cut short): `raw` keeps
    what it sent last, so a forfeited turn can record it."""

    def __init__(self, message: str, *, raw: str) -> None:
        super().__init__(message)
        self.raw = raw


class _Refused(DebateError):
    """The server refused the response format or the system role it was sent (what: which)."""

    def __init__(self, message: str, *, what: Literal["format", "system"], excerpt: str) -> None:
        super().__init__(message)
        self.what = what
        self.excerpt = excerpt


class ServerMemory:
    """What this run has learned about each (base URL, model): the first response format of
    `FORMAT_CHAIN` not yet refused, and whether the system text must be folded. Shared by
    every client of the run (a client per turn learns nothing otherwise); steps only go
    down, so concurrent calls that fail at once agree."""

    def __init__(self) -> None:
        self._floor: dict[tuple[str, str], int] = {}
        self._fold: set[tuple[str, str]] = set()

    def floor(self, key: tuple[str, str]) -> int:
        """Index in FORMAT_CHAIN of the strongest format not refused yet."""
        return self._floor.get(key, 0)

    def refuse(self, key: tuple[str, str], mode: FormatMode) -> None:
        """Remember that `mode` was refused: later calls start below it."""
        self._floor[key] = max(self.floor(key), FORMAT_CHAIN.index(mode) + 1)

    def folds(self, key: tuple[str, str]) -> bool:
        """Whether the system text goes into the first user message for this server."""
        return key in self._fold

    def fold(self, key: tuple[str, str]) -> None:
        """Remember that this server refuses a system role."""
        self._fold.add(key)

    def forget(self) -> None:
        """Forget everything (tests; a new run against restarted servers)."""
        self._floor.clear()
        self._fold.clear()


#: The run's memory of servers (module-wide: one process is one run).
SERVERS = ServerMemory()


def strict_compatible(schema: Mapping[str, Any]) -> bool:
    """Whether `schema` meets OpenAI's strict structured-output rules: the root is an object,
    every object lists all its properties as required and has ``additionalProperties: false``
    (nested objects in arrays and anyOf branches included), and no ``$ref``/``oneOf``."""
    if schema.get("type") != "object":
        return False

    def ok(node: Any) -> bool:
        if isinstance(node, list):
            return all(ok(n) for n in node)
        if not isinstance(node, Mapping):
            return True
        if "$ref" in node or "oneOf" in node or "allOf" in node:
            return False
        types = node.get("type")
        is_object = types == "object" or (isinstance(types, list) and "object" in types)
        if is_object:
            props = node.get("properties")
            if not isinstance(props, Mapping) or node.get("additionalProperties") is not False:
                return False
            if set(node.get("required") or ()) != set(props):
                return False
            if not all(ok(v) for v in props.values()):
                return False
        return all(ok(v) for k, v in node.items() if k in ("items", "anyOf"))

    return ok(schema)


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


@dataclass(frozen=True)
class _Completion:
    """A reply's text and why the server said it ended (None: it did not say)."""

    text: str
    finish: str | None = None


class _TooLong(Exception):
    """The server sent more than the caps allow."""


class _Transient(Exception):
    """A failure worth retrying; turned into a DebateError when the retries run out."""

    def __init__(
        self,
        kind: Literal["connect_timeout", "read_timeout", "refused", "connect", "broken", "status"],
        *,
        status: int = 0,
        excerpt: str = "",
        retry_after: float | None = None,
        detail: str = "",
    ) -> None:
        super().__init__(kind)
        self.kind = kind
        self.status = status
        self.excerpt = excerpt
        self.retry_after = retry_after
        self.detail = detail


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


# --------------------------------------------------------------------------- reply parsing

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```[ \t]*[A-Za-z0-9_-]*[ \t]*\n(.*?)```", re.DOTALL)


def extract_json(reply: str) -> Any:
    """Return the first JSON object in `reply`, ignoring code fences and surrounding prose.

    Reasoning blocks (``<think>…</think>``) are dropped first; fenced blocks are tried before the
    bare text; raw control characters inside strings are tolerated. Raises ValueError with a
    short reason when there is no JSON object to be found.
    """
    text = _THINK.sub("", reply)
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder(strict=False)
    first_error: str | None = None
    for candidate in candidates:
        start = candidate.find("{")
        while start != -1:
            try:
                obj, _ = decoder.raw_decode(candidate, start)
            except json.JSONDecodeError as exc:
                if first_error is None:
                    first_error = f"invalid JSON ({exc.msg}, character {exc.pos})"
            else:
                if isinstance(obj, dict):
                    return obj
            start = candidate.find("{", start + 1)
    raise ValueError(first_error or "no JSON object found in the reply")


def _validation_reason(exc: ValidationError, limit: int = 3) -> str:
    """Summarise a pydantic error in one short line: ``where: what; …``."""
    parts = []
    for err in exc.errors()[:limit]:
        where = ".".join(str(p) for p in err["loc"]) or "the reply"
        parts.append(f"{where}: {err['msg']}")
    more = exc.error_count() - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def parse_reply(reply: str, model_cls: type[M], char_limit: int | None = None) -> M:
    """Parse and validate `reply` as `model_cls`; raise ValueError with a short reason if not.

    With `char_limit`, the model's ``text`` field (or the whole reply when the model has no
    string ``text``) must not be longer than that many characters.
    """
    obj = extract_json(reply)
    try:
        parsed = model_cls.model_validate(obj)
    except ValidationError as exc:
        raise ValueError(_validation_reason(exc)) from None
    if char_limit is not None:
        n = _measured_length(parsed, reply)
        if n > char_limit:
            raise ValueError(f"your text has {n} characters, the limit is {char_limit}")
    return parsed


def _measured_length(parsed: BaseModel, reply: str) -> int:
    """Length that a char limit applies to: the ``text`` field if there is one, else the reply."""
    text = getattr(parsed, "text", None)
    return len(text) if isinstance(text, str) else len(reply)


def _kind_name(model_cls: type[BaseModel]) -> str:
    """'Argument' -> 'argument', 'JudgeAnswer' -> 'judge answer' (for error messages); a
    private subclass (a reader's variant of Argument) is named by its public base."""
    name = next(c.__name__ for c in model_cls.__mro__ if not c.__name__.startswith("_"))
    return re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower()


# --------------------------------------------------------------------------- helpers


def _echo(reply: str, limit: int = _REPAIR_ECHO_CHARS) -> str:
    """An invalid reply as sent back for repair: never more than `limit` characters."""
    if len(reply) <= limit:
        return reply
    return reply[:limit] + f"\n[… {len(reply) - limit} more characters cut]"


def _one_line(text: str, limit: int = _EXCERPT_CHARS) -> str:
    """Collapse whitespace and cut to `limit` characters (with an ellipsis)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _body_excerpt(body: bytes) -> str:
    """A short, one-line excerpt of an error body, preferring an OpenAI-style error message."""
    text = body.decode("utf-8", errors="replace")
    try:
        data = json.loads(text)
    except ValueError:
        return _one_line(text)
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return _one_line(err["message"])
        if isinstance(err, str):
            return _one_line(err)
    return _one_line(text)


def parse_retry_after(value: str | None, cap: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), within [0, cap]."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), cap)


def _is_refused(exc: BaseException) -> bool:
    """True when a connect error is a refused connection (nothing listening on the port)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return True
        if "refused" in str(current).lower():
            return True
        current = current.__cause__ or current.__context__
    return False


async def _sse_data(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """Yield the data of each server-sent event (multi-line data joined by newlines)."""
    data: list[str] = []
    async for line in lines:
        if line == "":
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue  # comment / keep-alive
        field, _, value = line.partition(":")
        if field == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)


def _content_text(content: Any) -> str | None:
    """Text of a message or delta `content`: a string, or a list of text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [p.get("text", "") for p in content if isinstance(p, dict)]
        return "".join(t for t in texts if isinstance(t, str))
    return None


class _Masker:
    """Masks `key` in a text that arrives in pieces: holds back the last len(key) - 1
    characters until the next piece (or `flush`) shows they do not start the key."""

    def __init__(self, key: str) -> None:
        self.key = key if len(key) >= MIN_SECRET else ""
        self.pending = ""

    def feed(self, piece: str) -> str:
        if not self.key:
            return piece
        text = (self.pending + piece).replace(self.key, "***")
        keep = len(self.key) - 1
        self.pending = text[-keep:] if len(text) > keep else text
        return text[: len(text) - len(self.pending)]

    def flush(self) -> str:
        out, self.pending = self.pending, ""
        return out


def _mask(text: str, key: str) -> str:
    """`text` with `key` masked (keys shorter than MIN_SECRET are not real keys)."""
    return text.replace(key, "***") if len(key) >= MIN_SECRET else text


async def _capped_bytes(response: httpx.Response, cap: int) -> AsyncIterator[bytes]:
    """The response body in chunks; _TooLong once more than `cap` bytes have come."""
    total = 0
    async for chunk in response.aiter_bytes():
        total += len(chunk)
        if total > cap:
            raise _TooLong()
        yield chunk


async def _capped_lines(response: httpx.Response, cap: int) -> AsyncIterator[str]:
    """The body's lines (without their end), reading at most `cap` bytes in all: a line
    that never ends cannot fill memory (httpx's own line reader would hold it whole)."""
    decode = codecs.getincrementaldecoder("utf-8")(errors="replace").decode
    pending = ""
    async for chunk in _capped_bytes(response, cap):
        pending += decode(chunk)
        *lines, pending = pending.split("\n")
        for line in lines:
            yield line.removesuffix("\r")
    pending += decode(b"", True)
    if pending:
        yield pending.removesuffix("\r")


def _scrubbed(exc: DebateError, key: str) -> DebateError:
    """A copy of `exc` with every occurrence of `key` masked (servers may echo the key)."""
    message = str(exc).replace(key, "***")
    if isinstance(exc, LLMHTTPError):
        return LLMHTTPError(message, status=exc.status, excerpt=exc.excerpt.replace(key, "***"))
    if isinstance(exc, _Refused):
        return _Refused(message, what=exc.what, excerpt=exc.excerpt.replace(key, "***"))
    if isinstance(exc, LLMReplyError):
        return LLMReplyError(message, raw=exc.raw.replace(key, "***"))
    return DebateError(message)


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


class LLMClient:
    """Chat completions against one OpenAI-compatible endpoint, over one httpx.AsyncClient.

    Use it as ``async with LLMClient(cfg) as llm: ...`` (or call `aclose`). `transport` lets tests
    plug in ``httpx.MockTransport``; `sleep` lets them observe backoff without waiting.
    """

    def __init__(
        self,
        config: LLMConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[Any]] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self._sleep = sleep or asyncio.sleep
        self._rng = rng or random.Random()
        url = httpx.URL(config.base_url)
        self._where = f"{url.host}:{url.port}" if url.port else url.host
        self._shown_url = f"{url.scheme}://{self._where}{url.path}"  # without any user:password@
        timeout = httpx.Timeout(
            connect=config.connect_timeout,
            read=config.read_timeout,
            write=config.read_timeout,
            pool=config.connect_timeout,
        )
        self._http = httpx.AsyncClient(transport=transport, timeout=timeout)

    def __repr__(self) -> str:
        return f"LLMClient(model={self.config.model!r}, base_url={self._shown_url!r})"

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

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
                f"{self._where} gave no complete answer within {timeout:g} s (the time allowed "
                "for this turn); check the server, or raise turn_timeout in the rules"
            ) from None

    def _judge_reply(
        self,
        done: _Completion,
        model_cls: type[M],
        char_limit: int | None,
        check: Callable[[M], None] | None,
    ) -> M:
        """The reply parsed, validated and checked; ValueError with the reason if not (a
        reply cut at max_tokens says so first, since that is why its JSON is broken)."""
        try:
            parsed = parse_reply(done.text, model_cls, char_limit)
            if check is not None:
                check(parsed)
        except ValueError as exc:
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
    ) -> tuple[M, str]:
        async def ask(sent: Sequence[ChatMessage]) -> _Completion:
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
            return self._judge_reply(done, model_cls, char_limit, check), done.text
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
            {"role": "assistant", "content": _echo(done.text)},
            {"role": "user", "content": repair},
        ]
        done = await ask(retry_messages)
        try:
            return self._judge_reply(done, model_cls, char_limit, check), done.text
        except ValueError as exc:
            raise LLMReplyError(
                f"{self.config.model} reply was not a valid {_kind_name(model_cls)} after one "
                f"repair: {_one_line(str(exc), 160)}",
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
    ) -> _Completion:
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
                return await self._send(payload, stream=stream, on_token=on_token)
            except _Refused as exc:
                if exc.what == "system" and cfg.system_role == "auto" and not fold:
                    log.info("%s refused a system message; folding it", self._where)
                    SERVERS.fold(self._key)
                    continue
                if exc.what == "format" and cfg.use_response_format == "auto" and mode != "plain":
                    log.info("%s refused response format %s; stepping down", self._where, mode)
                    SERVERS.refuse(self._key, mode)
                    continue
                if exc.what == "system":
                    raise DebateError(
                        f"{self._where} refused the system message ({exc.excerpt}); "
                        "set system_role to 'auto' or 'user'"
                    ) from None
                raise DebateError(
                    f"{self._where} does not support response_format {mode} "
                    f"({exc.excerpt}); set use_response_format to 'auto' or false"
                ) from None

    def _headers(self) -> tuple[dict[str, str], str]:
        """Request headers and the key (read now from the environment; '' when unset)."""
        key = os.environ.get(self.config.api_key_env, "").strip()
        # identity: a compressed body could expand past the reply cap before it is counted
        headers = {"Accept": "application/json", "Accept-Encoding": "identity"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers, key

    async def _send(
        self,
        payload: dict[str, Any],
        *,
        stream: bool,
        on_token: Callable[[str], None] | None,
    ) -> _Completion:
        """POST with retries; the only place that turns transient failures into DebateError.
        A refusal of the response format or system role (`_Refused`) is raised at once."""
        cfg = self.config
        attempts = cfg.max_retries + 1
        emitted = [0]  # characters already handed to on_token in this call
        url = f"{cfg.base_url}/chat/completions"
        for attempt in range(1, attempts + 1):
            headers, key = self._headers()
            log.debug(
                "POST %s model=%s stream=%s attempt=%d/%d",
                url,
                cfg.model,
                stream,
                attempt,
                attempts,
            )
            try:
                try:
                    if stream:
                        return await self._stream_once(
                            url, payload, headers, on_token, emitted, key
                        )
                    return await self._plain_once(url, payload, headers, key)
                except httpx.TransportError as exc:
                    raise self._classify(exc) from exc
                except _TooLong:
                    raise DebateError(
                        f"{self._where} sent a reply longer than {cfg.max_reply_bytes} bytes; "
                        "it was cut off there (raise reply_bytes in the rules if the model "
                        "needs more)"
                    ) from None
            except _Transient as failure:
                if key:
                    failure.excerpt = failure.excerpt.replace(key, "***")
                    failure.detail = failure.detail.replace(key, "***")
                mid_stream = emitted[0] > 0 and on_token is not None
                if attempt >= attempts or mid_stream:
                    raise self._final_error(failure, attempt, mid_stream, emitted[0]) from None
                delay = failure.retry_after
                if delay is None:
                    delay = self._backoff(attempt)
                log.warning(
                    "%s; retrying in %.2f s (attempt %d/%d)",
                    self._describe(failure),
                    delay,
                    attempt + 1,
                    attempts,
                )
                await self._sleep(delay)
            except DebateError as exc:
                if key and key in str(exc) + getattr(exc, "excerpt", ""):
                    raise _scrubbed(exc, key) from None
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: half fixed, half random, capped at backoff_max."""
        cfg = self.config
        ceiling = min(cfg.backoff_max, cfg.backoff_base * 2 ** (attempt - 1))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def _classify(self, exc: httpx.TransportError) -> _Transient:
        """Map an httpx transport error to a retryable failure kind."""
        if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
            return _Transient("connect_timeout")
        if isinstance(exc, httpx.ReadTimeout | httpx.WriteTimeout):
            return _Transient("read_timeout")
        if isinstance(exc, httpx.ConnectError):
            if _is_refused(exc):
                return _Transient("refused")
            return _Transient("connect", detail=_one_line(str(exc) or type(exc).__name__, 120))
        return _Transient("broken", detail=type(exc).__name__)

    async def _status_failure(
        self, response: httpx.Response, payload: Mapping[str, Any]
    ) -> Exception:
        """A `_Refused` when the body says the `payload`'s response format or system message
        was refused (400/422/500), else a retryable _Transient for 429/5xx, otherwise a final
        LLMHTTPError (reading at most `_ERROR_BODY_BYTES` of the body)."""
        status = response.status_code
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) >= _ERROR_BODY_BYTES:
                break
        excerpt = _body_excerpt(bytes(body[:_ERROR_BODY_BYTES]))
        if status in _REFUSAL_STATUSES:
            said = bytes(body[:_ERROR_BODY_BYTES]).decode("utf-8", "replace").lower()
            has_system = any(m.get("role") == "system" for m in payload.get("messages", ()))
            if has_system and any(h in said for h in _SYSTEM_ROLE_HINTS):
                return _Refused(
                    f"{self._where} refused the system message", what="system", excerpt=excerpt
                )
            if "response_format" in payload and any(h in said for h in _RESPONSE_FORMAT_HINTS):
                return _Refused(
                    f"{self._where} refused the response format", what="format", excerpt=excerpt
                )
        if status == 429 or status >= 500:
            retry_after = parse_retry_after(
                response.headers.get("retry-after"), self.config.retry_after_cap
            )
            return _Transient("status", status=status, excerpt=excerpt, retry_after=retry_after)
        hint = {
            401: f"check the API key in ${self.config.api_key_env}",
            403: f"check the API key in ${self.config.api_key_env} and its permissions",
            404: "check base_url (usually ends in /v1) and the model name",
        }.get(status, "")
        if status in (401, 403) and not os.environ.get(self.config.api_key_env):
            hint = f"set the API key in the environment variable {self.config.api_key_env}"
        message = f"{self._where} answered HTTP {status}: {excerpt or '(empty body)'}"
        if hint:
            message += f" — {hint}"
        return LLMHTTPError(message, status=status, excerpt=excerpt)

    def _describe(self, failure: _Transient) -> str:
        """What happened, in a few words (no advice)."""
        cfg = self.config
        if failure.kind == "connect_timeout":
            return f"could not connect to {self._where} within {cfg.connect_timeout:g} s"
        if failure.kind == "read_timeout":
            return f"{self._where} did not answer within {cfg.read_timeout:g} s (read timeout)"
        if failure.kind == "refused":
            return f"connection to {self._where} refused"
        if failure.kind == "connect":
            return f"could not connect to {self._where} ({failure.detail})"
        if failure.kind == "broken":
            return f"connection to {self._where} broke ({failure.detail})"
        if failure.status == 429:
            return f"{self._where} is rate limiting (HTTP 429)"
        return f"{self._where} answered HTTP {failure.status}: {failure.excerpt or '(empty)'}"

    def _final_error(
        self, failure: _Transient, attempts: int, mid_stream: bool, emitted: int
    ) -> DebateError:
        """The one-line, actionable error for a failure that will not be retried."""
        what = self._describe(failure)
        if mid_stream:
            return DebateError(
                f"{what} after streaming {emitted} characters; not retried so the text is not "
                f"shown twice — try again"
            )
        tries = f"{attempts} attempt" + ("s" if attempts != 1 else "")
        if failure.kind == "status" and failure.status == 429:
            retries = attempts - 1
            return DebateError(
                f"{self._where} rate limited the request (HTTP 429) after {retries} "
                f"retr{'y' if retries == 1 else 'ies'}: {failure.excerpt or '(empty)'} — "
                "wait a while, lower the concurrency or raise max_retries"
            )
        advice = {
            "connect_timeout": "is the server up and base_url right?",
            "read_timeout": "raise read_timeout, lower max_tokens or check the server load",
            "refused": f"is a server running at {self._shown_url}?",
            "connect": "check base_url and the network",
            "broken": "check the server logs, then try again",
            "status": "the server is failing; try again later",
        }[failure.kind]
        return DebateError(f"{what} ({tries}) — {advice}")

    async def _plain_once(
        self, url: str, payload: dict[str, Any], headers: dict[str, str], key: str
    ) -> _Completion:
        """One non-streaming request; returns choices[0].message.content (key masked)."""
        async with self._http.stream("POST", url, json=payload, headers=headers) as response:
            if response.status_code >= 400:
                raise await self._status_failure(response, payload)
            done = self._completion(await self._read_body(response))
            return _Completion(_mask(done.text, key), done.finish)

    async def _read_body(self, response: httpx.Response) -> bytes:
        """A whole completion body, at most RAW_FACTOR times the reply cap."""
        cap = self.config.max_reply_bytes * RAW_FACTOR
        return b"".join([chunk async for chunk in _capped_bytes(response, cap)])

    async def _stream_once(
        self,
        url: str,
        payload: dict[str, Any],
        headers: dict[str, str],
        on_token: Callable[[str], None] | None,
        emitted: list[int],
        key: str,
    ) -> _Completion:
        """One streaming request; hands each delta to `on_token` and returns the whole text.

        The key is masked before any piece is handed on; the text stops at the reply cap. A
        stream that ends without a finish_reason was cut by the server: an LLMReplyError
        (with what came) says so, since the text is not what the model meant to send."""
        headers = {**headers, "Accept": "text/event-stream"}
        cap = self.config.max_reply_bytes
        async with self._http.stream("POST", url, json=payload, headers=headers) as response:
            if response.status_code >= 400:
                raise await self._status_failure(response, payload)
            if "text/event-stream" not in response.headers.get("content-type", ""):
                # The server ignored stream=true and sent a whole completion.
                done = self._completion(await self._read_body(response))
                text = _mask(done.text, key)
                if on_token is not None and text:
                    emitted[0] += len(text)
                    on_token(text)
                return _Completion(text, done.finish)
            parts: list[str] = []
            size = 0
            masker = _Masker(key)
            finish: str | None = None

            def hand_on(piece: str) -> None:
                if piece:
                    parts.append(piece)
                    if on_token is not None:
                        emitted[0] += len(piece)
                        on_token(piece)

            async for data in _sse_data(_capped_lines(response, cap * RAW_FACTOR)):
                if data.strip() == "[DONE]":
                    break
                piece, ended = self._delta(data)
                finish = ended or finish
                if piece:
                    size += len(piece.encode("utf-8", "replace"))
                    if size > cap:
                        raise _TooLong()
                    hand_on(masker.feed(piece))
            hand_on(masker.flush())
            text = "".join(parts)
            if finish is None:
                raise LLMReplyError(
                    f"the stream from {self._where} ended after {len(text)} characters without "
                    "a finish_reason (the server cut it: llama_cpp.server does when another "
                    "request arrives; run it with --interrupt_requests false or concurrency 1)",
                    raw=text,
                )
            return _Completion(text, finish)

    def _completion(self, body: bytes) -> _Completion:
        """choices[0].message.content of a non-streamed completion and its finish_reason,
        or a DebateError."""
        try:
            data = json.loads(body)
            message = data["choices"][0]["message"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise DebateError(
                f"{self._where} sent something that is not a chat completion: "
                f"{_body_excerpt(body) or '(empty body)'} — check base_url"
            ) from None
        text = _content_text(message.get("content")) if isinstance(message, dict) else None
        if text is not None and len(text.encode("utf-8", "replace")) > self.config.max_reply_bytes:
            raise _TooLong()
        finish = data["choices"][0].get("finish_reason")
        if text is None:
            raise DebateError(
                f"{self.config.model} sent no text (finish_reason={finish}); "
                "try again or raise max_tokens"
            )
        return _Completion(text, finish if isinstance(finish, str) else None)

    def _delta(self, data: str) -> tuple[str, str | None]:
        """The text in one SSE chunk (choices[0].delta.content, '' if none) and its
        finish_reason (None if it has none)."""
        try:
            chunk = json.loads(data)
        except ValueError:
            raise DebateError(
                f"{self._where} streamed a chunk that is not JSON: {_one_line(data, 80)}"
            ) from None
        if not isinstance(chunk, dict):
            return "", None
        if "error" in chunk:
            raise DebateError(
                f"{self._where} reported an error mid-stream: "
                f"{_body_excerpt(json.dumps(chunk).encode())}"
            )
        choices = chunk.get("choices") or []
        if not choices or not isinstance(choices[0], dict):
            return "", None
        finish = choices[0].get("finish_reason")
        finish = finish if isinstance(finish, str) else None
        delta = choices[0].get("delta") or {}
        if not isinstance(delta, dict):
            return "", finish
        return _content_text(delta.get("content")) or "", finish
