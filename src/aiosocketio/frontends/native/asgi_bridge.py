"""A minimal ASGI server bridge for the native front end.

The built-in server (:mod:`aiosocketio.frontends.native.server`) can wrap an ASGI application
for the paths outside the Engine's path, so a Starlette/FastAPI app and Socket.IO share one port
without uvicorn. This module runs that application for one request:

* :func:`run_http`: an ``http`` scope. A body sent in one message goes out with
  ``Content-Length``; one sent in several parts is streamed (chunked), with backpressure.
* :func:`run_websocket`: a ``websocket`` scope on top of the native WebSocket framing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from urllib.parse import unquote

from aiosocketio.engine.http import HttpRequest, WebSocketChannel, WebSocketHandler
from aiosocketio.frontends.asgi_types import ASGIApplication, ASGIMessage

__all__ = ["AppWebSocketHandler", "StreamingResponder", "run_http", "run_websocket"]

logger = logging.getLogger("aiosocketio.frontends.native")


class StreamingResponder(Protocol):
    """The native server's responder, with the streaming calls the bridge needs."""

    on_abort: Callable[[], None] | None

    def respond(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        """Send a complete answer."""

    def start(self, status: int, headers: list[tuple[str, str]]) -> None:
        """Begin a chunked answer."""

    def write(self, data: bytes) -> None:
        """Send one chunk."""

    def end(self) -> None:
        """Finish the chunked answer."""


def _scope(kind: str, request: HttpRequest, server: tuple[str, int] | None) -> dict[str, Any]:
    scheme = ("https" if request.secure else "http") if kind == "http" else "ws"
    if kind == "websocket" and request.secure:
        scheme = "wss"
    scope: dict[str, Any] = {
        "type": kind,
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "scheme": scheme,
        "path": unquote(request.path),
        "raw_path": request.path.encode("latin-1"),
        "query_string": request.query_string.encode("latin-1"),
        "root_path": "",
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in request.headers.items()],
        "client": (request.remote_address, request.remote_port),
        "server": server,
        "state": {},
    }
    if kind == "http":
        scope["method"] = request.method
    else:
        protocols = request.headers.get("sec-websocket-protocol", "")
        scope["subprotocols"] = [p.strip() for p in protocols.split(",") if p.strip()]
    return scope


def _headers(raw: Any) -> list[tuple[str, str]]:
    return [(bytes(k).decode("latin-1"), bytes(v).decode("latin-1")) for k, v in raw or ()]


async def run_http(
    app: ASGIApplication,
    request: HttpRequest,
    body: bytes,
    responder: StreamingResponder,
    *,
    server: tuple[str, int] | None,
    drain: Callable[[], Awaitable[None]],
    abort: Callable[[], None],
) -> None:
    """Run ``app`` for one HTTP request and answer through ``responder``.

    Args:
        app: the ASGI application.
        request: the parsed request.
        body: the complete request body.
        responder: where the answer goes (its ``on_abort`` is set here).
        server: the listening address for the scope.
        drain: waits while the connection's write buffer is full.
        abort: drops the connection (a streamed answer failed half-way).
    """
    body_sent = False
    disconnected = asyncio.get_running_loop().create_future()

    def on_abort() -> None:
        if not disconnected.done():
            disconnected.set_result(None)

    responder.on_abort = on_abort

    async def receive() -> ASGIMessage:
        nonlocal body_sent
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await disconnected
        return {"type": "http.disconnect"}

    status = 500
    headers: list[tuple[str, str]] = []
    chunks: list[bytes] = []
    started = finished = streaming = False

    async def send(message: ASGIMessage) -> None:
        nonlocal status, headers, started, finished, streaming
        kind = message["type"]
        if kind == "http.response.start" and not started:
            started = True
            status = int(message["status"])
            headers = _headers(message.get("headers"))
        elif kind == "http.response.body" and started and not finished:
            data = bytes(message.get("body", b""))
            if not message.get("more_body", False):
                finished = True
                if streaming:
                    responder.write(data)
                    responder.end()
                else:
                    chunks.append(data)
                    responder.respond(status, headers, b"".join(chunks))
                return
            if not streaming:
                # a body in several parts: stream it with chunked transfer-encoding
                streaming = True
                responder.start(status, headers)
            responder.write(data)
            await drain()

    failed = False
    try:
        await app(_scope("http", request, server), receive, send)
    except Exception:
        failed = True
        logger.exception("ASGI application failed")
    finally:
        if not finished:
            if streaming:
                if failed:
                    abort()  # a truncated chunked body must not look complete
                else:
                    responder.end()
            elif started and not failed:
                responder.respond(status, headers, b"".join(chunks))
            else:
                responder.respond(500, [("Content-Type", "text/plain")], b"Internal Server Error")
        on_abort()


class AppWebSocketHandler:
    """Feeds the native connection's events into the application's ``receive``."""

    __slots__ = ("disconnected", "queue")

    def __init__(self) -> None:
        self.queue: asyncio.Queue[ASGIMessage] = asyncio.Queue()
        self.queue.put_nowait({"type": "websocket.connect"})
        self.disconnected = False

    def on_message(self, data: str | bytes) -> None:
        if isinstance(data, str):
            self.queue.put_nowait({"type": "websocket.receive", "text": data})
        else:
            self.queue.put_nowait({"type": "websocket.receive", "bytes": data})

    def on_close(self, code: int | None) -> None:
        if not self.disconnected:
            self.disconnected = True
            self.queue.put_nowait({"type": "websocket.disconnect", "code": code or 1006})


async def run_websocket(
    app: ASGIApplication,
    request: HttpRequest,
    handler: AppWebSocketHandler,
    *,
    server: tuple[str, int] | None,
    accept: Callable[[list[tuple[str, str]], WebSocketHandler], WebSocketChannel | None],
    refuse: Callable[[int], None],
) -> None:
    """Run ``app`` for one WebSocket upgrade request.

    Args:
        app: the ASGI application.
        request: the upgrade request.
        handler: receives the connection's events (and a disconnect if the client
            goes away before the application answers).
        server: the listening address for the scope.
        accept: writes the 101 with these extra headers, switches the connection to
            WebSocket and attaches the handler; returns the channel (``None`` if the
            connection is already gone).
        refuse: answers the upgrade with this HTTP status instead.
    """
    channel: WebSocketChannel | None = None
    answered = closed = False

    async def receive() -> ASGIMessage:
        return await handler.queue.get()

    async def send(message: ASGIMessage) -> None:
        nonlocal channel, answered, closed
        kind = message["type"]
        if kind == "websocket.accept" and not answered:
            answered = True
            extra = _headers(message.get("headers"))
            if message.get("subprotocol"):
                extra.append(("Sec-WebSocket-Protocol", str(message["subprotocol"])))
            channel = accept(extra, handler)
            if channel is None:
                handler.on_close(None)
        elif kind == "websocket.close":
            if not answered:
                answered = True
                refuse(403)
                handler.on_close(None)
            elif channel is not None and not closed:
                closed = True
                channel.close(int(message.get("code", 1000)), str(message.get("reason") or ""))
        elif kind == "websocket.send" and channel is not None and not closed:
            text = message.get("text")
            channel.send_message(text if text is not None else bytes(message.get("bytes") or b""))

    try:
        await app(_scope("websocket", request, server), receive, send)
    except Exception:
        logger.exception("ASGI application failed")
        if not answered:
            answered = True
            refuse(500)
        elif channel is not None and not closed:
            closed = True
            channel.close(1011, "")
    else:
        if not answered:
            refuse(403)
        elif channel is not None and not closed:
            channel.close(1000, "")
