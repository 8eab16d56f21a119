"""The built-in asyncio HTTP/1.1 + WebSocket server (the default front end).

:class:`NativeServer` is the protocol factory and owner of the listening socket. It
makes one :class:`~aiosocketio.frontends.native.http.NativeHttpConnection` per TCP
connection, keeps the open connections for shutdown, runs the tasks the connections
start, and flushes the WebSocket connections: frames written during one loop tick are
flushed together, every dirty connection written once by a single ``loop.call_soon``
callback shared by the whole server.

The modules of this package, by job: :mod:`.http` (HTTP/1.1 parsing, pipelining),
:mod:`.http_flow` (its flow control, limits and timers), :mod:`.responses` (encoding
answers), :mod:`.upgrade` (the ``101`` and the switch to WebSocket), :mod:`.websocket`
(the WebSocket pump), :mod:`.asgi_bridge` (a wrapped ASGI application for the other
paths).
"""

from __future__ import annotations

import asyncio
import logging
import ssl as ssl_module
from collections.abc import Awaitable
from typing import Any

from aiosocketio.engine.http import EngineLike
from aiosocketio.frontends.asgi_types import ASGIApplication
from aiosocketio.frontends.native.http import NativeHttpConnection
from aiosocketio.frontends.native.websocket import (
    NativeWebSocketConnection,
    ServerConnection,
)
from aiosocketio.frontends.stats import LimitStats
from aiosocketio.protocol.limits import ConnectionLimits
from aiosocketio.runtime.allocator import keep_heap

__all__ = [
    "DRAIN_STEP",
    "NativeHttpConnection",
    "NativeServer",
    "NativeWebSocketConnection",
    "serve",
]

logger = logging.getLogger("aiosocketio.frontends.native")

DRAIN_STEP = 0.01
"""Seconds between two looks at the open connections while :meth:`NativeServer.drain`
waits."""


def _log_task_result(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("request handler failed", exc_info=task.exception())


class NativeServer:
    """The built-in server: a protocol factory plus the listening ``asyncio.Server``.

    Args:
        engine: the Engine.IO engine (§4 surface).
        app: optional ASGI application for paths outside the Engine's path.
        idle_timeout: seconds an idle keep-alive connection stays open; by default the
            ``idle_timeout`` of the Engine's ``limits`` (60).

    Attributes:
        limits: the :class:`~aiosocketio.protocol.limits.ConnectionLimits` (the Engine's
            ``limits`` option).
        stats: how many times each limit was hit
            (:class:`~aiosocketio.frontends.stats.LimitStats`).

    Use :func:`serve`, or :meth:`listen`, or pass the instance as the protocol factory
    to ``loop.create_server`` yourself and then :meth:`attach` the resulting server.
    """

    def __init__(
        self,
        engine: EngineLike,
        *,
        app: ASGIApplication | None = None,
        idle_timeout: float | None = None,
    ) -> None:
        self.engine = engine
        self.app = app
        limits = getattr(engine.options, "connection_limits", None)
        self.limits: ConnectionLimits = limits if limits is not None else ConnectionLimits()
        self.idle_timeout = idle_timeout if idle_timeout is not None else self.limits.idle_timeout
        self.stats = LimitStats()
        self.server: asyncio.Server | None = None
        self.connections: set[ServerConnection] = set()
        self.tasks: set[asyncio.Task[Any]] = set()
        self._dirty: list[NativeWebSocketConnection] = []
        self._flush_scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def __call__(self) -> NativeHttpConnection:
        """Protocol factory for ``loop.create_server``."""
        return NativeHttpConnection(self)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The running loop (looked up once)."""
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        return loop

    async def listen(
        self,
        host: str | None = "127.0.0.1",
        port: int = 3000,
        *,
        ssl: ssl_module.SSLContext | None = None,
        backlog: int = 2048,
        sock: Any = None,
    ) -> None:
        """Start listening (on ``host:port``, or on an existing ``sock``).

        The first server of a process also tunes the C heap for large messages
        (:func:`aiosocketio.runtime.allocator.keep_heap`).
        """
        keep_heap()
        loop = asyncio.get_running_loop()
        if sock is not None:
            server = await loop.create_server(self, sock=sock, ssl=ssl, backlog=backlog)
        else:
            server = await loop.create_server(self, host, port, ssl=ssl, backlog=backlog)
        self.attach(server)

    def attach(self, server: asyncio.Server) -> None:
        """Adopt an ``asyncio.Server`` created with this instance as protocol factory."""
        self.server = server

    @property
    def sockets(self) -> tuple[Any, ...]:
        """The listening sockets."""
        return tuple(self.server.sockets) if self.server is not None else ()

    @property
    def port(self) -> int:
        """The port of the first listening socket (useful after binding port 0)."""
        for sock in self.sockets:
            name = sock.getsockname()
            if isinstance(name, tuple):
                return int(name[1])
        raise RuntimeError("the server is not listening on TCP")

    def close(self, finish: bool = False) -> None:
        """Stop listening and close every open connection.

        WebSockets get a 1001 ("going away") close frame; connections still open
        ``limits.abort_timeout`` seconds later (5) are dropped. With ``finish``, the HTTP
        answers under way are written first.
        """
        if self.server is not None:
            self.server.close()
        for conn in list(self.connections):
            conn.shutdown(finish)

    def stop_listening(self) -> None:
        """Close the listening sockets: new connections are refused by the system; the open
        ones go on."""
        if self.server is not None:
            self.server.close()

    async def drain(self, deadline: float) -> None:
        """Stop listening and close every connection, gracefully; at ``deadline`` (the
        loop's clock) drop those still open, and return once they are gone.

        Idle keep-alive connections close at once; a connection with an answer or
        WebSocket frames still to write closes once they are written (a WebSocket after
        a 1001 close frame). Call it after the Engine's sessions are drained.
        """
        self.close(finish=True)
        loop = self.loop
        while self.connections and loop.time() < deadline:
            await asyncio.sleep(min(DRAIN_STEP, max(0.0, deadline - loop.time())))
        if self.connections:
            for conn in list(self.connections):
                conn.drop()
            # connection_lost comes on the next turns of the loop
            for _ in range(10):
                if not self.connections:
                    break
                await asyncio.sleep(0)
        await self.wait_closed()

    async def wait_closed(self) -> None:
        """Wait until the listening server is closed."""
        if self.server is not None:
            await self.server.wait_closed()

    # -- helpers used by the connections ----------------------------------------------

    def spawn(self, awaitable: Awaitable[Any]) -> asyncio.Task[Any]:
        """Run ``awaitable`` in a task kept until it ends (a failure is logged)."""
        task = asyncio.ensure_future(awaitable)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        task.add_done_callback(_log_task_result)
        return task

    def adopt(self, conn: ServerConnection) -> None:
        """``conn`` is open: shut it down with the server."""
        self.connections.add(conn)

    def forget(self, conn: ServerConnection) -> None:
        """``conn`` is closed."""
        self.connections.discard(conn)

    def mark_dirty(self, conn: NativeWebSocketConnection) -> None:
        """Flush ``conn`` at the end of this loop tick (with every other dirty one)."""
        self._dirty.append(conn)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush_dirty)

    def _flush_dirty(self) -> None:
        self._flush_scheduled = False
        dirty = self._dirty
        self._dirty = []
        for conn in dirty:
            conn.flush()


async def serve(
    engine: EngineLike,
    host: str | None = "127.0.0.1",
    port: int = 3000,
    *,
    ssl: ssl_module.SSLContext | None = None,
    app: ASGIApplication | None = None,
    backlog: int = 2048,
) -> NativeServer:
    """Start the built-in server for ``engine`` and return it (already listening).

    Args:
        engine: the Engine.IO engine.
        host: the interface to bind.
        port: the TCP port (0 picks a free one; read it back from ``.port``).
        ssl: a server ``SSLContext`` for HTTPS/WSS.
        app: an ASGI application for paths outside the Engine's path.
        backlog: the listen backlog.
    """
    server = NativeServer(engine, app=app)
    await server.listen(host, port, ssl=ssl, backlog=backlog)
    return server
