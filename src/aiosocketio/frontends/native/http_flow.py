"""Flow control and limits of one HTTP/1.1 connection of the native server.

:class:`HttpFlow` is the part of
:class:`~aiosocketio.frontends.native.http.NativeHttpConnection` that decides when to read,
how much to parse per loop turn, when a slow request times out and how to close. What
one client can make the connection hold is bounded by the server's
:class:`~aiosocketio.protocol.limits.ConnectionLimits` (``SECURITY.md``):

* the head is measured while it arrives (the URL and each header as the parser reports
  them, and every read spent inside an unfinished head), so a header that never ends is
  refused with 431 after ``max_header_size`` bytes, a URL with 414 after
  ``max_url_size``, a complete head with too many fields with 431 (an endless list of them
  meets the size bound), an HTTP/1.1 request without ``Host`` with 400;
* the kernel holds at most ``tcp_notsent_lowat`` unsent bytes for the connection, so the
  transport notices a client that does not read after about a hundred kilobytes, not
  megabytes; reading stops while the client does not read our answers (the transport
  paused writing) and while ``max_pipeline`` requests wait for their answers; a read bigger
  than :data:`FEED_SLICE` is parsed in slices, and once a loop turn has dispatched
  ``max_pipeline`` requests of the connection, the rest of the read waits (unparsed)
  for the next loop turn, so that pipelined requests, answered or not, never hold the
  loop for more than a slice's worth of them;
* a request's head must arrive within ``headers_timeout`` and its body within
  ``request_timeout`` (408), and a connection being closed that cannot write its last
  answer is dropped after ``abort_timeout``.

The idle timer is lazy: finishing a request stores the time, and one timer per
connection checks it (and the request timeouts) when it fires.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import deque
from typing import Protocol

import httptools

from aiosocketio.frontends.native.responses import QueuedResponder
from aiosocketio.frontends.native.upgrade import UpgradeHost
from aiosocketio.frontends.stats import (
    HTTP_HEADER_SIZE,
    HTTP_HEADERS_TIMEOUT,
    HTTP_REQUEST_TIMEOUT,
)
from aiosocketio.protocol.limits import ConnectionLimits

logger = logging.getLogger("aiosocketio.frontends.native")

__all__ = ["FEED_SLICE", "LINGER_BYTES", "LINGER_TIME", "HttpFlow", "HttpHost", "set_notsent_lowat"]

FEED_SLICE = 4 * 1024
"""Reads bigger than this are parsed in slices of this size (see the module docstring)."""
LINGER_BYTES = 1 << 20
LINGER_TIME = 2.0
"""After refusing a request that is still arriving (431, 414, 408, 400), the server sends
its answer, shuts its side down and reads (and drops) what the client still sends, for at
most this many bytes and seconds, before closing: closing at once, with the client's bytes
unread, would reset the connection and lose the answer on the client's side."""


class HttpHost(UpgradeHost, Protocol):
    """What a :class:`NativeHttpConnection` needs from its server."""

    @property
    def idle_timeout(self) -> float:
        """Seconds an idle keep-alive connection stays open."""

    @property
    def limits(self) -> ConnectionLimits:
        """The connection limits."""


_PLAIN = [("Content-Type", "text/plain")]
_REASONS = {
    400: b"Bad Request",
    408: b"Request Timeout",
    414: b"URI Too Long",
    431: b"Request Header Fields Too Large",
}


class _Refusal(Exception):
    """Raised in a parser callback to stop parsing a request that passed a limit."""


_TCP_NOTSENT_LOWAT: int | None = getattr(socket, "TCP_NOTSENT_LOWAT", None)


def set_notsent_lowat(transport: asyncio.BaseTransport, lowat: int) -> None:
    """Let the kernel hold at most ``lowat`` unsent bytes for this socket: past them,
    writes wait in the transport's buffer, whose high-water mark pauses writing (and so
    reading). Without it a client that does not read has the kernel absorb megabytes of
    answers (and the requests that made them) before the server notices."""
    sock = transport.get_extra_info("socket")
    if sock is None or _TCP_NOTSENT_LOWAT is None:
        return
    try:
        sock.setsockopt(socket.IPPROTO_TCP, _TCP_NOTSENT_LOWAT, lowat)
    except OSError:  # not TCP (a Unix socket), or not supported
        pass


class HttpFlow:
    """Reading, slicing, timers and closing of a ``NativeHttpConnection`` (a mixin: the
    state lives in the connection's slots, declared here for the type checker)."""

    __slots__ = (
        "_abort_handle",
        "_backlog",
        "_backlog_handle",
        "_closing",
        "_discarding",
        "_dispatched",
        "_head_raw",
        "_idle_handle",
        "_idle_since",
        "_in_head",
        "_linger_left",
        "_no_input",
        "_reading_paused",
        "_refusal",
        "_request_at",
    )

    server: HttpHost
    transport: asyncio.Transport | None
    _limits: ConnectionLimits
    _queue: deque[QueuedResponder]
    _writing_paused: bool
    _reading_paused: bool
    _backlog: bytes | None
    _backlog_handle: asyncio.Handle | None
    _no_input: bool
    _closing: bool
    _deferred_upgrade: bytes | None
    _dispatched: int
    _linger_left: int
    _idle_since: float | None
    _idle_handle: asyncio.TimerHandle | None
    _abort_handle: asyncio.TimerHandle | None
    _last_rx: float
    _request_at: float | None
    _in_head: bool
    _discarding: bool
    _refusal: tuple[int, str] | None
    _head_raw: int
    _max_head: int
    remote_address: str
    parser: httptools.HttpRequestParser

    def abort(self) -> None:
        raise NotImplementedError

    def _bad_request(self) -> None:
        raise NotImplementedError

    def refuse(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        raise NotImplementedError

    def _upgrade(self, rest: bytes) -> None:
        raise NotImplementedError

    # -- parsing with limits: the slow path, refusals ----------------------------------------

    def _feed(self, data: bytes, rest: bytes | memoryview) -> None:
        """Parse ``data`` (``rest`` is what follows it, for an upgrade)."""
        in_head = self._in_head
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            offset = exc.args[0] if exc.args else len(data)
            self._upgrade(data[offset:] + bytes(rest))
        except httptools.HttpParserCallbackError:
            self._callback_failed()
        except httptools.HttpParserError:
            self._bad_request()
        else:
            if self._in_head and in_head:
                self._head_growing(len(data))

    def _head_growing(self, size: int) -> None:
        """A read that began inside a head that is still arriving: it was all head. Count
        it, since the parser reports a header only once it is complete (and meanwhile
        concatenates its pieces, read after read)."""
        self._head_raw += size
        if self._head_raw > self._max_head:
            self._refusal = (431, HTTP_HEADER_SIZE)
            self._refuse_request()

    def _callback_failed(self) -> None:
        if self._refusal is not None:
            self._refuse_request()  # a limit, raised from a callback
        else:
            logger.exception("error while handling an HTTP request")
            self._bad_request()

    def _refuse_in_parser(self, status: int, kind: str) -> None:
        """Stop parsing: the request passed a limit (answered once the parser returns)."""
        self._refusal = (status, kind)
        raise _Refusal(kind)

    def _refuse_request(self) -> None:
        """Answer the request that passed a limit, after the queued answers; close."""
        refusal = self._refusal
        assert refusal is not None
        self._refusal = None
        status, kind = refusal
        self._request_at = None
        self._in_head = False
        self.server.stats.count(kind, self.remote_address)
        self.refuse(status, _PLAIN, _REASONS[status])

    # -- reading: the client's pace, the pipeline, slices per loop turn -----------------------

    def _feed_big(self, data: bytes) -> None:
        if self._backlog is not None:  # read before reading paused: parse it after
            self._backlog += data
        else:
            self._feed_slices(data)

    def _feed_slices(self, data: bytes) -> None:
        """Parse a big read slice by slice; leave the rest for a later loop turn once the
        pipeline is full, the client stopped reading, or this turn dispatched
        ``max_pipeline`` requests."""
        view = memoryview(data)
        size = len(data)
        pos = 0
        limit = self._limits.max_pipeline
        self._dispatched = 0
        try:
            while pos < size and not self._no_input:
                if self._dispatched >= limit or len(self._queue) >= limit or self._writing_paused:
                    self._backlog = data[pos:]
                    self._sync_reading()
                    return
                end = pos + FEED_SLICE
                self._feed(data[pos:end], view[end:])
                pos = end
        finally:
            view.release()

    def _feed_backlog(self) -> None:
        self._backlog_handle = None
        data = self._backlog
        if data is None or self._closing:
            return
        self._backlog = None
        if not self._no_input:
            self._feed_slices(data)
        self._sync_reading()

    def _sync_reading(self) -> None:
        """Read only while the client reads our answers, the pipeline has room, and no
        unparsed backlog waits (which is parsed first, on a later loop turn)."""
        transport = self.transport
        if transport is None or self._closing:
            return
        waiting = len(self._queue)
        limit = self._limits.max_pipeline
        blocked = (
            self._writing_paused
            or self._deferred_upgrade is not None
            or waiting >= (limit // 2 if self._reading_paused else limit)
        )
        if not blocked and self._backlog is not None and self._backlog_handle is None:
            self._backlog_handle = self.server.loop.call_soon(self._feed_backlog)
        paused = blocked or self._backlog is not None
        if paused == self._reading_paused:
            return
        self._reading_paused = paused
        if paused:
            transport.pause_reading()
        elif not self._no_input:
            transport.resume_reading()

    # -- closing ----------------------------------------------------------------------------

    def _close_transport(self) -> None:
        """Close once what is written is sent; drop the connection if the client does not
        read it within ``abort_timeout``."""
        transport = self.transport
        if transport is None:
            return
        self._closing = True
        stuck = self._writing_paused or transport.get_write_buffer_size() > 0
        transport.close()
        if stuck:
            self._abort_later()

    def _abort_later(self) -> None:
        """Drop the connection ``abort_timeout`` seconds from now, unless it is gone by
        then (``connection_lost`` cancels the timer)."""
        if self._abort_handle is None:
            self._abort_handle = self.server.loop.call_later(self._limits.abort_timeout, self.abort)

    def _linger_close(self) -> None:
        """Close after a refusal without resetting the connection (see LINGER_BYTES)."""
        transport = self.transport
        if transport is None:
            return
        if not transport.can_write_eof():  # TLS
            self._close_transport()
            return
        self._closing = True
        self._linger_left = LINGER_BYTES
        transport.write_eof()  # after the answer; the client reads it, then its EOF
        if not transport.is_closing():
            self.server.loop.call_later(min(LINGER_TIME, self._limits.abort_timeout), self.abort)

    # -- the lazy timer: idle connections, slow requests -------------------------------------

    def _arm_idle(self) -> None:
        """The connection is idle from now on (one float store; the timer is lazy)."""
        loop = self.server.loop
        self._idle_since = loop.time()
        if self._idle_handle is None:
            self._idle_handle = loop.call_later(self._check_every(), self._idle_check)

    def _check_every(self) -> float:
        limits = self._limits
        return min(self.server.idle_timeout, limits.headers_timeout, limits.request_timeout)

    def _idle_check(self) -> None:
        self._idle_handle = None
        if self.transport is None or self._closing or self._no_input:
            return
        loop = self.server.loop
        now = loop.time()
        timeout = self.server.idle_timeout
        started = self._request_at
        if started is not None:
            # a request is arriving: its head, then its body, must come in time
            limits = self._limits
            limit = limits.headers_timeout if self._in_head else limits.request_timeout
            if now >= started + limit:
                self._timed_out()
                return
            if now >= self._last_rx + timeout:  # nothing came for a whole idle period
                self._close_transport()
                return
            delay = min(started + limit, self._last_rx + timeout) - now
        elif self._queue:
            delay = timeout  # answers are pending (a long-poll): not idle
        else:
            # between requests: idle since the last answer
            since = self._idle_since
            delay = (self._last_rx if since is None else since) + timeout - now
            if delay <= 0:
                self._close_transport()
                return
        self._idle_handle = loop.call_later(min(delay, self._check_every()), self._idle_check)

    def _timed_out(self) -> None:
        """The request's head (or body) did not arrive in time: 408, then close."""
        self._refusal = (408, HTTP_HEADERS_TIMEOUT if self._in_head else HTTP_REQUEST_TIMEOUT)
        self._discarding = False
        self._refuse_request()
