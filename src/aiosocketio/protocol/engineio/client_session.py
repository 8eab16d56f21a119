"""Client-side Engine.IO v4 state, sans I/O.

Theory of operation
-------------------
One :class:`EngineClientSession` follows one Engine.IO connection as the client sees it.
The I/O layer (``aiosocketio.client.connection``) feeds it what the transport received
(:meth:`receive_payload` for a polling response body, :meth:`receive_data` for one
WebSocket message), then drains :meth:`events_received` (the events of
:mod:`aiosocketio.protocol.engineio.events`) and :meth:`packets_to_send`.
Time is passed in: the caller arms a timer for :meth:`next_deadline` and calls
:meth:`handle_timer` when it fires.

Invariants:

* Rule 1: the session is ``opening`` until the OPEN packet arrives, then ``open``, then
  ``closed``; it never goes back. Exactly one ``Closed`` event is produced.
* Rule 2: while an upgrade is in progress (:meth:`pause`), outgoing packets stay buffered;
  :meth:`resume` releases them, in order, to the new transport.
* Rule 3: the receive path never raises. Garbage closes the session with ``parse error``.

Heartbeat (Engine.IO v4 spec, "Heartbeat"): the server pings every ``pingInterval``; the
client answers each ping with a pong and gives up with ``ping timeout`` when no ping came
for ``pingInterval + pingTimeout``.
"""

from __future__ import annotations

import json
from typing import Any

from aiosocketio.exceptions import RemoteProtocolError
from aiosocketio.protocol.engineio.events import (
    ClientEvent,
    Closed,
    MessageReceived,
    Opened,
    PingReceived,
)
from aiosocketio.protocol.engineio.packets import Packet, PacketType, decode_packet, decode_payload

__all__ = ["EngineClientSession"]


class EngineClientSession:
    """The client side of one Engine.IO v4 session (no I/O, time passed in).

    After every ``receive_*`` or :meth:`handle_timer` call, drain :meth:`events_received`
    and write :meth:`packets_to_send` to the current transport.
    """

    __slots__ = (
        "_events",
        "_last_ping",
        "_out",
        "_paused",
        "max_payload",
        "ping_interval",
        "ping_timeout",
        "sid",
        "state",
        "upgrades",
    )

    def __init__(self) -> None:
        self.state = "opening"
        self.sid: str | None = None
        self.upgrades: tuple[str, ...] = ()
        self.ping_interval = 25.0
        self.ping_timeout = 20.0
        self.max_payload = 1_000_000
        self._last_ping = 0.0
        self._events: list[ClientEvent] = []
        self._out: list[Packet] = []
        self._paused = False

    # -- receiving -------------------------------------------------------------------
    def receive_payload(self, body: str, now: float) -> None:
        """Feed one polling response body (packets joined with ``\\x1e``)."""
        if self.state == "closed":
            return
        try:
            packets = decode_payload(body)
        except RemoteProtocolError as exc:
            self.close("parse error", str(exc))
            return
        for packet in packets:
            self.receive_packet(packet, now)
            if self.state == "closed":
                return

    def receive_data(self, data: str | bytes, now: float) -> None:
        """Feed one WebSocket message (one packet)."""
        if self.state == "closed":
            return
        try:
            packet = decode_packet(data)
        except RemoteProtocolError as exc:
            self.close("parse error", str(exc))
            return
        self.receive_packet(packet, now)

    def receive_packet(self, packet: Packet, now: float) -> None:
        """Handle one decoded packet."""
        if self.state == "closed":
            return
        kind = packet.type
        if kind == PacketType.MESSAGE:
            if self.state == "open" and packet.data is not None:
                self._events.append(MessageReceived(packet.data))
        elif kind == PacketType.PING:
            if self.state == "open":
                self._last_ping = now
                self._out.append(Packet(PacketType.PONG, packet.data))
                self._events.append(PingReceived())
        elif kind == PacketType.OPEN:
            self._receive_open(packet.data, now)
        elif kind == PacketType.CLOSE:
            self.close("transport close")
        # PONG (outside a probe), UPGRADE and NOOP carry nothing for the client.

    def _receive_open(self, data: str | bytes | None, now: float) -> None:
        if self.state != "opening":
            return
        try:
            info: Any = json.loads(data or "")
            sid = info["sid"]
            if not isinstance(sid, str) or not sid:
                raise ValueError("bad sid")
            upgrades = tuple(str(u) for u in info.get("upgrades", ()))
            ping_interval = float(info.get("pingInterval", 25000)) / 1000
            ping_timeout = float(info.get("pingTimeout", 20000)) / 1000
            max_payload = int(info.get("maxPayload", 1_000_000))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            self.close("parse error", f"invalid handshake: {exc}")
            return
        self.sid = sid
        self.upgrades = upgrades
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.max_payload = max_payload
        self.state = "open"
        self._last_ping = now
        self._events.append(Opened(sid, upgrades, ping_interval, ping_timeout, max_payload))

    # -- sending ---------------------------------------------------------------------
    def send_message(self, data: str | bytes) -> None:
        """Queue a MESSAGE packet; then call :meth:`packets_to_send`."""
        if self.state != "closed":
            self._out.append(Packet(PacketType.MESSAGE, data))

    def packets_to_send(self) -> list[Packet]:
        """Return (and forget) the packets to write, unless an upgrade holds them."""
        if self._paused or not self._out:
            return []
        out = self._out
        self._out = []
        return out

    @property
    def buffered(self) -> int:
        """How many packets wait to be written."""
        return len(self._out)

    def pause(self) -> None:
        """Hold outgoing packets while the transport is being upgraded."""
        self._paused = True

    def resume(self) -> None:
        """Release held packets (to the new transport); then call :meth:`packets_to_send`."""
        self._paused = False

    # -- time ------------------------------------------------------------------------
    def next_deadline(self) -> float | None:
        """When :meth:`handle_timer` must run next: the heartbeat deadline, if open."""
        if self.state != "open":
            return None
        return self._last_ping + self.ping_interval + self.ping_timeout

    def handle_timer(self, now: float) -> None:
        """Close with ``ping timeout`` when no ping came in time."""
        deadline = self.next_deadline()
        if deadline is not None and now >= deadline:
            self.close("ping timeout")

    # -- closing ---------------------------------------------------------------------
    def close(self, reason: str, description: str | None = None) -> None:
        """Close the session once; a :class:`Closed` event records why."""
        if self.state == "closed":
            return
        self.state = "closed"
        self._out.clear()
        self._events.append(Closed(reason, description))

    def events_received(self) -> list[ClientEvent]:
        """Return (and forget) the events produced since the last call."""
        events = self._events
        self._events = []
        return events
