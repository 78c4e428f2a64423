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
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from textual_serve.server import Server, to_int

#: Routes that serve nothing secret and take no input: the page's own scripts and styles.
_OPEN_PREFIXES = ("/static/",)


class LockedServer(Server):
    """A textual-serve `Server` that needs a per-start token and refuses foreign origins."""

    def __init__(self, command: str, *, port: int, title: str, token: str | None = None) -> None:
        super().__init__(command, host="127.0.0.1", port=port, title=title)
        self.token = token or secrets.token_urlsafe(32)
        self.allowed_hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}
        self.allowed_origins = {f"http://{h}" for h in self.allowed_hosts}

    @property
    def url(self) -> str:
        """The address to open in a browser, token included."""
        return f"{self.public_url}/?token={self.token}"

    def _token_ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Refuse requests from another site (Host, Origin) before any handler runs."""
        if request.host not in self.allowed_hosts:
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
        return await self.handle_websocket(request)

    async def on_startup(self, app: web.Application) -> None:
        self.console.print("pzjudge serve: the game in a browser, for whoever has this address:")
        self.console.print(f"  {self.url}", highlight=False, soft_wrap=True)
        self.console.print("[cyan]Press Ctrl+C to quit")
