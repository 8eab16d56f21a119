"""``BroadcastOperator``: an immutable description of whom to emit to.

``io.to("a").to("b").except_("c").emit("ev", ...)`` reaches every socket in room ``a`` or
``b`` (once, even if it is in both) that is not in room ``c``. Every modifier returns a
new operator; the adapter does the actual work, so a cluster adapter extends all of it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from aiosocketio.adapters.base import BroadcastFlags, BroadcastOptions
from aiosocketio.exceptions import AckTimeout, LocalProtocolError
from aiosocketio.protocol.socketio.packets import RESERVED_EVENTS, Packet, PacketType

if TYPE_CHECKING:
    from aiosocketio.adapters.base import Adapter
    from aiosocketio.server.remote import RemoteSocket
    from aiosocketio.server.socket import Socket

__all__ = ["BroadcastOperator"]

_NO_ROOMS: frozenset[str] = frozenset()
_DEFAULT_FLAGS = BroadcastFlags()


def _rooms(room: str | Iterable[str]) -> frozenset[str]:
    if isinstance(room, str):
        return frozenset((room,))
    return frozenset(room)


class BroadcastOperator:
    """Targets a set of sockets of one namespace (Node's ``BroadcastOperator``).

    Obtained from ``server.to(...)``, ``namespace.except_(...)``, ``socket.broadcast``...;
    never mutated.
    """

    __slots__ = ("_opts", "_single", "adapter")

    def __init__(
        self,
        adapter: Adapter,
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
    ) -> BroadcastOperator:
        opts = self._opts
        return BroadcastOperator(
            self.adapter,
            opts.rooms if rooms is None else rooms,
            opts.except_ if except_ is None else except_,
            opts.flags if flags is None else flags,
            expect_single_response=self._single,
        )

    # -- modifiers --------------------------------------------------------------------------

    def to(self, room: str | Iterable[str]) -> BroadcastOperator:
        """Also target ``room`` (one name or several)."""
        return self._with(rooms=self._opts.rooms | _rooms(room))

    in_ = to

    def except_(self, room: str | Iterable[str]) -> BroadcastOperator:
        """Exclude the sockets in ``room`` (one name or several)."""
        return self._with(except_=self._opts.except_ | _rooms(room))

    def compress(self, compress: bool) -> BroadcastOperator:
        """Set the compress flag (carried to adapters; the engine decides compression)."""
        return self._with(flags=_replace(self._opts.flags, compress=compress))

    @property
    def volatile(self) -> BroadcastOperator:
        """The packet may be dropped for clients that are not ready to receive it."""
        return self._with(flags=_replace(self._opts.flags, volatile=True))

    @property
    def local(self) -> BroadcastOperator:
        """Only the sockets of this server (in a cluster)."""
        return self._with(flags=_replace(self._opts.flags, local=True))

    def timeout(self, seconds: float) -> BroadcastOperator:
        """Wait at most ``seconds`` for acknowledgements in :meth:`emit_with_ack`."""
        return self._with(flags=_replace(self._opts.flags, timeout=seconds))

    # -- emitting ---------------------------------------------------------------------------

    def emit(self, event: str | int, *args: Any) -> None:
        """Emit ``event`` to the targeted sockets; encoded once for all of them.

        Raises:
            LocalProtocolError: ``event`` is a reserved name.
        """
        if isinstance(event, str) and event in RESERVED_EVENTS:
            raise LocalProtocolError(f'"{event}" is a reserved event name')
        packet = Packet(PacketType.EVENT, self.adapter.nsp.name, [event, *args])
        self.adapter.broadcast(packet, self._opts)

    def send(self, *args: Any) -> None:
        """Emit a ``message`` event."""
        self.emit("message", *args)

    write = send

    async def emit_with_ack(self, event: str | int, *args: Any) -> Any:
        """Emit ``event`` and gather every targeted client's acknowledgement.

        Returns:
            the list of responses (the first argument of each client's acknowledgement).
            From ``RemoteSocket.timeout(s)``, the single response.

        Raises:
            AckTimeout: with ``timeout(s)``, some clients did not answer in time; its
                ``responses`` attribute holds the responses that did arrive.
        """
        if isinstance(event, str) and event in RESERVED_EVENTS:
            raise LocalProtocolError(f'"{event}" is a reserved event name')
        loop = asyncio.get_running_loop()
        timeout = self._opts.flags.timeout
        gather = _Gather(loop.create_future(), track_departures=timeout is None)
        timer = None
        if timeout is not None:
            timer = loop.call_later(timeout, gather.time_out)
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
            if timer is not None:
                timer.cancel()
        if self._single:
            return result[0] if result else None
        return result

    # -- utility methods --------------------------------------------------------------------

    async def fetch_sockets(self) -> list[Socket | RemoteSocket]:
        """The targeted sockets: local ``Socket`` objects and ``RemoteSocket`` ones."""
        from aiosocketio.server.remote import RemoteSocket

        found = await self.adapter.fetch_sockets(self._opts)
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


def _replace(flags: BroadcastFlags, **changes: Any) -> BroadcastFlags:
    return dataclasses.replace(flags, **changes)
