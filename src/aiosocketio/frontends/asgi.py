"""The ASGI front end: serve the Engine from uvicorn, hypercorn, granian...

:class:`ASGIApp` turns ASGI ``http`` and ``websocket`` connections under the Engine's
path into the calls of ``docs/ARCHITECTURE.md`` §4, and hands everything else
(``lifespan`` included) to an optional wrapped application::

    app = ASGIApp(engine, other_app=starlette_app)
    # uvicorn module:app --loop uvloop --http httptools --ws websockets-sansio

Under uvicorn, ``--ws websockets-sansio`` is the fastest WebSocket implementation (its
``send`` finishes without suspending, so messages go out without any task switch).

WebSocket messages the Engine sends are queued on their connection and handed to the
ASGI server's ``send`` at the end of the loop tick, by one callback for all connections
(no task or wake-up per message or per connection); only a send that suspends starts a
drain task, which the following messages queue behind. The server does the framing, so
``can_write_frames`` is ``False`` here.
"""

from __future__ import annotations

import asyncio
import logging
import types
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator, MutableMapping
from typing import Any, cast

from aiosocketio.engine.http import (
    EngineLike,
    HttpRequest,
    HttpResponse,
    WebSocketAccept,
    WebSocketHandler,
)

__all__ = ["LISTEN_AFTER", "ASGIApp", "ASGIWebSocketChannel"]

logger = logging.getLogger("aiosocketio.frontends.asgi")

LISTEN_AFTER = 0.2
"""Seconds a long-poll waits for its answer before the app listens for the client leaving."""

Scope = MutableMapping[str, Any]
ASGIMessage = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[ASGIMessage]]
Send = Callable[[ASGIMessage], Awaitable[None]]
ASGIApplication = Callable[[Scope, Receive, Send], Awaitable[None]]


def _route_path(scope: Scope) -> str:
    """The path below the mount point (ASGI: ``path`` includes ``root_path``)."""
    path = str(scope.get("path", "/"))
    root = str(scope.get("root_path", ""))
    if root and path.startswith(root):
        path = path[len(root) :] or "/"
    return path


def _latin1(raw: Any) -> str:
    return (raw if type(raw) is bytes else bytes(raw)).decode("latin-1")


def _build_request(scope: Scope, path: str | None = None) -> HttpRequest:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", ()):
        # ASGI gives bytes; anything bytes-like is accepted
        name = (raw_name if type(raw_name) is bytes else bytes(raw_name)).decode("latin-1")
        value = (raw_value if type(raw_value) is bytes else bytes(raw_value)).decode("latin-1")
        if not name.islower():
            name = name.lower()
        if name in headers:
            headers[name] = f"{headers[name]}, {value}"
        else:
            headers[name] = value
    client = scope.get("client") or ("", 0)
    if path is None:
        path = _route_path(scope)
    method = scope.get("method", "GET")
    return HttpRequest(
        method=method if method == "GET" or method == "POST" else str(method).upper(),
        path=path,
        query_string=_latin1(scope.get("query_string", b"")),
        headers=headers,
        remote_address=str(client[0]),
        remote_port=int(client[1] or 0),
        secure=scope.get("scheme") in ("https", "wss"),
        scope=scope if isinstance(scope, dict) else dict(scope),
    )


def _encode_headers(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1", "replace")) for k, v in headers]


_HOP_HEADERS = frozenset({"content-length", "connection"})
_response_headers_cache: dict[tuple[tuple[str, str], ...], list[tuple[bytes, bytes]]] = {}
_RESPONSE_HEADERS_CACHE_SIZE = 256


def _response_headers(headers: list[tuple[str, str]], length: int) -> list[tuple[bytes, bytes]]:
    """The ASGI headers of a response: encoded once per distinct header list (cached),
    without the hop-by-hop ones, plus the ``content-length``."""
    key = tuple(headers)
    raw = _response_headers_cache.get(key)
    if raw is None:
        raw = _encode_headers([(k, v) for k, v in headers if k.lower() not in _HOP_HEADERS])
        if len(_response_headers_cache) >= _RESPONSE_HEADERS_CACHE_SIZE:
            _response_headers_cache.clear()
        _response_headers_cache[key] = raw
    out = raw.copy()
    out.append((b"content-length", str(length).encode()))
    return out


class _FutureResponder:
    """The §4 ``Responder`` for one ASGI HTTP request: completes a future."""

    __slots__ = ("future", "on_abort")

    def __init__(self, future: asyncio.Future[tuple[int, list[tuple[str, str]], bytes]]) -> None:
        self.future = future
        self.on_abort: Callable[[], None] | None = None

    def respond(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        if not self.future.done():
            self.future.set_result((status, headers, body))


@types.coroutine
def _resume(coro: Coroutine[Any, Any, None], yielded: Any) -> Generator[Any, Any, None]:
    """Finish, inside a task, a coroutine that was started synchronously and suspended.

    ``yielded`` is what its first ``send(None)`` yielded (a future, or ``None`` for a bare
    yield); the task awaiting this generator sees it as if the coroutine ran in the task.
    """
    while True:
        try:
            sent = yield yielded
        except BaseException as exc:
            try:
                yielded = coro.throw(exc)
            except StopIteration:
                return
        else:
            try:
                yielded = coro.send(sent)
            except StopIteration:
                return


_last_text: str | None = None
_last_message: ASGIMessage = {}


class _Flusher:
    """Sends the messages queued on ASGI channels during one loop tick, in one callback.

    Each channel with something queued is listed once per tick; the callback then hands
    each channel's messages to its ``send`` back to back (so a broadcast of many emits
    goes out connection by connection), with no task or wake-up per message.
    """

    __slots__ = ("_dirty", "_scheduled")

    def __init__(self) -> None:
        self._dirty: list[ASGIWebSocketChannel] = []
        self._scheduled = False

    def add(self, channel: ASGIWebSocketChannel) -> None:
        self._dirty.append(channel)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._run)

    def _run(self) -> None:
        self._scheduled = False
        dirty = self._dirty
        self._dirty = []
        for channel in dirty:
            try:
                channel._flush()
            except Exception as exc:  # a send that raised before returning an awaitable
                channel._failed(exc)


class ASGIWebSocketChannel:
    """The §4 ``WebSocketChannel`` of one ASGI WebSocket connection.

    With ``send`` given, messages queue until the end of the loop tick, when ``flusher``
    hands them to the server: each ``send(message)`` is started in place, and most ASGI
    servers (uvicorn among them) finish it without suspending, so there is no task and no
    wake-up per message. When a send suspends (back-pressure), a drain task finishes it
    and sends what queued behind it, in order. Without ``send``, messages queue until
    :meth:`run_writer` drains them.

    Args:
        send: the ASGI ``send`` callable of the connection.
        flusher: the per-application flusher (a private one by default).
    """

    __slots__ = (
        "_dirty",
        "_drainer",
        "_flusher",
        "_queue",
        "_queued_bytes",
        "_send",
        "_waiter",
        "can_write_frames",
        "closed",
    )

    def __init__(self, send: Send | None = None, flusher: _Flusher | None = None) -> None:
        self.can_write_frames = False
        self.closed = False
        self._send = send
        self._flusher = flusher if flusher is not None else _Flusher()
        self._dirty = False
        self._queue: deque[ASGIMessage] = deque()
        self._queued_bytes = 0
        self._waiter: asyncio.Future[None] | None = None
        self._drainer: asyncio.Task[None] | None = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def write_frames(self, data: bytes) -> None:
        """Not supported: the ASGI server does the framing (``can_write_frames`` is False)."""
        raise NotImplementedError("ASGI connections cannot write prebuilt frames")

    def _submit(self, message: ASGIMessage, size: int) -> None:
        self._queue.append(message)
        self._queued_bytes += size
        if self._send is None:
            self._wake()
        elif not self._dirty and self._drainer is None:
            self._dirty = True
            self._flusher.add(self)

    def _flush(self) -> None:
        """Hand the queue to ``send``; a send that suspends leaves the rest to a task."""
        self._dirty = False
        send = self._send
        if send is None or self._drainer is not None:
            return
        queue = self._queue
        popleft = queue.popleft
        while queue:
            awaitable = send(popleft())
            if type(awaitable) is not types.CoroutineType:
                # Not a native coroutine: it cannot be started in place.
                self._recount()
                self._drainer = asyncio.ensure_future(self._drain(awaitable, None))
                return
            coro = cast("Coroutine[Any, Any, None]", awaitable)
            try:
                yielded = coro.send(None)
            except StopIteration:
                continue
            except Exception as exc:  # the server refused it: the connection is gone
                self._failed(exc)
                return
            self._recount()
            self._drainer = asyncio.ensure_future(self._drain(coro, yielded))
            return
        self._queued_bytes = 0

    def _recount(self) -> None:
        self._queued_bytes = sum(_size(message) for message in self._queue)

    def _failed(self, exc: Exception) -> None:
        logger.debug("ASGI send failed: %r", exc)
        self.closed = True
        self._queue.clear()
        self._queued_bytes = 0

    async def _drain(self, first: Awaitable[None], yielded: Any) -> None:
        """Finish ``first`` (a started coroutine that yielded ``yielded``, or an awaitable
        not started when ``yielded`` is None), then send what queued meanwhile."""
        queue = self._queue
        send = self._send
        assert send is not None
        try:
            if yielded is None and type(first) is not types.CoroutineType:
                await first
            else:
                await _resume(cast("Coroutine[Any, Any, None]", first), yielded)
            while queue:
                message = queue.popleft()
                self._queued_bytes -= _size(message)
                await send(message)
        except Exception as exc:
            self._failed(exc)
        finally:
            self._drainer = None

    def send_message(self, data: str | bytes) -> None:
        """Queue one text (``str``) or binary (``bytes``) message; it is sent, in order,
        at the end of the loop tick."""
        global _last_text, _last_message
        if self.closed:
            return
        if type(data) is str:
            # A broadcast hands the same str to every recipient: share its message (ASGI
            # servers only read the messages they are given).
            if data is _last_text:
                self._submit(_last_message, len(data))
                return
            message: ASGIMessage = {"type": "websocket.send", "text": data}
            _last_text = data
            _last_message = message
            self._submit(message, len(data))
        elif isinstance(data, str):
            self._submit({"type": "websocket.send", "text": str(data)}, len(data))
        else:
            self._submit({"type": "websocket.send", "bytes": bytes(data)}, len(data))

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Queue a close, after what is queued; nothing is sent after it."""
        if self.closed:
            return
        self.closed = True
        self._submit({"type": "websocket.close", "code": code, "reason": reason}, 0)

    @property
    def buffered_amount(self) -> int:
        """Bytes of queued messages not yet handed to the server."""
        return self._queued_bytes

    def abort(self) -> None:
        """Drop what is queued and stop sending (the connection is gone)."""
        self.closed = True
        self._queue.clear()
        self._queued_bytes = 0
        drainer = self._drainer
        if drainer is not None:
            drainer.cancel()
        self._wake()

    async def run_writer(self, send: Send) -> None:
        """Drain the queue into ``send`` until the close message is sent.

        Only for a channel made without ``send``.
        """
        loop = asyncio.get_running_loop()
        queue = self._queue
        while True:
            while queue:
                message = queue.popleft()
                self._queued_bytes -= _size(message)
                await send(message)
                if message["type"] == "websocket.close":
                    return
            self._waiter = loop.create_future()
            await self._waiter
            self._waiter = None


def _size(message: ASGIMessage) -> int:
    payload = message.get("text")
    if payload is None:
        payload = message.get("bytes", b"")
    return len(payload)


class ASGIApp:
    """An ASGI 3 application serving ``engine`` (and optionally another app).

    Args:
        engine: the Engine.IO engine (§4 surface).
        other_app: the ASGI application for every other path and for ``lifespan``.
    """

    def __init__(self, engine: EngineLike, other_app: ASGIApplication | None = None) -> None:
        self.engine = engine
        self.other_app = other_app
        self._flusher = _Flusher()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        kind = scope["type"]
        if kind == "lifespan":
            if self.other_app is not None:
                await self.other_app(scope, receive, send)
            else:
                await self._lifespan(receive, send)
            return
        path = _route_path(scope)
        if kind not in ("http", "websocket") or not self.engine.options.matches(path):
            if self.other_app is not None:
                await self.other_app(scope, receive, send)
            elif kind == "http":
                await self._send_response(send, 404, [("Content-Type", "text/plain")], b"Not Found")
            elif kind == "websocket":
                await receive()  # websocket.connect
                await send({"type": "websocket.close", "code": 1000})
            return
        if kind == "http":
            await self._http(scope, receive, send, path)
        else:
            await self._websocket(scope, receive, send, path)

    @staticmethod
    async def _lifespan(receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    @staticmethod
    async def _send_response(
        send: Send, status: int, headers: list[tuple[str, str]], body: bytes
    ) -> None:
        raw = _response_headers(headers, len(body))
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _http(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        limit = self.engine.options.max_http_buffer_size
        chunks: list[bytes] = []
        size = 0
        too_big = False
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            if type(chunk) is not bytes:
                chunk = bytes(chunk)
            size += len(chunk)
            if size > limit:
                too_big = True
                chunks = []
                break  # the answer is 413 whatever follows
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        request = _build_request(scope, path)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[int, list[tuple[str, str]], bytes]] = loop.create_future()
        responder = _FutureResponder(future)
        if too_big:
            body = None
        else:
            body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        task: asyncio.Task[Any] | None = None
        try:
            result = self.engine.handle_request(request, body, responder)
            if result is not None:
                task = asyncio.ensure_future(result)
        except Exception:
            logger.exception("engine.handle_request failed")
            responder.respond(500, [], b"")
        if not future.done():
            if task is not None:
                await asyncio.wait({future, task}, return_when=asyncio.FIRST_COMPLETED)
                if task.done() and not future.done() and task.exception() is not None:
                    logger.error("engine.handle_request failed", exc_info=task.exception())
                    responder.respond(500, [], b"")
            if not future.done() and not await self._wait_or_disconnect(future, receive):
                abort = responder.on_abort
                responder.on_abort = None
                if abort is not None:
                    abort()
                return
        status, headers, answer = future.result()
        await self._send_response(send, status, headers, answer)
        if task is not None and not task.done():
            await task

    @staticmethod
    async def _wait_or_disconnect(future: asyncio.Future[Any], receive: Receive) -> bool:
        """Wait for the answer; ``False`` if the client disconnected first.

        Only ``receive`` tells an ASGI app that the client went away, and listening costs
        a task. Most long-polls are answered within milliseconds, so the listener starts
        only after :data:`LISTEN_AFTER` seconds without an answer: a quick answer costs
        one timer, and a client that drops a waiting poll is noticed that much later.
        """
        loop = asyncio.get_running_loop()
        listener: asyncio.Task[ASGIMessage] | None = None
        gone = False

        def heard(task: asyncio.Task[ASGIMessage]) -> None:
            nonlocal gone
            if future.done():
                return
            if task.cancelled() or task.exception() is not None:
                gone = True
            elif task.result()["type"] == "http.disconnect":
                gone = True
            if gone:
                future.set_result(None)
            else:
                listen()  # any other message: keep listening

        def listen() -> None:
            nonlocal listener
            if not future.done():
                listener = asyncio.ensure_future(receive())
                listener.add_done_callback(heard)

        timer = loop.call_later(LISTEN_AFTER, listen)
        try:
            await future
        finally:
            timer.cancel()
            if listener is not None and not listener.done():
                listener.remove_done_callback(heard)
                listener.cancel()
        return not gone

    async def _websocket(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        request = _build_request(scope, path)
        try:
            result: Any = self.engine.handle_websocket(request)
            if not isinstance(result, WebSocketAccept | HttpResponse):
                result = await result
        except Exception:
            logger.exception("engine.handle_websocket failed")
            result = HttpResponse(500, [], b"")
        if isinstance(result, HttpResponse):
            await self._refuse(scope, send, result)
            return
        assert isinstance(result, WebSocketAccept)
        await send({"type": "websocket.accept", "headers": _encode_headers(result.headers)})
        channel = ASGIWebSocketChannel(send, self._flusher)
        try:
            handler: WebSocketHandler | None = result.attach(channel)
        except Exception:
            logger.exception("WebSocketAccept.attach failed")
            await send({"type": "websocket.close", "code": 1011})
            return
        code: int | None = None
        limit = self.engine.options.max_http_buffer_size
        try:
            while True:
                message = await receive()
                kind = message["type"]
                if kind == "websocket.receive":
                    data = message.get("text")
                    if data is None:
                        data = message.get("bytes")
                    if data is None:
                        continue
                    if len(data) > limit:
                        channel.close(1009, "message too big")
                        continue
                    if handler is not None and not channel.closed:
                        try:
                            handler.on_message(data)
                        except Exception:
                            logger.exception("WebSocket message handler failed")
                elif kind == "websocket.disconnect":
                    code = int(message.get("code", 1005))
                    break
        except Exception as exc:  # the server failed the connection
            logger.debug("WebSocket receive failed: %r", exc)
        finally:
            channel.abort()  # the connection is gone: nothing more can be sent
            if handler is not None:
                try:
                    handler.on_close(code)
                except Exception:
                    logger.exception("WebSocket close handler failed")

    @staticmethod
    async def _refuse(scope: Scope, send: Send, response: HttpResponse) -> None:
        if "websocket.http.response" in scope.get("extensions", {}):
            raw = _encode_headers(
                [(k, v) for k, v in response.headers if k.lower() != "content-length"]
            )
            raw.append((b"content-length", str(len(response.body)).encode()))
            await send(
                {"type": "websocket.http.response.start", "status": response.status, "headers": raw}
            )
            await send({"type": "websocket.http.response.body", "body": response.body})
        else:
            await send({"type": "websocket.close", "code": 1008})
