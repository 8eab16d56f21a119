"""What a :class:`~aiosocketio.client.ClientSocket` needs from the connection it rides on.

The :class:`~aiosocketio.client.Manager` makes the sockets, so the socket module cannot
import it back; :class:`SocketHost` is the socket's view of its manager (the Manager
satisfies it structurally). It also carries the manager's listener API, which users reach
as ``socket.io.on("reconnect", ...)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar, overload

from aiosocketio.client.connection import EngineConnection
from aiosocketio.protocol.socketio.packets import Packet

__all__ = ["SocketHost"]

F = TypeVar("F", bound=Callable[..., Any])


class SocketHost(Protocol):
    """The manager, as its sockets see it."""

    @property
    def engine(self) -> EngineConnection | None:
        """The Engine.IO connection, while there is one."""

    @property
    def ready_state(self) -> str:
        """``"closed"``, ``"opening"`` or ``"open"``."""

    @property
    def reconnecting(self) -> bool:
        """Whether a reconnection is scheduled."""

    def open(self) -> object:
        """Open the Engine.IO connection unless it is open or opening."""

    def _packet(self, packet: Packet) -> None:
        """Send one Socket.IO packet (dropped when there is no connection)."""

    def _destroy(self) -> None:
        """A socket left: close the connection if no socket is active any more."""

    @overload
    def on(self, event: str) -> Callable[[F], F]: ...
    @overload
    def on(self, event: str, handler: F) -> F: ...
    def on(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        """Listen to a manager event (``reconnect``, ``ping``...)."""

    @overload
    def once(self, event: str) -> Callable[[F], F]: ...
    @overload
    def once(self, event: str, handler: F) -> F: ...
    def once(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        """Listen to the next manager event only."""

    def off(self, event: str | None = None, handler: Callable[..., Any] | None = None) -> None:
        """Remove manager listeners."""

    def listeners(self, event: str) -> list[Callable[..., Any]]:
        """The listeners of a manager event."""
