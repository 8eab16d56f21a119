"""HTTP requests under the Engine's path on the ASGI front end: long-polls, posts, preflights.

The request body is read whole (a body over ``max_http_buffer_size`` gets 413 from the
Engine), handed to the Engine with a responder that completes a future, and the answer is
sent when the future is done. A long-poll that waits listens for the client leaving only
after :data:`LISTEN_AFTER` seconds (see :func:`wait_or_disconnect`).

Two of the connection limits are the app's to enforce (the others are the ASGI server's):
an HTTP/1.1 request without ``Host`` gets 400, and a body that arrives in several pieces
must be complete within ``request_timeout`` (408, and the connection closes).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiosocketio.engine.http import EngineLike, HttpRequest
from aiosocketio.frontends.asgi.scope import build_request, encode_headers
from aiosocketio.frontends.asgi_types import ASGIMessage, Receive, Scope, Send
from aiosocketio.frontends.stats import HTTP_NO_HOST, HTTP_REQUEST_TIMEOUT, LimitStats
from aiosocketio.protocol.limits import ConnectionLimits

__all__ = [
    "LISTEN_AFTER",
    "missing_host",
    "response_headers",
    "send_response",
    "serve_http",
    "wait_or_disconnect",
]

logger = logging.getLogger("aiosocketio.frontends.asgi")

LISTEN_AFTER = 0.2
"""Seconds a long-poll waits for its answer before the app listens for the client leaving."""

_HOP_HEADERS = frozenset({"content-length", "connection"})
_response_headers_cache: dict[tuple[tuple[str, str], ...], list[tuple[bytes, bytes]]] = {}
_RESPONSE_HEADERS_CACHE_SIZE = 256


def response_headers(headers: list[tuple[str, str]], length: int) -> list[tuple[bytes, bytes]]:
    """The ASGI headers of a response: encoded once per distinct header list (cached),
    without the hop-by-hop ones, plus the ``content-length``."""
    key = tuple(headers)
    raw = _response_headers_cache.get(key)
    if raw is None:
        raw = encode_headers([(k, v) for k, v in headers if k.lower() not in _HOP_HEADERS])
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


async def send_response(
    send: Send, status: int, headers: list[tuple[str, str]], body: bytes
) -> None:
    """Send a whole response (``content-length`` added, hop-by-hop headers dropped)."""
    raw = response_headers(headers, len(body))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def missing_host(scope: Scope, request: HttpRequest, limits: ConnectionLimits) -> bool:
    """An HTTP/1.1 request without ``Host`` (RFC 9112 §3.2), refused as Node does."""
    return (
        "host" not in request.headers
        and limits.require_host
        and scope.get("http_version", "1.1") == "1.1"
    )


_DEFAULT_LIMITS = ConnectionLimits()


async def _refuse_and_close(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"text/plain"), (b"connection", b"close")]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def serve_http(
    engine: EngineLike,
    scope: Scope,
    receive: Receive,
    send: Send,
    path: str,
    limits: ConnectionLimits = _DEFAULT_LIMITS,
    stats: LimitStats | None = None,
) -> None:
    """Answer one HTTP request under the Engine's path (a long-poll, a POST, a preflight)."""
    request = build_request(scope, path)
    if missing_host(scope, request, limits):
        if stats is not None:
            stats.count(HTTP_NO_HOST, request.remote_address)
        await _refuse_and_close(send, 400, b"Bad Request")
        return
    limit = engine.options.max_http_buffer_size
    loop = asyncio.get_running_loop()
    chunks: list[bytes] = []
    size = 0
    too_big = False
    deadline: float | None = None
    while True:
        if deadline is None:
            message = await receive()
        else:
            # a body in several pieces: all of them within request_timeout
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                if stats is not None:
                    stats.count(HTTP_REQUEST_TIMEOUT, request.remote_address)
                await _refuse_and_close(send, 408, b"Request Timeout")
                return
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
        if deadline is None:
            deadline = loop.time() + limits.request_timeout
    future: asyncio.Future[tuple[int, list[tuple[str, str]], bytes]] = loop.create_future()
    responder = _FutureResponder(future)
    if too_big:
        body = None
    else:
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    task: asyncio.Task[Any] | None = None
    try:
        result = engine.handle_request(request, body, responder)
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
        if not future.done() and not await wait_or_disconnect(future, receive):
            abort = responder.on_abort
            responder.on_abort = None
            if abort is not None:
                abort()
            return
    status, headers, answer = future.result()
    await send_response(send, status, headers, answer)
    if task is not None and not task.done():
        await task


async def wait_or_disconnect(future: asyncio.Future[Any], receive: Receive) -> bool:
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
