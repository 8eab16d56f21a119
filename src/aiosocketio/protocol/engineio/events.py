"""The events of the Engine.IO sessions, server and client (sans-I/O).

Each concept has one class, shared by both sides: :class:`MessageReceived` and
:class:`Closed` are what either session reports for a MESSAGE packet and for the end of
the session. The others belong to one side only, as their docstrings say.
:data:`ServerEvent` and :data:`ClientEvent` are what each session's ``events_received()``
returns.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiosocketio.protocol.engineio.packets import Packet

__all__ = [
    "ClientEvent",
    "Closed",
    "Heartbeat",
    "MessageReceived",
    "Opened",
    "PacketCreated",
    "PacketReceived",
    "PingReceived",
    "ServerEvent",
    "UpgradeAbandoned",
    "Upgraded",
    "Upgrading",
]


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """A MESSAGE packet arrived: the Socket.IO layer's data (text or binary). Both sides."""

    data: str | bytes


@dataclass(frozen=True, slots=True)
class Closed:
    """The session closed (Node's ``close(reason, description)``). Both sides; exactly
    one per session. ``reason`` is one of engine.io's (server) or engine.io-client's
    (client) reason strings."""

    reason: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class PacketReceived:
    """Server: any packet arrived (Node's ``packet`` event); recorded only if asked for."""

    packet: Packet


@dataclass(frozen=True, slots=True)
class PacketCreated:
    """Server: the session queued a packet of its own, a ping (Node's ``packetCreate``
    event, which the I/O layer fires itself for the messages it queues); recorded only if
    asked for."""

    packet: Packet


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Server: a pong arrived (Node's ``heartbeat`` event)."""


@dataclass(frozen=True, slots=True)
class Upgrading:
    """Server: the WebSocket probe answered ``3probe`` (Node's ``upgrading`` event)."""


@dataclass(frozen=True, slots=True)
class Upgraded:
    """Server: the transport is now WebSocket (Node's ``upgrade`` event)."""


@dataclass(frozen=True, slots=True)
class UpgradeAbandoned:
    """Server: the probe failed or timed out; the I/O layer closes the probe connection."""


@dataclass(frozen=True, slots=True)
class Opened:
    """Client: the server's OPEN packet was received; the session is open."""

    sid: str
    upgrades: tuple[str, ...]
    ping_interval: float
    ping_timeout: float
    max_payload: int


@dataclass(frozen=True, slots=True)
class PingReceived:
    """Client: the server pinged (the pong is already queued)."""


ServerEvent = (
    MessageReceived
    | PacketReceived
    | PacketCreated
    | Heartbeat
    | Upgrading
    | Upgraded
    | UpgradeAbandoned
    | Closed
)
"""What :meth:`EngineSession.events_received
<aiosocketio.protocol.engineio.session.EngineSession.events_received>` returns."""

ClientEvent = Opened | MessageReceived | PingReceived | Closed
"""What :meth:`EngineClientSession.events_received
<aiosocketio.protocol.engineio.client_session.EngineClientSession.events_received>` returns."""
