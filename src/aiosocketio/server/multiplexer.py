"""``Multiplexer``: the Socket.IO state of one Engine.IO connection (Node's ``Client``).

One connection carries one socket per namespace. The client decodes the incoming
messages (through the engine socket's ``on_message`` fast hook), routes each packet to the
socket of its namespace, connects new namespaces, and closes the connection when it joins
no namespace within ``connect_timeout``.

Invalid input never raises into the engine: a malformed packet closes the connection
with the reason ``parse error``; a packet in the wrong state (a second CONNECT for the same
namespace, an event for a namespace that is not connected) closes it with ``forced server
close``, as Node does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl

from aiosocketio.frontends.stats import (
    CONNECTION_CLOSED,
    EIO_PARSE_ERROR,
    HANDSHAKE_REJECTED,
    SIO_INVALID_STATE,
    SIO_PARSE_ERROR,
    LimitStats,
    prepared_size,
)
from aiosocketio.protocol.prepared import PreparedMessage
from aiosocketio.protocol.socketio.packets import Packet, PacketType
from aiosocketio.runtime.events import spawn
from aiosocketio.server.namespace import Namespace, ParentNamespace
from aiosocketio.server.socket import PacketEncoder, Socket

if TYPE_CHECKING:
    from aiosocketio.engine.socket import EngineSocket

__all__ = ["Multiplexer", "MultiplexerServer", "PacketDecoder"]

logger = logging.getLogger("aiosocketio.server")

_CONNECT = PacketType.CONNECT
_CONNECT_ERROR = PacketType.CONNECT_ERROR
_EVENT = PacketType.EVENT
_BINARY_EVENT = PacketType.BINARY_EVENT


class PacketDecoder(Protocol):
    """A connection's Socket.IO decoder (it reassembles binary attachments)."""

    def receive(self, data: str | bytes) -> Packet | None:
        """Decode one Engine.IO message: a packet once it is complete, else None."""
        ...

    def reset(self) -> None:
        """Drop a half-received packet."""
        ...


class MultiplexerServer(Protocol):
    """What the multiplexer of a connection needs from the server."""

    @property
    def connect_timeout(self) -> float:
        """Seconds a connection may stay without joining any namespace."""
        ...

    @property
    def encoder(self) -> PacketEncoder:
        """The Socket.IO encoder."""
        ...

    @property
    def counters(self) -> LimitStats:
        """The counters of malformed input."""
        ...

    @property
    def _nsps(self) -> Mapping[str, Namespace]: ...

    @property
    def _parent_nsps(self) -> Mapping[ParentNamespace, None]: ...

    def _new_decoder(self) -> PacketDecoder: ...


class Multiplexer:
    """The per-connection router (internal).

    Attributes:
        server: the Socket.IO server.
        conn: the Engine.IO connection.
        sockets: the connected sockets of this connection, by socket id.
        nsps: the same sockets, by namespace name.
    """

    __slots__ = ("_connect_timer", "closed", "conn", "decoder", "id", "nsps", "server", "sockets")

    def __init__(self, server: MultiplexerServer, conn: EngineSocket) -> None:
        self.server = server
        self.conn = conn
        self.id: str = conn.id
        self.decoder = server._new_decoder()
        self.sockets: dict[str, Socket] = {}
        self.nsps: dict[str, Socket] = {}
        self.closed = False
        conn.on_message = self._on_message
        conn.on_close_hook = self._on_engine_close
        stats = server.counters
        if stats.detailed:
            stats.connections_opened += 1
        self._connect_timer: asyncio.TimerHandle | None = asyncio.get_running_loop().call_later(
            server.connect_timeout, self._on_connect_timeout
        )
        if conn.protocol == 3:
            self._connect("/", {})  # Socket.IO v2: every client joins "/" unasked

    def __repr__(self) -> str:
        return f"<Multiplexer id={self.id!r} namespaces={list(self.nsps)}>"

    # -- incoming ---------------------------------------------------------------------------

    def _on_message(self, data: str | bytes) -> None:
        if self.closed:
            return
        try:
            packet = self.decoder.receive(data)
        except Exception as exc:
            self._on_parse_error(exc)
            return
        stats = self.server.counters
        if stats.detailed:
            stats.packets_in += 1
            stats.bytes_in += len(data)
            if packet is not None and (packet.type is _EVENT or packet.type is _BINARY_EVENT):
                stats.events_in += 1
        if packet is None:
            return
        socket = self.nsps.get(packet.nsp)
        ptype = packet.type
        if socket is not None:
            if ptype is _EVENT:  # the common case, without the type switch of _on_packet
                socket._on_event(packet)
                return
            if ptype is not _CONNECT and ptype is not _CONNECT_ERROR:
                socket._on_packet(packet)
                return
        elif ptype is _CONNECT:
            if self.conn.protocol == 3:
                # Socket.IO v2: the query of the namespace is its auth
                name, _, query = packet.nsp.partition("?")
                self._connect(name, dict(parse_qsl(query)))
                return
            auth = packet.data if isinstance(packet.data, dict) else {}
            self._connect(packet.nsp, auth)
            return
        # (the namespace is the peer's text: cut short for the log)
        self._count(SIO_INVALID_STATE, f"packet type {int(ptype)} for {packet.nsp[:64]!r}")
        self.close()

    def _on_parse_error(self, exc: Exception) -> None:
        # The peer's fault, not ours: counted, one rate-limited DEBUG line, no traceback.
        self._count(SIO_PARSE_ERROR, str(exc))
        for socket in list(self.sockets.values()):
            socket._on_remote_error(exc)
        self._close_with("parse error", exc)

    def _count(self, kind: str, what: str) -> None:
        self.server.counters.count(kind, f"{self.conn.request.remote_address} ({self.id}): {what}")

    def _connect(self, name: str, auth: dict[str, Any]) -> None:
        server = self.server
        nsp = server._nsps.get(name)
        if nsp is not None:
            nsp._add(self, auth)
        elif server._parent_nsps:
            spawn(self._connect_dynamic(name, auth))
        else:
            self._invalid_namespace(name)

    async def _connect_dynamic(self, name: str, auth: dict[str, Any]) -> None:
        server = self.server
        for parent in list(server._parent_nsps):
            if await parent.matches(name, auth):
                if self.closed:
                    return
                nsp = server._nsps.get(name)
                if nsp is None:
                    nsp = parent.create_child(name)
                nsp._add(self, auth)
                return
        self._invalid_namespace(name)

    def _invalid_namespace(self, name: str) -> None:
        if self.closed:
            return
        packet = Packet(PacketType.CONNECT_ERROR, name, {"message": "Invalid namespace"})
        stats = self.server.counters
        if stats.detailed:
            stats.add(f"{HANDSHAKE_REJECTED}/invalid namespace")
        self.write(packet)

    # -- called by sockets and namespaces ---------------------------------------------------

    def write(self, packet: Packet) -> None:
        """Encode ``packet`` and write it to the connection."""
        if self.conn.ready_state == "open":
            prepared = PreparedMessage(self.server.encoder.encode(packet))
            stats = self.server.counters
            if stats.detailed:
                stats.packets_out += len(prepared.parts)
                stats.bytes_out += prepared_size(prepared)
            self.conn.write_prepared(prepared)

    def _on_socket_connected(self, socket: Socket) -> None:
        self.sockets[socket.id] = socket
        self.nsps[socket.nsp.name] = socket
        logger.debug("socket %s connected to %s on %s", socket.id, socket.nsp.name, self.id)
        if self._connect_timer is not None:
            self._connect_timer.cancel()
            self._connect_timer = None

    def _remove(self, socket: Socket) -> None:
        if self.sockets.pop(socket.id, None) is not None:
            self.nsps.pop(socket.nsp.name, None)

    def _disconnect(self) -> None:
        """Disconnect every socket of this connection, then close it.

        On long-polling the connection is closed once the DISCONNECT packets have been
        fetched (the ``drain`` event), as Node's engine does: socket.io-client handles a
        packet one tick after it arrives, so a CLOSE in the same answer would win and the
        client would report "transport close" instead of "io server disconnect".
        """
        for socket in list(self.sockets.values()):
            socket.disconnect()
        self.sockets.clear()
        self.nsps.clear()
        conn = self.conn
        if conn.transport.name == "polling" and conn.ready_state == "open":
            self._on_close("forced server close")
            conn.once("drain", conn.close)
        else:
            self.close()

    def close(self) -> None:
        """Close the connection; the sockets see ``forced server close``."""
        self._close_with("forced server close")

    def _close_with(self, reason: str, description: Any = None) -> None:
        # The sockets see ``reason`` first; the engine's own close hook is then ignored.
        self._on_close(reason, description)
        if self.conn.ready_state == "open":
            self.conn.close()

    def _on_connect_timeout(self) -> None:
        self._connect_timer = None
        if not self.nsps and not self.closed:
            logger.debug("no namespace joined in time by %s; closing", self.id)
            self.close()

    def _on_engine_close(self, reason: str, description: Any = None) -> None:
        """The engine connection closed (its ``on_close_hook``)."""
        stats = self.server.counters
        if stats.detailed:
            stats.add(f"{CONNECTION_CLOSED}/{reason}")
        if reason == "parse error" and not self.closed:
            self._count(EIO_PARSE_ERROR, str(description))
        self._on_close(reason, description)

    def _on_close(self, reason: str, description: Any = None) -> None:
        """The connection closed: its sockets disconnect with ``reason``."""
        if self.closed:
            return
        self.closed = True
        if self._connect_timer is not None:
            self._connect_timer.cancel()
            self._connect_timer = None
        for socket in list(self.sockets.values()):
            socket._on_close(reason, description)
        self.sockets.clear()
        self.nsps.clear()
        self.decoder.reset()
