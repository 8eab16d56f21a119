"""One HTTP/1.1 connection of the native server: parsing, pipelining, the idle timer.

A :class:`NativeHttpConnection` (an :class:`asyncio.Protocol`, no task) parses requests
with ``httptools`` and hands Engine.IO requests to the Engine (``docs/ARCHITECTURE.md``
§4), and other paths to the wrapped ASGI application (or answers 404). Responses are
written in request order, so pipelined requests are safe; a pending long-poll GET holds
back the answers queued behind it, as HTTP/1.1 requires. An upgrade request goes to
:func:`~aiosocketio.frontends.native.upgrade.upgrade` once the answers before it are out.

What one client can make the connection hold is bounded by the server's
:class:`~aiosocketio.protocol.limits.ConnectionLimits` (``SECURITY.md``):

* the head is measured while it arrives (the URL and each header as the parser reports
  them, and every read spent inside an unfinished head), so a header that never ends is
  refused with 431 after ``max_header_size`` bytes, a URL with 414 after
  ``max_url_size``, a complete head with too many fields with 431 (an endless list of them
  meets the size bound), an HTTP/1.1 request without
  ``Host`` with 400;
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
from collections.abc import Callable
from typing import Protocol, cast

import httptools

from aiosocketio.engine.http import HttpRequest
from aiosocketio.frontends.native.asgi_bridge import run_http
from aiosocketio.frontends.native.responses import QueuedResponder
from aiosocketio.frontends.native.upgrade import UpgradeHost, upgrade
from aiosocketio.frontends.stats import (
    HTTP_BAD_REQUEST,
    HTTP_BODY_TOO_LARGE,
    HTTP_HEADER_COUNT,
    HTTP_HEADER_SIZE,
    HTTP_HEADERS_TIMEOUT,
    HTTP_NO_HOST,
    HTTP_READ_PAUSED,
    HTTP_REQUEST_TIMEOUT,
    HTTP_URL_TOO_LONG,
)
from aiosocketio.protocol.limits import ConnectionLimits

__all__ = [
    "APP_MAX_BODY",
    "DISCARD_LIMIT",
    "FEED_SLICE",
    "IDLE_TIMEOUT",
    "MAX_HEAD_SIZE",
    "MAX_PIPELINE",
    "HttpHost",
    "NativeHttpConnection",
]

logger = logging.getLogger("aiosocketio.frontends.native")

_DEFAULTS = ConnectionLimits()
IDLE_TIMEOUT = _DEFAULTS.idle_timeout
APP_MAX_BODY = 16 * 1024 * 1024
MAX_PIPELINE = _DEFAULTS.max_pipeline
MAX_HEAD_SIZE = _DEFAULTS.max_header_size  # Node's default maxHeaderSize
DISCARD_LIMIT = 64 * 1024 * 1024  # bytes of a refused (413) body read before dropping
FEED_SLICE = 4 * 1024
"""Reads bigger than this are parsed in slices of this size (see the module docstring)."""
LINGER_BYTES = 1 << 20
LINGER_TIME = 2.0
"""After refusing a request that is still arriving (431, 414, 408, 400), the server sends
its answer, shuts its side down and reads (and drops) what the client still sends, for at
most this many bytes and seconds, before closing: closing at once, with the client's bytes
unread, would reset the connection and lose the answer on the client's side."""

_PLAIN = [("Content-Type", "text/plain")]
_REASONS = {
    400: b"Bad Request",
    408: b"Request Timeout",
    414: b"URI Too Long",
    431: b"Request Header Fields Too Large",
}


class HttpHost(UpgradeHost, Protocol):
    """What a :class:`NativeHttpConnection` needs from its server."""

    @property
    def idle_timeout(self) -> float:
        """Seconds an idle keep-alive connection stays open."""

    @property
    def limits(self) -> ConnectionLimits:
        """The connection limits."""


class _Refusal(Exception):
    """Raised in a parser callback to stop parsing a request that passed a limit."""


_NO_PARSER = httptools.HttpRequestParser(None)
"""Stands in for the parser of a finished connection (which held a cycle through it)."""


_TCP_NOTSENT_LOWAT: int | None = getattr(socket, "TCP_NOTSENT_LOWAT", None)


def _set_notsent_lowat(transport: asyncio.BaseTransport, lowat: int) -> None:
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


def _peer(transport: asyncio.BaseTransport) -> tuple[str, int]:
    peer = transport.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return str(peer[0]), int(peer[1])
    return "", 0


class NativeHttpConnection(asyncio.Protocol):
    """One HTTP/1.1 connection: parses requests and writes responses in order."""

    __slots__ = (
        "_backlog",
        "_backlog_handle",
        "_body",
        "_body_limit",
        "_body_size",
        "_close_after_discard",
        "_closing",
        "_deferred_upgrade",
        "_discarding",
        "_dispatched",
        "_drain_waiter",
        "_few_headers",
        "_head_raw",
        "_head_size",
        "_headers",
        "_idle_handle",
        "_idle_since",
        "_in_head",
        "_last_rx",
        "_limits",
        "_linger_left",
        "_max_head",
        "_max_headers",
        "_max_pipeline",
        "_max_url",
        "_nheaders",
        "_no_input",
        "_on_lost",
        "_ours",
        "_queue",
        "_reading_paused",
        "_refusal",
        "_request_at",
        "_too_big",
        "_url",
        "_writing_paused",
        "parser",
        "remote_address",
        "remote_port",
        "secure",
        "server",
        "transport",
    )

    def __init__(self, server: HttpHost) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.remote_address = ""
        self.remote_port = 0
        self.secure = False
        limits = self._limits = server.limits
        self._max_head = limits.max_header_size
        self._max_headers = limits.max_headers
        self._few_headers = 5 * limits.max_headers
        self._max_url = limits.max_url_size
        self._max_pipeline = limits.max_pipeline
        self._url = b""
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._body_size = 0
        self._body_limit = 0
        self._too_big = False
        self._head_size = 0
        self._head_raw = 0
        self._nheaders = 0
        self._in_head = False
        self._request_at: float | None = None
        self._refusal: tuple[int, str] | None = None
        self._queue: deque[QueuedResponder] = deque()
        self._closing = False
        self._no_input = False
        self._discarding = False
        self._close_after_discard = False
        self._deferred_upgrade: bytes | None = None
        self._backlog: bytes | None = None
        self._dispatched = 0  # requests dispatched by the read being parsed
        self._backlog_handle: asyncio.Handle | None = None
        self._idle_handle: asyncio.TimerHandle | None = None
        self._idle_since: float | None = None
        self._last_rx = 0.0
        self._linger_left = -1  # bytes still read and dropped while lingering (-1: not)
        self._ours = False
        self._reading_paused = False
        self._writing_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._on_lost: Callable[[], None] | None = None

    # -- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing it
        self.transport = cast(asyncio.Transport, transport)
        self.remote_address, self.remote_port = _peer(transport)
        self.secure = transport.get_extra_info("sslcontext") is not None
        lowat = self._limits.tcp_notsent_lowat
        if lowat is not None and _TCP_NOTSENT_LOWAT is not None:
            _set_notsent_lowat(transport, lowat)
        self.server.adopt(self)
        self._arm_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.forget(self)
        self._closing = True
        # The parser holds this object (a cycle): drop it so both go by refcount.
        self.parser = _NO_PARSER
        self._backlog = None
        for handle in (self._idle_handle, self._backlog_handle):
            if handle is not None:
                handle.cancel()
        self._idle_handle = self._backlog_handle = None
        if self._drain_waiter is not None and not self._drain_waiter.done():
            self._drain_waiter.set_result(None)
        if self._on_lost is not None:
            self._on_lost()
            self._on_lost = None
        queue = self._queue
        self._queue = deque()
        for responder in queue:
            abort = responder.on_abort
            responder.done = True
            responder.on_abort = None
            if abort is not None:
                try:
                    abort()
                except Exception:
                    logger.exception("on_abort failed")

    def pause_writing(self) -> None:
        self._writing_paused = True
        self.server.stats.count(HTTP_READ_PAUSED, log=False)  # reading stops with writing
        self._sync_reading()

    def resume_writing(self) -> None:
        self._writing_paused = False
        waiter = self._drain_waiter
        if waiter is not None:
            self._drain_waiter = None
            if not waiter.done():
                waiter.set_result(None)
        self._sync_reading()

    async def drain(self) -> None:
        """Wait until the transport accepts more data (streamed answers)."""
        if self._writing_paused and not self._closing:
            if self._drain_waiter is None:
                self._drain_waiter = asyncio.get_running_loop().create_future()
            await self._drain_waiter

    def data_received(self, data: bytes) -> None:
        if self._no_input:
            if self._linger_left >= 0:
                self._linger_left -= len(data)
                if self._linger_left < 0 and self.transport is not None:
                    self.transport.abort()
            return
        self._last_rx = self.server.loop.time()
        if len(data) > FEED_SLICE or self._backlog is not None:
            self._feed_big(data)
            return
        # _feed(data, b""), inlined: the path of every request
        in_head = self._in_head
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            offset = exc.args[0] if exc.args else len(data)
            self._upgrade(data[offset:])
        except httptools.HttpParserCallbackError:
            self._callback_failed()
        except httptools.HttpParserError:
            self._bad_request()
        else:
            if self._in_head and in_head:
                self._head_growing(len(data))

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

    def abort(self) -> None:
        """Drop the connection immediately."""
        if self.transport is not None:
            self.transport.abort()

    def shutdown(self) -> None:
        """Close after writing what is queued (dropped if that takes too long)."""
        transport = self.transport
        if transport is not None and not transport.is_closing():
            self._no_input = True
            self._closing = True
            transport.close()
            self.server.loop.call_later(self._limits.abort_timeout, transport.abort)

    # -- httptools callbacks ---------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = {}
        self._body = []
        self._body_size = 0
        self._too_big = False
        self._head_size = 0
        self._head_raw = 0
        self._nheaders = 0
        self._in_head = True
        self._request_at = self._last_rx

    def on_url(self, url: bytes) -> None:
        self._url += url
        # the URL comes first: until the headers, the head's size is the URL's
        self._head_size += len(url)
        if self._head_size > self._max_url:
            self._refuse_in_parser(414, HTTP_URL_TOO_LONG)

    def on_header(self, name: bytes, value: bytes) -> None:
        size = self._head_size = self._head_size + len(name) + len(value) + 4
        if size > self._max_head:
            self._refuse_in_parser(431, HTTP_HEADER_SIZE)
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers = self._headers
        if key in headers:
            headers[key] = f"{headers[key]}, {text}"
            self._nheaders += 1  # repeated fields: the others are len(headers)
        else:
            headers[key] = text

    def on_headers_complete(self) -> None:
        # busy from here until the answers are out; the idle clock also ran while the
        # headers were arriving, which bounds how long a client may take to send them
        self._idle_since = None
        self._in_head = False
        headers = self._headers
        # (a field takes at least 5 of the counted bytes: a small head has few of them)
        if self._head_size > self._few_headers and (
            len(headers) + self._nheaders > self._max_headers
        ):
            self._refuse_in_parser(431, HTTP_HEADER_COUNT)
        if (
            "host" not in headers
            and self._limits.require_host
            and self.parser.get_http_version() == "1.1"
        ):
            self._refuse_in_parser(400, HTTP_NO_HOST)  # RFC 9112 §3.2, as Node does
        path = self._url.split(b"?", 1)[0].decode("latin-1")
        self._ours = self.server.engine.options.matches(path)
        if self._ours:
            self._body_limit = self.server.engine.options.max_http_buffer_size
        else:
            self._body_limit = APP_MAX_BODY
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self._body_limit:
            self._reject_body()
        elif (
            headers.get("expect", "").lower() == "100-continue"
            and not self._queue
            and self.transport is not None
        ):
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._too_big:
            if self._body_size > DISCARD_LIMIT and self.transport is not None:
                self._no_input = True
                self._close_transport()
            return
        if self._body_size > self._body_limit:
            self._reject_body()
        else:
            self._body.append(body)

    def on_message_complete(self) -> None:
        self._request_at = None
        if self.parser.should_upgrade():
            return  # handled by the HttpParserUpgrade branch of data_received
        if self._too_big:
            # already answered by _reject_body(); the body is consumed: close once
            # that answer is out
            self._discarding = False
            self._no_input = True
            if self._close_after_discard and self.transport is not None:
                self._close_transport()
            return
        body = b"".join(self._body)
        self._body = []
        self._dispatch(body, bool(self.parser.should_keep_alive()))

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

    def _reject_body(self) -> None:
        """The body is over the limit: answer now (413).

        The rest of the body is still read and thrown away (up to DISCARD_LIMIT bytes)
        before the connection closes, so that the client, still sending, gets to read
        the answer instead of a connection reset.
        """
        self._too_big = True
        self._body = []
        self._discarding = True
        self.server.stats.count(HTTP_BODY_TOO_LARGE, self.remote_address)
        self._dispatch(None, False)

    def _dispatch(self, body: bytes | None, keep_alive: bool) -> None:
        """Queue a responder for the current request and hand the request over."""
        responder = QueuedResponder(self, keep_alive, self.parser.get_method() == b"HEAD")
        queue = self._queue
        queue.append(responder)
        self._dispatched += 1
        if len(queue) >= self._max_pipeline:
            self._sync_reading()
        request = self._build_request()
        engine = self.server.engine
        if self._ours:
            try:
                result = engine.handle_request(request, body, responder)
            except Exception:
                logger.exception("engine.handle_request failed")
                responder.respond(500, [], b"")
                return
            if result is not None:
                self.server.spawn(result)
        elif self.server.app is not None:
            if body is None:
                responder.respond(413, [("Content-Type", "text/plain")], b"Payload Too Large")
            else:
                self.server.spawn(
                    run_http(
                        self.server.app,
                        request,
                        body,
                        responder,
                        server=self.sockname(),
                        drain=self.drain,
                        abort=self.abort,
                    )
                )
        else:
            responder.respond(404, [("Content-Type", "text/plain")], b"Not Found")

    # -- internals ---------------------------------------------------------------------------

    def _build_request(self) -> HttpRequest:
        url = self._url
        if b"?" in url:
            raw_path, raw_qs = url.split(b"?", 1)
        else:
            raw_path, raw_qs = url, b""
        if b"#" in raw_qs:
            raw_qs = raw_qs.split(b"#", 1)[0]
        return HttpRequest(
            method=self.parser.get_method().decode("latin-1"),
            path=raw_path.decode("latin-1"),
            query_string=raw_qs.decode("latin-1"),
            headers=self._headers,
            remote_address=self.remote_address,
            remote_port=self.remote_port,
            secure=self.secure,
        )

    @property
    def closing(self) -> bool:
        """The connection is closing: nothing more is written."""
        return self._closing

    def flush_responses(self) -> None:
        """Write the answered requests at the head of the queue, in order."""
        transport = self.transport
        queue = self._queue
        if transport is None or self._closing:
            return
        out: list[bytes] = []
        close = False
        while queue:
            responder = queue[0]
            if responder.chunks:
                out.extend(responder.chunks)
                responder.chunks = []
            if not responder.complete:
                break
            queue.popleft()
            if not responder.keep_alive:
                close = True
                break
        if not out:
            return
        transport.write(out[0] if len(out) == 1 else b"".join(out))
        if close:
            if self._discarding:
                self._close_after_discard = True  # close once the body is read
                return
            if self._no_input and not queue:
                self._linger_close()  # a refusal: the client may still be sending
            else:
                self._close_transport()
            return
        if self._reading_paused:
            self._sync_reading()
        if not queue:
            rest = self._deferred_upgrade
            if rest is not None:
                self._deferred_upgrade = None
                self._no_input = False
                self._reading_paused = False
                transport.resume_reading()
                self._upgrade(rest)
                return
            self._arm_idle()

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
            self.server.loop.call_later(self._limits.abort_timeout, transport.abort)

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

    def eof_received(self) -> bool | None:
        return None  # close (a lingering close ends here)

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

    def _bad_request(self) -> None:
        """Malformed HTTP: answer 400 after the queued responses, then close."""
        self.parser = httptools.HttpRequestParser(self)
        self.server.stats.count(HTTP_BAD_REQUEST, self.remote_address)
        responder = QueuedResponder(self, keep_alive=False)
        self._queue.append(responder)
        self._no_input = True
        responder.respond(400, [("Content-Type", "text/plain")], b"Bad Request")

    def _upgrade(self, rest: bytes) -> None:
        if self._no_input:
            return  # already refused (431)
        if self._queue and self.transport is not None:
            # earlier pipelined requests are still unanswered: the 101 must follow them
            self._no_input = True
            self._deferred_upgrade = rest
            self._sync_reading()
            return
        self._no_input = True  # no more HTTP on this connection, whatever the answer
        if self._idle_handle is not None:
            self._idle_handle.cancel()
            self._idle_handle = None
        upgrade(self.server, self, self._build_request(), rest)

    # -- UpgradingConnection ---------------------------------------------------------------

    @property
    def writing_paused(self) -> bool:
        """The transport asked to pause writing."""
        return self._writing_paused

    def refuse(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        """Answer with this response after the queued ones, then close."""
        responder = QueuedResponder(self, keep_alive=False)
        self._queue.append(responder)
        self._no_input = True
        responder.respond(status, headers, body)

    def set_on_lost(self, callback: Callable[[], None] | None) -> None:
        """Call ``callback`` if the connection is lost (a pending upgrade)."""
        self._on_lost = callback

    def release(self) -> None:
        """The transport belongs to a WebSocket connection now: this object is done."""
        self.server.forget(self)
        # Its parser holds it (a cycle): drop the parser so that the pair is freed by
        # refcount, not left to the cyclic GC.
        self.parser = _NO_PARSER
        if self._idle_handle is not None:
            self._idle_handle.cancel()
            self._idle_handle = None

    def sockname(self) -> tuple[str, int] | None:
        name = self.transport.get_extra_info("sockname") if self.transport else None
        if isinstance(name, tuple) and len(name) >= 2:
            return str(name[0]), int(name[1])
        return None
