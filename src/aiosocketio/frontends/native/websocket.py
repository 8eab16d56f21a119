"""The native server's WebSocket connection (the §4 ``WebSocketChannel``).

After the ``101`` the native server switches the transport to a
:class:`NativeWebSocketConnection`, which frames with the sans-I/O
:class:`~aiosocketio.protocol.websocket.WebSocketProtocol`. Frames written during one loop tick
are queued and flushed together by the server (one ``loop.call_soon`` for every dirty
connection); while the transport asks us to pause writing, they stay queued and count in
:attr:`~NativeWebSocketConnection.buffered_amount`, which the Engine bounds.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from aiosocketio.engine.http import HttpRequest, WebSocketHandler
from aiosocketio.protocol.websocket import Close, DeflateParams, WebSocketProtocol

if TYPE_CHECKING:
    from aiosocketio.frontends.native.server import NativeServer

__all__ = ["CLOSE_TIMEOUT", "NativeWebSocketConnection"]

logger = logging.getLogger("aiosocketio.frontends.native")

CLOSE_TIMEOUT = 5.0
"""Seconds to wait for the peer's close frame (or a flush at shutdown) before dropping."""


class NativeWebSocketConnection(asyncio.Protocol):
    """An accepted WebSocket on the native server; implements ``WebSocketChannel``."""

    __slots__ = (
        "_close_handle",
        "_dirty",
        "_pending",
        "_pending_size",
        "_writing_paused",
        "can_write_frames",
        "closed",
        "handler",
        "protocol",
        "request",
        "server",
        "transport",
    )

    def __init__(
        self,
        server: NativeServer,
        transport: asyncio.Transport,
        request: HttpRequest,
        deflate: DeflateParams | None,
    ) -> None:
        self.server = server
        self.transport = transport
        self.request = request
        self.protocol = WebSocketProtocol(
            "server",
            max_message_size=server.engine.options.max_http_buffer_size,
            deflate=deflate,
        )
        self.protocol.on_message = self._on_message
        self.can_write_frames = deflate is None
        self.handler: WebSocketHandler | None = None
        self.closed = False
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._dirty = False
        self._writing_paused = False
        self._close_handle: asyncio.TimerHandle | None = None

    # -- WebSocketChannel ----------------------------------------------------------------

    def write_frames(self, data: bytes) -> None:
        """Queue prebuilt frames; flushed once per loop tick."""
        if self.closed or self.protocol.close_sent:
            return
        self._pending.append(data)
        self._pending_size += len(data)
        if not self._dirty:
            self._dirty = True
            self.server.mark_dirty(self)

    def send_message(self, data: str | bytes) -> None:
        """Encode (and compress if negotiated) one message and queue it."""
        frame = self.protocol.send_message(data)
        if frame:
            self.write_frames(frame)

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame; the TCP connection closes when the peer answers."""
        if self.closed:
            return
        frame = self.protocol.send_close(code, reason)
        if frame:
            self._pending.append(frame)
            self._pending_size += len(frame)
            self.flush()
            loop = asyncio.get_running_loop()
            self._close_handle = loop.call_later(CLOSE_TIMEOUT, self.abort)

    @property
    def buffered_amount(self) -> int:
        """Bytes queued here, plus the transport's write buffer while it is over its
        high-water mark (below it, the transport's few KiB are not counted: this keeps
        the per-recipient check of a broadcast free of a call into the event loop)."""
        if self._writing_paused:
            return self._pending_size + self.transport.get_write_buffer_size()
        return self._pending_size

    # -- writing -------------------------------------------------------------------------

    def flush(self) -> None:
        """Write the queued frames (unless the transport asked us to pause)."""
        self._dirty = False
        if self._writing_paused or not self._pending or self.closed:
            return
        pending = self._pending
        self._pending = []
        self._pending_size = 0
        if len(pending) == 1:
            self.transport.write(pending[0])
        else:
            self.transport.writelines(pending)

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        self.flush()

    def abort(self) -> None:
        """Drop the connection immediately."""
        self.transport.abort()

    def shutdown(self) -> None:
        """Server shutdown: send a 1001 close frame, close the TCP connection."""
        transport = self.transport
        if transport.is_closing():
            return
        frame = self.protocol.send_close(1001, "server shutting down")
        if frame:
            self._pending.append(frame)
        self._writing_paused = False
        self.flush()
        self.closed = True
        transport.close()
        asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, transport.abort)

    # -- reading --------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        protocol = self.protocol
        protocol.receive_data(data)  # messages go to _on_message as they are parsed
        # (the protocol's lists are read directly: two calls saved per read)
        if protocol._out:
            self._queue_control()
        if protocol._events:
            for event in protocol.events_received():
                if isinstance(event, Close):
                    self._report_close(event.code)
        if protocol.closed and not self.closed:
            # RFC 6455 §7.1.1: the server closes the TCP connection first.
            self.flush()
            self.closed = True
            self.transport.close()

    def _queue_control(self) -> None:
        """Queue the protocol's own frames (pongs, close replies)."""
        out = self.protocol.data_to_send()
        if out:
            self._pending.append(out)
            self._pending_size += len(out)
            if not self._dirty:
                self._dirty = True
                self.server.mark_dirty(self)

    def _on_message(self, data: str | bytes) -> None:
        if self.protocol._out:
            self._queue_control()  # a pong for an earlier ping goes out before any answer
        handler = self.handler
        if handler is not None:
            try:
                handler.on_message(data)
            except Exception:
                logger.exception("WebSocket message handler failed")

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        self.protocol.on_message = None  # the bound method is a cycle: free by refcount
        self.closed = True
        self._pending = []
        self._pending_size = 0
        if self._close_handle is not None:
            self._close_handle.cancel()
            self._close_handle = None
        self._report_close(None)

    def _report_close(self, code: int | None) -> None:
        handler = self.handler
        if handler is None:
            return
        self.handler = None
        try:
            handler.on_close(code)
        except Exception:
            logger.exception("WebSocket close handler failed")
