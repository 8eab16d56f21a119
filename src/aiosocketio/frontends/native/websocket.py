"""The native server's WebSocket connection (the §4 ``WebSocketChannel``).

After the ``101`` the native server switches the transport to a
:class:`NativeWebSocketConnection`, a pump over the sans-I/O
:class:`~aiosocketio.protocol.websocket.WebSocketProtocol`: each read goes to
``receive_data``, the protocol's own frames (pongs, close replies) are queued first, then
the returned messages go to the Engine's handler, then the control events are handled.
Frames written during one loop tick are queued and flushed together by the server (one
``loop.call_soon`` for every dirty connection); while the transport asks us to pause
writing, they stay queued and count in :attr:`~NativeWebSocketConnection.buffered_amount`,
which the Engine bounds.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from aiosocketio.engine.http import HttpRequest, WebSocketHandler
from aiosocketio.protocol.websocket import Close, DeflateParams, WebSocketProtocol

__all__ = ["CLOSE_TIMEOUT", "NativeWebSocketConnection", "ServerConnection", "WebSocketHost"]

logger = logging.getLogger("aiosocketio.frontends.native")

CLOSE_TIMEOUT = 5.0
"""Seconds to wait for the peer's close frame (or a flush at shutdown) before dropping."""


class ServerConnection(Protocol):
    """A connection the server keeps while it is open (HTTP or WebSocket)."""

    def shutdown(self) -> None:
        """The server is closing: close this connection (gracefully, then by force)."""


class WebSocketHost(Protocol):
    """What a :class:`NativeWebSocketConnection` needs from the server that accepted it."""

    def mark_dirty(self, conn: NativeWebSocketConnection) -> None:
        """Call ``conn.flush()`` at the end of this loop tick."""

    def forget(self, conn: ServerConnection) -> None:
        """``conn`` is gone: drop it from the server's open connections."""


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
        server: WebSocketHost,
        transport: asyncio.Transport,
        request: HttpRequest,
        *,
        max_message_size: int,
        deflate: DeflateParams | None = None,
        writing_paused: bool = False,
    ) -> None:
        self.server = server
        self.transport = transport
        self.request = request
        self.protocol = WebSocketProtocol(
            "server", max_message_size=max_message_size, deflate=deflate
        )
        self.can_write_frames = deflate is None
        self.handler: WebSocketHandler | None = None
        self.closed = False
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._dirty = False
        self._writing_paused = writing_paused
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
        messages = protocol.receive_data(data)
        if protocol.events_pending:
            self._received_with_events(messages)
        elif messages:
            handler = self.handler
            if handler is None:
                return
            if len(messages) == 1:  # the common case: no iterator
                try:
                    handler.on_message(messages[0])
                except Exception:
                    logger.exception("WebSocket message handler failed")
                return
            for message in messages:
                try:
                    handler.on_message(message)
                except Exception:
                    logger.exception("WebSocket message handler failed")

    def _received_with_events(self, messages: list[str | bytes]) -> None:
        """A read that brought control frames (or closed the connection): the protocol's
        pongs and close frames go out before any answer, then the messages are delivered,
        then a close is reported. (Only this path can close: every close comes with a
        :class:`~aiosocketio.protocol.websocket.Close` event.)"""
        protocol = self.protocol
        self._queue_control()
        events = protocol.events_received()
        handler = self.handler
        if handler is not None:
            for message in messages:
                try:
                    handler.on_message(message)
                except Exception:
                    logger.exception("WebSocket message handler failed")
        for event in events:
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

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.forget(self)
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
