"""``BroadcastOperator`` and ``RemoteSocket``: whom to emit to, and a socket of the cluster.

``io.to("a").to("b").except_("c").emit("ev", ...)`` reaches every socket in room ``a`` or
``b`` (once, even if it is in both) that is not in room ``c``. Every modifier returns a
new operator; the adapter does the actual work, so a cluster adapter extends all of it.

A :class:`RemoteSocket` (what ``fetch_sockets`` returns for a socket of another server)
is an operator that targets one socket id; the two live together, as in Node's
``broadcast-operator.ts``, because each makes the other.

This module is the bottom of the server package: it knows the adapter only through
:mod:`aiosocketio.adapters.interface`, and the server's ``Socket`` only as the type
parameter ``S`` of :class:`BroadcastOperator` (``io.to(room)`` is a
``BroadcastOperator[Socket]``, so its ``fetch_sockets`` returns ``Socket`` objects).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Iterable
from typing import Any, Generic, TypeVar

from aiosocketio.adapters.interface import (
    AdapterLike,
    BroadcastFlags,
    BroadcastOptions,
    SocketDetails,
    SocketLike,
)
from aiosocketio.exceptions import AckTimeout, LocalProtocolError
from aiosocketio.protocol.socketio.packets import RESERVED_EVENTS, Packet, PacketType
from aiosocketio.runtime.pending import PendingTable
from aiosocketio.server.done import DONE
from aiosocketio.server.handshake import Handshake

__all__ = ["BroadcastOperator", "RemoteSocket"]

S = TypeVar("S", bound=SocketLike)
"""The server's local socket type (``Socket``)."""

_NO_ROOMS: frozenset[str] = frozenset()
_DEFAULT_FLAGS = BroadcastFlags()


def _rooms(room: str | Iterable[str]) -> frozenset[str]:
    if isinstance(room, str):
        return frozenset((room,))
    return frozenset(room)


class BroadcastOperator(Generic[S]):
    """Targets a set of sockets of one namespace (Node's ``BroadcastOperator``).

    Obtained from ``server.to(...)``, ``namespace.except_(...)``, ``socket.broadcast``...;
    never mutated.
    """

    __slots__ = ("_opts", "_single", "adapter")

    def __init__(
        self,
        adapter: AdapterLike,
        rooms: frozenset[str] = _NO_ROOMS,
        except_: frozenset[str] = _NO_ROOMS,
        flags: BroadcastFlags = _DEFAULT_FLAGS,
        *,
        expect_single_response: bool = False,
    ) -> None:
        self.adapter = adapter
        self._opts = BroadcastOptions(rooms, except_, flags)
        self._single = expect_single_response

    @property
    def options(self) -> BroadcastOptions:
        """The rooms, excluded rooms and flags of this operator."""
        return self._opts

    def _with(
        self,
        rooms: frozenset[str] | None = None,
        except_: frozenset[str] | None = None,
        flags: BroadcastFlags | None = None,
    ) -> BroadcastOperator[S]:
        opts = self._opts
        return BroadcastOperator(
            self.adapter,
            opts.rooms if rooms is None else rooms,
            opts.except_ if except_ is None else except_,
            opts.flags if flags is None else flags,
            expect_single_response=self._single,
        )

    # -- modifiers --------------------------------------------------------------------------

    def to(self, room: str | Iterable[str]) -> BroadcastOperator[S]:
        """Also target ``room`` (one name or several)."""
        return self._with(rooms=self._opts.rooms | _rooms(room))

    in_ = to

    def except_(self, room: str | Iterable[str]) -> BroadcastOperator[S]:
        """Exclude the sockets in ``room`` (one name or several)."""
        return self._with(except_=self._opts.except_ | _rooms(room))

    def compress(self, compress: bool) -> BroadcastOperator[S]:
        """Set the compress flag (carried to adapters; the engine decides compression)."""
        return self._with(flags=_replace(self._opts.flags, compress=compress))

    @property
    def volatile(self) -> BroadcastOperator[S]:
        """The packet may be dropped for clients that are not ready to receive it."""
        return self._with(flags=_replace(self._opts.flags, volatile=True))

    @property
    def local(self) -> BroadcastOperator[S]:
        """Only the sockets of this server (in a cluster)."""
        return self._with(flags=_replace(self._opts.flags, local=True))

    def timeout(self, seconds: float) -> BroadcastOperator[S]:
        """Wait at most ``seconds`` for acknowledgements in :meth:`emit_with_ack`."""
        return self._with(flags=_replace(self._opts.flags, timeout=seconds))

    # -- emitting ---------------------------------------------------------------------------

    def emit(self, event: str | int, *args: Any) -> Awaitable[None]:
        """Emit ``event`` to the targeted sockets; encoded once for all of them.

        The broadcast is handed to the adapter at once; the result may be awaited
        (``await io.to(room).emit(...)``, as python-socketio apps write it) or not.

        Raises:
            LocalProtocolError: ``event`` is a reserved name.
        """
        if isinstance(event, str) and event in RESERVED_EVENTS:
            raise LocalProtocolError(f'"{event}" is a reserved event name')
        packet = Packet(PacketType.EVENT, self.adapter.nsp.name, [event, *args])
        self.adapter.broadcast(packet, self._opts)
        return DONE

    def send(self, *args: Any) -> Awaitable[None]:
        """Emit a ``message`` event (the result may be awaited or not)."""
        return self.emit("message", *args)

    write = send

    async def emit_with_ack(
        self, event: str | int, *args: Any, timeout: float | None = None
    ) -> Any:
        """Emit ``event`` and gather every targeted client's acknowledgement.

        ``timeout`` (seconds) is the same as ``timeout(s).emit_with_ack(...)`` and overrides
        it.

        Returns:
            the list of responses (the first argument of each client's acknowledgement).
            From ``RemoteSocket.timeout(s)``, the single response.

        Raises:
            AckTimeout: with ``timeout(s)``, some clients did not answer in time; its
                ``responses`` attribute holds the responses that did arrive.
        """
        if isinstance(event, str) and event in RESERVED_EVENTS:
            raise LocalProtocolError(f'"{event}" is a reserved event name')
        if timeout is not None and timeout != self._opts.flags.timeout:
            return await self.timeout(timeout).emit_with_ack(event, *args)
        timeout = self._opts.flags.timeout
        gather = _Gather(asyncio.get_running_loop().create_future(), timeout is None)
        deadline: PendingTable[int, _Gather] | None = None
        if timeout is not None:
            deadline = PendingTable(_gather_timed_out)
            deadline.add_with_timeout(0, gather, timeout)
        packet = Packet(PacketType.EVENT, self.adapter.nsp.name, [event, *args])
        try:
            self.adapter.broadcast_with_ack(packet, self._opts, gather.on_count, gather)
            gather.expected_servers = await self.adapter.server_count()
            gather.check()
            result = await gather.future
        except AckTimeout as exc:
            if self._single:
                responses = gather.responses
                exc.responses = responses[0] if responses else None
            raise
        finally:
            if deadline is not None:
                deadline.take_all()
        if self._single:
            return result[0] if result else None
        return result

    # -- utility methods --------------------------------------------------------------------

    async def fetch_sockets(self) -> list[S | RemoteSocket]:
        """The targeted sockets: local ``Socket`` objects and ``RemoteSocket`` ones."""
        found: list[Any] = await self.adapter.fetch_sockets(self._opts)
        # an adapter written for an older API may answer with the details themselves
        return [
            RemoteSocket(self.adapter, item) if isinstance(item, dict) else item for item in found
        ]

    def sockets_join(self, room: str | Iterable[str]) -> None:
        """Make the targeted sockets join ``room`` (one name or several)."""
        self.adapter.add_sockets(self._opts, _rooms(room))

    def sockets_leave(self, room: str | Iterable[str]) -> None:
        """Make the targeted sockets leave ``room`` (one name or several)."""
        self.adapter.del_sockets(self._opts, _rooms(room))

    def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect the targeted sockets (and close their connections if ``close``)."""
        self.adapter.disconnect_sockets(self._opts, close)

    async def all_sockets(self) -> set[str]:
        """The ids of the targeted sockets (deprecated in Node: use :meth:`fetch_sockets`)."""
        return {socket.id for socket in await self.fetch_sockets()}


class _Gather:
    """Collects the acknowledgements of one broadcast (the ``ack`` given to the adapter).

    The broadcast is complete when every server has reported its client count and every
    counted client has answered. Without a timeout, a client that disconnects before
    answering is no longer waited for (``client_gone``, called by the socket), so the
    wait cannot hang; with a timeout, Node's semantics hold (AckTimeout with the partial
    responses).
    """

    __slots__ = ("clients", "expected_servers", "future", "responses", "servers", "track")

    def __init__(self, future: asyncio.Future[list[Any]], track_departures: bool) -> None:
        self.future = future
        self.responses: list[Any] = []
        self.expected_servers = -1
        self.servers = 0
        self.clients = 0
        self.track = track_departures

    def check(self) -> None:
        if (
            not self.future.done()
            and self.expected_servers == self.servers
            and len(self.responses) >= self.clients
        ):
            self.future.set_result(self.responses)

    def on_count(self, count: int) -> None:
        self.clients += count
        self.servers += 1
        self.check()

    def __call__(self, args: list[Any]) -> None:
        self.responses.append(args[0] if args else None)
        self.check()

    def client_gone(self) -> None:
        if self.track:
            self.clients -= 1
            self.check()

    def time_out(self) -> None:
        if not self.future.done():
            self.future.set_exception(AckTimeout(responses=list(self.responses)))


def _gather_timed_out(_key: int, gather: _Gather) -> None:
    gather.time_out()


def _replace(flags: BroadcastFlags, **changes: Any) -> BroadcastFlags:
    return dataclasses.replace(flags, **changes)


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

    def __init__(self, adapter: AdapterLike, details: SocketDetails | dict[str, Any]) -> None:
        self.adapter = adapter
        self.id: str = str(details["id"])
        handshake = details.get("handshake") or {}
        self.handshake = (
            handshake if isinstance(handshake, Handshake) else Handshake.from_dict(handshake)
        )
        self.rooms: set[str] = set(details.get("rooms") or ())
        self.data: Any = details.get("data")
        self._operator: BroadcastOperator[SocketLike] = BroadcastOperator(
            adapter, frozenset((self.id,)), expect_single_response=True
        )

    def __repr__(self) -> str:
        return f"<RemoteSocket id={self.id!r}>"

    def _opts(self) -> BroadcastOptions:
        return BroadcastOptions(rooms=frozenset((self.id,)))

    def emit(self, event: str | int, *args: Any) -> Awaitable[None]:
        """Emit ``event`` to this socket, wherever it is (may be awaited or not)."""
        return self._operator.emit(event, *args)

    def timeout(self, seconds: float) -> BroadcastOperator[SocketLike]:
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
