"""The server side of one Engine.IO v4 session, as a sans-I/O state machine.

Theory of operation
-------------------
An :class:`EngineSession` knows nothing of sockets or event loops. The I/O layer feeds
it what arrived (:meth:`receive_data` for a WebSocket message, :meth:`receive_payload`
for a POST body, :meth:`poll`, the upgrade calls) together with the current time, then
reads what to do: :meth:`events_received` for what happened (the events of
:mod:`aiosocketio.protocol.engineio.events`), :meth:`packets_to_send` (WebSocket) or
:meth:`payload_to_send` (polling) for what to write, and :meth:`next_deadline` for when
to call :meth:`handle_timer`.

States: ``open`` → ``closed``. A session is open from the handshake on; every path to
``closed`` goes through :meth:`_close`, which records exactly one ``Closed`` event.

Rules (the invariants the I/O layer relies on):

1. *One transport writes.* ``transport`` is ``"polling"`` or ``"websocket"``; outgoing
   packets wait in one outbox. On WebSocket the I/O layer drains the outbox after every
   call; on polling the outbox is drained only by a pending GET (:attr:`poll_ready`), in
   pieces: a payload carries packets up to ``POLL_PIECE`` bytes (at least one packet), the
   rest waits for the next GET — as engine.io-client bounds its POSTs by ``maxPayload``,
   so that no answer encodes (or compresses) a whole backlog at once.
2. *Heartbeat (spec "Heartbeat", engine.io 6.6.11).* The server pings every
   ``ping_interval``; then it waits ``ping_timeout`` for the pong, else it closes with
   ``ping timeout``. Any other packet that arrives while it waits extends the wait once
   per cycle. A ping from a v4 client is a ``transport error``.
3. *Polling (spec "HTTP long-polling").* One GET may wait at a time: a second one closes
   the session with ``transport error`` (``overlap from client``). A CLOSE packet in a
   POST closes with ``transport close`` (a waiting GET gets a NOOP); an undecodable
   payload with ``parse error``. engine.io-client posts its CLOSE while its own GET is
   in flight on another connection, so that GET may arrive just after the close: one GET
   within ``CLOSED_POLL_WAIT`` of it still gets the NOOP it would have had a moment
   earlier (:attr:`closed_poll_until`), not a 400 for an unknown session.
4. *Upgrade (spec "Upgrade").* A WebSocket opened with this sid is a probe:
   ``2probe`` → ``3probe`` (the ``upgrading`` event), then the GET pending since before
   the probe is released with a NOOP, then ``5`` switches the transport and the outbox
   goes out on WebSocket. A GET that arrives during the upgrade waits up to
   ``LATE_POLL_WAIT``: a NOOP then, or 400 if the upgrade completed meanwhile. Anything
   else on the probe, or ``upgrade_timeout``, abandons it.
5. *Closing by the server.* On polling the outbox is delivered first, then a CLOSE packet
   answers the next GET (:attr:`closing_payload_pending`); on WebSocket the I/O layer
   closes the connection after writing what was queued.
6. *The fast path is the same path.* :meth:`receive_data` hands a MESSAGE straight back to
   the caller instead of recording an event, after the same state check and the same
   pong-wait extension as :meth:`receive_packet`; anything else goes through
   :meth:`receive_packet`. A property test holds the two equal.
7. *Send buffer.* Before a packet is queued, :meth:`check_send_buffer` applies one rule to
   what the transport holds (the WebSocket's unsent bytes, or :attr:`buffered_amount`, the
   polling outbox): over ``max_send_buffer`` a volatile packet is dropped; over 16 times
   that, the session closes with ``transport error`` (``send buffer full``).
8. *Packet events (Node's ``packet`` and ``packetCreate``).* With :attr:`record_packets`,
   every packet received on the session's transport is a :class:`PacketReceived` event
   before what it causes; the probe's packets and a polling CLOSE are not (they are the
   transports' own, as in engine.io). With :attr:`record_created`, every ping the session
   queues is a :class:`PacketCreated` event (the I/O layer reports the messages it queues
   itself); the OPEN packet is created before anyone listens, and the probe's ``3probe``,
   the NOOPs and the CLOSE packets are the transports' own.

9. *Engine.IO v3 (``allow_eio3``).* A session opened with ``EIO=3`` encodes and decodes
   with :mod:`aiosocketio.protocol.engineio.v3` (type-prefixed binary frames, length-
   prefixed payloads) and reverses the heartbeat (as engine.io 6.6 with ``allowEIO3``):
   the client pings, each ping is answered with a pong (without data) and sets the
   deadline to ``ping_interval + ping_timeout`` later, missing it closes with ``ping
   timeout``, other packets do not move it, and a pong from the client is a ``transport
   error`` ("invalid heartbeat direction"). The OPEN packet is the same as v4's.

Why one module of about 700 lines: the rules above (the EIO3 heartbeat among them) are one
state machine over one outbox and one heartbeat; split across files, a rule (the pong-wait
extension, the send-buffer check) would again live in two places, which is what this
layering exists to prevent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from aiosocketio.exceptions import RemoteProtocolError
from aiosocketio.protocol.engineio import v3
from aiosocketio.protocol.engineio.events import (
    Closed,
    Heartbeat,
    MessageReceived,
    PacketCreated,
    PacketReceived,
    ServerEvent,
    UpgradeAbandoned,
    Upgraded,
    Upgrading,
)
from aiosocketio.protocol.engineio.options import EngineOptions
from aiosocketio.protocol.engineio.packets import (
    Packet,
    PacketType,
    decode_packet,
    decode_payload,
    encode_packet,
    encode_payload,
)

__all__ = [
    "CLOSED_POLL_WAIT",
    "HARD_LIMIT_FACTOR",
    "LATE_POLL_WAIT",
    "POLL_PIECE",
    "Clock",
    "EngineSession",
]

_PING = Packet(PacketType.PING)
_PONG = Packet(PacketType.PONG)
_PONG_PROBE = Packet(PacketType.PONG, "probe")
_NOOP = Packet(PacketType.NOOP)
_CLOSE = Packet(PacketType.CLOSE)

POLL_PIECE = 1 << 20
"""Bytes of packets one polling answer carries at most (a larger packet goes alone)."""

HARD_LIMIT_FACTOR = 16
"""Over ``max_send_buffer`` times this, a session closes with "send buffer full"."""

_PACKET_COST = 128
"""What the outbox counts for a packet besides its data: about what Python holds for it
(the packet, its data's object header, the list slot), so that many small packets are
bounded as their memory is."""


def _cost(packet: Packet) -> int:
    data = packet.data
    return _PACKET_COST if data is None else len(data) + _PACKET_COST


class Clock(Protocol):
    """Tells the time, in seconds, on the clock of every ``now`` argument (an asyncio
    event loop is one)."""

    def time(self) -> float:
        """The current time."""


LATE_POLL_WAIT = 0.1
#: Seconds after a client's CLOSE (in a POST, no GET waiting) during which its in-flight
#: GET is still answered with a NOOP (rule 3).
CLOSED_POLL_WAIT = 1.0
"""Seconds a GET that arrives during an upgrade waits for it (Node's upgrade check sends a
NOOP to a waiting GET every 100 ms)."""


class EngineSession:
    """Server-side state of one Engine.IO session (see the module docstring).

    Args:
        sid: the session id.
        transport: the transport of the handshake, ``"polling"`` or ``"websocket"``.
        options: the engine's options.
        now: the current time, in seconds (any monotonic clock).
        record_packets: record a :class:`PacketReceived` event for every packet received
            (rule 8).
        record_created: record a :class:`PacketCreated` event for every ping (rule 8).
    """

    __slots__ = (
        "_close_sent",
        "_decode_frame",
        "_decode_payload",
        "_encode_payload",
        "_events",
        "_late_due",
        "_options",
        "_outbox",
        "_queued",
        "_refreshed",
        "closed_poll_until",
        "closing_payload_pending",
        "description",
        "encode_frame",
        "late_poll_at",
        "ping_at",
        "poll_pending",
        "pong_deadline",
        "probed",
        "protocol",
        "reason",
        "record_created",
        "record_packets",
        "sid",
        "state",
        "transport",
        "upgrade_deadline",
        "upgraded",
        "upgrading",
    )

    def __init__(
        self,
        sid: str,
        transport: str,
        options: EngineOptions,
        now: float,
        *,
        record_packets: bool = False,
        record_created: bool = False,
        protocol: int = 4,
        binary_payloads: bool = False,
    ) -> None:
        self.sid = sid
        self.transport = transport
        self.protocol = protocol
        self.state = "open"
        self._options = options
        self._outbox: list[Packet] = []
        self._queued = 0  # what the outbox counts, by _cost
        self._events: list[ServerEvent] = []
        self.record_packets = record_packets
        self.record_created = record_created
        self.poll_pending = False
        self.closing_payload_pending = False
        #: After a client's CLOSE with no GET waiting: until when one late GET gets a NOOP.
        self.closed_poll_until: float | None = None
        self._close_sent = False
        self.upgrading = False
        self.upgraded = False
        self.probed = False
        self.late_poll_at: float | None = None
        self._late_due = False
        self.upgrade_deadline: float | None = None
        self.ping_at: float | None = now + options.ping_interval
        self.pong_deadline: float | None = None
        self._refreshed = False
        self.encode_frame: Callable[[Packet], str | bytes] = encode_packet
        self._decode_frame: Callable[[str | bytes], Packet] = decode_packet
        self._encode_payload: Callable[[list[Packet]], str | bytes] = encode_payload
        self._decode_payload: Callable[[str], list[Packet]] = decode_payload
        if protocol == 3:
            # v3 (rule 9): the client pings; the session only waits for the next ping.
            self.encode_frame = v3.encode_frame
            self._decode_frame = v3.decode_frame
            self._encode_payload = (
                v3.encode_payload_binary_ok if binary_payloads else v3.encode_payload
            )
            self._decode_payload = v3.decode_payload
            self.ping_at = None
            self.pong_deadline = now + options.ping_interval + options.ping_timeout
            self._refreshed = True  # no extension of the wait by other packets
        self.reason: str | None = None
        self.description: str | None = None

    # -- the handshake ----------------------------------------------------------------

    @property
    def transport_name(self) -> str:
        """The current transport (for request validation)."""
        return self.transport

    def open_packet_data(self, max_payload: int | None = None) -> str:
        """The JSON of the OPEN packet: exactly sid, upgrades, pingInterval, pingTimeout
        and maxPayload (spec "Handshake")."""
        opts = self._options
        upgrades = opts.upgrades_for(self.transport)
        ups = ",".join(f'"{u}"' for u in upgrades)
        payload = max_payload if max_payload is not None else opts.max_http_buffer_size
        return (
            f'{{"sid":"{self.sid}","upgrades":[{ups}],'
            f'"pingInterval":{round(opts.ping_interval * 1000)},'
            f'"pingTimeout":{round(opts.ping_timeout * 1000)},'
            f'"maxPayload":{payload}}}'
        )

    def open_packet(self) -> Packet:
        """The OPEN packet; the caller sends it first (it is not queued)."""
        return Packet(PacketType.OPEN, self.open_packet_data())

    # -- outgoing ---------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.state == "open"

    def send(self, packet: Packet) -> bool:
        """Queue a packet. Returns False (and drops it) when the session is closed.

        After this, on WebSocket call :meth:`packets_to_send`; on polling check
        :attr:`poll_ready`.
        """
        if self.state != "open":
            return False
        self._outbox.append(packet)
        data = packet.data
        self._queued += _PACKET_COST if data is None else len(data) + _PACKET_COST
        return True

    @property
    def buffered_amount(self) -> int:
        """About how many bytes the outbox holds: each packet's data plus what Python
        holds for the packet itself (the polling transport's send buffer, rule 7)."""
        return self._queued

    def check_send_buffer(self, buffered: int, volatile: bool) -> bool:
        """Rule 7: whether a packet may be queued while the transport holds ``buffered``
        bytes (the WebSocket's unsent bytes, or :attr:`buffered_amount` on polling).

        Returns False for a volatile packet over ``max_send_buffer`` (drop it), and over
        :data:`HARD_LIMIT_FACTOR` times that, when the session is now closed with
        ``transport error`` / ``send buffer full``; after a False, read
        :meth:`events_received`.
        """
        if self.state != "open":
            return False
        limit = self._options.max_send_buffer
        if buffered <= limit:
            return True
        if volatile:
            return False
        if buffered > limit * HARD_LIMIT_FACTOR:
            self._close("transport error", "send buffer full")
            return False
        return True

    @property
    def answers_after_close(self) -> float | None:
        """Once closed on polling, for how many seconds a GET may still be answered: the
        server's CLOSE waits ``close_timeout`` for it (rule 5), the client's in-flight GET
        ``CLOSED_POLL_WAIT`` (rule 3); None when no GET is owed anything."""
        if self.closing_payload_pending:
            return self._options.close_timeout
        if self.closed_poll_until is not None:
            return CLOSED_POLL_WAIT
        return None

    @property
    def has_outgoing(self) -> bool:
        return bool(self._outbox)

    def packets_to_send(self) -> list[Packet]:
        """Every queued packet, for a WebSocket write; the outbox is emptied."""
        out = self._outbox
        if out:
            self._outbox = []
            self._queued = 0
        return out

    @property
    def poll_ready(self) -> bool:
        """A GET is waiting and there is something to answer it with."""
        return self.poll_pending and (
            bool(self._outbox) or self.closing_payload_pending or self._late_due
        )

    def poll(self, now: float) -> str | bytes | None:
        """A polling GET arrived. Returns the payload to answer with now, or None when the
        GET must wait (then :attr:`poll_pending` is set).

        Raises:
            RemoteProtocolError: a GET is already waiting (overlap); the session is now
                closed with ``transport error`` and the caller answers 400.
        """
        if self.closing_payload_pending:
            return self.payload_to_send()
        if self.state != "open":
            until = self.closed_poll_until
            if until is not None:
                self.closed_poll_until = None
                if now <= until:
                    return self._encode_payload([_NOOP])
            raise RemoteProtocolError("session closed")
        if self.poll_pending:
            self._close("transport error", "overlap from client")
            raise RemoteProtocolError("overlap from client")
        if self._outbox:
            return self._payload()
        self.poll_pending = True
        if self.upgrading:
            # A GET that arrives while a WebSocket probes the upgrade waits a little (as
            # Node's 100 ms upgrade check): it gets a NOOP, or 400 if the upgrade completes
            # first — its "5" may have been sent before this GET (a transport mismatch).
            self.late_poll_at = now + LATE_POLL_WAIT
        return None

    def take_late_poll(self) -> bool:
        """After :class:`Upgraded`: whether the waiting GET arrived during the probe (the
        caller answers it 400); the wait is cleared either way."""
        late = self.poll_pending and self.late_poll_at is not None
        if late:
            self.poll_pending = False
        self.late_poll_at = None
        return late

    def payload_to_send(self) -> str | bytes:
        """The payload for the waiting GET (see :attr:`poll_ready`); clears the wait."""
        self.poll_pending = False
        self._late_due = False
        self.late_poll_at = None
        if self.closing_payload_pending:
            if self._outbox:
                # As Node: what was buffered goes first; the CLOSE waits for the next GET,
                # so the client handles those packets before it sees the close.
                return self._payload()
            self.closing_payload_pending = False
            self._close_sent = True
            return self._encode_payload([_CLOSE])
        return self._payload()

    def _payload(self) -> str | bytes:
        """The next piece of the outbox as a payload (rule 1), or a NOOP."""
        packets = self._outbox
        if not packets:
            return self._encode_payload([_NOOP])
        if self._queued <= POLL_PIECE:
            self._outbox = []
            self._queued = 0
            return self._encode_payload(packets)
        taken = count = 0
        for packet in packets:
            cost = _cost(packet)
            if count and taken + cost > POLL_PIECE:
                break
            taken += cost
            count += 1
        piece = packets[:count]
        del packets[:count]
        self._queued -= taken
        return self._encode_payload(piece)

    def open_payload(self) -> str | bytes:
        """The answer to a polling handshake: the OPEN packet, in this session's encoding."""
        if self.protocol == 4:
            return "0" + self.open_packet_data()
        return self._encode_payload([self.open_packet()])

    def control_payload(self, close: bool) -> str | bytes:
        """A payload of one CLOSE (``close``) or NOOP packet, in this session's encoding."""
        return self._encode_payload([_CLOSE if close else _NOOP])

    def release_poll(self) -> str | bytes | None:
        """If a GET has been waiting since before the upgrade began, the NOOP payload to
        release it with (at the probe, so that the client can pause polling)."""
        if self.poll_pending and self.late_poll_at is None:
            self.poll_pending = False
            return self._encode_payload([_NOOP])
        return None

    def poll_aborted(self) -> None:
        """The waiting GET's connection went away: ``transport error`` (Node's
        "poll connection closed prematurely")."""
        if self.poll_pending:
            self.poll_pending = False
            self._close("transport error", "poll connection closed prematurely")

    # -- incoming ---------------------------------------------------------------------

    def receive_payload(self, body: str | bytes, now: float, binary: bool = False) -> None:
        """A polling POST body arrived (``bytes`` are decoded as UTF-8: an invalid body
        is a ``parse error``; with ``binary``, a v3 binary payload).
        After this, read :meth:`events_received`."""
        if self.state != "open":
            return
        if binary and self.protocol == 3 and isinstance(body, bytes):
            try:
                packets = v3.decode_binary_payload(body)
            except RemoteProtocolError as exc:
                self._close("parse error", str(exc))
                return
            self._receive_all(packets, now)
            return
        if not isinstance(body, str):
            try:
                body = body.decode("utf-8")
            except UnicodeDecodeError:
                self._close("parse error", "invalid UTF-8")
                return
        try:
            packets = self._decode_payload(body)
        except RemoteProtocolError as exc:
            self._close("parse error", str(exc))
            return
        self._receive_all(packets, now)

    def _receive_all(self, packets: list[Packet], now: float) -> None:
        for packet in packets:
            if packet.type == PacketType.CLOSE:
                if self.transport == "polling" and not self.poll_pending:
                    self.closed_poll_until = now + CLOSED_POLL_WAIT
                self._close("transport close")
                return
            self.receive_packet(packet, now)
            if self.state != "open":
                return

    def receive_data(self, data: str | bytes, clock: Clock) -> str | bytes | None:
        """One WebSocket message arrived on the session's WebSocket: the fast entry.

        Args:
            data: the message (``str`` for a text frame, ``bytes`` for a binary one).
            clock: tells the current time. It is read only when a rule needs the time
                (a MESSAGE while a pong is awaited, or any other packet): a clock read
                per message would cost as much as the rest of this path.

        Returns:
            The data of a MESSAGE packet (text without its ``4``, or the bytes of a binary
            message), which the caller delivers; nothing was recorded. Or ``None``: the
            message went through :meth:`receive_packet` (a parse error closes the
            session with ``parse error``); then read :meth:`events_received` and drain
            :meth:`packets_to_send`.

        The caller drains :meth:`events_received` before each call, so that a returned
        message is delivered after the events that preceded it.
        """
        # A MESSAGE (spec "Packet encoding"): text "4<data>", or any binary message.
        if type(data) is str:
            if data[:1] == "4" and self.state == "open" and not self.record_packets:
                if self.pong_deadline is not None and not self._refreshed:
                    self._extend_pong_wait(clock.time())
                return data[1:]
        elif (
            type(data) is bytes
            and self.state == "open"
            and not self.record_packets
            and self.protocol == 4
        ):
            if self.pong_deadline is not None and not self._refreshed:
                self._extend_pong_wait(clock.time())
            return data
        self._receive_other(data, clock)
        return None

    def _receive_other(self, data: str | bytes, clock: Clock) -> None:
        """:meth:`receive_data` for what is not a MESSAGE handed back: the general path."""
        if self.state != "open":
            return
        try:
            packet = self._decode_frame(data)
        except RemoteProtocolError as exc:
            self._close("parse error", str(exc))
            return
        self.receive_packet(packet, clock.time())

    def receive_packet(self, packet: Packet, now: float) -> None:
        """One packet arrived on the current transport. Read :meth:`events_received`."""
        if self.state != "open":
            return
        if self.record_packets:
            self._events.append(PacketReceived(packet))
        ptype = packet.type
        if self.pong_deadline is not None and not self._refreshed and ptype != PacketType.PONG:
            self._extend_pong_wait(now)
        if ptype == PacketType.MESSAGE:
            assert packet.data is not None
            self._events.append(MessageReceived(packet.data))
        elif ptype == PacketType.PONG:
            if self.protocol == 3:
                self._close("transport error", "invalid heartbeat direction")
                return
            self.pong_deadline = None
            self.ping_at = now + self._options.ping_interval
            self._events.append(Heartbeat())
        elif ptype == PacketType.PING:
            if self.protocol != 3:
                self._close("transport error", "invalid heartbeat direction")
                return
            # v3 (rule 9): answer with a pong and wait for the next ping
            self.pong_deadline = now + self._options.ping_interval + self._options.ping_timeout
            self._outbox.append(_PONG)
            self._queued += _PACKET_COST
            if self.record_created:
                self._events.append(PacketCreated(_PONG))
            self._events.append(Heartbeat())
        elif ptype == PacketType.CLOSE:
            self._close("transport close")
        # NOOP, UPGRADE and OPEN outside an upgrade are ignored, as in Node.

    def _extend_pong_wait(self, now: float) -> None:
        """Rule 2: a packet other than the pong, while the pong is awaited, moves the
        deadline to ``now + ping_timeout`` (once per cycle). The caller checks that
        ``pong_deadline`` is set and ``_refreshed`` is not."""
        self.pong_deadline = now + self._options.ping_timeout
        self._refreshed = True

    def events_received(self) -> list[ServerEvent]:
        """What happened since the last call, in order."""
        events = self._events
        if events:
            self._events = []
        return events

    # -- upgrade ----------------------------------------------------------------------

    def begin_upgrade(self, now: float) -> bool:
        """A WebSocket arrived with this sid. False: refuse it (close the new socket)."""
        if (
            self.state != "open"
            or self.upgrading
            or self.upgraded
            or self.transport != "polling"
            or not self._options.upgrades_for("polling")
        ):
            return False
        self.upgrading = True
        self.probed = False
        self.upgrade_deadline = now + self._options.upgrade_timeout
        return True

    def receive_probe_data(self, data: str | bytes, now: float) -> str | None:
        """A message arrived on the probe WebSocket. Returns a text message to answer on
        it (``3probe``), or None. Anything undecodable abandons the upgrade.

        After this, read :meth:`events_received` (as after :meth:`receive_probe_packet`).
        """
        try:
            packet = decode_packet(data)
        except RemoteProtocolError:
            self.abort_upgrade()
            return None
        reply = self.receive_probe_packet(packet, now)
        if reply is None:
            return None
        encoded = encode_packet(reply)
        assert isinstance(encoded, str)
        return encoded

    def receive_probe_packet(self, packet: Packet, now: float) -> Packet | None:
        """A packet arrived on the probe WebSocket. Returns a packet to send on it.

        After this, read :meth:`events_received`; an :class:`UpgradeAbandoned` event
        means: close the probe. On :class:`Upgraded`, release any waiting GET with
        :meth:`release_poll` and move the outbox to the WebSocket.
        """
        if not self.upgrading:
            return None
        if packet.type == PacketType.PING and packet.data == "probe" and not self.probed:
            self.probed = True
            self._events.append(Upgrading())
            return _PONG_PROBE
        if packet.type == PacketType.UPGRADE and self.probed and self.state == "open":
            self.upgrading = False
            self.probed = False
            self.upgraded = True
            self.upgrade_deadline = None
            self.transport = "websocket"
            self._events.append(Upgraded())
            return None
        self.abort_upgrade()
        return None

    def abort_upgrade(self) -> None:
        """Abandon the probe (it closed, misbehaved or timed out)."""
        if self.upgrading:
            self.upgrading = False
            self.probed = False
            self.upgrade_deadline = None
            if self.late_poll_at is not None:
                self.late_poll_at = None
                self._late_due = True  # the GET that waited for the upgrade gets a NOOP
            self._events.append(UpgradeAbandoned())

    # -- timers -----------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timer` must next be called (None: no timer)."""
        if self.state != "open":
            return None
        best = self.pong_deadline if self.pong_deadline is not None else self.ping_at
        for other in (self.upgrade_deadline, self.late_poll_at):
            if other is not None and (best is None or other < best):
                best = other
        return best

    def handle_timer(self, now: float) -> None:
        """Run what is due at ``now``: a ping, a ping timeout, an upgrade timeout.

        After this, drain the outbox (a ping may have been queued) and read the events.
        """
        if self.state != "open":
            return
        if self.upgrade_deadline is not None and now >= self.upgrade_deadline:
            self.abort_upgrade()
        if self.late_poll_at is not None and now >= self.late_poll_at:
            self.late_poll_at = None
            self._late_due = True
        if self.pong_deadline is not None:
            if now >= self.pong_deadline:
                self._close("ping timeout")
            return
        ping_at = self.ping_at
        if ping_at is not None and now >= ping_at:
            self.ping_at = None
            self._refreshed = False
            # From when the ping was due, not from when the timer fired: a late timer
            # must not make the ping-timeout close later still (spec "Heartbeat": the
            # session closes pingInterval + pingTimeout after the last pong).
            self.pong_deadline = ping_at + self._options.ping_timeout
            self._outbox.append(_PING)
            self._queued += _PACKET_COST
            if self.record_created:
                self._events.append(PacketCreated(_PING))

    # -- closing ----------------------------------------------------------------------

    def close(self, reason: str = "forced close", description: str | None = None) -> None:
        """Close from the server side. On polling a CLOSE packet waits for the next GET
        (:attr:`closing_payload_pending`); on WebSocket the caller closes the connection.
        """
        if self.state != "open":
            return
        if self.transport == "polling":
            self.closing_payload_pending = True
        self._close(reason, description)

    def transport_closed(self, error: bool = False, description: str | None = None) -> None:
        """The current transport's connection went away."""
        self._close("transport error" if error else "transport close", description)

    def _close(self, reason: str, description: str | None = None) -> None:
        if self.state == "closed":
            return
        self.state = "closed"
        self.reason = reason
        self.description = description
        self.ping_at = None
        self.pong_deadline = None
        self.upgrade_deadline = None
        self.late_poll_at = None
        if self.upgrading:
            self.upgrading = False
            self._events.append(UpgradeAbandoned())
        if not self.closing_payload_pending:
            self._outbox = []
            self._queued = 0
        self._events.append(Closed(reason, description))
