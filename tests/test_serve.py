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
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("textual_serve", reason="the serve extra (textual-serve) is not installed")

import aiohttp  # comes with textual-serve
from aiohttp import web

from tui.errors import TuiError
from tui.serve import LockedServer

#: The served command exits at once: these tests are about who may connect, not the game.
COMMAND = f"{sys.executable} -c pass"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def _served(**kw: Any) -> AsyncIterator[LockedServer]:
    port = _free_port()
    server = LockedServer(COMMAND, port=port, title="pzjudge", **kw)
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


def _run(test: Callable[[LockedServer, aiohttp.ClientSession], Awaitable[Any]], **kw: Any) -> Any:
    async def go() -> Any:
        async with _served(**kw) as server, aiohttp.ClientSession() as http:
            return await test(server, http)

    return asyncio.run(go())


async def _ws_status(
    http: aiohttp.ClientSession, url: str, origin: str | None, host: str | None = None
) -> int:
    """101 when the upgrade succeeds, else the HTTP status the server answered."""
    headers = {} if origin is None else {"Origin": origin}
    if host is not None:
        headers["Host"] = host
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


def test_a_study_on_a_lab_network_answers_only_the_names_its_organiser_gave() -> None:
    """`--host` with `--public-name`: bound on loopback here (no other network in tests),
    the stated name is the one Host (and Origin) accepted besides loopback; a DNS-rebound
    name is still refused; the printed URL and the page's socket use the stated name."""

    async def t(server: LockedServer, http: aiohttp.ClientSession) -> None:
        lab = f"lab.example.org:{server.port}"
        assert server.urls == [f"http://{lab}/?token={server.token}"]
        base = f"http://127.0.0.1:{server.port}"
        page_url = f"{base}/?token={server.token}"
        async with http.get(page_url, headers={"Host": lab}) as r:
            assert r.status == 200
            page = await r.text()
        ws_path = f"/ws/{server.token}"
        assert f'data-session-websocket-url="ws://{lab}{ws_path}"' in page
        for host in (f"evil.example:{server.port}", f"lab.example.org.evil.example:{server.port}"):
            async with http.get(page_url, headers={"Host": host}) as r:
                assert r.status == 403, host
        ws = f"ws://127.0.0.1:{server.port}{ws_path}"
        assert await _ws_status(http, ws, f"http://{lab}", host=lab) == 101
        assert await _ws_status(http, ws, "http://evil.example", host=lab) == 403
        assert (
            await _ws_status(http, ws, f"http://{lab}", host=f"evil.example:{server.port}") == 403
        )
        # loopback names stay open to a browser on the server itself
        async with http.get(page_url) as r:
            assert r.status == 200

    _run(t, host="127.0.0.1", public_names=["Lab.Example.org"])


def test_a_client_starts_only_a_few_sessions_a_minute() -> None:
    """Each session is a new chance to type codes (and a new process): past the limit, 429
    and no game is started."""

    async def t(server: LockedServer, http: aiohttp.ClientSession) -> None:
        ws, same = (
            f"ws://127.0.0.1:{server.port}/ws/{server.token}",
            f"http://127.0.0.1:{server.port}",
        )
        assert [await _ws_status(http, ws, same) for _ in range(3)] == [101, 101, 429]

    _run(t, sessions_per_minute=2)


def test_hosts_and_public_names_are_checked_in_one_line() -> None:
    with pytest.raises(TuiError, match="--public-name"):
        LockedServer(COMMAND, port=1, title="t", host="0.0.0.0")
    for bad in ("http://lab.example.org", "lab/x", "0.0.0.0", "a..b"):
        with pytest.raises(TuiError, match="--public-name"):
            LockedServer(COMMAND, port=1, title="t", host="0.0.0.0", public_names=[bad])
    with pytest.raises(TuiError, match="--host"):
        LockedServer(COMMAND, port=1, title="t", host="lab.example.org")
    s = LockedServer(COMMAND, port=8000, title="t", host="0.0.0.0", public_names=["10.1.2.3"])
    assert s.urls == [f"http://10.1.2.3:8000/?token={s.token}"]
    assert s.allowed_hosts == {"127.0.0.1:8000", "localhost:8000", "10.1.2.3:8000"}
    # a bound address is a name participants can open; port 80 is left out of Host by browsers
    s = LockedServer(COMMAND, port=80, title="t", host="192.168.4.5", public_names=["lab:81"])
    assert s.urls == [f"http://lab:81/?token={s.token}", f"http://192.168.4.5/?token={s.token}"]
    assert {"192.168.4.5", "192.168.4.5:80", "lab:81"} <= s.allowed_hosts
    assert "lab" not in s.allowed_hosts


def test_serve_host_and_public_name_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from store.study_ops import build_study
    from tui.cli import main

    (tmp_path / "s.toml").write_text(
        'title = "t"\nconditions = ["oracle"]\nparticipants = 1\n'
        '[[items]]\npreset = "practice"\nseed = 1\n'
    )
    build_study(tmp_path / "s.toml", tmp_path / "s.db")
    db = str(tmp_path / "s.db")
    served: list[LockedServer] = []
    monkeypatch.setattr(LockedServer, "serve", lambda self: served.append(self))

    def err(argv: list[str]) -> str:
        assert main(argv) == 2
        e = capsys.readouterr().err.strip()
        assert "\n" not in e and "Traceback" not in e
        return e

    # the game (export anywhere, debaters with API keys) never leaves loopback
    assert "only a study is served beyond this machine" in err(["serve", "--host", "0.0.0.0"])
    assert "--public-name: only a study" in err(["serve", "--public-name", "lab.example.org"])
    assert "--public-name" in err(["serve", "--study", db, "--host", "0.0.0.0"])
    assert "--public-name" in err(
        ["serve", "--study", db, "--host", "0.0.0.0", "--public-name", "x/"]
    )
    assert "--host" in err(["serve", "--study", db, "--host", "nowhere"])
    assert not served
    argv = ["serve", "--study", db, "--host", "0.0.0.0", "--public-name", "lab.example.org"]
    assert main([*argv, "--port", "8123"]) == 0
    (s,) = served
    assert s.host == "0.0.0.0" and s.urls == [f"http://lab.example.org:8123/?token={s.token}"]
    assert main(["serve", "--port", "8124"]) == 0  # loopback stays the default
    assert served[1].host == "127.0.0.1" and served[1].urls[0].startswith("http://127.0.0.1:8124/")

    def busy(self: LockedServer) -> None:
        raise OSError(98, "Address already in use")

    monkeypatch.setattr(LockedServer, "serve", busy)
    assert "Address already in use" in err(["serve", "--port", "8125"])

    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    text = capsys.readouterr().out
    assert "--host ADDRESS" in text and "--public-name NAME" in text and "lab network" in text
