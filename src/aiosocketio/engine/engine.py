"""The async Engine.IO server, shared by the native front end and the ASGI app.

The :class:`Engine` validates requests (:mod:`aiosocketio.protocol.engineio.handshake`), answers
refusals with Node's codes, handshakes new sessions (polling or direct WebSocket), and
routes each later request to its :class:`~aiosocketio.engine.socket.EngineSocket`. It
adds CORS (:mod:`aiosocketio.protocol.engineio.cors`), the session cookie, gzip/deflate for large
polling answers, and the ``initial_headers``/``headers`` hooks.
"""

from __future__ import annotations

import asyncio
import gzip
import inspect
import logging
import zlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiosocketio.engine.http import (
    HttpRequest,
    HttpResponse,
    Responder,
    WebSocketAccept,
    WebSocketChannel,
    WebSocketHandler,
)
from aiosocketio.engine.socket import POLLING, WEBSOCKET, EngineSocket
from aiosocketio.engine.timers import TimerWheel
from aiosocketio.exceptions import Forbidden, HandshakeError
from aiosocketio.protocol.engineio.cors import cors_headers, preflight_headers
from aiosocketio.protocol.engineio.handshake import (
    base64id,
    check_protocol,
    error_body,
    verify_request,
)
from aiosocketio.protocol.engineio.options import EngineOptions
from aiosocketio.protocol.engineio.session import EngineSession
from aiosocketio.runtime.events import EventEmitter

__all__ = ["Engine"]

logger = logging.getLogger("aiosocketio.engine")


class Engine(EventEmitter):
    """The Engine.IO server: request validation, sessions, CORS, cookies, compression.

    Args:
        options: the :class:`EngineOptions`; keyword arguments build one instead.

    Events (``engine.on(...)``): ``connection(conn)``, ``initial_headers(headers,
    request)``, ``headers(headers, request)`` (every answer, the 101 included) and
    ``connection_error(error)`` where ``error`` is ``{"req", "code", "message",
    "context"}``.
    """

    def __init__(self, options: EngineOptions | None = None, **kwargs: Any) -> None:
        self.options = options if options is not None else EngineOptions(**kwargs)
        self.clients: dict[str, EngineSocket] = {}
        self._closing: dict[str, EngineSocket] = {}
        self.on_connection: Callable[[EngineSocket], None] | None = None
        self._wheel: TimerWheel | None = None
        #: Files served under the Engine's path before any Engine.IO handling (the
        #: Socket.IO server's browser client): ``(name below the path, request headers)``
        #: -> ``(status, headers, body)``, or ``None`` for a name that is not one of them.
        self.static_files: (
            Callable[[str, Mapping[str, str]], tuple[int, list[tuple[str, str]], bytes] | None]
            | None
        ) = None

    # -- public API -------------------------------------------------------------------

    @property
    def clients_count(self) -> int:
        """How many sessions are open."""
        return len(self.clients)

    def generate_id(self, request: HttpRequest) -> str | Awaitable[str]:
        """The id of a new session. Override it (sync or async) for custom ids."""
        return base64id()

    async def close(self) -> None:
        """Close every session."""
        for conn in list(self.clients.values()):
            conn.close(True)
        await asyncio.sleep(0)

    def _timer_wheel(self, loop: asyncio.AbstractEventLoop) -> TimerWheel:
        """The wheel that times this engine's sessions on ``loop``."""
        wheel = self._wheel
        if wheel is None or wheel.loop is not loop:
            wheel = self._wheel = TimerWheel(loop)
        return wheel

    # -- HTTP -------------------------------------------------------------------------

    def handle_request(
        self, request: HttpRequest, body: bytes | None, responder: Responder
    ) -> Awaitable[None] | None:
        """Handle one polling request (see docs/ARCHITECTURE.md §4)."""
        static = self.static_files
        if static is not None and (request.method == "GET" or request.method == "HEAD"):
            answer = static(request.path[len(self.options.path) :], request.headers)
            if answer is not None:
                status, headers, body = answer
                responder.respond(status, [*headers, *self._cors_headers(request)], body)
                return None
        cors = self.options.cors_options
        if request.method == "OPTIONS" and cors is not None:
            self._preflight(request, responder)
            return None
        query = request.query
        try:
            self._verify(request, upgrade=False)
        except HandshakeError as exc:
            self._refuse(request, responder, exc)
            return None
        sid = query.get("sid")
        if sid:
            conn = self.clients.get(sid) or self._closing[sid]
            if body is None:
                self._respond_plain(responder, 413, b"", request)
                return None
            if request.method == "GET":
                conn._handle_poll(_RequestResponder(responder, request))
            elif request.method == "POST":
                conn._handle_post(request, body, _RequestResponder(responder, request))
            else:
                self._respond_plain(responder, 400, b"", request)
            return None
        try:
            new_sid = self._handshake(request)
        except HandshakeError as exc:
            self._refuse(request, responder, exc)
            return None
        if isinstance(new_sid, str):
            self._open_polling(request, responder, new_sid)
            return None
        return self._handshake_polling(request, responder, new_sid)

    async def _handshake_polling(
        self, request: HttpRequest, responder: Responder, pending: Awaitable[str]
    ) -> None:
        try:
            sid = await pending
        except HandshakeError as exc:
            self._refuse(request, responder, exc)
            return
        self._open_polling(request, responder, sid)

    def _open_polling(self, request: HttpRequest, responder: Responder, sid: str) -> None:
        conn = EngineSocket(self, sid, request, POLLING)
        self._register(conn)
        payload = "0" + conn.session.open_packet_data()
        self._send_payload(request, responder, payload, self._cors_headers(request), sid=sid)
        self._connected(conn)

    def _handshake(self, request: HttpRequest) -> str | Awaitable[str]:
        """``allow_request``, the protocol check and ``generate_id``, in Node's order.

        Synchronous when the hooks are (the common case: no task per handshake); an
        awaitable when one of them is a coroutine.

        Raises:
            HandshakeError: the handshake is refused.
        """
        allow = self.options.allow_request
        if allow is not None:
            try:
                verdict = allow(request)
            except HandshakeError:
                raise
            except Exception as exc:
                raise Forbidden(context={"message": str(exc) or "Forbidden"}) from exc
            if inspect.isawaitable(verdict):
                return self._handshake_after(request, verdict)
            _check_verdict(verdict)
        return self._new_id(request)

    async def _handshake_after(self, request: HttpRequest, pending: Awaitable[Any]) -> str:
        try:
            verdict = await pending
        except HandshakeError:
            raise
        except Exception as exc:
            raise Forbidden(context={"message": str(exc) or "Forbidden"}) from exc
        _check_verdict(verdict)
        sid = self._new_id(request)
        return sid if isinstance(sid, str) else await sid

    def _new_id(self, request: HttpRequest) -> str | Awaitable[str]:
        check_protocol(request.query)
        try:
            sid = self.generate_id(request)
        except Exception as exc:
            raise _id_error(exc) from exc
        if isinstance(sid, str):
            return sid
        return _await_id(sid)

    # -- WebSocket --------------------------------------------------------------------

    def handle_websocket(
        self, request: HttpRequest
    ) -> WebSocketAccept | HttpResponse | Awaitable[WebSocketAccept | HttpResponse]:
        """Accept or refuse a WebSocket upgrade (see docs/ARCHITECTURE.md §4)."""
        query = request.query
        try:
            self._verify(request, upgrade=True)
        except HandshakeError as exc:
            return self._refuse_upgrade(request, exc)
        sid = query.get("sid")
        if sid:
            conn = self.clients.get(sid)
            if conn is None:
                return self._refuse_upgrade(request, HandshakeError.for_code(1))
            headers = self._ws_headers(request, initial=False)
            return WebSocketAccept(headers, conn._attach_probe)
        try:
            new_sid = self._handshake(request)
        except HandshakeError as exc:
            return self._refuse_upgrade(request, exc)
        if isinstance(new_sid, str):
            return self._accept_new(request, new_sid)
        return self._handshake_websocket(request, new_sid)

    async def _handshake_websocket(
        self, request: HttpRequest, pending: Awaitable[str]
    ) -> WebSocketAccept | HttpResponse:
        try:
            sid = await pending
        except HandshakeError as exc:
            return self._refuse_upgrade(request, exc)
        return self._accept_new(request, sid)

    def _accept_new(self, request: HttpRequest, sid: str) -> WebSocketAccept:
        headers = self._ws_headers(request, initial=True, sid=sid)

        def attach(channel: WebSocketChannel) -> WebSocketHandler:
            conn = EngineSocket(self, sid, request, WEBSOCKET)
            self._register(conn)
            handler = conn._attach_main(channel)
            conn._write_ws([conn.session.open_packet()])
            self._connected(conn)
            return handler

        return WebSocketAccept(headers, attach)

    # -- sessions ---------------------------------------------------------------------

    def _verify(self, request: HttpRequest, *, upgrade: bool) -> None:
        """engine.io's checks of a polling request or an upgrade; raises HandshakeError."""
        verify_request(
            request.method,
            request.query,
            request.headers,
            upgrade=upgrade,
            options=self.options,
            find_session=self._find,
        )

    def _find(self, sid: str) -> EngineSession | None:
        conn = self.clients.get(sid) or self._closing.get(sid)
        return conn.session if conn is not None else None

    def _register(self, conn: EngineSocket) -> None:
        self.clients[conn.id] = conn
        conn._arm()

    def _connected(self, conn: EngineSocket) -> None:
        hook = self.on_connection
        if hook is not None:
            try:
                hook(conn)
            except Exception:
                logger.exception("connection handler failed")
        self.emit_reserved("connection", conn)

    def _session_closed(self, conn: EngineSocket) -> None:
        if self.clients.get(conn.id) is conn:
            del self.clients[conn.id]
        if conn.session.closing_payload_pending:
            self._closing[conn.id] = conn
            conn._loop.call_later(self.options.close_timeout, self._forget, conn)

    def _forget(self, conn: EngineSocket) -> None:
        if self._closing.get(conn.id) is conn:
            del self._closing[conn.id]

    # -- answers ----------------------------------------------------------------------

    def _refuse(self, request: HttpRequest, responder: Responder, exc: HandshakeError) -> None:
        self.emit_reserved(
            "connection_error",
            {"req": request, "code": exc.code, "message": exc.message, "context": exc.context},
        )
        headers = [("content-type", "application/json")]
        headers.extend(self._cors_headers(request))
        responder.respond(exc.status, headers, error_body(exc))

    def _refuse_late_poll(self, responder: Responder, request: HttpRequest) -> None:
        """A GET that waited during the probe, after the upgrade completed: what Node
        answers to a polling request on an upgraded session (TRANSPORT_MISMATCH)."""
        error = HandshakeError.for_code(
            3,
            context={
                "name": "TRANSPORT_MISMATCH",
                "transport": "polling",
                "previousTransport": "websocket",
            },
        )
        self._refuse(request, responder, error)

    def _refuse_upgrade(self, request: HttpRequest, exc: HandshakeError) -> HttpResponse:
        self.emit_reserved(
            "connection_error",
            {"req": request, "code": exc.code, "message": exc.message, "context": exc.context},
        )
        message = exc.context.get("message") if exc.code == 4 else None
        text = message if isinstance(message, str) and message else exc.message
        return HttpResponse(
            400, [("content-type", "text/html"), ("connection", "close")], text.encode()
        )

    def _preflight(self, request: HttpRequest, responder: Responder) -> None:
        cors = self.options.cors_options
        assert cors is not None
        responder.respond(204, preflight_headers(cors, request.headers), b"")

    def _cors_headers(self, request: HttpRequest) -> list[tuple[str, str]]:
        cors = self.options.cors_options
        if cors is None:
            return []
        return cors_headers(cors, request.headers.get("origin"))

    def _hooked(
        self, request: HttpRequest, headers: list[tuple[str, str]], initial: bool
    ) -> list[tuple[str, str]]:
        if not (
            (initial and self.has_listeners("initial_headers")) or self.has_listeners("headers")
        ):
            return headers
        mapping: dict[str, Any] = {}
        for name, value in headers:
            mapping[name] = value
        if initial:
            self.emit_reserved("initial_headers", mapping, request)
        self.emit_reserved("headers", mapping, request)
        out: list[tuple[str, str]] = []
        for name, value in mapping.items():
            if isinstance(value, (list, tuple)):
                out.extend((name, str(v)) for v in value)
            else:
                out.append((name, str(value)))
        return out

    def _ws_headers(
        self, request: HttpRequest, initial: bool, sid: str | None = None
    ) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = []
        cookie = self.options.cookie_options
        if initial and cookie is not None and sid is not None:
            headers.append(("set-cookie", cookie.serialize(sid)))
        return self._hooked(request, headers, initial)

    def _respond_plain(
        self,
        responder: Responder,
        status: int,
        body: bytes,
        request: HttpRequest | None = None,
    ) -> None:
        headers = self._cors_headers(request) if request is not None else []
        responder.respond(status, headers, body)

    def _respond_ok(self, request: HttpRequest, responder: Responder) -> None:
        headers = [("content-type", "text/html")]
        headers.extend(self._cors_headers(request))
        responder.respond(200, self._hooked(request, headers, False), b"ok")

    def _respond_payload(self, conn: EngineSocket, responder: Responder, payload: str) -> None:
        request = responder.request if isinstance(responder, _RequestResponder) else conn.request
        headers = self._cors_headers(request)
        self._send_payload(request, responder, payload, headers)

    def _send_payload(
        self,
        request: HttpRequest,
        responder: Responder,
        payload: str,
        headers: list[tuple[str, str]],
        *,
        sid: str | None = None,
    ) -> None:
        """Answer a GET with a payload; ``sid`` marks the handshake answer."""
        initial = sid is not None
        body = payload.encode("utf-8")
        out = [("content-type", "text/plain; charset=UTF-8"), ("cache-control", "no-store")]
        cookie = self.options.cookie_options
        if sid is not None and cookie is not None:
            out.append(("set-cookie", cookie.serialize(sid)))
        out.extend(headers)
        threshold = self.options.http_compression_threshold
        if threshold is not None and len(body) >= threshold:
            accepted = request.headers.get("accept-encoding", "")
            if "gzip" in accepted:
                body = gzip.compress(body, compresslevel=6, mtime=0)
                out.append(("content-encoding", "gzip"))
            elif "deflate" in accepted:
                body = zlib.compress(body)
                out.append(("content-encoding", "deflate"))
        responder.respond(200, self._hooked(request, out, initial), body)


def _check_verdict(verdict: Any) -> None:
    """``allow_request`` answered ``False`` or a message: refuse with code 4."""
    if verdict is False or isinstance(verdict, str):
        message = verdict if isinstance(verdict, str) else None
        raise Forbidden(context={"message": message})


def _id_error(exc: Exception) -> HandshakeError:
    return HandshakeError.for_code(3, context={"name": "ID_GENERATION_ERROR", "error": exc})


async def _await_id(pending: Awaitable[str]) -> str:
    try:
        return await pending
    except Exception as exc:
        raise _id_error(exc) from exc


class _RequestResponder:
    """A responder that remembers the request it answers (for CORS and the hooks)."""

    __slots__ = ("inner", "request")

    def __init__(self, inner: Responder, request: HttpRequest) -> None:
        self.inner = inner
        self.request = request

    @property
    def on_abort(self) -> Callable[[], None] | None:
        return self.inner.on_abort

    @on_abort.setter
    def on_abort(self, value: Callable[[], None] | None) -> None:
        self.inner.on_abort = value

    def respond(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.inner.respond(status, headers, body)
