"""``PostgresEmitter``: emit to a Postgres cluster from any process, without a server.

Wire-compatible with @socket.io/postgres-emitter: the servers of the cluster (aiosocketio
with :class:`~aiosocketio.adapters.postgres.PostgresAdapter`, or Node with
@socket.io/postgres-adapter) cannot tell its messages from the npm package's. Each call is
one cluster message ``{type, data, uid: "emitter", nsp}`` notified on
``<channel_prefix>#<nsp>`` (through the attachment table when it carries binary or is
too long), as :mod:`aiosocketio.protocol.cluster.postgres` describes:

* ``emit``: BROADCAST ``{packet: {type: 2, data: [event, *args], nsp}, opts: {rooms,
  except, flags}}``;
* ``sockets_join`` / ``sockets_leave``: SOCKETS_JOIN / SOCKETS_LEAVE ``{opts, rooms}``;
* ``disconnect_sockets``: DISCONNECT_SOCKETS ``{opts, close}``;
* ``server_side_emit``: SERVER_SIDE_EMIT ``{packet: [event, *args]}`` (no acks).

Example::

    import asyncpg
    from aiosocketio.adapters.postgres_emitter import PostgresEmitter

    pool = await asyncpg.create_pool("postgresql://postgres@127.0.0.1/app")
    emitter = PostgresEmitter(pool)
    await emitter.to("room1").emit("hello", "world")
    await emitter.of("/admin").except_("room2").emit("news", {"n": 1})
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiosocketio.adapters.emitter_api import NamespaceEmitter, check_server_side_emit
from aiosocketio.adapters.postgres_link import send_message
from aiosocketio.exceptions import LocalProtocolError
from aiosocketio.protocol.cluster.postgres import (
    DEFAULT_CHANNEL_PREFIX,
    DEFAULT_PAYLOAD_THRESHOLD,
    DEFAULT_TABLE_NAME,
    channel_for,
    check_table_name,
)
from aiosocketio.protocol.cluster.wire import EMITTER_UID, MessageType

__all__ = ["PostgresEmitter", "PostgresEmitterOperator"]

RESERVED_EVENTS = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}
)

_EVENT = 2  # Socket.IO packet type EVENT


def _as_rooms(room: str | Iterable[str]) -> list[str]:
    return [room] if isinstance(room, str) else list(room)


def _normalize_nsp(nsp: str) -> str:
    return nsp if nsp.startswith("/") else "/" + nsp


class _Settings:
    """Where the emitter's messages go: the pool, the channel prefix, the table."""

    __slots__ = ("channel_prefix", "payload_threshold", "pool", "table_name")

    def __init__(
        self, pool: Any, channel_prefix: str, table_name: str, payload_threshold: int
    ) -> None:
        self.pool = pool
        self.channel_prefix = channel_prefix
        self.table_name = check_table_name(table_name)
        self.payload_threshold = payload_threshold

    async def send(self, nsp: str, kind: MessageType, data: dict[str, Any]) -> None:
        message = {"type": int(kind), "data": data, "uid": EMITTER_UID, "nsp": nsp}
        async with self.pool.acquire() as conn:
            await send_message(
                conn,
                message,
                channel_for(self.channel_prefix, nsp),
                self.table_name,
                self.payload_threshold,
            )


class PostgresEmitterOperator:
    """An immutable selection of rooms, exceptions and flags; returned by ``to()`` etc."""

    __slots__ = ("_except", "_flags", "_nsp", "_rooms", "_settings")

    def __init__(
        self,
        settings: _Settings,
        nsp: str,
        rooms: tuple[str, ...] = (),
        except_: tuple[str, ...] = (),
        flags: dict[str, Any] | None = None,
    ) -> None:
        self._settings = settings
        self._nsp = nsp
        self._rooms = rooms
        self._except = except_
        self._flags: dict[str, Any] = flags or {}

    def _with(
        self,
        rooms: tuple[str, ...] | None = None,
        except_: tuple[str, ...] | None = None,
        flags: dict[str, Any] | None = None,
    ) -> PostgresEmitterOperator:
        return PostgresEmitterOperator(
            self._settings,
            self._nsp,
            self._rooms if rooms is None else rooms,
            self._except if except_ is None else except_,
            self._flags if flags is None else flags,
        )

    def to(self, room: str | Iterable[str]) -> PostgresEmitterOperator:
        """Target a room (or several); the selections add up."""
        return self._with(rooms=tuple(dict.fromkeys([*self._rooms, *_as_rooms(room)])))

    def in_(self, room: str | Iterable[str]) -> PostgresEmitterOperator:
        """Alias of :meth:`to`."""
        return self.to(room)

    def except_(self, room: str | Iterable[str]) -> PostgresEmitterOperator:
        """Exclude the sockets in a room (or several)."""
        return self._with(except_=tuple(dict.fromkeys([*self._except, *_as_rooms(room)])))

    @property
    def volatile(self) -> PostgresEmitterOperator:
        """The event may be dropped if a client is not ready to receive it."""
        return self._with(flags={**self._flags, "volatile": True})

    def compress(self, compress: bool) -> PostgresEmitterOperator:
        """Set the compress flag."""
        return self._with(flags={**self._flags, "compress": compress})

    def _opts(self) -> dict[str, Any]:
        return {"rooms": list(self._rooms), "except": list(self._except)}

    async def emit(self, event: str, *args: Any) -> None:
        """Broadcast ``event`` with ``args`` to the selected clients of every server.

        Raises:
            LocalProtocolError: ``event`` is a reserved event name, or an argument cannot
                be sent.
        """
        if event in RESERVED_EVENTS:
            raise LocalProtocolError(f'"{event}" is a reserved event name')
        packet = {"type": _EVENT, "data": [event, *args], "nsp": self._nsp}
        opts = {"rooms": list(self._rooms), "except": list(self._except), "flags": self._flags}
        await self._settings.send(
            self._nsp, MessageType.BROADCAST, {"packet": packet, "opts": opts}
        )

    async def sockets_join(self, rooms: str | Iterable[str]) -> None:
        """Make the selected sockets join ``rooms``, on every server."""
        data = {"opts": self._opts(), "rooms": _as_rooms(rooms)}
        await self._settings.send(self._nsp, MessageType.SOCKETS_JOIN, data)

    async def sockets_leave(self, rooms: str | Iterable[str]) -> None:
        """Make the selected sockets leave ``rooms``, on every server."""
        data = {"opts": self._opts(), "rooms": _as_rooms(rooms)}
        await self._settings.send(self._nsp, MessageType.SOCKETS_LEAVE, data)

    async def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect the selected sockets; ``close`` also closes their connection."""
        data = {"opts": self._opts(), "close": close}
        await self._settings.send(self._nsp, MessageType.DISCONNECT_SOCKETS, data)


class PostgresEmitter(NamespaceEmitter[PostgresEmitterOperator]):
    """Emit to a Socket.IO cluster through Postgres (the @socket.io/postgres-emitter protocol).

    Args:
        pool: an ``asyncpg.Pool`` (a connection is borrowed for each message).
        nsp: the namespace to emit to.
        channel_prefix: the servers' channel prefix.
        table_name: the servers' attachment table.
        payload_threshold: bytes of JSON from which a message goes through the table.
    """

    __slots__ = ("_nsp", "_settings")

    def __init__(
        self,
        pool: Any,
        nsp: str = "/",
        *,
        channel_prefix: str = DEFAULT_CHANNEL_PREFIX,
        table_name: str = DEFAULT_TABLE_NAME,
        payload_threshold: int = DEFAULT_PAYLOAD_THRESHOLD,
    ) -> None:
        self._settings = _Settings(pool, channel_prefix, table_name, payload_threshold)
        self._nsp = _normalize_nsp(nsp)

    @property
    def nsp(self) -> str:
        """The namespace this emitter targets."""
        return self._nsp

    def of(self, nsp: str) -> PostgresEmitter:
        """An emitter for another namespace (a leading ``/`` is added if missing)."""
        emitter = PostgresEmitter.__new__(PostgresEmitter)
        emitter._settings = self._settings
        emitter._nsp = _normalize_nsp(nsp)
        return emitter

    def _op(self) -> PostgresEmitterOperator:
        return PostgresEmitterOperator(self._settings, self._nsp)

    async def server_side_emit(self, event: str, *args: Any) -> None:
        """Emit ``event`` to the servers themselves (``namespace.on(event)`` there).

        Acknowledgements are not supported, as in the npm package.

        Raises:
            LocalProtocolError: ``event`` is a reserved event name, or an argument is callable.
        """
        check_server_side_emit(event, args)
        await self._settings.send(
            self._nsp, MessageType.SERVER_SIDE_EMIT, {"packet": [event, *args]}
        )
