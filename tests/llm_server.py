"""A scriptable OpenAI-compatible chat-completions server on 127.0.0.1, for tests and benches.

Each request to ``POST /v1/chat/completions`` takes the next behaviour from a queue (or the
default one when the queue is empty): a reply (streamed by server-sent events when the request
asks for it), an HTTP error status, a connection that hangs, a connection dropped without an
answer, or raw bytes. Every request is recorded with its arrival time, headers and JSON body.

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
class Drop:
    """Read the request and close the connection without a response."""


@dataclass(frozen=True)
class Raw:
    """Answer with these exact bytes."""

    body: bytes
    content_type: str = "application/json"
    status: int = 200


Behaviour = Reply | Status | Hang | Drop | Raw


@dataclass(frozen=True)
class Recorded:
    """One request as the server saw it."""

    at: float
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


def completion(content: str, model: str = "loopback") -> dict[str, Any]:
    """A minimal non-streamed chat completion carrying `content`."""
    return {
        "id": "cmpl-loopback",
        "object": "chat.completion",
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
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
        owner._record(
            Recorded(
                time.monotonic(), self.path, {k.lower(): v for k, v in self.headers.items()}, body
            )
        )
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, b'{"error": {"message": "no such route"}}', "application/json")
            return
        behaviour = owner._next()
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
                data = json.dumps(completion(behaviour.content)).encode()
                self._send(200, data, "application/json")
        elif isinstance(behaviour, Status):
            self._send(
                behaviour.status, behaviour.body.encode(), "application/json", behaviour.headers
            )
        elif isinstance(behaviour, Hang):
            owner._stopping.wait(behaviour.seconds)
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
        last = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        self._event(json.dumps(last))
        self._event("[DONE]")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class LLMServer:
    """The loopback server: start it, script it, read what it received, stop it."""

    def __init__(self, *, latency: float = 0.0, default: Behaviour | None = None) -> None:
        self.latency = latency
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

    def _next(self) -> Behaviour:
        with self._lock:
            return self._queue.popleft() if self._queue else self.default

    def _record(self, request: Recorded) -> None:
        with self._lock:
            self.requests.append(request)
