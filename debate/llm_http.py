"""One chat-completions request over HTTP, retried: the transport under `debate.llm`.

Transient failures (timeouts, refused or broken connections, 429 and 5xx) are retried with
backoff, honouring Retry-After; a refusal of the response format or the system role is
reported at once (`Refused`) for the client to step down; replies are read up to a cap,
streamed or not, with the API key masked; everything else ends as one DebateError line.
"""

from __future__ import annotations

import asyncio
import codecs
import email.utils
import functools
import json
import logging
import os
import random
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from debate.endpoints import endpoint_slot
from debate.errors import DebateError
from debate.llm_config import LLMConfig
from debate.secrets import MIN_SECRET

log = logging.getLogger("debate.llm")

_EXCERPT_CHARS = 200
#: The raw response (SSE framing, JSON escapes) may be this many times the reply cap.
RAW_FACTOR = 64
#: Bytes of an error body read for its excerpt (the rest is never read).
_ERROR_BODY_BYTES = 65_536
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


class LLMUnreachable(DebateError):
    """No server answered at the base URL (refused, no connection, connect timeout) after the
    retries: every other call to it would fail the same way, so a caller with many calls
    may stop at the first."""


class Refused(DebateError):
    """The server refused the response format or the system role it was sent (what: which)."""

    def __init__(self, message: str, *, what: Literal["format", "system"], excerpt: str) -> None:
        super().__init__(message)
        self.what = what
        self.excerpt = excerpt


@dataclass(frozen=True)
class Completion:
    """A reply's text and why the server said it ended (None: it did not say)."""

    text: str
    finish: str | None = None


class _TooLong(Exception):
    """The server sent more than the caps allow."""


@dataclass(eq=False)
class _Transient(Exception):
    """A failure worth retrying; turned into a DebateError when the retries run out."""

    kind: Literal["connect_timeout", "read_timeout", "refused", "connect", "broken", "status"]
    status: int = 0
    excerpt: str = ""
    retry_after: float | None = None
    detail: str = ""

    def __post_init__(self) -> None:
        super().__init__(self.kind)


def one_line(text: str, limit: int = _EXCERPT_CHARS) -> str:
    """Collapse whitespace and cut to `limit` characters (with an ellipsis)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _body_excerpt(body: bytes) -> str:
    """A short, one-line excerpt of an error body, preferring an OpenAI-style error message."""
    text = body.decode("utf-8", errors="replace")
    try:
        data = json.loads(text)
    except ValueError:
        return one_line(text)
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return one_line(err["message"])
        if isinstance(err, str):
            return one_line(err)
    return one_line(text)


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
    if isinstance(exc, Refused):
        return Refused(message, what=exc.what, excerpt=exc.excerpt.replace(key, "***"))
    if isinstance(exc, LLMReplyError):
        return LLMReplyError(message, raw=exc.raw.replace(key, "***"))
    return DebateError(message)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every client in this process, as httpx builds its
    default (SSL_CERT_FILE or SSL_CERT_DIR, else certifi's bundle): reading the CA bundle
    costs ~40 ms of CPU, which a client made per call would otherwise pay every call."""
    cafile, capath = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    if cafile or capath:
        return ssl.create_default_context(cafile=cafile or None, capath=capath or None)
    import certifi  # a dependency of httpx

    return ssl.create_default_context(cafile=certifi.where())


class ChatHTTP:
    """POSTs to one endpoint's /chat/completions over one httpx.AsyncClient, with retries:
    the only place that turns transport failures into one-line DebateErrors."""

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
        #: host:port, as messages name the server.
        self.where = f"{url.host}:{url.port}" if url.port else url.host
        #: The base URL without any user:password@.
        self.shown_url = f"{url.scheme}://{self.where}{url.path}"
        timeout = httpx.Timeout(
            connect=config.connect_timeout,
            read=config.read_timeout,
            write=config.read_timeout,
            pool=config.connect_timeout,
        )
        self._http = httpx.AsyncClient(transport=transport, timeout=timeout, verify=_tls_context())

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    def _headers(self) -> tuple[dict[str, str], str]:
        """Request headers and the key (read now from the environment; '' when unset)."""
        key = os.environ.get(self.config.api_key_env, "").strip()
        # identity: a compressed body could expand past the reply cap before it is counted
        headers = {"Accept": "application/json", "Accept-Encoding": "identity"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers, key

    async def send(
        self,
        payload: dict[str, Any],
        *,
        stream: bool,
        on_token: Callable[[str], None] | None,
    ) -> Completion:
        """POST with retries; the only place that turns transient failures into DebateError.
        A refusal of the response format or system role (`Refused`) is raised at once."""
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
                    # one slot of the endpoint's cap per request (docs/scale.md)
                    async with endpoint_slot(cfg.base_url, cfg.model):
                        if stream:
                            return await self._stream_once(
                                url, payload, headers, on_token, emitted, key
                            )
                        return await self._plain_once(url, payload, headers, key)
                except httpx.TransportError as exc:
                    raise self._classify(exc) from exc
                except _TooLong:
                    raise DebateError(
                        f"{self.where} sent a reply longer than {cfg.max_reply_bytes} bytes; "
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
            return _Transient("connect", detail=one_line(str(exc) or type(exc).__name__, 120))
        return _Transient("broken", detail=type(exc).__name__)

    async def _status_failure(
        self, response: httpx.Response, payload: Mapping[str, Any]
    ) -> Exception:
        """A `Refused` when the body says the `payload`'s response format or system message
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
                return Refused(
                    f"{self.where} refused the system message", what="system", excerpt=excerpt
                )
            if "response_format" in payload and any(h in said for h in _RESPONSE_FORMAT_HINTS):
                return Refused(
                    f"{self.where} refused the response format", what="format", excerpt=excerpt
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
        message = f"{self.where} answered HTTP {status}: {excerpt or '(empty body)'}"
        if hint:
            message += f" — {hint}"
        return LLMHTTPError(message, status=status, excerpt=excerpt)

    def _describe(self, failure: _Transient) -> str:
        """What happened, in a few words (no advice)."""
        cfg = self.config
        if failure.kind == "connect_timeout":
            return f"could not connect to {self.where} within {cfg.connect_timeout:g} s"
        if failure.kind == "read_timeout":
            return f"{self.where} did not answer within {cfg.read_timeout:g} s (read timeout)"
        if failure.kind == "refused":
            return f"connection to {self.where} refused"
        if failure.kind == "connect":
            return f"could not connect to {self.where} ({failure.detail})"
        if failure.kind == "broken":
            return f"connection to {self.where} broke ({failure.detail})"
        if failure.status == 429:
            return f"{self.where} is rate limiting (HTTP 429)"
        return f"{self.where} answered HTTP {failure.status}: {failure.excerpt or '(empty)'}"

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
                f"{self.where} rate limited the request (HTTP 429) after {retries} "
                f"retr{'y' if retries == 1 else 'ies'}: {failure.excerpt or '(empty)'} — "
                "wait a while, lower the concurrency or raise max_retries"
            )
        advice = {
            "connect_timeout": "is the server up and base_url right?",
            "read_timeout": "raise read_timeout, lower max_tokens or check the server load",
            "refused": f"is a server running at {self.shown_url}?",
            "connect": "check base_url and the network",
            "broken": "check the server logs, then try again",
            "status": "the server is failing; try again later",
        }[failure.kind]
        if failure.kind in ("connect_timeout", "refused", "connect"):
            return LLMUnreachable(f"{what} ({tries}) — {advice}")
        return DebateError(f"{what} ({tries}) — {advice}")

    async def _plain_once(
        self, url: str, payload: dict[str, Any], headers: dict[str, str], key: str
    ) -> Completion:
        """One non-streaming request; returns choices[0].message.content (key masked)."""
        async with self._http.stream("POST", url, json=payload, headers=headers) as response:
            if response.status_code >= 400:
                raise await self._status_failure(response, payload)
            done = self._completion(await self._read_body(response))
            return Completion(_mask(done.text, key), done.finish)

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
    ) -> Completion:
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
                return Completion(text, done.finish)
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
                    f"the stream from {self.where} ended after {len(text)} characters without "
                    "a finish_reason (the server cut it: llama_cpp.server does when another "
                    "request arrives; run it with --interrupt_requests false or concurrency 1)",
                    raw=text,
                )
            return Completion(text, finish)

    def _completion(self, body: bytes) -> Completion:
        """choices[0].message.content of a non-streamed completion and its finish_reason,
        or a DebateError."""
        try:
            data = json.loads(body)
            message = data["choices"][0]["message"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise DebateError(
                f"{self.where} sent something that is not a chat completion: "
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
        return Completion(text, finish if isinstance(finish, str) else None)

    def _delta(self, data: str) -> tuple[str, str | None]:
        """The text in one SSE chunk (choices[0].delta.content, '' if none) and its
        finish_reason (None if it has none)."""
        try:
            chunk = json.loads(data)
        except ValueError:
            raise DebateError(
                f"{self.where} streamed a chunk that is not JSON: {one_line(data, 80)}"
            ) from None
        if not isinstance(chunk, dict):
            return "", None
        if "error" in chunk:
            raise DebateError(
                f"{self.where} reported an error mid-stream: "
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
