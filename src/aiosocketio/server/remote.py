"""``RemoteSocket``: a socket returned by ``fetch_sockets`` that may live on another server."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from aiosocketio.adapters.base import BroadcastOptions
from aiosocketio.server.broadcast import BroadcastOperator
from aiosocketio.server.handshake import Handshake

if TYPE_CHECKING:
    from aiosocketio.adapters.base import Adapter

__all__ = ["RemoteSocket"]


class RemoteSocket:
    """A socket of the cluster known through its details (Node's ``RemoteSocket``).

    Args:
        adapter: the adapter of the namespace (operations go through it).
        details: the wire dict ``{"id", "handshake", "rooms", "data"}``.

    Attributes:
        id: the socket id.
        handshake: its :class:`Handshake`.
        rooms: the rooms it was in when fetched.
        data: its ``socket.data`` when fetched.
    """

    __slots__ = ("_operator", "adapter", "data", "handshake", "id", "rooms")

    def __init__(self, adapter: Adapter, details: dict[str, Any]) -> None:
        self.adapter = adapter
        self.id: str = str(details["id"])
        handshake = details.get("handshake") or {}
        self.handshake = (
            handshake if isinstance(handshake, Handshake) else Handshake.from_dict(handshake)
        )
        self.rooms: set[str] = set(details.get("rooms") or ())
        self.data: Any = details.get("data")
        self._operator = BroadcastOperator(
            adapter, frozenset((self.id,)), expect_single_response=True
        )

    def __repr__(self) -> str:
        return f"<RemoteSocket id={self.id!r}>"

    def _opts(self) -> BroadcastOptions:
        return BroadcastOptions(rooms=frozenset((self.id,)))

    def emit(self, event: str | int, *args: Any) -> None:
        """Emit ``event`` to this socket, wherever it is."""
        self._operator.emit(event, *args)

    def timeout(self, seconds: float) -> BroadcastOperator:
        """An operator whose ``emit_with_ack`` returns this socket's single response."""
        return self._operator.timeout(seconds)

    def join(self, rooms: str | Iterable[str]) -> None:
        """Make this socket join ``rooms``."""
        self.adapter.add_sockets(self._opts(), [rooms] if isinstance(rooms, str) else rooms)

    def leave(self, room: str | Iterable[str]) -> None:
        """Make this socket leave ``room``."""
        self.adapter.del_sockets(self._opts(), [room] if isinstance(room, str) else room)

    def disconnect(self, close: bool = False) -> RemoteSocket:
        """Disconnect this socket (and close its connection if ``close``)."""
        self.adapter.disconnect_sockets(self._opts(), close)
        return self
