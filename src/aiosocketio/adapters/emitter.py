"""``RedisEmitter``: emit to a Socket.IO cluster from any process, without a server.

Wire-compatible with @socket.io/redis-emitter 5.1: the servers of the cluster (aiosocketio
with :class:`~aiosocketio.adapters.redis.RedisAdapter`, or Node with @socket.io/redis-adapter)
cannot tell a message of this emitter from one of the npm package.

* A broadcast is msgpack ``["emitter", {type: 2, data, nsp}, {rooms, flags, except}]``,
  published on ``<key>#<nsp>#``, or ``<key>#<nsp>#<room>#`` when exactly one room is targeted.
* ``sockets_join``/``sockets_leave``/``disconnect_sockets``/``server_side_emit`` are JSON
  requests on ``<key>-request#<nsp>#``.

Example::

    import redis.asyncio as redis
    from aiosocketio.adapters.emitter import RedisEmitter

    emitter = RedisEmitter(redis.Redis())
    await emitter.to("room1").emit("hello", "world")
    await emitter.of("/admin").except_("room2").emit("news", {"n": 1})
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Iterable
from typing import Any, Protocol

from aiosocketio.adapters.emitter_api import NamespaceEmitter, check_server_side_emit
from aiosocketio.exceptions import LocalProtocolError
from aiosocketio.protocol.cluster.wire import EMITTER_UID, RequestType, dumps_json, pack

__all__ = ["EmitterOperator", "RedisEmitter", "RedisPublisher"]

logger = logging.getLogger("aiosocketio.adapters.emitter")

RESERVED_EVENTS = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}
)

EVENT = 2  # Socket.IO packet type EVENT


class RedisPublisher(Protocol):
    """The part of ``redis.asyncio.Redis`` the emitter uses (a ``RedisCluster`` has it too)."""

    def publish(self, channel: str, message: bytes | str) -> Awaitable[Any]: ...


def _as_rooms(room: str | Iterable[str]) -> list[str]:
    if isinstance(room, str):
        return [room]
    return list(room)


def _normalize_nsp(nsp: str) -> str:
    return nsp if nsp.startswith("/") else "/" + nsp


class EmitterOperator:
    """An immutable selection of rooms, exceptions and flags; returned by ``to()`` etc."""

    __slots__ = ("_except", "_flags", "_nsp", "_prefix", "_redis", "_rooms")

    def __init__(
        self,
        redis: RedisPublisher,
        prefix: str,
        nsp: str,
        rooms: tuple[str, ...] = (),
        except_: tuple[str, ...] = (),
        flags: dict[str, Any] | None = None,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._nsp = nsp
        self._rooms = rooms
        self._except = except_
        self._flags: dict[str, Any] = flags or {}

    def _with(
        self,
        rooms: tuple[str, ...] | None = None,
        except_: tuple[str, ...] | None = None,
        flags: dict[str, Any] | None = None,
    ) -> EmitterOperator:
        return EmitterOperator(
            self._redis,
            self._prefix,
            self._nsp,
            self._rooms if rooms is None else rooms,
            self._except if except_ is None else except_,
            self._flags if flags is None else flags,
        )

    def to(self, room: str | Iterable[str]) -> EmitterOperator:
        """Target a room (or several); the selections add up."""
        rooms = list(self._rooms)
        for r in _as_rooms(room):
            if r not in rooms:
                rooms.append(r)
        return self._with(rooms=tuple(rooms))

    def in_(self, room: str | Iterable[str]) -> EmitterOperator:
        """Alias of :meth:`to`."""
        return self.to(room)

    def except_(self, room: str | Iterable[str]) -> EmitterOperator:
        """Exclude the sockets in a room (or several)."""
        rooms = list(self._except)
        for r in _as_rooms(room):
            if r not in rooms:
                rooms.append(r)
        return self._with(except_=tuple(rooms))

    @property
    def volatile(self) -> EmitterOperator:
        """The event may be dropped if a client is not ready to receive it."""
        return self._with(flags={**self._flags, "volatile": True})

    def compress(self, compress: bool) -> EmitterOperator:
        """Set the compress flag."""
        return self._with(flags={**self._flags, "compress": compress})

    @property
    def _request_channel(self) -> str:
        return f"{self._prefix}-request#{self._nsp}#"

    def _opts(self) -> dict[str, Any]:
        return {"rooms": list(self._rooms), "except": list(self._except)}

    async def emit(self, event: str, *args: Any) -> None:
        """Broadcast ``event`` with ``args`` to the selected clients of every server.

        Raises:
            LocalProtocolError: ``event`` is a reserved event name.
        """
        if event in RESERVED_EVENTS:
            raise LocalProtocolError(f'"{event}" is a reserved event name')
        packet = {"type": EVENT, "data": [event, *args], "nsp": self._nsp}
        opts = {
            "rooms": list(self._rooms),
            "flags": dict(self._flags),
            "except": list(self._except),
        }
        channel = f"{self._prefix}#{self._nsp}#"
        if len(self._rooms) == 1:
            channel += self._rooms[0] + "#"
        await self._redis.publish(channel, pack([EMITTER_UID, packet, opts]))

    async def sockets_join(self, rooms: str | Iterable[str]) -> None:
        """Make the selected sockets join ``rooms``, on every server."""
        request = {
            "type": RequestType.REMOTE_JOIN.value,
            "opts": self._opts(),
            "rooms": _as_rooms(rooms),
        }
        await self._redis.publish(self._request_channel, dumps_json(request))

    async def sockets_leave(self, rooms: str | Iterable[str]) -> None:
        """Make the selected sockets leave ``rooms``, on every server."""
        request = {
            "type": RequestType.REMOTE_LEAVE.value,
            "opts": self._opts(),
            "rooms": _as_rooms(rooms),
        }
        await self._redis.publish(self._request_channel, dumps_json(request))

    async def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect the selected sockets; ``close`` also closes their connection."""
        request = {
            "type": RequestType.REMOTE_DISCONNECT.value,
            "opts": self._opts(),
            "close": close,
        }
        await self._redis.publish(self._request_channel, dumps_json(request))


class RedisEmitter(NamespaceEmitter[EmitterOperator]):
    """Emit to a Socket.IO cluster through Redis (the @socket.io/redis-emitter protocol).

    Args:
        redis: a ``redis.asyncio.Redis`` (anything with an async ``publish``).
        key: the channel prefix; the same ``key`` as the servers' adapters.
        nsp: the namespace to emit to.
    """

    __slots__ = ("_key", "_nsp", "_redis")

    def __init__(self, redis: RedisPublisher, *, key: str = "socket.io", nsp: str = "/") -> None:
        self._redis = redis
        self._key = key
        self._nsp = _normalize_nsp(nsp)

    @property
    def nsp(self) -> str:
        """The namespace this emitter targets."""
        return self._nsp

    def of(self, nsp: str) -> RedisEmitter:
        """An emitter for another namespace (a leading ``/`` is added if missing)."""
        return RedisEmitter(self._redis, key=self._key, nsp=nsp)

    def _op(self) -> EmitterOperator:
        return EmitterOperator(self._redis, self._key, self._nsp)

    async def server_side_emit(self, event: str, *args: Any) -> None:
        """Emit ``event`` to the servers themselves (``namespace.on(event)`` there).

        Acknowledgements are not supported, as in the npm package.

        Raises:
            LocalProtocolError: ``event`` is a reserved event name, or an argument is callable.
        """
        check_server_side_emit(event, args)
        request = {
            "uid": EMITTER_UID,
            "type": RequestType.SERVER_SIDE_EMIT.value,
            "data": [event, *args],
        }
        await self._redis.publish(f"{self._key}-request#{self._nsp}#", dumps_json(request))
