"""One Engine.IO connection (Node's ``conn``).

:class:`EngineSocket` pumps one sans-I/O
:class:`~aiosocketio.protocol.engineio.session.EngineSession`: it feeds it what arrives on the
polling requests or the WebSocket, writes what the session returns, and books its
deadline on the engine's timer wheel — no task and no timer handle per connection.

It knows its engine only through the :class:`~aiosocketio.engine.sessions.SessionTable`
it belongs to (the options, the HTTP answers, the wheel). The Engine hands it requests
and WebSockets through its public methods (:meth:`EngineSocket.handle_poll`,
:meth:`~EngineSocket.handle_post`, :meth:`~EngineSocket.attach_websocket`,
:meth:`~EngineSocket.attach_probe`).

The hot paths:

* out: :meth:`EngineSocket.write_prepared`. A
  :class:`~aiosocketio.protocol.prepared.PreparedMessage` holds a Socket.IO packet encoded
  once, and its WebSocket frame bytes are built once and appended to every recipient's
  write buffer.
* in: a WebSocket message goes to :meth:`EngineSession.receive_data
  <aiosocketio.protocol.engineio.session.EngineSession.receive_data>`, which hands a
  MESSAGE straight back for delivery; everything else is read from the session's events.

Why one module of about 600 lines: it holds one class (with the handlers that the front
ends call for its WebSockets). Its polling, WebSocket, upgrade and closing parts all work
on the same few fields (the session, the channel, the waiting GET, the booked deadline),
and the WebSocket handlers reach them directly to keep each message to one call into the
session. Split across modules, those parts would have to make that state public.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from aiosocketio.engine.http import HttpRequest, Responder, WebSocketChannel, WebSocketHandler
from aiosocketio.engine.sessions import SessionTable
from aiosocketio.exceptions import RemoteProtocolError
from aiosocketio.protocol.engineio.events import (
    Closed,
    Heartbeat,
    MessageReceived,
    PacketCreated,
    PacketReceived,
    UpgradeAbandoned,
    Upgraded,
    Upgrading,
)
from aiosocketio.protocol.engineio.handshake import protocol_revision
from aiosocketio.protocol.engineio.packets import Packet, PacketType
from aiosocketio.protocol.engineio.session import EngineSession
from aiosocketio.protocol.prepared import PreparedMessage, websocket_frames
from aiosocketio.protocol.websocket import text_frame
from aiosocketio.runtime.events import EventEmitter

__all__ = ["POLLING", "WEBSOCKET", "EngineSocket", "Transport"]

logger = logging.getLogger("aiosocketio.engine")

_MESSAGE = PacketType.MESSAGE


class Transport:
    """What ``conn.transport`` shows: its ``name`` ("polling" or "websocket")."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<Transport {self.name}>"


POLLING = Transport("polling")
WEBSOCKET = Transport("websocket")


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
        # The path of every WebSocket message, kept to one call into the session: the
        # session hands a MESSAGE back and it is delivered here (as in _ProbeHandler).
        conn = self.conn
        message = conn.session.receive_data(data, conn._loop)
        if message is None:
            conn._after()
            return
        if conn._events:
            conn.emit_reserved("message", message)
        hook = conn.on_message
        if hook is not None:
            try:
                hook(message)
            except Exception:
                logger.exception("message handler failed on %s", conn.id)

    def on_close(self, code: int | None) -> None:
        self.conn._ws_closed(code)


class _ProbeHandler:
    """Messages from a WebSocket that is probing an upgrade; once the upgrade is done,
    it is the session's WebSocket and its messages take the path of _MainHandler."""

    __slots__ = ("channel", "conn")

    def __init__(self, conn: EngineSocket, channel: WebSocketChannel) -> None:
        self.conn = conn
        self.channel = channel

    def on_message(self, data: str | bytes) -> None:
        conn = self.conn
        if conn._channel is not self.channel:
            conn._probe_message(self.channel, data)
            return
        message = conn.session.receive_data(data, conn._loop)
        if message is None:
            conn._after()
            return
        if conn._events:
            conn.emit_reserved("message", message)
        hook = conn.on_message
        if hook is not None:
            try:
                hook(message)
            except Exception:
                logger.exception("message handler failed on %s", conn.id)

    def on_close(self, code: int | None) -> None:
        conn = self.conn
        if conn._channel is self.channel:
            conn._ws_closed(code)
        else:
            conn._probe_closed(self.channel)


class EngineSocket(EventEmitter):
    """One Engine.IO connection: Node's ``conn`` (``socket.conn`` in Socket.IO).

    Events (``conn.on(...)``): ``message``, ``close(reason, description)``, ``upgrading``,
    ``upgrade``, ``packet``, ``packet_create``, ``drain``, ``heartbeat``. As in Node,
    ``packet`` fires for every packet received on the current transport and
    ``packet_create`` for every packet the connection queues (messages, pings), each before
    what it causes (see the session's rule 8); ``message`` listeners run before the
    Socket.IO layer handles the message.

    The Engine creates it (it joins ``sessions`` and books its first deadline) and hands
    it the session's requests: :meth:`handle_poll`, :meth:`handle_post`,
    :meth:`attach_websocket`, :meth:`attach_probe`.

    Args:
        sessions: the table of the engine that owns the session.
        sid: the session id.
        request: the handshake request.
        transport: the transport of the handshake.

    Attributes:
        id: the session id (20 characters).
        request: the handshake request.
        protocol: the Engine.IO protocol revision (4).
        transport: the current transport; ``transport.name`` is "polling" or "websocket".
        session: the sans-I/O session.
        on_message: the Socket.IO layer's fast hook for incoming messages.
        on_close_hook: the Socket.IO layer's fast hook for the close.
    """

    __slots__ = (
        "_channel",
        "_events",
        "_flush_scheduled",
        "_loop",
        "_once_events",
        "_poll_request",
        "_probe",
        "_responder",
        "_sessions",
        "_timer_at",
        "_timer_slot",
        "_wheel",
        "id",
        "on_close_hook",
        "on_message",
        "protocol",
        "request",
        "session",
        "transport",
    )

    def __init__(
        self,
        sessions: SessionTable[EngineSocket],
        sid: str,
        request: HttpRequest,
        transport: Transport,
    ) -> None:
        self._init_events()
        self._sessions = sessions
        self.id = sid
        self.request = request
        self.protocol = protocol_revision(request.query)
        self.transport = transport
        loop = self._loop = asyncio.get_running_loop()
        self.session = EngineSession(
            sid,
            transport.name,
            sessions.options,
            loop.time(),
            protocol=self.protocol,
            binary_payloads=self.protocol == 3 and "b64" not in request.query,
        )
        # The WebSocket the session writes to (set while it is open on WebSocket).
        self._channel: WebSocketChannel | None = None
        self._probe: WebSocketChannel | None = None
        # The waiting GET and its request.
        self._responder: Responder | None = None
        self._poll_request: HttpRequest | None = None
        self._flush_scheduled = False
        self._wheel = sessions.timer_wheel(loop)
        self._timer_slot = -1  # the wheel slot of the booked deadline; -1: none
        self._timer_at = 0.0
        self.on_message: Callable[[str | bytes], None] | None = None
        self.on_close_hook: Callable[[str, str | None], None] | None = None
        sessions.add(self)
        self._arm()

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
        """Whether a WebSocket probe is under way."""
        return self.session.upgrading

    @property
    def remote_address(self) -> str:
        """The peer's IP address."""
        return self.request.remote_address

    def send(self, data: str | bytes, *, volatile: bool = False, compress: bool = True) -> None:
        """Send one MESSAGE packet (text or binary)."""
        if isinstance(data, str):
            self.write_prepared(PreparedMessage((data,)), volatile=volatile)
        else:
            self._send_packets([Packet(_MESSAGE, bytes(data))], volatile)

    def write_prepared(self, msg: PreparedMessage, *, volatile: bool = False) -> None:
        """Send a prepared message. On a WebSocket this is one append to a write buffer."""
        channel = self._channel
        if channel is not None:
            buffered = channel.buffered_amount
            if buffered > self._sessions.options.max_send_buffer and not self._admit(
                buffered, volatile
            ):
                return
            if self._events:
                self._emit_created(msg.packets())
            if self.protocol == 3 and len(msg.parts) > 1:
                # v3 binary frames carry a type byte: the session encodes them
                self._send_packets(msg.packets(), volatile)
            elif channel.can_write_frames:
                channel.write_frames(msg.ws_bytes)
            else:
                for message in msg.ws_messages:
                    channel.send_message(message)
            return
        self._send_packets(msg.packets(), volatile)

    def close(self, discard: bool = False) -> None:
        """Close the connection from the server side (reason "forced close")."""
        session = self.session
        if session.state != "open":
            return
        session.close("forced close")
        self._after()

    @property
    def drained(self) -> bool:
        """Nothing is queued for the client: the session's outbox is empty, and its
        WebSocket has written everything (``WebSocketChannel.drained``)."""
        if self.session.has_outgoing:
            return False
        channel = self._channel
        return channel is None or channel.drained

    def abort(self) -> None:
        """Close at once, dropping what is queued for the client (reason "forced close"):
        the WebSocket is dropped without a close frame; a waiting GET gets the CLOSE
        packet. For a shutdown whose grace period is over."""
        session = self.session
        if session.state != "open":
            return
        channel = self._channel
        self._channel = None  # no close frame behind the backlog: the connection goes
        session.close("forced close")
        session.packets_to_send()  # the backlog is dropped with the connection
        self._after()
        if channel is not None:
            channel.drop()

    def _add_listener(self, event: str, fn: Callable[..., Any], once: bool, prepend: bool) -> None:
        if event == "packet":
            self.session.record_packets = True
        elif event == "packet_create":
            self.session.record_created = True
        super()._add_listener(event, fn, once, prepend)

    # -- for the Engine ---------------------------------------------------------------

    def handle_poll(self, request: HttpRequest, responder: Responder) -> None:
        """A polling GET of this session: answer it now, or keep it until there is
        something to send (then ``responder.on_abort`` is set)."""
        session = self.session
        sessions = self._sessions
        try:
            payload = session.poll(self._loop.time())
        except RemoteProtocolError:
            sessions.answers.empty(responder, 400)
            self._after()
            return
        if payload is not None:
            sessions.answers.payload(request, responder, payload)
            if session.state != "open" and not session.closing_payload_pending:
                sessions.forget(self)
            self._after()
            return
        self._responder = responder
        self._poll_request = request
        responder.on_abort = self._poll_aborted
        if session.late_poll_at is not None:
            self._arm()  # a GET during a probed upgrade waits at most a moment

    def handle_post(self, request: HttpRequest, body: bytes, responder: Responder) -> None:
        """A polling POST of this session: its packets are received, then it is answered
        (``200 ok``; 400 for a binary content type, which closes the session)."""
        session = self.session
        answers = self._sessions.answers
        binary = request.headers.get("content-type") == "application/octet-stream"
        if binary and self.protocol == 3:
            session.receive_payload(body, self._loop.time(), binary=True)
            answers.ok(request, responder)
            self._after()
            return
        if binary:
            answers.empty(responder, 400)
            session.transport_closed(True, "invalid content")
            self._after()
            return
        session.receive_payload(body, self._loop.time())
        answers.ok(request, responder)
        self._after()

    def attach_websocket(self, channel: WebSocketChannel) -> WebSocketHandler:
        """The WebSocket of a session opened on WebSocket: it becomes the session's
        transport, and the OPEN packet is written to it."""
        self._channel = channel
        self._write_ws([self.session.open_packet()])
        return _MainHandler(self)

    def attach_probe(self, channel: WebSocketChannel) -> WebSocketHandler:
        """A WebSocket that arrived with this polling session's id: it probes an upgrade,
        or is closed if the session cannot upgrade now."""
        if not self.session.begin_upgrade(self._loop.time()) or self._probe is not None:
            channel.close(1000)
            return _NullHandler()
        self._probe = channel
        self._arm()
        return _ProbeHandler(self, channel)

    # -- internals: sending -----------------------------------------------------------

    def _admit(self, buffered: int, volatile: bool) -> bool:
        """The send-buffer rule (the session's rule 7) for a packet while the transport
        holds ``buffered`` bytes, over the soft limit: False drops the packet (a volatile
        one, or any once the session closed for "send buffer full")."""
        session = self.session
        if session.check_send_buffer(buffered, volatile):
            return True
        if session.state != "open" and session.description == "send buffer full":
            logger.warning("closing %s: send buffer full (%d bytes queued)", self.id, buffered)
            self._after()
        return False

    def _emit_created(self, packets: Sequence[Packet]) -> None:
        if self.has_listeners("packet_create"):
            for packet in packets:
                self.emit_reserved("packet_create", packet)

    def _send_packets(self, packets: Sequence[Packet], volatile: bool) -> None:
        session = self.session
        if session.state != "open":
            return
        channel = self._channel
        if channel is not None:
            buffered = channel.buffered_amount
        elif volatile and not session.poll_pending:
            return  # as Node: a volatile packet needs a writable transport (a waiting GET)
        else:
            buffered = session.buffered_amount
        if buffered > self._sessions.options.max_send_buffer and not self._admit(
            buffered, volatile
        ):
            return
        if self._events:
            self._emit_created(packets)
        for packet in packets:
            session.send(packet)
        if channel is not None:
            self._write_ws(session.packets_to_send())
        elif session.poll_ready:
            self._schedule_poll_flush()

    def _write_ws(self, packets: list[Packet]) -> None:
        channel = self._channel
        if channel is None or not packets:
            return
        encode = self.session.encode_frame
        if channel.can_write_frames:
            channel.write_frames(websocket_frames(packets, encode))
        else:
            for packet in packets:
                channel.send_message(encode(packet))
        if self.has_listeners("drain"):
            self.emit_reserved("drain")

    def _schedule_poll_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush_poll)

    def _flush_poll(self) -> None:
        self._flush_scheduled = False
        session = self.session
        if self._responder is None or not session.poll_ready:
            return
        self._answer_poll(session.payload_to_send())
        if self.has_listeners("drain"):
            self.emit_reserved("drain")
        if session.state != "open" and not session.closing_payload_pending:
            self._sessions.forget(self)

    def _answer_poll(self, payload: str | bytes) -> None:
        """Answer the waiting GET, if there is one, with ``payload``."""
        responder = self._responder
        if responder is not None:
            request = self._poll_request
            assert request is not None
            self._responder = None
            self._poll_request = None
            responder.on_abort = None
            self._sessions.answers.payload(request, responder, payload)

    def _poll_aborted(self) -> None:
        self._responder = None
        self._poll_request = None
        self.session.poll_aborted()
        self._after()

    # -- internals: after every session call ------------------------------------------

    def _after(self) -> None:
        """Dispatch the session's events, write its outbox, re-arm its timer."""
        session = self.session
        for event in session.events_received():
            self._dispatch(event)
        if session.has_outgoing:
            if session.transport == "websocket" and session.state == "open":
                self._write_ws(session.packets_to_send())
            elif session.poll_ready:
                self._schedule_poll_flush()
        elif session.poll_ready:
            self._schedule_poll_flush()
        self._arm()

    def _dispatch(self, event: object) -> None:
        if isinstance(event, MessageReceived):
            self._deliver(event.data)
        elif isinstance(event, Closed):
            self._on_closed(event.reason, event.description)
        elif isinstance(event, Heartbeat):
            self.emit_reserved("heartbeat")
        elif isinstance(event, PacketReceived):
            self.emit_reserved("packet", event.packet)
        elif isinstance(event, PacketCreated):
            self.emit_reserved("packet_create", event.packet)
        elif isinstance(event, Upgrading):
            self.emit_reserved("upgrading", WEBSOCKET)
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
        # The "message" listeners first, as in Node, where the Socket.IO layer answers a
        # message a tick later: a listener sees each message before what it causes.
        if self._events:
            self.emit_reserved("message", data)
        hook = self.on_message
        if hook is not None:
            try:
                hook(data)
            except Exception:
                logger.exception("message handler failed on %s", self.id)

    def _arm(self) -> None:
        deadline = self.session.next_deadline()
        slot = self._timer_slot
        if deadline is None:
            if slot >= 0:
                self._wheel.cancel(self, slot)
                self._timer_slot = -1
            return
        if slot >= 0:
            if self._timer_at <= deadline:
                return  # an earlier wake-up is booked; it books the next one
            self._wheel.cancel(self, slot)
        self._timer_at = deadline
        self._timer_slot = self._wheel.schedule(self, deadline)

    def _wheel_fired(self, slot: int) -> None:
        if slot != self._timer_slot:
            return  # a deadline moved or cancelled meanwhile
        self._timer_slot = -1
        # The wheel calls an owner once its deadline has come by the loop's clock, which
        # may read a resolution step behind the timer that woke it: the deadline is due.
        self.session.handle_timer(max(self._loop.time(), self._timer_at))
        self._after()

    # -- internals: WebSocket ---------------------------------------------------------

    def _ws_closed(self, code: int | None) -> None:
        self._channel = None
        session = self.session
        if session.state == "open":
            if code is None or code in (1000, 1001, 1005):
                session.transport_closed(False)
            else:
                session.transport_closed(True, f"websocket closed with code {code}")
            self._after()

    def _probe_message(self, channel: WebSocketChannel, data: str | bytes) -> None:
        if channel is not self._probe:
            return
        reply = self.session.receive_probe_data(data, self._loop.time())
        if reply is not None:
            if channel.can_write_frames:
                channel.write_frames(text_frame(reply))
            else:
                channel.send_message(reply)
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
        if self.session.take_late_poll():
            responder = self._responder
            request = self._poll_request
            self._responder = None
            self._poll_request = None
            if responder is not None:
                assert request is not None
                responder.on_abort = None
                self._sessions.answers.refuse_late_poll(request, responder)
        else:
            released = self.session.release_poll()
            if released is not None:
                self._answer_poll(released)
        self._channel = probe
        self.transport = WEBSOCKET
        self.emit_reserved("upgrade", WEBSOCKET)

    # -- internals: closing -----------------------------------------------------------

    def _on_closed(self, reason: str, description: str | None) -> None:
        slot = self._timer_slot
        if slot >= 0:
            self._wheel.cancel(self, slot)
            self._timer_slot = -1
        probe = self._probe
        self._probe = None
        if probe is not None:
            probe.close(1000)
        channel = self._channel
        if channel is not None:
            self._channel = None
            channel.close(1000)
        session = self.session
        if self._responder is not None:
            if session.closing_payload_pending:
                payload = session.payload_to_send()
            elif reason == "transport close":
                # The client closed (a CLOSE packet in a POST): Node releases the
                # waiting GET with a NOOP; on any other close it sends CLOSE.
                payload = session.control_payload(False)
            else:
                payload = session.control_payload(True)
            self._answer_poll(payload)
        self._sessions.closed(self, self._loop)
        hook = self.on_close_hook
        # The hooks are bound methods of the layer above, which holds this object: clear
        # them so the pair is freed by refcount instead of the cyclic GC.
        self.on_close_hook = None
        self.on_message = None
        if hook is not None:
            try:
                hook(reason, description)
            except Exception:
                logger.exception("close handler failed on %s", self.id)
        self.emit_reserved("close", reason, description)
