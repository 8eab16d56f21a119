"""The async Engine.IO server, shared by the native front end and the ASGI app.

The :class:`Engine` validates requests (:mod:`aiosocketio.engineio.handshake`), owns the
sessions, and pumps each :class:`~aiosocketio.engineio.session.EngineSession` (the
sans-I/O state machine): it feeds it what arrives, writes what it returns, and runs its
timers with ``loop.call_at`` — one timer handle per session, no task per connection.

The hot path is :meth:`EngineSocket.write_prepared`: a Socket.IO packet is encoded once
into a :class:`PreparedMessage` whose WebSocket frame bytes are built once and appended
to every recipient's write buffer.
"""

from __future__ import annotations

import asyncio
import gzip
import inspect
import logging
import zlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiosocketio.engineio.handshake import (
    base64id,
    check_protocol,
    error_body,
    verify_request,
)
from aiosocketio.engineio.options import EngineOptions
from aiosocketio.engineio.packets import Packet, PacketType, decode_packet, encode_packet
from aiosocketio.engineio.session import (
    Closed,
    EngineSession,
    Heartbeat,
    Message,
    PacketReceived,
    UpgradeAbandoned,
    Upgraded,
    Upgrading,
)
from aiosocketio.exceptions import Forbidden, HandshakeError, RemoteProtocolError
from aiosocketio.io.emitter import Emitter
from aiosocketio.io.http import (
    HttpRequest,
    HttpResponse,
    Responder,
    WebSocketAccept,
    WebSocketChannel,
    WebSocketHandler,
)
from aiosocketio.io.websocket import binary_frame, text_frame

__all__ = ["Engine", "EngineSocket", "PreparedMessage", "Transport"]

logger = logging.getLogger("aiosocketio.engineio")

_MESSAGE = PacketType.MESSAGE
_CLOSE_PAYLOAD = "1"
_HARD_LIMIT_FACTOR = 16


class Transport:
    """What ``conn.transport`` shows: its ``name`` ("polling" or "websocket")."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<Transport {self.name}>"


POLLING = Transport("polling")
WEBSOCKET = Transport("websocket")


class PreparedMessage:
    """One Socket.IO packet encoded once and shared by every recipient.

    Args:
        parts: ``Encoder.encode()`` output: the text, then any binary attachments.
    """

    __slots__ = ("_ws", "parts")

    def __init__(self, parts: Sequence[str | bytes]) -> None:
        self.parts = tuple(parts)
        self._ws: bytes | None = None

    @property
    def ws_bytes(self) -> bytes:
        """The WebSocket frames of every part, built on first use."""
        ws = self._ws
        if ws is None:
            frames = []
            for part in self.parts:
                if isinstance(part, str):
                    frames.append(text_frame("4" + part))
                else:
                    frames.append(binary_frame(part))
            ws = self._ws = b"".join(frames)
        return ws

    def packets(self) -> list[Packet]:
        """The parts as Engine.IO MESSAGE packets (for polling and the slow path)."""
        return [Packet(_MESSAGE, part) for part in self.parts]


class _NullHandler:
    """The handler of a WebSocket that was closed on arrival."""

    __slots__ = ()

    def on_message(self, data: str | bytes) -> None:
        pass

    def on_close(self, code: int | None) -> None:
        pass


class _MainHandler:
    """Messages from the session's own WebSocket."""

    __slots__ = ("conn",)

    def __init__(self, conn: EngineSocket) -> None:
        self.conn = conn

    def on_message(self, data: str | bytes) -> None:
        self.conn._ws_message(data)

    def on_close(self, code: int | None) -> None:
        self.conn._ws_closed(code)


class _ProbeHandler:
    """Messages from a WebSocket that is probing an upgrade (until it becomes main)."""

    __slots__ = ("channel", "conn")

    def __init__(self, conn: EngineSocket, channel: WebSocketChannel) -> None:
        self.conn = conn
        self.channel = channel

    def on_message(self, data: str | bytes) -> None:
        conn = self.conn
        if conn._channel is self.channel:
            conn._ws_message(data)
        else:
            conn._probe_message(self.channel, data)

    def on_close(self, code: int | None) -> None:
        conn = self.conn
        if conn._channel is self.channel:
            conn._ws_closed(code)
        else:
            conn._probe_closed(self.channel)


class EngineSocket(Emitter):
    """One Engine.IO connection: Node's ``conn`` (``socket.conn`` in Socket.IO).

    Events (``conn.on(...)``): ``message``, ``close(reason, description)``, ``upgrading``,
    ``upgrade``, ``packet``, ``packet_create``, ``drain``, ``heartbeat``.

    Attributes:
        id: the session id (20 characters).
        request: the handshake request.
        protocol: the Engine.IO protocol revision (4).
        transport: the current transport; ``transport.name`` is "polling" or "websocket".
        on_message: the Socket.IO layer's fast hook for incoming messages.
        on_close_hook: the Socket.IO layer's fast hook for the close.
    """

    __slots__ = (
        "_channel",
        "_direct",
        "_flush_scheduled",
        "_loop",
        "_probe",
        "_responder",
        "_timer",
        "_timer_at",
        "engine",
        "id",
        "on_close_hook",
        "on_message",
        "protocol",
        "request",
        "session",
        "transport",
    )

    def __init__(
        self, engine: Engine, sid: str, request: HttpRequest, transport: Transport
    ) -> None:
        super().__init__()
        self.engine = engine
        self.id = sid
        self.request = request
        self.protocol = 4
        self.transport = transport
        self._loop = asyncio.get_running_loop()
        self.session = EngineSession(sid, transport.name, engine.options, self._loop.time())
        self._channel: WebSocketChannel | None = None
        self._probe: WebSocketChannel | None = None
        self._responder: Responder | None = None
        self._direct = False
        self._flush_scheduled = False
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self.on_message: Callable[[str | bytes], None] | None = None
        self.on_close_hook: Callable[[str, str | None], None] | None = None

    # -- public API -------------------------------------------------------------------

    @property
    def ready_state(self) -> str:
        """``"open"``, ``"closing"`` or ``"closed"``."""
        s = self.session
        if s.state == "open":
            return "open"
        return "closing" if s.closing_payload_pending else "closed"

    @property
    def upgraded(self) -> bool:
        """Whether the session moved from polling to WebSocket."""
        return self.session.upgraded

    @property
    def upgrading(self) -> bool:
        return self.session.upgrading

    @property
    def remote_address(self) -> str:
        return self.request.remote_address

    def send(self, data: str | bytes, *, volatile: bool = False, compress: bool = True) -> None:
        """Send one MESSAGE packet (text or binary)."""
        if isinstance(data, str):
            self.write_prepared(PreparedMessage((data,)), volatile=volatile)
        else:
            self._send_packets([Packet(_MESSAGE, bytes(data))], volatile)

    def write_prepared(self, msg: PreparedMessage, *, volatile: bool = False) -> None:
        """Send a prepared message. On a WebSocket this is one append to a write buffer."""
        if self._direct:
            channel = self._channel
            assert channel is not None
            if channel.buffered_amount > self.engine.options.max_send_buffer:
                if volatile:
                    return
                if not self._check_hard_limit(channel):
                    return
            if self._listeners:
                self._emit_created(msg.packets())
            channel.write_frames(msg.ws_bytes)
            return
        self._send_packets(msg.packets(), volatile)

    def close(self, discard: bool = False) -> None:
        """Close the connection from the server side (reason "forced close")."""
        session = self.session
        if session.state != "open":
            return
        session.close("forced close")
        self._after()

    def _add(self, event: str, handler: Callable[..., Any]) -> None:
        if event == "packet":
            self.session.record_packets = True
        super()._add(event, handler)

    # -- internals: sending -----------------------------------------------------------

    def _check_hard_limit(self, channel: WebSocketChannel) -> bool:
        limit = self.engine.options.max_send_buffer * _HARD_LIMIT_FACTOR
        if channel.buffered_amount > limit:
            logger.warning("closing %s: send buffer over %d bytes", self.id, limit)
            self.session.transport_closed(True, "send buffer full")
            self._after()
            return False
        return True

    def _emit_created(self, packets: list[Packet]) -> None:
        if self.has_listeners("packet_create"):
            for packet in packets:
                self.emit("packet_create", packet)

    def _send_packets(self, packets: list[Packet], volatile: bool) -> None:
        session = self.session
        if session.state != "open":
            return
        if volatile:
            if session.transport == "polling" and not session.poll_pending:
                return
            channel = self._channel
            if (
                session.transport == "websocket"
                and channel is not None
                and channel.buffered_amount > self.engine.options.max_send_buffer
            ):
                return
        if self._listeners:
            self._emit_created(packets)
        for packet in packets:
            session.send(packet)
        if session.transport == "websocket":
            self._write_ws(session.take_outgoing())
        elif session.poll_ready:
            self._schedule_poll_flush()

    def _write_ws(self, packets: list[Packet]) -> None:
        channel = self._channel
        if channel is None or not packets:
            return
        if channel.can_write_frames:
            frames = []
            for packet in packets:
                encoded = encode_packet(packet)
                if isinstance(encoded, str):
                    frames.append(text_frame(encoded))
                else:
                    frames.append(binary_frame(encoded))
            channel.write_frames(b"".join(frames))
        else:
            for packet in packets:
                channel.send_message(encode_packet(packet))
        if self.has_listeners("drain"):
            self.emit("drain")

    def _schedule_poll_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush_poll)

    def _flush_poll(self) -> None:
        self._flush_scheduled = False
        responder = self._responder
        session = self.session
        if responder is None or not session.poll_ready:
            return
        self._responder = None
        responder.on_abort = None
        self.engine._respond_payload(self, responder, session.take_payload())
        if self.has_listeners("drain"):
            self.emit("drain")
        if session.state != "open":
            self.engine._forget(self)

    # -- internals: after every session call ------------------------------------------

    def _after(self) -> None:
        """Dispatch the session's events, write its outbox, re-arm its timer."""
        session = self.session
        for event in session.events_received():
            self._dispatch(event)
        if session.has_outgoing:
            if session.transport == "websocket" and session.state == "open":
                self._write_ws(session.take_outgoing())
            elif session.poll_ready:
                self._schedule_poll_flush()
        elif session.poll_ready:
            self._schedule_poll_flush()
        self._arm()

    def _dispatch(self, event: object) -> None:
        if isinstance(event, Message):
            self._deliver(event.data)
        elif isinstance(event, Closed):
            self._on_closed(event.reason, event.description)
        elif isinstance(event, Heartbeat):
            self.emit("heartbeat")
        elif isinstance(event, PacketReceived):
            self.emit("packet", event.packet)
        elif isinstance(event, Upgrading):
            self.emit("upgrading", WEBSOCKET)
            released = self.session.release_poll()
            if released is not None:
                self._answer_poll(released)
        elif isinstance(event, Upgraded):
            self._on_upgraded()
        elif isinstance(event, UpgradeAbandoned):
            probe = self._probe
            self._probe = None
            if probe is not None:
                probe.close(1000)

    def _deliver(self, data: str | bytes) -> None:
        hook = self.on_message
        if hook is not None:
            try:
                hook(data)
            except Exception:
                logger.exception("message handler failed on %s", self.id)
        if self._listeners:
            self.emit("message", data)

    def _answer_poll(self, payload: str) -> None:
        responder = self._responder
        if responder is not None:
            self._responder = None
            responder.on_abort = None
            self.engine._respond_payload(self, responder, payload)

    def _arm(self) -> None:
        deadline = self.session.next_deadline()
        timer = self._timer
        if deadline is None:
            if timer is not None:
                timer.cancel()
                self._timer = None
            return
        if timer is not None:
            if self._timer_at <= deadline:
                return
            timer.cancel()
        self._timer_at = deadline
        self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.session.handle_timer(self._loop.time())
        self._after()

    # -- internals: polling -----------------------------------------------------------

    def _handle_poll(self, responder: Responder) -> None:
        session = self.session
        try:
            payload = session.poll(self._loop.time())
        except RemoteProtocolError:
            self.engine._respond_plain(responder, 400, b"")
            self._after()
            return
        if payload is not None:
            self.engine._respond_payload(self, responder, payload)
            if session.state != "open":
                self.engine._forget(self)
            self._after()
            return
        self._responder = responder
        responder.on_abort = self._poll_aborted

    def _poll_aborted(self) -> None:
        self._responder = None
        self.session.poll_aborted()
        self._after()

    def _handle_post(self, request: HttpRequest, body: bytes, responder: Responder) -> None:
        session = self.session
        engine = self.engine
        if request.headers.get("content-type") == "application/octet-stream":
            engine._respond_plain(responder, 400, b"")
            session.transport_closed(True, "invalid content")
            self._after()
            return
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            engine._respond_ok(request, responder)
            session._close("parse error", "invalid UTF-8")
            self._after()
            return
        session.receive_payload(text, self._loop.time())
        engine._respond_ok(request, responder)
        self._after()

    # -- internals: WebSocket ---------------------------------------------------------

    def _attach_main(self, channel: WebSocketChannel) -> WebSocketHandler:
        self._channel = channel
        self._direct = channel.can_write_frames
        return _MainHandler(self)

    def _attach_probe(self, channel: WebSocketChannel) -> WebSocketHandler:
        if not self.session.begin_upgrade(self._loop.time()) or self._probe is not None:
            channel.close(1000)
            return _NullHandler()
        self._probe = channel
        self._arm()
        return _ProbeHandler(self, channel)

    def _probe_message(self, channel: WebSocketChannel, data: str | bytes) -> None:
        if channel is not self._probe:
            return
        try:
            packet = decode_packet(data)
        except RemoteProtocolError:
            self.session.abort_upgrade()
            self._after()
            return
        reply = self.session.receive_probe_packet(packet, self._loop.time())
        if reply is not None:
            encoded = encode_packet(reply)
            if channel.can_write_frames and isinstance(encoded, str):
                channel.write_frames(text_frame(encoded))
            else:
                channel.send_message(encoded)
        self._after()

    def _probe_closed(self, channel: WebSocketChannel) -> None:
        if channel is self._probe:
            self._probe = None
            self.session.abort_upgrade()
            self._after()

    def _on_upgraded(self) -> None:
        probe = self._probe
        self._probe = None
        assert probe is not None
        released = self.session.release_poll()
        if released is not None:
            self._answer_poll(released)
        self._channel = probe
        self._direct = probe.can_write_frames
        self.transport = WEBSOCKET
        self.emit("upgrade", WEBSOCKET)

    def _ws_message(self, data: str | bytes) -> None:
        session = self.session
        if type(data) is str and data[:1] == "4" and not session.record_packets:
            # Fast path: a text MESSAGE needs no packet object.
            if session.state != "open":
                return
            if session.pong_deadline is not None:
                session.note_activity(self._loop.time())
            self._deliver(data[1:])
            return
        try:
            packet = decode_packet(data)
        except RemoteProtocolError as exc:
            session._close("parse error", str(exc))
            self._after()
            return
        session.receive_packet(packet, self._loop.time())
        self._after()

    def _ws_closed(self, code: int | None) -> None:
        self._channel = None
        self._direct = False
        session = self.session
        if session.state == "open":
            if code is None or code in (1000, 1001, 1005):
                session.transport_closed(False)
            else:
                session.transport_closed(True, f"websocket closed with code {code}")
            self._after()

    # -- internals: closing -----------------------------------------------------------

    def _on_closed(self, reason: str, description: str | None) -> None:
        timer = self._timer
        if timer is not None:
            timer.cancel()
            self._timer = None
        self._direct = False
        probe = self._probe
        self._probe = None
        if probe is not None:
            probe.close(1000)
        channel = self._channel
        if channel is not None:
            self._channel = None
            channel.close(1000)
        session = self.session
        responder = self._responder
        if responder is not None:
            self._responder = None
            responder.on_abort = None
            if session.closing_payload_pending:
                payload = session.take_payload()
            else:
                payload = _CLOSE_PAYLOAD
            self.engine._respond_payload(self, responder, payload)
        self.engine._session_closed(self)
        hook = self.on_close_hook
        if hook is not None:
            try:
                hook(reason, description)
            except Exception:
                logger.exception("close handler failed on %s", self.id)
        self.emit("close", reason, description)


class Engine(Emitter):
    """The Engine.IO server: request validation, sessions, CORS, cookies, compression.

    Args:
        options: the :class:`EngineOptions`; keyword arguments build one instead.

    Events (``engine.on(...)``): ``connection(conn)``, ``initial_headers(headers,
    request)``, ``headers(headers, request)`` (every answer, the 101 included) and
    ``connection_error(error)`` where ``error`` is ``{"req", "code", "message",
    "context"}``.
    """

    def __init__(self, options: EngineOptions | None = None, **kwargs: Any) -> None:
        super().__init__()
        self.options = options if options is not None else EngineOptions(**kwargs)
        self.clients: dict[str, EngineSocket] = {}
        self._closing: dict[str, EngineSocket] = {}
        self.on_connection: Callable[[EngineSocket], None] | None = None

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

    # -- HTTP -------------------------------------------------------------------------

    def handle_request(
        self, request: HttpRequest, body: bytes | None, responder: Responder
    ) -> Awaitable[None] | None:
        """Handle one polling request (see docs/ARCHITECTURE.md §4)."""
        cors = self.options.cors_options
        if request.method == "OPTIONS" and cors is not None:
            self._preflight(request, responder)
            return None
        query = request.query
        try:
            verify_request(
                request.method,
                query,
                request.headers,
                upgrade=False,
                options=self.options,
                find_session=self._find,
            )
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
        return self._handshake_polling(request, responder)

    async def _handshake_polling(self, request: HttpRequest, responder: Responder) -> None:
        try:
            sid = await self._handshake(request)
        except HandshakeError as exc:
            self._refuse(request, responder, exc)
            return
        conn = EngineSocket(self, sid, request, POLLING)
        self._register(conn)
        payload = "0" + conn.session.open_packet_data()
        self._send_payload(request, responder, payload, self._cors_headers(request), sid=sid)
        self._connected(conn)

    async def _handshake(self, request: HttpRequest) -> str:
        allow = self.options.allow_request
        if allow is not None:
            try:
                verdict = allow(request)
                if inspect.isawaitable(verdict):
                    verdict = await verdict
            except HandshakeError:
                raise
            except Exception as exc:
                raise Forbidden(context={"message": str(exc) or "Forbidden"}) from exc
            if verdict is False or isinstance(verdict, str):
                message = verdict if isinstance(verdict, str) else None
                raise Forbidden(context={"message": message})
        check_protocol(request.query)
        try:
            sid = self.generate_id(request)
            if not isinstance(sid, str):
                sid = await sid
        except Exception as exc:
            raise HandshakeError.for_code(
                3, context={"name": "ID_GENERATION_ERROR", "error": exc}
            ) from exc
        return sid

    # -- WebSocket --------------------------------------------------------------------

    def handle_websocket(
        self, request: HttpRequest
    ) -> WebSocketAccept | HttpResponse | Awaitable[WebSocketAccept | HttpResponse]:
        """Accept or refuse a WebSocket upgrade (see docs/ARCHITECTURE.md §4)."""
        query = request.query
        try:
            verify_request(
                request.method,
                query,
                request.headers,
                upgrade=True,
                options=self.options,
                find_session=self._find,
            )
        except HandshakeError as exc:
            return self._refuse_upgrade(request, exc)
        sid = query.get("sid")
        if sid:
            conn = self.clients.get(sid)
            if conn is None:
                return self._refuse_upgrade(request, HandshakeError.for_code(1))
            headers = self._ws_headers(request, initial=False)
            return WebSocketAccept(headers, conn._attach_probe)
        return self._handshake_websocket(request)

    async def _handshake_websocket(self, request: HttpRequest) -> WebSocketAccept | HttpResponse:
        try:
            sid = await self._handshake(request)
        except HandshakeError as exc:
            return self._refuse_upgrade(request, exc)
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
        self.emit("connection", conn)

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
        self.emit(
            "connection_error",
            {"req": request, "code": exc.code, "message": exc.message, "context": exc.context},
        )
        headers = [("content-type", "application/json")]
        headers.extend(self._cors_headers(request))
        responder.respond(exc.status, headers, error_body(exc))

    def _refuse_upgrade(self, request: HttpRequest, exc: HandshakeError) -> HttpResponse:
        self.emit(
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
        headers = self._cors_headers(request)
        headers.append(("access-control-allow-methods", ",".join(cors.methods)))
        if cors.allowed_headers is not None:
            allowed = ",".join(cors.allowed_headers)
        else:
            allowed = request.headers.get("access-control-request-headers", "")
        if allowed:
            headers.append(("access-control-allow-headers", allowed))
            headers.append(("vary", "Access-Control-Request-Headers"))
        if cors.max_age is not None:
            headers.append(("access-control-max-age", str(cors.max_age)))
        responder.respond(204, headers, b"")

    def _cors_headers(self, request: HttpRequest) -> list[tuple[str, str]]:
        cors = self.options.cors_options
        if cors is None:
            return []
        origin = request.headers.get("origin")
        allowed = cors.origin
        headers: list[tuple[str, str]] = []
        if allowed == "*" and not cors.credentials:
            headers.append(("access-control-allow-origin", "*"))
        else:
            value: str | None
            if allowed is True or allowed == "*":
                value = origin
            elif isinstance(allowed, str):
                value = allowed
            elif callable(allowed):
                ok = allowed(origin)
                value = origin if ok is True else None
            elif allowed:
                value = origin if origin in allowed else None
            else:
                value = None
            if value:
                headers.append(("access-control-allow-origin", value))
            headers.append(("vary", "Origin"))
        if cors.credentials:
            headers.append(("access-control-allow-credentials", "true"))
        if cors.exposed_headers:
            headers.append(("access-control-expose-headers", ",".join(cors.exposed_headers)))
        return headers

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
            self.emit("initial_headers", mapping, request)
        self.emit("headers", mapping, request)
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
