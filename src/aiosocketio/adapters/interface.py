"""The seam between the server API and the adapters.

Neither side imports the other's classes: they meet here, as in Node, where
``socket.io-adapter`` knows nothing of socket.io's classes.

* **What an adapter needs from the server** is three small structural types:
  :class:`NamespaceLike` (the namespace it serves: its local sockets by id, how to write a
  packet to some of them, how to hand it another server's event, how to make a socket of
  another server), :class:`SocketLike` (a socket it may fetch, join, make leave or
  disconnect) and :class:`ServerLike`. The server's ``Namespace``, ``Socket`` and
  ``RemoteSocket`` satisfy them.
* **What the server needs from an adapter** is :class:`AdapterLike`. The in-memory
  :class:`~aiosocketio.adapters.base.Adapter` satisfies it, and so does every subclass.
* **The data both sides exchange**: :class:`BroadcastOptions` (whom a broadcast targets)
  with its :class:`BroadcastFlags`, :data:`AckCallback`, :data:`ServerSideAck` and
  :class:`SocketDetails` (a socket of another server, as a fetch answer describes it).

The writing itself stays in the server: an adapter picks the local recipients and calls
:meth:`NamespaceLike.deliver` once; the packet is encoded once and written to each of
them, with no call back into the adapter per recipient.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, overload

from aiosocketio.protocol.cluster.shapes import SocketDetails
from aiosocketio.protocol.socketio.packets import Packet

__all__ = [
    "AckCallback",
    "AdapterLike",
    "BroadcastFlags",
    "BroadcastOptions",
    "HandshakeLike",
    "NamespaceLike",
    "ServerLike",
    "ServerSideAck",
    "SocketDetails",
    "SocketLike",
]

AckCallback = Callable[[list[Any]], None]
"""``ack(args)``: receives one client's acknowledgement arguments.

The callable given to :meth:`AdapterLike.broadcast_with_ack` may also have a
``client_gone()`` method: it is called when a targeted local client disconnects before it
answered.
"""

F = TypeVar("F", bound=Callable[..., Any])

ServerSideAck = Callable[[Exception | None, list[Any]], None]
"""``ack(error, responses)``: how ``server_side_emit`` reports the other servers' answers."""


@dataclass(frozen=True, slots=True)
class BroadcastFlags:
    """Modifiers of one broadcast (Node's ``BroadcastFlags``)."""

    volatile: bool = False
    compress: bool = True
    local: bool = False
    broadcast: bool = False
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class BroadcastOptions:
    """Whom a broadcast targets: ``rooms`` (empty = everyone) minus ``except_``."""

    rooms: frozenset[str] = frozenset()
    except_: frozenset[str] = frozenset()
    flags: BroadcastFlags = BroadcastFlags()


# --------------------------------------------------------------------------- the server's side


class HandshakeLike(Protocol):
    """A socket's handshake, which an adapter sends to other servers as a dict."""

    def to_dict(self) -> dict[str, Any]:
        """The wire form, with Node's field names."""
        ...


class SocketLike(Protocol):
    """A socket as an adapter handles it: one of this server, or one of another server."""

    @property
    def id(self) -> str:
        """The socket id."""
        ...

    @property
    def rooms(self) -> AbstractSet[str]:
        """The rooms it is in, its own id included."""
        ...

    @property
    def data(self) -> Any:
        """Its ``socket.data`` (shared across the cluster)."""
        ...

    @property
    def handshake(self) -> HandshakeLike:
        """Its handshake."""
        ...

    def join(self, rooms: str | Iterable[str]) -> object:
        """Join one room or several."""
        ...

    def leave(self, room: str) -> object:
        """Leave ``room``."""
        ...

    def disconnect(self, close: bool = False) -> object:
        """Disconnect (and close the whole connection if ``close``)."""
        ...


class ServerLike(Protocol):
    """The server of a namespace, as an adapter sees it (also the key its links share)."""

    @property
    def connection_state_recovery(self) -> Mapping[str, Any] | None:
        """The recovery options (``max_disconnection_duration``...), None when off."""
        ...


class NamespaceLike(Protocol):
    """The namespace an adapter serves."""

    @property
    def name(self) -> str:
        """The namespace name, with its leading ``/``."""
        ...

    @property
    def server(self) -> ServerLike:
        """The server."""
        ...

    @property
    def sockets(self) -> Mapping[str, SocketLike]:
        """The sockets of this server connected to the namespace, by id."""
        ...

    def deliver(self, packet: Packet, sockets: Iterable[SocketLike], volatile: bool) -> None:
        """Write ``packet`` to each of ``sockets`` (local ones, from :attr:`sockets`).

        The packet is encoded once; the outgoing catch-all listeners of each socket see it.
        """
        ...

    def deliver_with_ack(
        self, packet: Packet, sockets: Iterable[SocketLike], volatile: bool, ack: AckCallback
    ) -> int:
        """Like :meth:`deliver`, asking each socket's client for an acknowledgement.

        ``packet`` gets an ack id of the namespace; each client's answer goes to
        ``ack(args)``. Returns how many sockets it was written to.
        """
        ...

    def deliver_server_side_emit(
        self, args: list[Any], ack: Callable[..., Any] | None = None
    ) -> None:
        """Hand another server's ``[event, *args]`` to the namespace's listeners.

        When the other server wants answers, each listener's answer goes to ``ack``.
        """
        ...

    def remote_socket(self, details: SocketDetails) -> SocketLike:
        """The server's object for a socket of another server (Node's ``RemoteSocket``)."""
        ...


# --------------------------------------------------------------------------- the adapter's side


class AdapterLike(Protocol):
    """What the server needs from the adapter of a namespace (Node's adapter API).

    The application may also listen to its room events (``io.of("/").adapter.on(...)``):
    ``create-room``, ``delete-room``, ``join-room`` and ``leave-room``, as
    :class:`~aiosocketio.adapters.base.Adapter` emits them.
    """

    @overload
    def on(self, event: str) -> Callable[[F], F]: ...
    @overload
    def on(self, event: str, handler: F) -> F: ...
    def on(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        """Listen to a room event (the decorator form without ``handler``)."""
        ...

    @property
    def nsp(self) -> NamespaceLike:
        """The namespace it serves."""
        ...

    @property
    def rooms(self) -> Mapping[str, AbstractSet[str]]:
        """The local sockets of each room, by room name."""
        ...

    @property
    def sids(self) -> Mapping[str, AbstractSet[str]]:
        """The rooms of each local socket, by socket id."""
        ...

    async def init(self) -> None:
        """Called once when the namespace is created (cluster adapters subscribe here)."""
        ...

    async def close(self) -> None:
        """Called when the namespace or the server closes."""
        ...

    async def server_count(self) -> int:
        """How many servers the cluster has."""
        ...

    def add_all(self, sid: str, rooms: Iterable[str]) -> None:
        """Add the local socket ``sid`` to each of ``rooms``."""
        ...

    def del_(self, sid: str, room: str) -> None:
        """Remove ``sid`` from ``room``."""
        ...

    def del_all(self, sid: str) -> None:
        """Remove ``sid`` from every room it is in."""
        ...

    def socket_rooms(self, sid: str) -> AbstractSet[str] | None:
        """The rooms of the local socket ``sid`` (None if unknown)."""
        ...

    async def sockets(self, rooms: AbstractSet[str]) -> set[str]:
        """The ids of the local sockets in any of ``rooms`` (all of them if empty)."""
        ...

    def broadcast(self, packet: Packet, opts: BroadcastOptions) -> None:
        """Send ``packet`` to every socket that ``opts`` targets."""
        ...

    def broadcast_with_ack(
        self,
        packet: Packet,
        opts: BroadcastOptions,
        client_count_callback: Callable[[int], None],
        ack: AckCallback,
    ) -> None:
        """Broadcast asking for acknowledgements.

        ``client_count_callback(n)`` is called once per server with its number of
        recipients; ``ack(args)`` with each client's answer.
        """
        ...

    async def fetch_sockets(self, opts: BroadcastOptions) -> list[SocketLike]:
        """The sockets that ``opts`` targets, on every server."""
        ...

    def add_sockets(self, opts: BroadcastOptions, rooms: Iterable[str]) -> None:
        """Make the targeted sockets join ``rooms``."""
        ...

    def del_sockets(self, opts: BroadcastOptions, rooms: Iterable[str]) -> None:
        """Make the targeted sockets leave ``rooms``."""
        ...

    def disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        """Disconnect the targeted sockets (and close their connections if ``close``)."""
        ...

    def persist_session(self, session: dict[str, Any]) -> None:
        """Keep a disconnected socket's session ``{sid, pid, rooms, data}`` for recovery."""
        ...

    async def restore_session(self, pid: str, offset: str) -> dict[str, Any] | None:
        """The session ``pid`` with its ``missed_packets`` after ``offset``, or None."""
        ...

    def server_side_emit(
        self, args: list[Any], ack: ServerSideAck | None = None, timeout: float | None = None
    ) -> None:
        """Send ``[event, *args]`` to the other servers; ``ack(error, responses)`` if given."""
        ...
