"""The WebSocket upgrade on the native server: the ``101`` and the switch of protocols.

:func:`upgrade` takes an upgrade request that the HTTP connection has finished with (it
reads no more HTTP from that transport) and either refuses it with an HTTP answer or
accepts it: the Engine's (or the wrapped ASGI application's) acceptance is answered with
``101 Switching Protocols`` (permessage-deflate negotiated here when the Engine enables
it), and the transport is handed to a new
:class:`~aiosocketio.frontends.native.websocket.NativeWebSocketConnection`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiosocketio.engine.http import (
    EngineLike,
    HttpRequest,
    HttpResponse,
    WebSocketAccept,
    WebSocketChannel,
    WebSocketHandler,
)
from aiosocketio.frontends.asgi_types import ASGIApplication
from aiosocketio.frontends.native.asgi_bridge import AppWebSocketHandler, run_websocket
from aiosocketio.frontends.native.responses import header_line
from aiosocketio.frontends.native.websocket import (
    NativeWebSocketConnection,
    ServerConnection,
    WebSocketHost,
)
from aiosocketio.protocol.websocket import (
    DeflateParams,
    accept_key,
    check_upgrade_request,
    server_negotiate_deflate,
)

__all__ = ["UpgradeHost", "UpgradingConnection", "handshake_response", "upgrade"]

logger = logging.getLogger("aiosocketio.frontends.native")


class UpgradeHost(WebSocketHost, Protocol):
    """What an upgrade needs from the server."""

    @property
    def engine(self) -> EngineLike:
        """The Engine.IO engine."""

    @property
    def app(self) -> ASGIApplication | None:
        """The ASGI application for the paths outside the Engine's path."""

    def spawn(self, awaitable: Awaitable[Any]) -> asyncio.Task[Any]:
        """Run ``awaitable`` in a task the server keeps (and logs the failure of)."""

    def adopt(self, conn: ServerConnection) -> None:
        """``conn`` is open: shut it down with the server."""


class UpgradingConnection(Protocol):
    """What an upgrade needs from the HTTP connection that received the request."""

    @property
    def transport(self) -> asyncio.Transport | None:
        """The TCP (or TLS) transport."""

    @property
    def writing_paused(self) -> bool:
        """The transport asked to pause writing."""

    def refuse(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        """Answer with this HTTP response and close."""

    def set_on_lost(self, callback: Callable[[], None] | None) -> None:
        """Call ``callback`` if the connection is lost while the upgrade is pending."""

    def release(self) -> None:
        """The transport now belongs to a WebSocket connection: let go of it."""

    def sockname(self) -> tuple[str, int] | None:
        """The local address (for an ASGI scope)."""


def upgrade(
    host: UpgradeHost, conn: UpgradingConnection, request: HttpRequest, rest: bytes
) -> None:
    """Answer one upgrade request.

    Args:
        host: the server.
        conn: the HTTP connection, which reads no more HTTP from its transport.
        request: the upgrade request.
        rest: the bytes that followed the request (the first WebSocket frames).
    """
    headers = request.headers
    engine = host.engine
    ours = engine.options.matches(request.path)
    app = host.app
    if "websocket" not in headers.get("upgrade", "").lower() or not (ours or app):
        conn.refuse(400 if ours else 404, [], b"")
        return
    error = check_upgrade_request(request.method, headers)
    if error is not None:
        conn.refuse(400, [("Content-Type", "text/plain")], error.encode())
        return
    transport = conn.transport
    assert transport is not None
    if not ours:
        assert app is not None
        _upgrade_app(host, conn, transport, app, request, rest)
        return
    try:
        result = engine.handle_websocket(request)
    except Exception:
        logger.exception("engine.handle_websocket failed")
        conn.refuse(500, [], b"")
        return
    if isinstance(result, WebSocketAccept | HttpResponse):
        _finish(host, conn, request, result, rest)
    else:
        transport.pause_reading()
        host.spawn(_await_accept(host, conn, request, result, rest))


def _upgrade_app(
    host: UpgradeHost,
    conn: UpgradingConnection,
    transport: asyncio.Transport,
    app: ASGIApplication,
    request: HttpRequest,
    rest: bytes,
) -> None:
    """Hand the upgrade to the wrapped ASGI application."""
    transport.pause_reading()
    app_handler = AppWebSocketHandler()
    conn.set_on_lost(lambda: app_handler.on_close(None))

    def accept(extra: list[tuple[str, str]], handler: WebSocketHandler) -> WebSocketChannel | None:
        if transport.is_closing():
            return None
        conn.set_on_lost(None)
        ws = switch(host, conn, request, extra, lambda channel: handler, rest)
        if ws is not None and not ws.writing_paused:
            transport.resume_reading()
        return ws

    def refuse(status: int) -> None:
        conn.refuse(status, [], b"")

    host.spawn(
        run_websocket(
            app, request, app_handler, server=conn.sockname(), accept=accept, refuse=refuse
        )
    )


async def _await_accept(
    host: UpgradeHost,
    conn: UpgradingConnection,
    request: HttpRequest,
    pending: Awaitable[WebSocketAccept | HttpResponse],
    rest: bytes,
) -> None:
    try:
        result = await pending
    except Exception:
        logger.exception("engine.handle_websocket failed")
        result = HttpResponse(500, [], b"")
    transport = conn.transport
    if transport is None or transport.is_closing():
        return
    if not conn.writing_paused:
        transport.resume_reading()
    _finish(host, conn, request, result, rest)


def _finish(
    host: UpgradeHost,
    conn: UpgradingConnection,
    request: HttpRequest,
    result: WebSocketAccept | HttpResponse,
    rest: bytes,
) -> None:
    if isinstance(result, HttpResponse):
        conn.refuse(result.status, result.headers, result.body)
        return
    switch(host, conn, request, result.headers, result.attach, rest)


def handshake_response(
    request: HttpRequest, extra_headers: list[tuple[str, str]], deflate_threshold: int | None
) -> tuple[bytes, DeflateParams | None]:
    """The ``101 Switching Protocols`` answer to ``request`` (RFC 6455 §4.2.2).

    Args:
        request: a valid upgrade request.
        extra_headers: headers to add (the Engine's, the application's).
        deflate_threshold: accept a permessage-deflate offer with this threshold, or
            ``None`` to decline it.

    Returns:
        The response bytes, and the negotiated permessage-deflate parameters.
    """
    headers = request.headers
    lines = [
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n",
        f"Sec-WebSocket-Accept: {accept_key(headers['sec-websocket-key'])}\r\n".encode(),
    ]
    deflate: DeflateParams | None = None
    if deflate_threshold is not None:
        negotiated = server_negotiate_deflate(
            headers.get("sec-websocket-extensions"), threshold=deflate_threshold
        )
        if negotiated is not None:
            deflate = negotiated[0]
            lines.append(f"Sec-WebSocket-Extensions: {negotiated[1]}\r\n".encode())
    for name, value in extra_headers:
        lines.append(header_line(name, value))
    lines.append(b"\r\n")
    return b"".join(lines), deflate


def switch(
    host: UpgradeHost,
    conn: UpgradingConnection,
    request: HttpRequest,
    extra_headers: list[tuple[str, str]],
    attach: Callable[[WebSocketChannel], WebSocketHandler],
    rest: bytes,
) -> NativeWebSocketConnection | None:
    """Write the 101, switch the transport to a NativeWebSocketConnection, attach.

    Returns:
        The WebSocket connection, or ``None`` if ``attach`` failed (the connection is
        then closed with 1011).
    """
    transport = conn.transport
    assert transport is not None
    options = host.engine.options
    limits = options.connection_limits
    response, deflate = handshake_response(request, extra_headers, options.deflate_threshold)
    transport.write(response)
    writing_paused = conn.writing_paused
    ws = NativeWebSocketConnection(
        host,
        transport,
        request,
        max_message_size=options.max_http_buffer_size,
        deflate=deflate,
        writing_paused=writing_paused,
        limits=limits,
        max_write_buffer=limits.write_buffer_for(options.max_send_buffer),
    )
    transport.set_protocol(ws)
    if writing_paused:
        ws.pause_writing()  # and so reading, until the client reads
    conn.release()
    host.adopt(ws)
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
