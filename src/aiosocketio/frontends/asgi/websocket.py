"""WebSocket connections under the Engine's path on the ASGI front end.

WebSocket messages the Engine sends are queued on their connection
(:class:`ASGIWebSocketChannel`) and handed to the ASGI server's ``send`` at the end of
the loop tick, by one callback for all connections (:class:`Flusher`: no task or wake-up
per message or per connection); only a send that suspends starts a drain task, which the
following messages queue behind. The server does the framing, so ``can_write_frames`` is
``False`` here.

What a connection holds for its client is bounded: past ``max_write_buffer`` queued bytes
(a client that does not read while the application keeps sending), the queue is dropped
and the connection with it. A close is queued behind the messages before it, so it waits
for a send that may never finish (a client that stopped reading). The channel therefore
arms an abort timer when it closes: if the close has not been handed to the server
``abort_timeout`` seconds later,
the queue is dropped and the connection with it (the server's transport is aborted when
the ``send`` callable shows one, as uvicorn's do; otherwise the app returns, which makes
the server close its side).
"""

from __future__ import annotations

import asyncio
import logging
import types
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any, cast

from aiosocketio.engine.http import EngineLike, HttpResponse, WebSocketAccept, WebSocketHandler
from aiosocketio.frontends.asgi.http import missing_host
from aiosocketio.frontends.asgi.scope import build_request, encode_headers
from aiosocketio.frontends.asgi_types import ASGIMessage, Receive, Scope, Send
from aiosocketio.frontends.stats import (
    ASGI_CLOSE_ABORTED,
    HTTP_NO_HOST,
    SHUTDOWN_DROPPED,
    WS_WRITE_BUFFER,
    LimitStats,
)
from aiosocketio.protocol.limits import ConnectionLimits

__all__ = ["ASGIWebSocketChannel", "Flusher", "serve_websocket"]

logger = logging.getLogger("aiosocketio.frontends.asgi")


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


class Flusher:
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
        abort_timeout: seconds a close may wait behind a send that does not finish
            before the connection is dropped.
        max_write_buffer: the most bytes queued for the client; past it the connection is
            dropped.
        on_abort: called with the kind of limit (``stats``) when the connection is
            dropped (the app counts it).

    Attributes:
        aborted: the connection was dropped: its close could not be sent in time, its
            queue passed ``max_write_buffer``, or a shutdown's grace period ended.
        ended: the ASGI server reported the end of the connection.
    """

    __slots__ = (
        "_abort_handle",
        "_abort_timeout",
        "_dirty",
        "_drainer",
        "_flusher",
        "_max_buffer",
        "_on_abort",
        "_queue",
        "_queued_bytes",
        "_send",
        "_task",
        "_waiter",
        "aborted",
        "can_write_frames",
        "closed",
        "ended",
    )

    def __init__(
        self,
        send: Send | None = None,
        flusher: Flusher | None = None,
        *,
        abort_timeout: float = 5.0,
        max_write_buffer: int = 32 << 20,
        on_abort: Callable[[str], None] | None = None,
    ) -> None:
        self.can_write_frames = False
        self.closed = False
        self.aborted = False
        self.ended = False  # serve_websocket returned: the ASGI server reported the end
        self._send = send
        self._flusher = flusher if flusher is not None else Flusher()
        self._dirty = False
        self._queue: deque[ASGIMessage] = deque()
        self._queued_bytes = 0
        self._waiter: asyncio.Future[None] | None = None
        self._drainer: asyncio.Task[None] | None = None
        self._abort_timeout = abort_timeout
        self._max_buffer = max_write_buffer
        self._abort_handle: asyncio.TimerHandle | None = None
        self._on_abort = on_abort
        # the task running the app for this connection (cancelled by a last-resort abort)
        self._task: asyncio.Task[Any] | None = None

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
        if self._queued_bytes > self._max_buffer:
            self._drop(WS_WRITE_BUFFER)
            return
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
        """Queue a close, after what is queued; nothing is sent after it. If it is still
        queued ``abort_timeout`` seconds later, the connection is dropped."""
        if self.closed:
            return
        self.closed = True
        self._submit({"type": "websocket.close", "code": code, "reason": reason}, 0)
        if self._send is not None and self._abort_handle is None:
            loop = asyncio.get_running_loop()
            self._abort_handle = loop.call_later(self._abort_timeout, self._close_overdue)

    def _close_overdue(self) -> None:
        """The close is still queued behind a send that does not finish: drop it all."""
        self._abort_handle = None
        if not self._queue and self._drainer is None:
            return  # the close went out
        self._drop(ASGI_CLOSE_ABORTED)

    def _drop(self, kind: str) -> None:
        """Drop the queue and the connection (``kind`` of limit, for the counters)."""
        self.aborted = True
        if self._on_abort is not None:
            self._on_abort(kind)
        self.abort()
        drop = getattr(self.server_transport, "abort", None)
        if callable(drop):
            drop()  # connection_lost: the server reports websocket.disconnect
        elif self._task is not None and not self._task.done():
            self._task.cancel()  # serve_websocket returns; the server closes its side

    def drop(self) -> None:
        """Drop the connection and its queue at once (a shutdown's grace period is
        over)."""
        if not self.aborted:
            self._drop(SHUTDOWN_DROPPED)

    @property
    def server_transport(self) -> Any:
        """The ASGI server's transport of this connection, when its ``send`` shows it
        (uvicorn's ``send`` is a method of its protocol, which holds the transport);
        ``None`` otherwise."""
        return getattr(getattr(self._send, "__self__", None), "transport", None)

    @property
    def drained(self) -> bool:
        """Nothing is left to write: nothing queued here, no send under way, and the
        server's transport (where it shows) has written what it was given."""
        if self._queue or self._drainer is not None:
            return False
        transport = self.server_transport
        if transport is None:
            return True
        try:
            return int(transport.get_write_buffer_size()) == 0
        except Exception:  # a closed transport
            return True

    @property
    def finished(self) -> bool:
        """The connection is over on our side, and the server's transport (where it
        shows) is closing with nothing left to write: its last bytes are out."""
        if not self.ended:
            return False
        transport = self.server_transport
        if transport is None or self.aborted:
            return True
        return bool(transport.is_closing()) and self.drained

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
        handle = self._abort_handle
        if handle is not None:
            self._abort_handle = None
            handle.cancel()
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


_DEFAULT_LIMITS = ConnectionLimits()


async def serve_websocket(
    engine: EngineLike,
    flusher: Flusher,
    scope: Scope,
    receive: Receive,
    send: Send,
    path: str,
    limits: ConnectionLimits = _DEFAULT_LIMITS,
    stats: LimitStats | None = None,
    live: set[ASGIWebSocketChannel] | None = None,
) -> None:
    """Run one WebSocket connection under the Engine's path (its channel is in ``live``
    while the connection is open)."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    request = build_request(scope, path)
    if missing_host(scope, request, limits):
        if stats is not None:
            stats.count(HTTP_NO_HOST, request.remote_address)
        await _refuse(scope, send, HttpResponse(400, [("content-type", "text/plain")], b""))
        return
    try:
        result: Any = engine.handle_websocket(request)
        if not isinstance(result, WebSocketAccept | HttpResponse):
            result = await result
    except Exception:
        logger.exception("engine.handle_websocket failed")
        result = HttpResponse(500, [], b"")
    if isinstance(result, HttpResponse):
        await _refuse(scope, send, result)
        return
    assert isinstance(result, WebSocketAccept)
    await send({"type": "websocket.accept", "headers": encode_headers(result.headers)})

    def count_abort(kind: str) -> None:
        if stats is not None:
            stats.count(kind, request.remote_address)

    channel = ASGIWebSocketChannel(
        send,
        flusher,
        abort_timeout=limits.abort_timeout,
        max_write_buffer=limits.write_buffer_for(engine.options.max_send_buffer),
        on_abort=count_abort,
    )
    channel._task = asyncio.current_task()
    try:
        handler: WebSocketHandler | None = result.attach(channel)
    except Exception:
        logger.exception("WebSocketAccept.attach failed")
        await send({"type": "websocket.close", "code": 1011})
        return
    if live is not None:
        live.add(channel)
    code: int | None = None
    limit = engine.options.max_http_buffer_size
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
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if not channel.aborted or task is None:
            raise
        task.uncancel()  # our own abort (the server showed no transport): return quietly
    finally:
        channel.ended = True
        if live is not None:
            live.discard(channel)
        channel.abort()  # the connection is gone: nothing more can be sent
        if handler is not None:
            try:
                handler.on_close(code)
            except Exception:
                logger.exception("WebSocket close handler failed")


async def _refuse(scope: Scope, send: Send, response: HttpResponse) -> None:
    """Refuse the upgrade with ``response`` if the server can send one, else close 1008."""
    if "websocket.http.response" in scope.get("extensions", {}):
        raw = encode_headers([(k, v) for k, v in response.headers if k.lower() != "content-length"])
        raw.append((b"content-length", str(len(response.body)).encode()))
        await send(
            {"type": "websocket.http.response.start", "status": response.status, "headers": raw}
        )
        await send({"type": "websocket.http.response.body", "body": response.body})
    else:
        await send({"type": "websocket.close", "code": 1008})
