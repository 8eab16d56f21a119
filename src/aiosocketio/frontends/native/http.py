"""One HTTP/1.1 connection of the native server: parsing, pipelining, the idle timer.

A :class:`NativeHttpConnection` (an :class:`asyncio.Protocol`, no task) parses requests
with ``httptools`` and hands Engine.IO requests to the Engine (``docs/ARCHITECTURE.md``
§4), and other paths to the wrapped ASGI application (or answers 404). Responses are
written in request order, so pipelined requests are safe; a pending long-poll GET holds
back the answers queued behind it, as HTTP/1.1 requires. An upgrade request goes to
:func:`~aiosocketio.frontends.native.upgrade.upgrade` once the answers before it are out.

The parser's callbacks here check the head against the limits as it arrives (431, 414,
400); the rest of the flow control (when to read, how much to parse per loop turn, the
timers of slow requests, closing) is :mod:`.http_flow`'s.

A little over 500 lines: one :class:`asyncio.Protocol` with httptools' callbacks, which
must be methods of the one parser-facing object.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import cast

import httptools

from aiosocketio.engine.http import HttpRequest
from aiosocketio.frontends.native.asgi_bridge import run_http
from aiosocketio.frontends.native.http_flow import (
    FEED_SLICE,
    LINGER_BYTES,
    LINGER_TIME,
    HttpFlow,
    HttpHost,
    set_notsent_lowat,
)
from aiosocketio.frontends.native.responses import QueuedResponder
from aiosocketio.frontends.native.upgrade import upgrade
from aiosocketio.frontends.stats import (
    HTTP_BAD_REQUEST,
    HTTP_BODY_TOO_LARGE,
    HTTP_HEADER_COUNT,
    HTTP_HEADER_SIZE,
    HTTP_NO_HOST,
    HTTP_READ_PAUSED,
    HTTP_URL_TOO_LONG,
    SHUTDOWN_DROPPED,
)
from aiosocketio.protocol.limits import ConnectionLimits

__all__ = [
    "APP_MAX_BODY",
    "DISCARD_LIMIT",
    "FEED_SLICE",
    "IDLE_TIMEOUT",
    "LINGER_BYTES",
    "LINGER_TIME",
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


_NO_PARSER = httptools.HttpRequestParser(None)
"""Stands in for the parser of a finished connection (which held a cycle through it)."""


def _peer(transport: asyncio.BaseTransport) -> tuple[str, int]:
    peer = transport.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return str(peer[0]), int(peer[1])
    return "", 0


class NativeHttpConnection(HttpFlow, asyncio.Protocol):
    """One HTTP/1.1 connection: parses requests and writes responses in order."""

    __slots__ = (
        "_body",
        "_body_limit",
        "_body_size",
        "_close_after_discard",
        "_deferred_upgrade",
        "_drain_waiter",
        "_few_headers",
        "_head_size",
        "_headers",
        "_last_rx",
        "_limits",
        "_max_head",
        "_max_headers",
        "_max_pipeline",
        "_max_url",
        "_nheaders",
        "_on_lost",
        "_ours",
        "_queue",
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
        self._abort_handle: asyncio.TimerHandle | None = None
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
        if lowat is not None:
            set_notsent_lowat(transport, lowat)
        self.server.adopt(self)
        self._arm_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.forget(self)
        self._closing = True
        # The parser holds this object (a cycle): drop it so both go by refcount.
        self.parser = _NO_PARSER
        self._backlog = None
        for handle in (self._idle_handle, self._backlog_handle, self._abort_handle):
            if handle is not None:
                handle.cancel()
        self._idle_handle = self._backlog_handle = self._abort_handle = None
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

    def abort(self) -> None:
        """Drop the connection immediately."""
        if self.transport is not None:
            self.transport.abort()

    def shutdown(self, finish: bool = False) -> None:
        """Close after writing what is queued (dropped if that takes too long). With
        ``finish``, requests still being answered (a polling answer being compressed) get
        their answers first, with ``Connection: close``; what the client sends meanwhile
        is dropped."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        self._no_input = True
        pending = [responder for responder in self._queue if not responder.done]
        if pending and finish and not self._closing:
            for responder in pending:
                responder.keep_alive = False  # the first one answered closes
            self._abort_later()
            return
        self._closing = True
        transport.close()
        self._abort_later()

    def drop(self) -> None:
        """The server's grace period is over: drop the connection at once."""
        if self.transport is not None:
            self.server.stats.count(SHUTDOWN_DROPPED, self.remote_address)
            self.transport.abort()

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

    def eof_received(self) -> bool | None:
        return None  # close (a lingering close ends here)

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
