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

What one client can make a connection hold is bounded (``SECURITY.md``):

* reading stops while writing is paused (a client that does not read cannot make the
  server queue pongs, or answers of any kind, without end) and while the protocol holds
  parsed input back (it parses at most ``frames_per_call`` frames per loop turn);
* every send path (broadcast frames, the Engine's own packets, pongs, close frames)
  lands in one queue, and a queue over ``max_write_buffer`` closes the connection with
  1008; a connection being closed that cannot write is dropped after ``abort_timeout``;
* a message to compress that is bigger than :data:`STEPWISE_SIZE` is compressed in
  pieces, one per loop turn, and the messages sent after it wait behind it (in order).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Generator
from typing import Protocol

from aiosocketio.engine.http import HttpRequest, WebSocketHandler
from aiosocketio.frontends.stats import (
    SHUTDOWN_DROPPED,
    WS_READ_PAUSED,
    WS_WRITE_BUFFER,
    LimitStats,
    ws_close_kind,
)
from aiosocketio.protocol.limits import ConnectionLimits
from aiosocketio.protocol.websocket import (
    FRAMES_PER_CALL,
    Close,
    DeflateParams,
    WebSocketProtocol,
)

__all__ = [
    "CLOSE_TIMEOUT",
    "STEPWISE_SIZE",
    "NativeWebSocketConnection",
    "ServerConnection",
    "WebSocketHost",
]

logger = logging.getLogger("aiosocketio.frontends.native")

CLOSE_TIMEOUT = 5.0
"""Seconds to wait for the peer's close frame (or a flush at shutdown) before dropping
(the default of ``ConnectionLimits.abort_timeout``)."""

STEPWISE_SIZE = 64 * 1024
"""A message to compress at least this long is compressed in pieces of this size, one
per loop turn (about a millisecond each), instead of holding the loop for all of it."""

_DEFAULT_LIMITS = ConnectionLimits()

# What waits behind a message being compressed: a message, or (code, reason) for a close
_Held = str | bytes | tuple[int, str]


class ServerConnection(Protocol):
    """A connection the server keeps while it is open (HTTP or WebSocket)."""

    def shutdown(self, finish: bool = False) -> None:
        """The server is closing: close this connection (gracefully, then by force);
        with ``finish``, after the answers under way."""

    def drop(self) -> None:
        """The server's grace period is over: drop this connection at once."""


class WebSocketHost(Protocol):
    """What a :class:`NativeWebSocketConnection` needs from the server that accepted it."""

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The running loop."""

    @property
    def stats(self) -> LimitStats:
        """The counters of the limits."""

    def mark_dirty(self, conn: NativeWebSocketConnection) -> None:
        """Call ``conn.flush()`` at the end of this loop tick."""

    def forget(self, conn: ServerConnection) -> None:
        """``conn`` is gone: drop it from the server's open connections."""


class NativeWebSocketConnection(asyncio.Protocol):
    """An accepted WebSocket on the native server; implements ``WebSocketChannel``.

    Args:
        server: the server that accepted it.
        transport: the TCP (or TLS) transport, already switched from HTTP.
        request: the upgrade request.
        max_message_size: the largest message accepted (1009 beyond).
        deflate: the negotiated permessage-deflate parameters, or ``None``.
        writing_paused: the transport had asked to pause writing before the switch.
        limits: the connection limits (``max_fragments``, ``abort_timeout``).
        max_write_buffer: the most bytes held for the peer (1008 beyond).
    """

    __slots__ = (
        "_abort_timeout",
        "_behind",
        "_close_handle",
        "_dirty",
        "_dropped",
        "_held",
        "_job",
        "_max_buffer",
        "_pending",
        "_pending_size",
        "_reading_paused",
        "_sealed",
        "_stepping",
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
        limits: ConnectionLimits = _DEFAULT_LIMITS,
        max_write_buffer: int = 32 << 20,
    ) -> None:
        self.server = server
        self.transport = transport
        self.request = request
        self.protocol = WebSocketProtocol(
            "server",
            max_message_size=max_message_size,
            deflate=deflate,
            max_fragments=limits.max_fragments,
            frames_per_call=FRAMES_PER_CALL,
        )
        self.can_write_frames = deflate is None
        self.handler: WebSocketHandler | None = None
        self.closed = False
        self._sealed = False  # closed, or a close frame sent: nothing more is written
        # Invariant: _pending_size == the bytes in _pending + _held (a message being
        # compressed and what waits behind it)
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._held = 0
        self._job: Generator[None, None, bytes] | None = None
        self._behind: list[_Held] | None = None
        self._stepping = False  # a _step() is scheduled
        self._max_buffer = max_write_buffer
        self._abort_timeout = limits.abort_timeout
        self._dirty = False
        self._dropped = False
        self._writing_paused = writing_paused
        self._reading_paused = False
        self._close_handle: asyncio.TimerHandle | None = None

    @property
    def writing_paused(self) -> bool:
        """The transport asked to pause writing."""
        return self._writing_paused

    # -- WebSocketChannel ----------------------------------------------------------------

    def write_frames(self, data: bytes) -> None:
        """Queue prebuilt frames; flushed once per loop tick.

        Only for connections without permessage-deflate (``can_write_frames``), which
        never hold messages behind a compression.
        """
        if self._sealed:
            return
        self._pending.append(data)
        self._pending_size += len(data)
        if not self._dirty:
            self._dirty = True
            self.server.mark_dirty(self)
        elif self._pending_size > self._max_buffer:
            # bounded within a loop turn here, and across turns by flush()
            self._overflow()

    def send_message(self, data: str | bytes) -> None:
        """Encode (and compress if negotiated) one message and queue it."""
        if self._job is not None:
            self._hold(data, len(data))
            return
        protocol = self.protocol
        if len(data) >= STEPWISE_SIZE and protocol.compresses(data):
            self._start_job(protocol.send_message_steps(data, STEPWISE_SIZE), len(data))
            return
        frame = protocol.send_message(data)
        if frame:
            self.write_frames(frame)

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame (after the queued messages); the TCP connection closes when
        the peer answers, or after ``abort_timeout``."""
        if self.closed:
            return
        if self._close_handle is None:
            self._close_handle = self.server.loop.call_later(self._abort_timeout, self.abort)
        if self._job is not None:
            self._hold((code, reason), 0)
            return
        frame = self.protocol.send_close(code, reason)
        self._sealed = True
        if frame:
            self._pending.append(frame)
            self._pending_size += len(frame)
            self.flush()

    @property
    def drained(self) -> bool:
        """Nothing is left to write: nothing queued here, and the transport has written
        everything (into the kernel's socket buffer)."""
        return not self._pending_size and self.transport.get_write_buffer_size() == 0

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
        """Write the queued frames (unless the transport asked us to pause); advance a
        message being compressed by one piece."""
        self._dirty = False
        if self._writing_paused or self.closed:
            if self._pending_size > self._max_buffer and not self.closed:
                self._overflow()
            return
        if not self._pending:
            return
        pending = self._pending
        self._pending = []
        self._pending_size = self._held
        if len(pending) == 1:
            self.transport.write(pending[0])
        else:
            self.transport.writelines(pending)

    def pause_writing(self) -> None:
        self._writing_paused = True
        self.server.stats.count(WS_READ_PAUSED, log=False)  # reading stops with writing
        self._sync_reading()

    def resume_writing(self) -> None:
        self._writing_paused = False
        self.flush()
        self._sync_reading()
        if self._job is not None:
            self._schedule_step()

    def abort(self) -> None:
        """Drop the connection immediately."""
        self.transport.abort()

    def drop(self) -> None:
        """Drop the connection and what it holds, at once (a shutdown's grace period is
        over: the client did not read its backlog in time)."""
        if self._dropped:
            return
        self._dropped = True
        self.server.stats.count(SHUTDOWN_DROPPED, self.request.remote_address)
        self._drop_jobs()
        self._pending = []
        self._pending_size = 0
        self.closed = self._sealed = True
        self.transport.abort()

    def shutdown(self, finish: bool = False) -> None:
        """Server shutdown: send what is queued and a 1001 close frame, close the TCP
        connection (dropped after ``abort_timeout`` if it cannot be written)."""
        transport = self.transport
        if transport.is_closing():
            return
        self._finish_jobs()
        frame = self.protocol.send_close(1001, "server shutting down")
        self._sealed = True
        if frame:
            self._pending.append(frame)
        self._writing_paused = False
        self.flush()
        self.closed = True
        transport.close()
        if self._close_handle is None:
            self._close_handle = self.server.loop.call_later(self._abort_timeout, self.abort)

    def _sync_reading(self) -> None:
        """Read only while the peer reads what we write and no parsed input waits."""
        paused = self._writing_paused or self.protocol.input_pending
        if paused == self._reading_paused or self.transport.is_closing():
            return
        self._reading_paused = paused
        if paused:
            self.transport.pause_reading()
        else:
            self.transport.resume_reading()

    def _overflow(self) -> None:
        """The peer does not read and the queue passed ``max_write_buffer``: drop the
        queue, send a 1008 close frame, and drop the connection if even that cannot go
        out within ``abort_timeout``. The handler hears of it on the next loop turn (not
        inside the send that overflowed)."""
        self._drop_jobs()
        self._pending = []
        self._pending_size = 0
        self.closed = self._sealed = True
        self.server.stats.count(WS_WRITE_BUFFER, self.request.remote_address)
        frame = self.protocol.send_close(1008, "send buffer full")
        transport = self.transport
        if frame:
            transport.write(frame)
        transport.close()
        loop = self.server.loop
        if self._close_handle is None:
            self._close_handle = loop.call_later(self._abort_timeout, self.abort)
        loop.call_soon(self._report_close, 1008)

    # -- compressing big messages in pieces ------------------------------------------------

    def _start_job(self, job: Generator[None, None, bytes], size: int) -> None:
        self._job = job
        self._held += size
        self._pending_size += size
        if self._pending_size > self._max_buffer:
            self._overflow()
            return
        self._schedule_step()

    def _schedule_step(self) -> None:
        if not self._stepping:
            self._stepping = True
            self.server.loop.call_soon(self._step)

    def _step(self) -> None:
        """One piece of the message being compressed, per loop turn (none while the
        client does not read: the compression waits with the rest)."""
        self._stepping = False
        if self._job is None or self.closed or self._writing_paused:
            return
        self._advance()
        if self._job is not None:
            self._schedule_step()
        if self._pending and not self._dirty:
            self._dirty = True
            self.server.mark_dirty(self)

    def _hold(self, item: _Held, size: int) -> None:
        """Queue ``item`` behind the message being compressed."""
        if self.closed:
            return
        if self._behind is None:
            self._behind = []
        self._behind.append(item)
        self._held += size
        self._pending_size += size
        if self._pending_size > self._max_buffer:
            self._overflow()

    def _advance(self) -> None:
        """Compress one more piece; once done, queue the frame and replay what waited
        (a message among them may start another compression, scheduled by itself)."""
        job = self._job
        assert job is not None
        try:
            next(job)
        except StopIteration as done:
            self._job = None
            self._pending_size -= self._held
            self._held = 0
            frame: bytes = done.value
            if frame:
                self._pending.append(frame)
                self._pending_size += len(frame)
            behind = self._behind
            self._behind = None
            for item in behind or ():
                if isinstance(item, tuple):
                    self.close(*item)
                else:
                    self.send_message(item)

    def _finish_jobs(self) -> None:
        """Compress what is held, now (the server is shutting down)."""
        while self._job is not None:
            self._advance()

    def _drop_jobs(self) -> None:
        job = self._job
        if job is not None:
            self._job = None
            job.close()
        self._behind = None
        self._pending_size -= self._held
        self._held = 0

    # -- reading --------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        protocol = self.protocol
        messages = protocol.receive_data(data)
        if protocol.events_pending:
            self._received_with_events(messages)
        elif messages:
            handler = self.handler
            if handler is not None:
                if len(messages) == 1:  # the common case: no iterator
                    try:
                        handler.on_message(messages[0])
                    except Exception:
                        logger.exception("WebSocket message handler failed")
                else:
                    for message in messages:
                        try:
                            handler.on_message(message)
                        except Exception:
                            logger.exception("WebSocket message handler failed")
        if protocol.input_pending:
            # the protocol parsed its quota of frames: let the loop run, then go on
            self._sync_reading()
            self.server.loop.call_soon(self._continue_input)

    def _continue_input(self) -> None:
        if self.closed or self.protocol.closed:
            return
        self.data_received(b"")
        if not self.protocol.input_pending:
            self._sync_reading()

    def _received_with_events(self, messages: list[str | bytes]) -> None:
        """A read that brought control frames (or closed the connection): the protocol's
        pongs and close frames go out before any answer, then the messages are delivered,
        then a close is reported. (Only this path can close: every close comes with a
        :class:`~aiosocketio.protocol.websocket.Close` event.)"""
        protocol = self.protocol
        if protocol.close_sent:
            self._sealed = True  # the protocol closed (or answered the peer's close)
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
                if protocol.failed:
                    self.server.stats.count(ws_close_kind(event.code), self.request.remote_address)
                self._report_close(event.code)
        if protocol.closed and not self.closed:
            # RFC 6455 §7.1.1: the server closes the TCP connection first.
            self._drop_jobs()
            self.flush()
            self.closed = True
            self.transport.close()
            if self._writing_paused and self._close_handle is None:
                self._close_handle = self.server.loop.call_later(self._abort_timeout, self.abort)

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
        self.closed = self._sealed = True
        self._drop_jobs()
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
