"""`pzjudge serve` answers only its own page, holding its per-start token.

A real aiohttp server on 127.0.0.1 and a real WebSocket client: what a page on another
site (foreign Origin), a page without the token, and the game's own page can do.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

pytest.importorskip("textual_serve", reason="the serve extra (textual-serve) is not installed")

import aiohttp  # comes with textual-serve
from aiohttp import web

from tui.serve import LockedServer

#: The served command exits at once: these tests are about who may connect, not the game.
COMMAND = f"{sys.executable} -c pass"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def _served() -> AsyncIterator[LockedServer]:
    port = _free_port()
    server = LockedServer(COMMAND, port=port, title="pzjudge")
    runner = web.AppRunner(await server._make_app())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield server
    finally:
        await runner.cleanup()
        # textual-serve drops its app process's transport without closing it: collect it
        # while the loop still runs, or Python reports it as unraisable at exit
        gc.collect()


def _run(test: Callable[[LockedServer, aiohttp.ClientSession], Awaitable[Any]]) -> Any:
    async def go() -> Any:
        async with _served() as server, aiohttp.ClientSession() as http:
            return await test(server, http)

    return asyncio.run(go())


async def _ws_status(http: aiohttp.ClientSession, url: str, origin: str | None) -> int:
    """101 when the upgrade succeeds, else the HTTP status the server answered."""
    headers = {} if origin is None else {"Origin": origin}
    try:
        ws = await http.ws_connect(url, headers=headers)
    except aiohttp.WSServerHandshakeError as exc:
        return exc.status
    await ws.close()
    return 101


def test_foreign_origin_is_refused_even_with_the_token() -> None:
    async def t(server: LockedServer, http: aiohttp.ClientSession) -> None:
        url = f"ws://127.0.0.1:{server.port}/ws/{server.token}"
        for origin in ("http://evil.example", "null", f"http://127.0.0.1:{server.port + 1}"):
            assert await _ws_status(http, url, origin) == 403

    _run(t)


def test_missing_or_wrong_token_is_refused() -> None:
    async def t(server: LockedServer, http: aiohttp.ClientSession) -> None:
        base, same = f"ws://127.0.0.1:{server.port}", f"http://127.0.0.1:{server.port}"
        assert await _ws_status(http, f"{base}/ws", same) in (403, 404)  # textual-serve's route
        assert await _ws_status(http, f"{base}/ws/", same) in (403, 404)
        assert await _ws_status(http, f"{base}/ws/{server.token[:-1]}x", same) == 403
        async with http.get(f"{same}/") as r:
            assert r.status == 403
        async with http.get(f"{same}/?token=nope") as r:
            assert r.status == 403

    _run(t)


def test_own_page_with_the_token_connects() -> None:
    """The printed URL serves the page; the socket it names upgrades from the same origin."""

    async def t(server: LockedServer, http: aiohttp.ClientSession) -> None:
        same = f"http://127.0.0.1:{server.port}"
        assert server.url == f"{same}/?token={server.token}"
        async with http.get(server.url) as r:
            assert r.status == 200
            page = await r.text()
            assert r.headers["Referrer-Policy"] == "no-referrer"
        ws_url = f"ws://127.0.0.1:{server.port}/ws/{server.token}"
        assert f'data-session-websocket-url="{ws_url}"' in page
        assert await _ws_status(http, ws_url + "?width=80&height=24", same) == 101
        # a client that sends no Origin (not a browser) still needs the token
        assert await _ws_status(http, ws_url, None) == 101

    _run(t)


def test_dns_rebinding_host_is_refused() -> None:
    """A site name re-pointed at 127.0.0.1 arrives with its own Host: refused."""

    async def t(server: LockedServer, http: aiohttp.ClientSession) -> None:
        url = f"http://127.0.0.1:{server.port}/?token={server.token}"
        async with http.get(url, headers={"Host": f"evil.example:{server.port}"}) as r:
            assert r.status == 403

    _run(t)


def test_each_start_has_its_own_token() -> None:
    a = LockedServer(COMMAND, port=1, title="t")
    b = LockedServer(COMMAND, port=1, title="t")
    assert a.token != b.token and len(a.token) >= 32
