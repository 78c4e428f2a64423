"""A scriptable OpenAI-compatible chat-completions server on 127.0.0.1, for tests and benches.

Each request to ``POST /v1/chat/completions`` takes the next behaviour from a queue (or the
default one when the queue is empty): a reply (streamed by server-sent events when the request
asks for it), an HTTP error status, a connection that hangs, a connection dropped without an
answer, or raw bytes. Every request is recorded with its arrival time, headers and JSON body.

Like real servers, it can refuse what a request asks for: `accepts` lists the response formats
it takes ("json_schema", "json_object_schema" — llama-cpp-python's ``{"type": "json_object",
"schema": …}`` —, "json_object", "plain"); others are answered with `refusal` (a status and a
body naming the format). With ``system_role=False`` a request holding a system message is
refused as chat templates without one do. A request that carries a JSON schema has it checked
(a valid JSON Schema) and the scripted reply validated against it; the problems are recorded
with the request (`Recorded.schema_problems`), so a test sees whether what it sent is a schema
that the replies it expects meet.

    with LLMServer() as server:
        server.script(Status(429, headers={"Retry-After": "0.2"}), Reply("hello"))
        ...  # point an LLMConfig at server.url
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """Answer with `content`; streamed if `stream` (None: as the request asks), `chunk` chars
    per event."""

    content: str
    stream: bool | None = None
    chunk: int = 7
    delay: float = 0.0
    #: The finish_reason sent at the end ("length": cut at max_tokens; None: a stream the
    #: server cut, with no finish_reason at all).
    finish: str | None = "stop"


@dataclass(frozen=True)
class Status:
    """Answer with an HTTP error status, a body and extra headers."""

    status: int
    body: str = '{"error": {"message": "scripted failure"}}'
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Hang:
    """Read the request and never answer (until `seconds` pass or the server stops)."""

    seconds: float = 30.0


@dataclass(frozen=True)
class Trickle:
    """Open a stream and send a keep-alive comment every `interval` seconds, never a token,
    for `seconds` (a read timeout never fires: only a deadline on the whole call ends it)."""

    seconds: float = 30.0
    interval: float = 0.05


@dataclass(frozen=True)
class Drop:
    """Read the request and close the connection without a response."""


@dataclass(frozen=True)
class Raw:
    """Answer with these exact bytes."""

    body: bytes
    content_type: str = "application/json"
    status: int = 200


Behaviour = Reply | Status | Hang | Trickle | Drop | Raw


@dataclass
class Recorded:
    """One request as the server saw it: `mode` is the response format it asked for, `schema`
    the JSON schema it sent (if any), `schema_problems` what was wrong with that schema or
    with the scripted reply against it."""

    at: float
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    mode: str = "plain"
    schema: dict[str, Any] | None = None
    schema_problems: list[str] = field(default_factory=list)


def request_format(body: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """The response format a request asks for and the schema it sends (None if none)."""
    rf = body.get("response_format")
    if not isinstance(rf, dict):
        return "plain", None
    if rf.get("type") == "json_schema":
        spec = rf.get("json_schema") or {}
        return "json_schema", spec.get("schema") if isinstance(spec, dict) else None
    if rf.get("type") == "json_object" and isinstance(rf.get("schema"), dict):
        return "json_object_schema", rf["schema"]
    return str(rf.get("type")), None


def schema_problems(schema: dict[str, Any], content: str) -> list[str]:
    """What is wrong with `schema` as a JSON Schema, or with `content` (a reply) against it."""
    import jsonschema  # a test dependency; imported here so the benches need it only for schemas

    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        return [f"invalid schema: {exc.message}"]
    try:
        reply = json.loads(content)
    except ValueError:
        return ["the reply is not JSON"]
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(reply)]


def completion(
    content: str, model: str = "loopback", finish: str | None = "stop"
) -> dict[str, Any]:
    """A minimal non-streamed chat completion carrying `content`."""
    return {
        "id": "cmpl-loopback",
        "object": "chat.completion",
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish,
            }
        ],
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 256  # the default 5 drops connections under concurrency
    owner: LLMServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients closing idle keep-alive connections; report anything else."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet; tests read `LLMServer.requests` instead."""

    def do_POST(self) -> None:
        """Record the request, then act out the next scripted behaviour."""
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {"_unparsed": raw.decode("utf-8", "replace")}
        mode, schema = request_format(body)
        seen = Recorded(
            time.monotonic(),
            self.path,
            {k.lower(): v for k, v in self.headers.items()},
            body,
            mode=mode,
            schema=schema,
        )
        owner._record(seen)
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, b'{"error": {"message": "no such route"}}', "application/json")
            return
        messages = body.get("messages") or []
        if not owner.system_role and any(m.get("role") == "system" for m in messages):
            refusal = b'{"error": {"message": "System role not supported"}}'
            self._send(400, refusal, "application/json")
            return
        if owner.accepts is not None and mode not in owner.accepts:
            status, text = owner.refusal
            message = json.dumps({"error": {"message": text.format(mode=mode)}})
            self._send(status, message.encode(), "application/json")
            return
        behaviour = owner._next(body)
        if schema is not None and isinstance(behaviour, Reply):
            seen.schema_problems.extend(schema_problems(schema, behaviour.content))
        if owner.latency:
            time.sleep(owner.latency)
        if isinstance(behaviour, Reply):
            if behaviour.delay:
                time.sleep(behaviour.delay)
            streamed = (
                behaviour.stream if behaviour.stream is not None else bool(body.get("stream"))
            )
            if streamed:
                self._stream(behaviour)
            else:
                data = json.dumps(completion(behaviour.content, finish=behaviour.finish)).encode()
                self._send(200, data, "application/json")
        elif isinstance(behaviour, Status):
            self._send(
                behaviour.status, behaviour.body.encode(), "application/json", behaviour.headers
            )
        elif isinstance(behaviour, Hang):
            owner._stopping.wait(behaviour.seconds)
            self.close_connection = True
        elif isinstance(behaviour, Trickle):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            until = time.monotonic() + behaviour.seconds
            try:
                while time.monotonic() < until and not owner._stopping.is_set():
                    self._chunk(b": still thinking\n\n")
                    owner._stopping.wait(behaviour.interval)
            except OSError:
                pass  # the client gave up, as it should
            self.close_connection = True
        elif isinstance(behaviour, Drop):
            self.close_connection = True
        else:
            self._send(behaviour.status, behaviour.body, behaviour.content_type)

    def _send(
        self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _event(self, payload: str) -> None:
        self._chunk(f"data: {payload}\n\n".encode())

    def _stream(self, reply: Reply) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        base = {"id": "cmpl-loopback", "object": "chat.completion.chunk", "model": "loopback"}
        first = {**base, "choices": [{"index": 0, "delta": {"role": "assistant"}}]}
        self._event(json.dumps(first))
        self._chunk(b": keep-alive\n\n")  # a comment line, which clients must skip
        text = reply.content
        for start in range(0, len(text), max(1, reply.chunk)):
            piece = text[start : start + max(1, reply.chunk)]
            chunk = {**base, "choices": [{"index": 0, "delta": {"content": piece}}]}
            self._event(json.dumps(chunk))
        if reply.finish is not None:
            last = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": reply.finish}]}
            self._event(json.dumps(last))
        self._event("[DONE]")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class LLMServer:
    """The loopback server: start it, script it, read what it received, stop it."""

    def __init__(
        self,
        *,
        latency: float = 0.0,
        default: Behaviour | None = None,
        accepts: set[str] | None = None,
        refusal: tuple[int, str] = (400, "response_format {mode} is not supported"),
        system_role: bool = True,
        respond: Callable[[dict[str, Any]], Behaviour] | None = None,
    ) -> None:
        self.latency = latency
        #: Chooses the behaviour from the request body when nothing is scripted.
        self.respond = respond
        self.accepts = accepts
        self.refusal = refusal
        self.system_role = system_role
        self.default: Behaviour = default or Reply('{"text": "default reply", "citations": []}')
        self.requests: list[Recorded] = []
        self._queue: deque[Behaviour] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The base_url to give an LLMConfig."""
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *behaviours: Behaviour) -> None:
        """Queue behaviours for the next requests, in order."""
        with self._lock:
            self._queue.extend(behaviours)

    def start(self) -> LLMServer:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release hanging handlers, stop serving and close the socket."""
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LLMServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def max_concurrent(self, model: str | None = None) -> int:
        """The most requests (for `model`, if given) the server was working on at once: each
        counts from its arrival for `latency` seconds, the least time it holds the server
        (needs a latency; read from the arrival times, so no race with the next requests)."""
        if self.latency <= 0:
            raise ValueError("max_concurrent needs a server latency")
        with self._lock:
            arrivals = sorted(
                r.at for r in self.requests if model is None or r.body.get("model") == model
            )
        most, first = 0, 0
        for i, at in enumerate(arrivals):
            while arrivals[first] <= at - self.latency:
                first += 1
            most = max(most, i - first + 1)
        return most

    def _next(self, body: dict[str, Any]) -> Behaviour:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        return self.respond(body) if self.respond is not None else self.default

    def _record(self, request: Recorded) -> None:
        with self._lock:
            self.requests.append(request)
