"""The built-in asyncio HTTP/1.1 + WebSocket server (the default front end).

One :class:`NativeHttpConnection` (an :class:`asyncio.Protocol`, no task) per TCP connection
parses requests with ``httptools`` and hands Engine.IO requests to the Engine
(``docs/ARCHITECTURE.md`` §4). Responses are written in request order, so pipelined
requests are safe; a pending long-poll GET holds back the answers queued behind it, as
HTTP/1.1 requires.

An accepted WebSocket switches the transport to a :class:`NativeWebSocketConnection`, which
frames with the sans-I/O :class:`~aiosocketio.protocol.websocket.WebSocketProtocol`. Frames
written during one loop tick are flushed together: every dirty connection is written
once by a single ``loop.call_soon`` callback shared by the whole server.

Paths outside the Engine's path get 404, or go to a wrapped ASGI application (a minimal
HTTP-only bridge, enough for Starlette/FastAPI routes, streaming included).
"""

from __future__ import annotations

import asyncio
import http
import logging
import ssl as ssl_module
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, cast

import httptools

from aiosocketio.engine.http import (
    EngineLike,
    HttpRequest,
    HttpResponse,
    WebSocketAccept,
    WebSocketChannel,
    WebSocketHandler,
)
from aiosocketio.frontends.native.asgi_bridge import (
    AppWebSocketHandler,
    ASGIApp,
    run_http,
    run_websocket,
)
from aiosocketio.frontends.native.websocket import CLOSE_TIMEOUT, NativeWebSocketConnection
from aiosocketio.protocol.websocket import (
    DeflateParams,
    accept_key,
    check_upgrade_request,
    server_negotiate_deflate,
)

__all__ = ["ASGIApp", "NativeHttpConnection", "NativeServer", "NativeWebSocketConnection", "serve"]

logger = logging.getLogger("aiosocketio.frontends.native")

IDLE_TIMEOUT = 60.0
APP_MAX_BODY = 16 * 1024 * 1024
MAX_PIPELINE = 64
MAX_HEAD_SIZE = 16 * 1024  # Node's default maxHeaderSize
DISCARD_LIMIT = 64 * 1024 * 1024  # bytes of a refused (413) body read before dropping

_STATUS_LINES: dict[int, bytes] = {}


def _status_line(status: int) -> bytes:
    line = _STATUS_LINES.get(status)
    if line is None:
        try:
            phrase = http.HTTPStatus(status).phrase
        except ValueError:
            phrase = "Unknown"
        line = _STATUS_LINES[status] = f"HTTP/1.1 {status} {phrase}\r\n".encode()
    return line


def _header_line(name: str, value: str) -> bytes:
    """``name: value\\r\\n``; CR/LF in either part is dropped (no header injection)."""
    line = f"{name}: {value}"
    if "\r" in line or "\n" in line:
        logger.warning("dropping CR/LF from response header %r", name)
        line = line.replace("\r", "").replace("\n", "")
    return line.encode("latin-1", "replace") + b"\r\n"


_HEAD_CACHE: dict[tuple[int, tuple[tuple[str, str], ...]], bytes] = {}
_HEAD_CACHE_SIZE = 256


def _response_head(status: int, headers: list[tuple[str, str]]) -> bytes:
    """The status line and headers (without the framing ones), cached per distinct pair:
    the Engine answers with a handful of header lists."""
    key = (status, tuple(headers))
    head = _HEAD_CACHE.get(key)
    if head is None:
        parts = [_status_line(status)]
        for name, value in headers:
            low = name.lower()
            if low in ("content-length", "connection", "transfer-encoding"):
                continue
            parts.append(_header_line(name, value))
        head = b"".join(parts)
        if len(_HEAD_CACHE) >= _HEAD_CACHE_SIZE:
            _HEAD_CACHE.clear()
        _HEAD_CACHE[key] = head
    return head


def _encode_response(
    status: int,
    headers: list[tuple[str, str]],
    body: bytes,
    keep_alive: bool,
    head: bool = False,
    chunked: bool = False,
) -> bytes:
    parts = [_response_head(status, headers)]
    if status in (204, 304) or status < 200:
        body = b""  # RFC 9110 §8.6: no Content-Length (and no body) on these
    elif chunked:
        parts.append(b"Transfer-Encoding: chunked\r\n")
    else:
        parts.append(b"Content-Length: %d\r\n" % len(body))
    parts.append(b"Connection: keep-alive\r\n\r\n" if keep_alive else b"Connection: close\r\n\r\n")
    if not head:
        parts.append(body)
    return b"".join(parts)


_NO_PARSER = httptools.HttpRequestParser(None)
"""Stands in for the parser of a finished connection (which held a cycle through it)."""


def _log_task_result(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("request handler failed", exc_info=task.exception())


class _Responder:
    """One request's place in the connection's response queue (the §4 ``Responder``)."""

    __slots__ = ("chunks", "complete", "conn", "done", "head", "keep_alive", "on_abort", "started")

    def __init__(self, conn: NativeHttpConnection, keep_alive: bool, head: bool = False) -> None:
        self.conn = conn
        self.keep_alive = keep_alive
        self.head = head
        self.chunks: list[bytes] = []  # bytes ready to go out once this is the head
        self.complete = False  # the whole answer is in (or has gone through) ``chunks``
        self.done = False  # respond() or start() was called
        self.started = False
        self.on_abort: Callable[[], None] | None = None

    def respond(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        if self.done:
            return
        self.done = True
        self.on_abort = None
        self.chunks.append(_encode_response(status, headers, body, self.keep_alive, self.head))
        self.complete = True
        self.conn._flush_responses()

    # streaming (chunked) answers, used by the ASGI bridge

    def start(self, status: int, headers: list[tuple[str, str]]) -> None:
        """Begin a chunked answer; follow with :meth:`write` and :meth:`end`."""
        if self.done:
            return
        self.done = self.started = True
        self.chunks.append(
            _encode_response(status, headers, b"", self.keep_alive, self.head, chunked=True)
        )
        self.conn._flush_responses()

    def write(self, data: bytes) -> None:
        if self.started and not self.complete and data and not self.head and not self.conn._closing:
            self.chunks.append(b"%x\r\n%b\r\n" % (len(data), data))
            self.conn._flush_responses()

    def end(self) -> None:
        if self.started and not self.complete:
            if not self.head:
                self.chunks.append(b"0\r\n\r\n")
            self.complete = True
            self.conn._flush_responses()


class NativeServer:
    """The built-in server: a protocol factory plus the listening ``asyncio.Server``.

    Args:
        engine: the Engine.IO engine (§4 surface).
        app: optional ASGI application for paths outside the Engine's path.
        idle_timeout: seconds an idle keep-alive connection stays open.

    Use :func:`serve`, or :meth:`listen`, or pass the instance as the protocol factory
    to ``loop.create_server`` yourself and then :meth:`attach` the resulting server.
    """

    def __init__(
        self, engine: EngineLike, *, app: ASGIApp | None = None, idle_timeout: float = IDLE_TIMEOUT
    ) -> None:
        self.engine = engine
        self.app = app
        self.idle_timeout = idle_timeout
        self.server: asyncio.Server | None = None
        self.connections: set[NativeHttpConnection | NativeWebSocketConnection] = set()
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
        """Start listening (on ``host:port``, or on an existing ``sock``)."""
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

    def close(self) -> None:
        """Stop listening and close every open connection.

        WebSockets get a 1001 ("going away") close frame; connections still open
        :data:`CLOSE_TIMEOUT` seconds later are dropped.
        """
        if self.server is not None:
            self.server.close()
        for conn in list(self.connections):
            conn.shutdown()

    async def wait_closed(self) -> None:
        """Wait until the listening server is closed."""
        if self.server is not None:
            await self.server.wait_closed()

    # -- helpers used by the connections ----------------------------------------------

    def spawn(self, awaitable: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(awaitable)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        task.add_done_callback(_log_task_result)
        return task

    def mark_dirty(self, conn: NativeWebSocketConnection) -> None:
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


def _peer(transport: asyncio.BaseTransport) -> tuple[str, int]:
    peer = transport.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return str(peer[0]), int(peer[1])
    return "", 0


class NativeHttpConnection(asyncio.Protocol):
    """One HTTP/1.1 connection: parses requests and writes responses in order."""

    __slots__ = (
        "_body",
        "_body_limit",
        "_body_size",
        "_close_after_discard",
        "_closing",
        "_deferred_upgrade",
        "_discarding",
        "_drain_waiter",
        "_head_size",
        "_headers",
        "_idle_handle",
        "_idle_since",
        "_last_rx",
        "_no_input",
        "_on_lost",
        "_ours",
        "_queue",
        "_reading_paused",
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

    def __init__(self, server: NativeServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.remote_address = ""
        self.remote_port = 0
        self.secure = False
        self._url = b""
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._body_size = 0
        self._body_limit = 0
        self._too_big = False
        self._head_size = 0
        self._queue: deque[_Responder] = deque()
        self._closing = False
        self._no_input = False
        self._discarding = False
        self._close_after_discard = False
        self._deferred_upgrade: bytes | None = None
        self._idle_handle: asyncio.TimerHandle | None = None
        self._idle_since: float | None = None
        self._last_rx = 0.0
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
        self.server.connections.add(self)
        self._arm_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        self._closing = True
        # The parser holds this object (a cycle): drop it so both go by refcount.
        self.parser = _NO_PARSER
        if self._idle_handle is not None:
            self._idle_handle.cancel()
            self._idle_handle = None
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

    def resume_writing(self) -> None:
        self._writing_paused = False
        waiter = self._drain_waiter
        if waiter is not None:
            self._drain_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def drain(self) -> None:
        """Wait until the transport accepts more data (streamed answers)."""
        if self._writing_paused and not self._closing:
            if self._drain_waiter is None:
                self._drain_waiter = asyncio.get_running_loop().create_future()
            await self._drain_waiter

    def data_received(self, data: bytes) -> None:
        if self._no_input:
            return
        self._last_rx = self.server.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            offset = exc.args[0] if exc.args else len(data)
            self._upgrade(data[offset:])
        except httptools.HttpParserCallbackError:
            logger.exception("error while handling an HTTP request")
            self._bad_request()
        except httptools.HttpParserError:
            self._bad_request()

    def abort(self) -> None:
        """Drop the connection immediately."""
        if self.transport is not None:
            self.transport.abort()

    def shutdown(self) -> None:
        """Close after writing what is queued (dropped if that takes too long)."""
        transport = self.transport
        if transport is not None and not transport.is_closing():
            self._closing = True
            self._no_input = True
            transport.close()
            asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, transport.abort)

    # -- httptools callbacks ---------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = {}
        self._body = []
        self._body_size = 0
        self._too_big = False
        self._head_size = 0

    def on_url(self, url: bytes) -> None:
        self._head_size += len(url)
        if self._head_size <= MAX_HEAD_SIZE:
            self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4
        if self._head_size > MAX_HEAD_SIZE:
            return  # answered with 431 once the request is complete
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers = self._headers
        if key in headers:
            headers[key] = f"{headers[key]}, {text}"
        else:
            headers[key] = text

    def on_headers_complete(self) -> None:
        # busy from here until the answers are out; the idle clock also ran while the
        # headers were arriving, which bounds how long a client may take to send them
        self._idle_since = None
        path = self._url.split(b"?", 1)[0].decode("latin-1")
        self._ours = self.server.engine.options.matches(path)
        if self._ours:
            self._body_limit = self.server.engine.options.max_http_buffer_size
        else:
            self._body_limit = APP_MAX_BODY
        length = self._headers.get("content-length", "")
        if length.isdigit() and int(length) > self._body_limit:
            self._reject_body()
        elif (
            self._headers.get("expect", "").lower() == "100-continue"
            and not self._queue
            and self.transport is not None
        ):
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._too_big:
            if self._body_size > DISCARD_LIMIT and self.transport is not None:
                self._no_input = True
                self._closing = True
                self.transport.close()
            return
        if self._body_size > self._body_limit:
            self._reject_body()
        else:
            self._body.append(body)

    def on_message_complete(self) -> None:
        if self._head_size > MAX_HEAD_SIZE:
            self._refuse(431, [("Content-Type", "text/plain")], b"Request Header Fields Too Large")
            return
        if self.parser.should_upgrade():
            return  # handled by the HttpParserUpgrade branch of data_received
        if self._too_big:
            # already answered by _reject_body(); the body is consumed: close once
            # that answer is out
            self._discarding = False
            self._no_input = True
            if self._close_after_discard and self.transport is not None:
                self._closing = True
                self.transport.close()
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
        self._dispatch(None, False)

    def _dispatch(self, body: bytes | None, keep_alive: bool) -> None:
        """Queue a responder for the current request and hand the request over."""
        responder = _Responder(self, keep_alive, self.parser.get_method() == b"HEAD")
        self._queue.append(responder)
        if len(self._queue) >= MAX_PIPELINE and self.transport is not None:
            self._reading_paused = True
            self.transport.pause_reading()
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
                        server=self._sockname(),
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

    def _flush_responses(self) -> None:
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
            self._closing = True
            transport.close()
            return
        if self._reading_paused and len(queue) < MAX_PIPELINE // 2:
            self._reading_paused = False
            transport.resume_reading()
        if not queue:
            rest = self._deferred_upgrade
            if rest is not None:
                self._deferred_upgrade = None
                self._no_input = False
                transport.resume_reading()
                self._upgrade(rest)
                return
            self._arm_idle()

    def _arm_idle(self) -> None:
        """The connection is idle from now on (one float store; the timer is lazy)."""
        loop = self.server.loop
        self._idle_since = loop.time()
        if self._idle_handle is None:
            self._idle_handle = loop.call_later(self.server.idle_timeout, self._idle_check)

    def _idle_check(self) -> None:
        self._idle_handle = None
        if self.transport is None or self._closing or self._no_input:
            return
        loop = self.server.loop
        timeout = self.server.idle_timeout
        if self._queue:
            delay = timeout  # answers are pending (a long-poll): not idle
        else:
            # between requests: idle since the last answer; inside a request (its body
            # still arriving): idle since the last bytes came in
            since = self._idle_since
            delay = (self._last_rx if since is None else since) + timeout - loop.time()
            if delay <= 0:
                self._closing = True
                self.transport.close()
                return
        self._idle_handle = loop.call_later(delay, self._idle_check)

    def _bad_request(self) -> None:
        """Malformed HTTP: answer 400 after the queued responses, then close."""
        self.parser = httptools.HttpRequestParser(self)
        responder = _Responder(self, keep_alive=False)
        self._queue.append(responder)
        self._no_input = True
        responder.respond(400, [("Content-Type", "text/plain")], b"Bad Request")

    def _refuse(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        responder = _Responder(self, keep_alive=False)
        self._queue.append(responder)
        self._no_input = True
        responder.respond(status, headers, body)

    def _upgrade(self, rest: bytes) -> None:
        if self._no_input:
            return  # already refused (431)
        if self._queue and self.transport is not None:
            # earlier pipelined requests are still unanswered: the 101 must follow them
            self._no_input = True
            self._deferred_upgrade = rest
            self.transport.pause_reading()
            return
        request = self._build_request()
        headers = request.headers
        engine = self.server.engine
        ours = engine.options.matches(request.path)
        app = self.server.app
        if "websocket" not in headers.get("upgrade", "").lower() or not (ours or app):
            self._refuse(400 if ours else 404, [], b"")
            return
        error = check_upgrade_request(request.method, headers)
        if error is not None:
            self._refuse(400, [("Content-Type", "text/plain")], error.encode())
            return
        transport = self.transport
        assert transport is not None
        self._no_input = True  # no more HTTP on this connection
        if self._idle_handle is not None:
            self._idle_handle.cancel()
            self._idle_handle = None
        if not ours:
            assert app is not None
            transport.pause_reading()
            app_handler = AppWebSocketHandler()
            self._on_lost = lambda: app_handler.on_close(None)

            def accept(
                extra: list[tuple[str, str]], handler: WebSocketHandler
            ) -> WebSocketChannel | None:
                if transport.is_closing():
                    return None
                self._on_lost = None
                ws = self._switch(request, extra, lambda channel: handler, rest)
                transport.resume_reading()
                return ws

            def refuse(status: int) -> None:
                self._refuse(status, [], b"")

            self.server.spawn(
                run_websocket(
                    app,
                    request,
                    app_handler,
                    server=self._sockname(),
                    accept=accept,
                    refuse=refuse,
                )
            )
            return
        try:
            result = engine.handle_websocket(request)
        except Exception:
            logger.exception("engine.handle_websocket failed")
            self._refuse(500, [], b"")
            return
        if isinstance(result, WebSocketAccept | HttpResponse):
            self._finish_upgrade(request, result, rest)
        else:
            transport.pause_reading()
            self.server.spawn(self._await_upgrade(request, result, rest))

    async def _await_upgrade(
        self,
        request: HttpRequest,
        pending: Awaitable[WebSocketAccept | HttpResponse],
        rest: bytes,
    ) -> None:
        try:
            result = await pending
        except Exception:
            logger.exception("engine.handle_websocket failed")
            result = HttpResponse(500, [], b"")
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.resume_reading()
        self._finish_upgrade(request, result, rest)

    def _finish_upgrade(
        self, request: HttpRequest, result: WebSocketAccept | HttpResponse, rest: bytes
    ) -> None:
        transport = self.transport
        assert transport is not None
        if isinstance(result, HttpResponse):
            self._refuse(result.status, result.headers, result.body)
            return
        self._switch(request, result.headers, result.attach, rest)

    def _switch(
        self,
        request: HttpRequest,
        extra_headers: list[tuple[str, str]],
        attach: Callable[[WebSocketChannel], WebSocketHandler],
        rest: bytes,
    ) -> NativeWebSocketConnection | None:
        """Write the 101, switch the transport to a NativeWebSocketConnection, attach."""
        transport = self.transport
        assert transport is not None
        headers = request.headers
        lines = [
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n",
            f"Sec-WebSocket-Accept: {accept_key(headers['sec-websocket-key'])}\r\n".encode(),
        ]
        deflate: DeflateParams | None = None
        threshold = self.server.engine.options.deflate_threshold
        if threshold is not None:
            negotiated = server_negotiate_deflate(
                headers.get("sec-websocket-extensions"), threshold=threshold
            )
            if negotiated is not None:
                deflate = negotiated[0]
                lines.append(f"Sec-WebSocket-Extensions: {negotiated[1]}\r\n".encode())
        for name, value in extra_headers:
            lines.append(_header_line(name, value))
        lines.append(b"\r\n")
        # flush any HTTP answers still queued (there should be none) before the 101
        transport.write(b"".join(lines))
        self.server.connections.discard(self)
        ws = NativeWebSocketConnection(self.server, transport, request, deflate)
        ws._writing_paused = self._writing_paused
        transport.set_protocol(ws)
        # This object is done; its parser holds it (a cycle): drop the parser so that the
        # pair is freed by refcount, not left to the cyclic GC.
        self.parser = _NO_PARSER
        self.server.connections.add(ws)
        try:
            ws.handler = attach(ws)
        except Exception:
            logger.exception("WebSocketAccept.attach failed")
            transport.write(ws.protocol.send_close(1011))
            transport.close()
            return None
        if rest:
            ws.data_received(rest)
        return ws

    def _sockname(self) -> tuple[str, int] | None:
        name = self.transport.get_extra_info("sockname") if self.transport else None
        if isinstance(name, tuple) and len(name) >= 2:
            return str(name[0]), int(name[1])
        return None


async def serve(
    engine: EngineLike,
    host: str | None = "127.0.0.1",
    port: int = 3000,
    *,
    ssl: ssl_module.SSLContext | None = None,
    app: ASGIApp | None = None,
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
