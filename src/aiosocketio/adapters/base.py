"""The base adapter: who is in which room, and which local sockets a broadcast reaches.

This is Node's ``socket.io-adapter`` in Python, on the seam of
:mod:`aiosocketio.adapters.interface`. The base class does all the local work (it *is* the
in-memory adapter); cluster adapters subclass it, call ``super()`` for the local part and
add the inter-server traffic. It picks the recipients; the namespace writes to them
(:meth:`~aiosocketio.adapters.interface.NamespaceLike.deliver`). The namespace goes
through its adapter for every operation that a cluster must extend: ``broadcast``,
``broadcast_with_ack``, ``fetch_sockets``, ``add_sockets``, ``del_sockets``,
``disconnect_sockets``, ``server_side_emit`` and ``server_count``.

Invariants of the two-way index:

* ``rooms[room]`` is the set of sids in ``room``; it is never empty (an emptied room is
  deleted and ``delete-room`` is emitted).
* ``sids[sid]`` is the set of rooms of ``sid``; ``room in sids[sid]`` exactly when
  ``sid in rooms[room]``. Leaving every room is therefore O(rooms of the socket).

Events (``adapter.on(...)``): ``create-room(room)``, ``delete-room(room)``,
``join-room(room, sid)``, ``leave-room(room, sid)``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from typing import Any

from aiosocketio.adapters.interface import (
    AckCallback,
    BroadcastOptions,
    NamespaceLike,
    ServerSideAck,
    SocketLike,
)
from aiosocketio.protocol.socketio.packets import Packet
from aiosocketio.runtime.events import EventEmitter

__all__ = ["Adapter"]

logger = logging.getLogger("aiosocketio.adapters")


class Adapter(EventEmitter):
    """The in-memory adapter of one namespace; the base class of every adapter.

    Args:
        nsp: the namespace this adapter serves.
    """

    def __init__(self, nsp: NamespaceLike) -> None:
        self.nsp = nsp
        self.rooms: dict[str, set[str]] = {}
        self.sids: dict[str, set[str]] = {}

    def _timed_request(self, kind: str, started: float, failed: bool) -> None:
        """Record a request to the other servers (``fetch_sockets``, ``server_side_emit``)
        in the server's stats, when they count the traffic (``stats.detailed``)."""
        stats = getattr(getattr(self.nsp, "server", None), "counters", None)
        if stats is None or not getattr(stats, "detailed", False):
            return
        stats.observe(f"adapter_request/{kind}", asyncio.get_running_loop().time() - started)
        if failed:
            stats.add(f"adapter_request_failed/{kind}")

    # -- life cycle -------------------------------------------------------------------------

    async def init(self) -> None:
        """Called once when the namespace is created (cluster adapters subscribe here)."""

    async def close(self) -> None:
        """Called when the namespace or the server closes."""

    async def server_count(self) -> int:
        """How many servers the cluster has; 1 for a single server."""
        return 1

    # -- rooms ------------------------------------------------------------------------------

    def add_all(self, sid: str, rooms: Iterable[str]) -> None:
        """Add ``sid`` to each of ``rooms``."""
        sid_rooms = self.sids.get(sid)
        if sid_rooms is None:
            sid_rooms = self.sids[sid] = set()
        for room in rooms:
            sid_rooms.add(room)
            members = self.rooms.get(room)
            if members is None:
                members = self.rooms[room] = set()
                self.emit_reserved("create-room", room)
            if sid not in members:
                members.add(sid)
                self.emit_reserved("join-room", room, sid)

    def del_(self, sid: str, room: str) -> None:
        """Remove ``sid`` from ``room``."""
        sid_rooms = self.sids.get(sid)
        if sid_rooms is not None:
            sid_rooms.discard(room)
        self._del_from_room(room, sid)

    def _del_from_room(self, room: str, sid: str) -> None:
        members = self.rooms.get(room)
        if members is None or sid not in members:
            return
        members.discard(sid)
        self.emit_reserved("leave-room", room, sid)
        if not members:
            del self.rooms[room]
            self.emit_reserved("delete-room", room)

    def del_all(self, sid: str) -> None:
        """Remove ``sid`` from every room it is in."""
        sid_rooms = self.sids.pop(sid, None)
        if not sid_rooms:
            return
        for room in sid_rooms:
            self._del_from_room(room, sid)

    def socket_rooms(self, sid: str) -> set[str] | None:
        """The rooms of ``sid`` (None if unknown)."""
        return self.sids.get(sid)

    async def sockets(self, rooms: AbstractSet[str]) -> set[str]:
        """The sids in any of ``rooms`` (every sid if ``rooms`` is empty)."""
        opts = BroadcastOptions(rooms=frozenset(rooms))
        return {socket.id for socket in self.select(opts)}

    # -- targeting --------------------------------------------------------------------------

    def _except_sids(self, except_: frozenset[str]) -> set[str]:
        out: set[str] = set()
        rooms = self.rooms
        for room in except_:
            members = rooms.get(room)
            if members:
                out |= members
        return out

    def select(self, opts: BroadcastOptions) -> list[SocketLike]:
        """The local sockets that ``opts`` targets, each once (a new list)."""
        sockets = self.nsp.sockets
        rooms = opts.rooms
        except_ = opts.except_
        if rooms:
            index = self.rooms
            if len(rooms) == 1:
                for room in rooms:
                    members = index.get(room)
                if not members:
                    return []
                sids: set[str] = members - self._except_sids(except_) if except_ else members
            else:
                sids = set().union(*[index[room] for room in rooms if room in index])
                if except_:
                    sids -= self._except_sids(except_)
            get = sockets.get
            return [socket for socket in map(get, sids) if socket is not None]
        if except_:
            excluded = self._except_sids(except_)
            if len(excluded) * 4 < len(sockets):
                # few exclusions (socket.broadcast): copy in C, then drop them
                remaining = dict(sockets)
                for sid in excluded:
                    remaining.pop(sid, None)
                return list(remaining.values())
            return [socket for sid, socket in sockets.items() if sid not in excluded]
        return list(sockets.values())

    # -- broadcasting -----------------------------------------------------------------------

    def broadcast(self, packet: Packet, opts: BroadcastOptions) -> None:
        """Send ``packet`` to every local socket that ``opts`` targets (encoded once)."""
        self.nsp.deliver(packet, self.select(opts), opts.flags.volatile)

    def broadcast_with_ack(
        self,
        packet: Packet,
        opts: BroadcastOptions,
        client_count_callback: Callable[[int], None],
        ack: AckCallback,
    ) -> None:
        """Broadcast ``packet`` asking each recipient for an acknowledgement.

        ``client_count_callback(n)`` is called once with the number of recipients;
        ``ack(args)`` is called with each client's answer.
        """
        count = self.nsp.deliver_with_ack(packet, self.select(opts), opts.flags.volatile, ack)
        client_count_callback(count)

    # -- utility methods --------------------------------------------------------------------

    async def fetch_sockets(self, opts: BroadcastOptions) -> list[SocketLike]:
        """The sockets that ``opts`` targets (local ones only in this base class)."""
        return self.select(opts)

    def add_sockets(self, opts: BroadcastOptions, rooms: Iterable[str]) -> None:
        """Make the targeted sockets join ``rooms``."""
        rooms = list(rooms)
        for socket in self.select(opts):
            socket.join(rooms)

    def del_sockets(self, opts: BroadcastOptions, rooms: Iterable[str]) -> None:
        """Make the targeted sockets leave ``rooms``."""
        rooms = list(rooms)
        for socket in self.select(opts):
            for room in rooms:
                socket.leave(room)

    def disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        """Disconnect the targeted sockets (and close their connections if ``close``)."""
        for socket in self.select(opts):
            socket.disconnect(close)

    # -- connection state recovery ----------------------------------------------------------

    def persist_session(self, session: dict[str, Any]) -> None:
        """Keep a disconnected socket's session ``{sid, pid, rooms, data}`` for recovery.

        The base class keeps nothing (see ``SessionAwareAdapter``).
        """

    async def restore_session(self, pid: str, offset: str) -> dict[str, Any] | None:
        """The session ``pid`` with ``missed_packets`` after ``offset``, or None."""
        return None

    def server_side_emit(
        self, args: list[Any], ack: ServerSideAck | None = None, timeout: float | None = None
    ) -> None:
        """Send ``[event, *args]`` to the other servers of the cluster.

        A single server has no other server: the event goes nowhere and ``ack`` (if given)
        gets an empty list of responses, as Node's in-memory adapter would.
        """
        logger.debug("server_side_emit %r: no other server with the in-memory adapter", args[:1])
        if ack is not None:
            ack(None, [])
