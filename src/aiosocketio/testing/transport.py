"""An in-memory WebSocket between the real client and the real Engine, in one process.

The seam is the one every front end uses (docs/ARCHITECTURE.md §4): a WebSocket upgrade
is an :class:`~aiosocketio.engine.http.HttpRequest` handed to
:meth:`Engine.handle_websocket <aiosocketio.engine.engine.Engine.handle_websocket>`, which
refuses it (an HTTP answer) or accepts it; an accepted one is bound to a
:class:`~aiosocketio.engine.http.WebSocketChannel` and answers with a
:class:`~aiosocketio.engine.http.WebSocketHandler`. Here the channel and the client's end
(:class:`MemoryWebSocket`, what the client's Engine.IO connection writes to) are the two
ends of one pipe: each message is handed to the other side on the next loop iteration, in
order, as a network would, and never in the same call stack. Nothing is faked above that:
the server's Engine, Socket.IO layer and adapter, and the client's Engine.IO and Socket.IO
layers all run as in production.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import itertools
import os
import ssl as ssl_module
from collections.abc import Callable, Iterable, Sequence
from urllib.parse import unquote

from aiosocketio.client.transports import USER_AGENT, Endpoint, TransportError, WebSocketOpener
from aiosocketio.engine.engine import Engine
from aiosocketio.engine.http import HttpRequest, HttpResponse, WebSocketHandler

__all__ = ["MemoryWebSocket", "memory_opener"]

_ports = itertools.count(40000)


class _ServerEnd:
    """The server's side of the pipe: the :class:`WebSocketChannel` the Engine writes to."""

    can_write_frames = False

    def __init__(self, client: MemoryWebSocket) -> None:
        self._client = client

    @property
    def buffered_amount(self) -> int:
        return 0

    def write_frames(self, data: bytes) -> None:
        raise NotImplementedError("the in-memory channel takes messages")

    def send_message(self, data: str | bytes) -> None:
        client = self._client
        if not client._server_closed:
            client._loop.call_soon(client._receive, data)

    def close(self, code: int = 1000, reason: str = "") -> None:
        client = self._client
        if client._server_closed:
            return
        client._server_closed = True
        client._loop.call_soon(client._closed_by_server, code)

    def drop(self) -> None:
        """Drop at once (the server's shutdown deadline): the client sees the close."""
        self.close(1006)

    @property
    def drained(self) -> bool:
        """Nothing waits in the pipe: every message is handed over on the next loop turn."""
        return True


class MemoryWebSocket:
    """The client's end of an in-memory WebSocket (a
    :class:`~aiosocketio.client.transports.ClientWebSocket`)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, max_message_size: int) -> None:
        self._loop = loop
        self._max = max_message_size
        self.handler: WebSocketHandler | None = None
        self.on_message: Callable[[str | bytes], None] | None = None
        self.on_close: Callable[[str, str | None], None] | None = None
        self._early: list[str | bytes] = []
        self._lost: tuple[str, str | None] | None = None
        self._closed = False  # by this side
        self._server_closed = False
        #: While true, the network is down: messages both ways are lost (the connection
        #: stays open, as a cable pulled out; heartbeats then time out).
        self.blackhole = False

    # -- the ClientWebSocket API ----------------------------------------------------------

    @property
    def writable(self) -> bool:
        """The pipe is open."""
        return not self._closed and not self._server_closed

    def attach(
        self,
        on_message: Callable[[str | bytes], None],
        on_close: Callable[[str, str | None], None],
    ) -> None:
        """Set the callbacks, then deliver what arrived before (messages, a close)."""
        self.on_message = on_message
        self.on_close = on_close
        early, self._early = self._early, []
        for data in early:
            on_message(data)
        lost = self._lost
        if lost is not None:
            self.on_close = None
            on_close(*lost)

    def send(self, messages: Iterable[str | bytes]) -> None:
        """Hand messages to the server, on the next loop iteration."""
        if not self.writable:
            return
        for message in messages:
            self._loop.call_soon(self._deliver, message)

    def close(self, timeout: float | None = None) -> None:
        """Close with code 1000 (the server sees it after what was sent before)."""
        self._close(1000)

    async def wait_closed(self) -> None:
        """Nothing to wait for: the pipe closes at once."""

    def abort(self) -> None:
        """Drop the connection (the server sees a lost connection)."""
        self._close(None)

    # -- the pipe -------------------------------------------------------------------------

    def _close(self, code: int | None) -> None:
        if self._closed:
            return
        self._closed = True
        self.on_message = None
        self.on_close = None
        if not self._server_closed:
            self._loop.call_soon(self._tell_server_closed, code)

    def _tell_server_closed(self, code: int | None) -> None:
        handler = self.handler
        self._server_closed = True
        if handler is not None:
            handler.on_close(code)

    def _deliver(self, message: str | bytes) -> None:
        handler = self.handler
        if handler is None or self._server_closed or self.blackhole:
            return
        if len(message) > self._max:
            # what the front ends do with a message over max_http_buffer_size
            self._server_closed = True
            handler.on_close(1009)
            self._closed_by_server(1009)
            return
        handler.on_message(message)

    def _receive(self, data: str | bytes) -> None:
        if self._closed or self.blackhole:
            return
        callback = self.on_message
        if callback is None:
            self._early.append(data)
        else:
            callback(data)

    def _closed_by_server(self, code: int) -> None:
        if self._closed:
            return
        self._closed = True
        reason = "transport close" if code in (1000, 1001, 1005) else "transport error"
        lost = (reason, f"websocket closed with code {code}")
        callback = self.on_close
        self.on_close = None
        self.on_message = None
        if callback is None:
            self._lost = lost
        else:
            callback(*lost)


def memory_opener(engine: Engine, remote_address: str = "127.0.0.1") -> WebSocketOpener:
    """The :attr:`Endpoint.opener <aiosocketio.client.transports.Endpoint.opener>` that
    opens WebSockets to ``engine`` in memory (a refused upgrade raises
    :class:`~aiosocketio.client.transports.TransportError` as over the network)."""

    async def open_websocket(
        endpoint: Endpoint,
        target: str,
        headers: Sequence[tuple[str, str]],
        ssl: ssl_module.SSLContext | None,
        timeout: float | None,
    ) -> MemoryWebSocket:
        path, _, query_string = target.partition("?")
        request_headers = {
            "host": endpoint.host_header,
            "upgrade": "websocket",
            "connection": "Upgrade",
            "sec-websocket-key": base64.b64encode(os.urandom(16)).decode(),
            "sec-websocket-version": "13",
            "user-agent": USER_AGENT,
        }
        for name, value in headers:
            request_headers[name.lower()] = value
        request = HttpRequest(
            method="GET",
            path=unquote(path),
            query_string=query_string,
            headers=request_headers,
            remote_address=remote_address,
            remote_port=next(_ports),
            secure=endpoint.secure,
        )
        if not request.path.startswith(engine.options.path):
            raise TransportError("websocket error", "unexpected status 404")
        answer = engine.handle_websocket(request)
        if inspect.isawaitable(answer):
            answer = await answer
        if isinstance(answer, HttpResponse):
            raise TransportError("websocket error", f"unexpected status {answer.status}")
        client = MemoryWebSocket(asyncio.get_running_loop(), engine.options.max_http_buffer_size)
        client.handler = answer.attach(_ServerEnd(client))
        return client

    return open_websocket
