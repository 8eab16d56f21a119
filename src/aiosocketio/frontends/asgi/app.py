"""The ASGI application: routes each connection by its type and path."""

from __future__ import annotations

import asyncio

from aiosocketio.engine.http import EngineLike
from aiosocketio.frontends.asgi.http import send_response, serve_http
from aiosocketio.frontends.asgi.lifespan import Lifespan, Shutdown
from aiosocketio.frontends.asgi.scope import route_path
from aiosocketio.frontends.asgi.server_check import WebSocketSupportCheck
from aiosocketio.frontends.asgi.websocket import ASGIWebSocketChannel, Flusher, serve_websocket
from aiosocketio.frontends.asgi_types import ASGIApplication, Receive, Scope, Send
from aiosocketio.frontends.stats import LimitStats
from aiosocketio.protocol.limits import ConnectionLimits

__all__ = ["DRAIN_STEP", "ASGIApp"]

DRAIN_STEP = 0.01
"""Seconds between two looks at the open WebSockets while :meth:`ASGIApp.drain` waits."""


class ASGIApp:
    """An ASGI 3 application serving ``engine`` (and optionally another app).

    Args:
        engine: the Engine.IO engine (§4 surface).
        other_app: the ASGI application for every other path and for ``lifespan``.
        on_shutdown: the graceful shutdown (the Socket.IO server's ``close()``), run once
            before the ASGI server stops: under uvicorn on the first SIGINT/SIGTERM
            (before uvicorn closes the connections), elsewhere on ``lifespan.shutdown``
            (see :mod:`aiosocketio.frontends.asgi.lifespan`). The ASGI server must run
            the lifespan protocol (uvicorn's ``--lifespan auto``, its default).
        take_signals: let the app take the first signal from uvicorn (True).

    Attributes:
        limits: the Engine's :class:`~aiosocketio.protocol.limits.ConnectionLimits`. Under
            an ASGI server, the app enforces the ones it can see: ``require_host``,
            ``request_timeout`` (for bodies), ``abort_timeout`` (a WebSocket whose close
            cannot be sent is dropped); the HTTP parsing and WebSocket framing limits are
            the ASGI server's (``SECURITY.md`` names its options).
        stats: how many times each limit was hit
            (:class:`~aiosocketio.frontends.stats.LimitStats`).
    """

    def __init__(
        self,
        engine: EngineLike,
        other_app: ASGIApplication | None = None,
        *,
        on_shutdown: Shutdown | None = None,
        take_signals: bool = True,
    ) -> None:
        self.engine = engine
        self.other_app = other_app
        limits = getattr(engine.options, "connection_limits", None)
        self.limits: ConnectionLimits = limits if limits is not None else ConnectionLimits()
        self.stats = LimitStats()
        self._flusher = Flusher()
        self._ws_check = WebSocketSupportCheck()
        self._lifespan = Lifespan(on_shutdown, take_signals=take_signals)
        #: The open WebSocket connections.
        self.websockets: set[ASGIWebSocketChannel] = set()

    async def drain(self, deadline: float) -> None:
        """Wait until every WebSocket connection is over and its last bytes are written
        (under uvicorn, whose transports show, until each transport is closing with
        nothing left to write: the process may then exit without cutting them); at
        ``deadline`` (the loop's clock) drop those still open. Call it after the Engine's
        sessions are drained (their close frames are then queued behind what they hold).
        """
        loop = asyncio.get_running_loop()
        live = self.websockets
        watched = set(live)
        while loop.time() < deadline:
            watched.update(live)
            watched = {channel for channel in watched if not channel.finished}
            if not watched and not live:
                return
            await asyncio.sleep(min(DRAIN_STEP, max(0.0, deadline - loop.time())))
        watched.update(live)
        for channel in watched:
            if not channel.finished:
                channel.drop()
        for _ in range(10):
            if not live:
                break
            await asyncio.sleep(0)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        kind = scope["type"]
        if not self._ws_check.started:
            self._ws_check.start()  # one warning if uvicorn has no WebSocket library
        if kind == "lifespan":
            await self._lifespan.run(scope, receive, send, self.other_app)
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
                self.engine,
                self._flusher,
                scope,
                receive,
                send,
                path,
                self.limits,
                self.stats,
                self.websockets,
            )


def _is_upgrade(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"upgrade" and value.lower() == b"websocket":
            return True
    return False
