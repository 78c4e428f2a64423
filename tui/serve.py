"""`pzjudge serve`: the game in a browser, reachable only by whoever holds the token.

textual-serve alone accepts a WebSocket from any page the user visits: a site could drive
the game on 127.0.0.1 (export to a path of its choosing, point a debater at its own server
and receive the API key). `LockedServer` adds three checks to every route that reaches the
game:

- a random token per server start, in the page URL (`/?token=…`) and in the WebSocket
  path (`/ws/<token>`), compared in constant time;
- the `Origin` of the WebSocket (and of the page, when a browser sends one) must be this
  server itself: a page from another site is refused even if it learnt the token;
- the `Host` header must be this server's loopback name, so a DNS-rebound site name that
  resolves to 127.0.0.1 is refused as well.

The page is sent with `Referrer-Policy: no-referrer` (the token never leaves in a
Referer) and may not be framed by another site.

A study served on a lab network (`--host 0.0.0.0 --public-name lab.example.org`) keeps all
three: the allowed Host names (and so Origins) are the loopback ones plus the names the
organiser states (`host_names`), never whatever a request says. The token is then shared
by every participant (it keeps other sites out, not participants apart): each browser's
game asks for its participant code, and a client may start only a few sessions a minute
(`sessions_per_minute`), so codes cannot be guessed at speed (tui/screens/study.py limits
the wrong codes of one session).
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
import time
from collections import deque
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from textual_serve.server import Server, to_int

from tui.errors import TuiError

#: Routes that serve nothing secret and take no input: the page's own scripts and styles.
_OPEN_PREFIXES = ("/static/",)

#: Names a browser on this machine uses; always allowed (no other site can send them).
LOOPBACK_NAMES = ("127.0.0.1", "localhost")

#: Addresses that listen on every interface: not a name a browser can be given.
_WILDCARDS = ("0.0.0.0", "::", "")

#: One label of a host name (letters, digits, inner hyphens), and a whole dotted name.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_NAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")


def is_loopback(host: str) -> bool:
    """Whether `host` (an address or `localhost`) listens on this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_host(host: str) -> str:
    """The address to bind: an IP address (or `localhost`); a one-line TuiError otherwise."""
    if host == "localhost":
        return host
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        raise TuiError(
            f"--host {host!r}: give an IP address of this machine (0.0.0.0: all of them; "
            "the name participants type goes in --public-name)"
        ) from None


def host_name(name: str, port: int) -> str:
    """`name` as a browser sends it in `Host` for this server: `NAME:PORT` (the port may be
    stated, for a proxy in front); an IPv6 address in brackets. A one-line TuiError for
    anything that is not a host name or address."""
    given = name.strip().lower()
    head, sep, tail = given.rpartition(":")
    if sep and tail.isdigit() and (not head.count(":") or head.endswith("]")):
        given, port = head, int(tail)
    bare = given.strip("[]")
    try:
        addr = ipaddress.ip_address(bare)
    except ValueError:
        if not _NAME.match(bare) or len(bare) > 253:
            raise TuiError(
                f"--public-name {name!r}: give the host name or address participants open "
                "(e.g. lab.example.org or 192.168.1.20), without http:// or a path"
            ) from None
        return f"{bare}:{port}"
    if str(addr) in _WILDCARDS:
        raise TuiError(f"--public-name {name!r}: not an address a browser can open")
    shown = f"[{addr}]" if addr.version == 6 else str(addr)
    return f"{shown}:{port}"


class LockedServer(Server):
    """A textual-serve `Server` that needs a per-start token and refuses foreign origins."""

    def __init__(
        self,
        command: str,
        *,
        port: int,
        title: str,
        token: str | None = None,
        host: str = "127.0.0.1",
        public_names: list[str] | tuple[str, ...] = (),
        sessions_per_minute: int = 12,
    ) -> None:
        """`host` is the address bound (loopback by default); `public_names` the names (or
        addresses) participants open, which become the only Host names allowed besides
        the loopback ones. A wildcard `host` (0.0.0.0) needs at least one public name."""
        host = check_host(host)
        super().__init__(command, host=host, port=port, title=title)
        self.token = token or secrets.token_urlsafe(32)
        names = [host_name(n, port) for n in public_names]
        if host not in _WILDCARDS and host not in LOOPBACK_NAMES:
            names.append(host_name(host, port))
        if not names and not is_loopback(host):
            raise TuiError(
                f"--host {host} listens on every address: say with --public-name the name "
                "or address participants open (it is the only Host accepted)"
            )
        #: The addresses to hand out, in the order given (loopback when there is no other).
        self.public_hosts = list(dict.fromkeys(names)) or [f"127.0.0.1:{port}"]
        hosts = {f"{n}:{port}" for n in LOOPBACK_NAMES} | set(self.public_hosts)
        # a browser leaves the port out of Host (and Origin) when it is http's own, 80
        self.allowed_hosts = hosts | {h.removesuffix(":80") for h in hosts}
        self.allowed_origins = {f"http://{h}" for h in self.allowed_hosts}
        self.sessions_per_minute = sessions_per_minute
        self._sessions: dict[str, deque[float]] = {}

    @property
    def urls(self) -> list[str]:
        """The addresses to open in a browser, token included: one per public name."""
        return [f"http://{h.removesuffix(':80')}/?token={self.token}" for h in self.public_hosts]

    @property
    def url(self) -> str:
        """The first address to open in a browser, token included."""
        return self.urls[0]

    def _session_allowed(self, client: str) -> bool:
        """Whether `client` (an address) may start another game now: at most
        `sessions_per_minute` in any 60 s, so a participant cannot try codes at speed by
        opening session after session (each also starts a process)."""
        now = time.monotonic()
        starts = self._sessions.setdefault(client, deque())
        while starts and now - starts[0] > 60.0:
            starts.popleft()
        if len(starts) >= self.sessions_per_minute:
            return False
        starts.append(now)
        return True

    def _token_ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Refuse requests from another site (Host, Origin) before any handler runs."""
        if request.host.lower() not in self.allowed_hosts:
            raise web.HTTPForbidden(text="pzjudge serve: unknown Host")
        origin = request.headers.get("Origin")
        if origin is not None and origin not in self.allowed_origins:
            raise web.HTTPForbidden(text="pzjudge serve: requests from other sites are refused")
        response: web.StreamResponse = await handler(request)
        if not request.path.startswith(_OPEN_PREFIXES):
            response.headers.setdefault("Referrer-Policy", "no-referrer")
            response.headers.setdefault("X-Frame-Options", "DENY")
            response.headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
        return response

    async def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard])
        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(self.templates_path))
        app.add_routes(
            [
                web.get("/", self.handle_index, name="index"),
                web.get("/ws/{token}", self.handle_locked_websocket, name="websocket"),
                web.get("/download/{key}", self.handle_download, name="download"),
                web.static("/static", self.statics_path, name="static"),
            ]
        )
        app.on_startup.append(self.on_startup)
        app.on_shutdown.append(self.on_shutdown)
        return app

    async def handle_index(self, request: web.Request) -> web.StreamResponse:  # type: ignore[override, unused-ignore]
        """The page, only with the right `?token=`; its WebSocket URL carries the token."""
        if not self._token_ok(request.query.get("token")):
            raise web.HTTPForbidden(
                text="pzjudge serve: open the address printed by `pzjudge serve` (with its token)"
            )
        router = request.app.router
        ws_path = router["websocket"].url_for(token=self.token)
        static = router["static"].url_for(filename="/")
        context = {
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": f"ws://{request.host}{ws_path}",
            "config": {"static": {"url": f"http://{request.host}{str(static).rstrip('/')}/"}},
            "application": {"name": self.title},
        }
        return aiohttp_jinja2.render_template("app_index.html", request, context)

    async def handle_locked_websocket(self, request: web.Request) -> web.StreamResponse:
        """The game's socket: the token in the path, else 403 before any upgrade."""
        if not self._token_ok(request.match_info.get("token")):
            raise web.HTTPForbidden(text="pzjudge serve: wrong or missing token")
        if not self._session_allowed(request.remote or "?"):
            raise web.HTTPTooManyRequests(
                text="pzjudge serve: too many sessions from this address; wait a minute"
            )
        return await self.handle_websocket(request)

    async def on_startup(self, app: web.Application) -> None:
        self.console.print("pzjudge serve: the game in a browser, for whoever has this address:")
        for url in self.urls:
            self.console.print(f"  {url}", highlight=False, soft_wrap=True)
        if not is_loopback(self.host):
            self.console.print(
                f"listening on {self.host}:{self.port}; other Host names are refused",
                highlight=False,
            )
        self.console.print("[cyan]Press Ctrl+C to quit")
