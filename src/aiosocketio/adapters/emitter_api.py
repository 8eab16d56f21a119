"""What every emitter (Redis, Postgres) offers on a whole namespace, written once.

An emitter's namespace-wide calls (``emit``, ``to``, ``sockets_join``...) each start an
operator of that emitter's kind and call it; :class:`NamespaceEmitter` holds those
shortcuts, and a concrete emitter only says how to make its operator (:meth:`_op`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Generic, Protocol, Self, TypeVar

from aiosocketio.exceptions import LocalProtocolError
from aiosocketio.protocol.socketio.packets import RESERVED_EVENTS

__all__ = ["EmitterOperatorLike", "NamespaceEmitter", "check_server_side_emit"]


class EmitterOperatorLike(Protocol):
    """An emitter's operator: flags that return a new operator, and the sends."""

    def to(self, room: str | Iterable[str]) -> Self: ...

    def except_(self, room: str | Iterable[str]) -> Self: ...

    @property
    def volatile(self) -> Self: ...

    def compress(self, compress: bool) -> Self: ...

    async def emit(self, event: str, *args: Any) -> None: ...

    async def sockets_join(self, rooms: str | Iterable[str]) -> None: ...

    async def sockets_leave(self, rooms: str | Iterable[str]) -> None: ...

    async def disconnect_sockets(self, close: bool = False) -> None: ...


OpT = TypeVar("OpT", bound=EmitterOperatorLike)


def check_server_side_emit(event: str, args: tuple[Any, ...]) -> None:
    """Refuse what an emitter's ``server_side_emit`` cannot send, as the npm emitters do.

    Raises:
        LocalProtocolError: ``event`` is a reserved event name, or an argument is callable.
    """
    if event in RESERVED_EVENTS:
        raise LocalProtocolError(f'"{event}" is a reserved event name')
    if args and callable(args[-1]):
        raise LocalProtocolError("Acknowledgements are not supported")


class NamespaceEmitter(Generic[OpT]):
    """The namespace-wide shortcuts: each starts an operator (:meth:`_op`) and calls it."""

    def _op(self) -> OpT:
        raise NotImplementedError

    async def emit(self, event: str, *args: Any) -> None:
        """Broadcast to every client of the namespace, on every server."""
        await self._op().emit(event, *args)

    def to(self, room: str | Iterable[str]) -> OpT:
        """Target a room (or several)."""
        return self._op().to(room)

    def in_(self, room: str | Iterable[str]) -> OpT:
        """Alias of :meth:`to`."""
        return self._op().to(room)

    def except_(self, room: str | Iterable[str]) -> OpT:
        """Exclude a room (or several)."""
        return self._op().except_(room)

    @property
    def volatile(self) -> OpT:
        """The event may be dropped if a client is not ready to receive it."""
        return self._op().volatile

    def compress(self, compress: bool) -> OpT:
        """Set the compress flag."""
        return self._op().compress(compress)

    async def sockets_join(self, rooms: str | Iterable[str]) -> None:
        """Make every socket of the namespace join ``rooms``."""
        await self._op().sockets_join(rooms)

    async def sockets_leave(self, rooms: str | Iterable[str]) -> None:
        """Make every socket of the namespace leave ``rooms``."""
        await self._op().sockets_leave(rooms)

    async def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect every socket of the namespace."""
        await self._op().disconnect_sockets(close)
