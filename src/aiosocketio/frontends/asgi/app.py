"""The ASGI application: routes each connection by its type and path."""

from __future__ import annotations

from aiosocketio.engine.http import EngineLike
from aiosocketio.frontends.asgi.http import send_response, serve_http
from aiosocketio.frontends.asgi.scope import route_path
from aiosocketio.frontends.asgi.server_check import WebSocketSupportCheck
from aiosocketio.frontends.asgi.websocket import Flusher, serve_websocket
from aiosocketio.frontends.asgi_types import ASGIApplication, Receive, Scope, Send
from aiosocketio.frontends.stats import LimitStats
from aiosocketio.protocol.limits import ConnectionLimits

__all__ = ["ASGIApp"]


class ASGIApp:
    """An ASGI 3 application serving ``engine`` (and optionally another app).

    Args:
        engine: the Engine.IO engine (§4 surface).
        other_app: the ASGI application for every other path and for ``lifespan``.

    Attributes:
        limits: the Engine's :class:`~aiosocketio.protocol.limits.ConnectionLimits`. Under
            an ASGI server, the app enforces the ones it can see: ``require_host``,
            ``request_timeout`` (for bodies), ``abort_timeout`` (a WebSocket whose close
            cannot be sent is dropped); the HTTP parsing and WebSocket framing limits are
            the ASGI server's (``SECURITY.md`` names its options).
        stats: how many times each limit was hit
            (:class:`~aiosocketio.frontends.stats.LimitStats`).
    """

    def __init__(self, engine: EngineLike, other_app: ASGIApplication | None = None) -> None:
        self.engine = engine
        self.other_app = other_app
        limits = getattr(engine.options, "connection_limits", None)
        self.limits: ConnectionLimits = limits if limits is not None else ConnectionLimits()
        self.stats = LimitStats()
        self._flusher = Flusher()
        self._ws_check = WebSocketSupportCheck()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        kind = scope["type"]
        if not self._ws_check.started:
            self._ws_check.start()  # one warning if uvicorn has no WebSocket library
        if kind == "lifespan":
            if self.other_app is not None:
                await self.other_app(scope, receive, send)
            else:
                await _lifespan(receive, send)
            return
        path = route_path(scope)
        if kind not in ("http", "websocket") or not self.engine.options.matches(path):
            if self.other_app is not None:
                await self.other_app(scope, receive, send)
            elif kind == "http":
                await send_response(send, 404, [("Content-Type", "text/plain")], b"Not Found")
            elif kind == "websocket":
                await receive()  # websocket.connect
                await send({"type": "websocket.close", "code": 1000})
            return
        if kind == "http":
            if b"transport=websocket" in scope.get("query_string", b"") and _is_upgrade(scope):
                self._ws_check.upgrade_as_http()
            await serve_http(self.engine, scope, receive, send, path, self.limits, self.stats)
        else:
            await serve_websocket(
                self.engine, self._flusher, scope, receive, send, path, self.limits, self.stats
            )


def _is_upgrade(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"upgrade" and value.lower() == b"websocket":
            return True
    return False


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
