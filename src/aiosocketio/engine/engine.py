"""The async Engine.IO server, shared by the native front end and the ASGI app.

The :class:`Engine` validates requests (:mod:`aiosocketio.protocol.engineio.handshake`),
refuses bad ones with Node's codes, handshakes new sessions (polling or direct WebSocket),
and routes each later request to its :class:`~aiosocketio.engine.socket.EngineSocket`.
Its answers (CORS, the session cookie, gzip/deflate for large polling answers, the
``initial_headers``/``headers`` hooks) are built by its
:class:`~aiosocketio.engine.answers.HttpAnswers`; its sessions are kept in a
:class:`~aiosocketio.engine.sessions.SessionTable`, which is all that a connection knows of
its engine.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiosocketio.engine.answers import HttpAnswers
from aiosocketio.engine.http import (
    HttpRequest,
    HttpResponse,
    Responder,
    WebSocketAccept,
    WebSocketChannel,
    WebSocketHandler,
)
from aiosocketio.engine.sessions import SessionTable
from aiosocketio.engine.socket import POLLING, WEBSOCKET, EngineSocket
from aiosocketio.exceptions import Forbidden, HandshakeError
from aiosocketio.protocol.engineio.handshake import base64id, check_protocol, verify_request
from aiosocketio.protocol.engineio.options import EngineOptions
from aiosocketio.runtime.events import EventEmitter

__all__ = ["DRAIN_STEP", "Engine"]

logger = logging.getLogger("aiosocketio.engine")

DRAIN_STEP = 0.01
"""Seconds between two looks at the sessions while :meth:`Engine.drain` waits."""


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
        self._answers = HttpAnswers(self.options, self)
        self._sessions: SessionTable[EngineSocket] = SessionTable(self.options, self._answers)
        #: The open sessions by id.
        self.clients: dict[str, EngineSocket] = self._sessions.open
        self.on_connection: Callable[[EngineSocket], None] | None = None
        #: Whether new sessions are accepted. The Socket.IO server's ``close()`` clears it:
        #: a handshake then gets ``503`` (the open sessions are served until they close).
        self.accepting = True
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

    def clients_by_transport(self) -> dict[str, int]:
        """How many sessions are open on each transport now (``{"websocket": 3,
        "polling": 1}``; a transport without sessions is left out): one pass over the
        sessions, for the readers of statistics (``Server.stats``, the metrics, the
        Admin UI), nothing counted while serving."""
        return self.census()[0]

    def census(self) -> tuple[dict[str, int], int]:
        """:meth:`clients_by_transport` and how many sessions are upgrading their
        transport, in the same single pass over the sessions."""
        out: dict[str, int] = {}
        upgrading = 0
        for conn in list(self.clients.values()):
            name = conn.transport.name
            out[name] = out.get(name, 0) + 1
            if conn.upgrading:
                upgrading += 1
        return out, upgrading

    @property
    def closing_count(self) -> int:
        """How many closed polling sessions still answer a GET: closed by the server,
        their CLOSE packet waits for it; closed by their client, the GET it may have had in
        flight gets a NOOP (for at most ``CLOSED_POLL_WAIT``)."""
        return len(self._sessions.closing)

    def generate_id(self, request: HttpRequest) -> str | Awaitable[str]:
        """The id of a new session. Override it (sync or async) for custom ids."""
        return base64id()

    async def close(self) -> None:
        """Close every session."""
        for conn in list(self.clients.values()):
            conn.close(True)
        await asyncio.sleep(0)

    async def drain(
        self, deadline: float, on_polling_done: Callable[[], None] | None = None
    ) -> None:
        """Close every session once what is queued for it has gone out; at ``deadline``
        (the loop's clock), drop the sessions that still hold data.

        Call it after the last packets are queued (the Socket.IO server queues a
        DISCONNECT behind every socket's backlog), and after clearing :attr:`accepting`.
        A WebSocket session is drained when its outbox and its connection's write buffer
        are empty: its close frame then goes out. A polling session is drained when a GET
        took the last of its outbox: the CLOSE packet then waits for the next GET (a
        waiting GET gets it at once). A session that its client closes meanwhile (the
        official client closes on DISCONNECT) needs nothing more. Sessions closed before
        whose last packets still wait for a GET are waited for too.

        ``on_polling_done`` is called once no polling session needs another request (a
        polling client may open a new TCP connection for its next GET, so the front end
        keeps listening until then).
        """
        loop = asyncio.get_running_loop()
        sessions = self._sessions
        while True:
            polling = False
            for conn in list(self.clients.values()):
                if conn.drained:
                    conn.close()
                elif conn.transport is POLLING:
                    polling = True
            if on_polling_done is not None and not polling:
                if not any(c.session.has_outgoing for c in sessions.closing.values()):
                    on_polling_done()
                    on_polling_done = None
            if not self.clients and not any(
                c.session.has_outgoing for c in sessions.closing.values()
            ):
                break
            if loop.time() >= deadline:
                break
            await asyncio.sleep(min(DRAIN_STEP, max(0.0, deadline - loop.time())))
        for conn in list(self.clients.values()):
            logger.debug("dropping %s: not drained within the grace period", conn.id)
            conn.abort()
        for conn in list(sessions.closing.values()):
            sessions.forget(conn)
        if on_polling_done is not None:
            on_polling_done()

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
                responder.respond(status, [*headers, *self._answers.cors_headers(request)], body)
                return None
        answers = self._answers
        if request.method == "OPTIONS" and self.options.cors_options is not None:
            answers.preflight(request, responder)
            return None
        query = request.query
        try:
            self._verify(request, upgrade=False)
        except HandshakeError as exc:
            answers.refuse(request, responder, exc)
            return None
        sid = query.get("sid")
        if sid:
            conn = self._sessions.get(sid)
            assert conn is not None  # _verify refused an unknown sid
            if body is None:
                answers.empty(responder, 413, request)
                return None
            if request.method == "GET":
                conn.handle_poll(request, responder)
            elif request.method == "POST":
                conn.handle_post(request, body, responder)
            else:
                answers.empty(responder, 400, request)
            return None
        if not self.accepting:
            answers.unavailable(request, responder)
            return None
        try:
            new_sid = self._handshake(request)
        except HandshakeError as exc:
            answers.refuse(request, responder, exc)
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
            self._answers.refuse(request, responder, exc)
            return
        self._open_polling(request, responder, sid)

    def _open_polling(self, request: HttpRequest, responder: Responder, sid: str) -> None:
        conn = EngineSocket(self._sessions, sid, request, POLLING)
        payload = conn.session.open_payload()
        self._answers.payload(request, responder, payload, sid=sid)
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
        check_protocol(request.query, self.options.allow_eio3)
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
        answers = self._answers
        try:
            self._verify(request, upgrade=True)
        except HandshakeError as exc:
            return answers.refuse_upgrade(request, exc)
        sid = query.get("sid")
        if sid:
            conn = self.clients.get(sid)
            if conn is None:
                return answers.refuse_upgrade(request, HandshakeError.for_code(1))
            headers = answers.websocket_headers(request, initial=False)
            return WebSocketAccept(headers, conn.attach_probe)
        if not self.accepting:
            return answers.unavailable_upgrade(request)
        try:
            new_sid = self._handshake(request)
        except HandshakeError as exc:
            return answers.refuse_upgrade(request, exc)
        if isinstance(new_sid, str):
            return self._accept_new(request, new_sid)
        return self._handshake_websocket(request, new_sid)

    async def _handshake_websocket(
        self, request: HttpRequest, pending: Awaitable[str]
    ) -> WebSocketAccept | HttpResponse:
        try:
            sid = await pending
        except HandshakeError as exc:
            return self._answers.refuse_upgrade(request, exc)
        return self._accept_new(request, sid)

    def _accept_new(self, request: HttpRequest, sid: str) -> WebSocketAccept:
        headers = self._answers.websocket_headers(request, initial=True, sid=sid)

        def attach(channel: WebSocketChannel) -> WebSocketHandler:
            conn = EngineSocket(self._sessions, sid, request, WEBSOCKET)
            handler = conn.attach_websocket(channel)
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
            find_session=self._sessions.find_session,
        )

    def _connected(self, conn: EngineSocket) -> None:
        hook = self.on_connection
        if hook is not None:
            try:
                hook(conn)
            except Exception:
                logger.exception("connection handler failed")
        self.emit_reserved("connection", conn)


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
