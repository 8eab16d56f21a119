"""The in-memory adapters: the default one, and the one that supports connection state recovery."""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections import deque
from typing import Any

from aiosocketio.adapters.base import Adapter
from aiosocketio.adapters.interface import BroadcastOptions, NamespaceLike
from aiosocketio.protocol.socketio.packets import Packet, PacketType

__all__ = ["MemoryAdapter", "SessionAwareAdapter"]


class MemoryAdapter(Adapter):
    """Rooms and broadcasts within this process; everything is done by :class:`Adapter`."""


def _should_include(rooms: list[str], opts: BroadcastOptions) -> bool:
    included = not opts.rooms or any(room in opts.rooms for room in rooms)
    return included and not any(room in opts.except_ for room in rooms)


class SessionAwareAdapter(MemoryAdapter):
    """The in-memory adapter with connection state recovery (Node's ``SessionAwareAdapter``).

    Used by default when the server has ``connection_state_recovery``. Every broadcast EVENT
    without an acknowledgement that is not volatile gets an offset, appended as its last
    argument (socket.io-client removes it and sends the last one it saw when it
    reconnects), and is kept for ``max_disconnection_duration`` seconds, as are the
    sessions of sockets that lost their connection.
    """

    def __init__(self, nsp: NamespaceLike) -> None:
        super().__init__(nsp)
        recovery = nsp.server.connection_state_recovery or {}
        self.max_disconnection_duration: float = float(
            recovery.get("max_disconnection_duration", 120.0)
        )
        self._sessions: dict[str, tuple[float, dict[str, Any]]] = {}
        self._session_order: deque[tuple[float, str]] = deque()
        # (offset, options, data, emitted_at), oldest first
        self._packets: deque[tuple[str, BroadcastOptions, list[Any], float]] = deque()
        self._prefix = secrets.token_hex(4)
        self._counter = 0

    def _next_offset(self) -> str:
        self._counter += 1
        return f"{self._prefix}-{self._counter:x}"

    def _prune(self, now: float) -> None:
        threshold = now - self.max_disconnection_duration
        packets = self._packets
        while packets and packets[0][3] < threshold:
            packets.popleft()
        order = self._session_order
        while order and order[0][0] < threshold:
            at, pid = order.popleft()
            entry = self._sessions.get(pid)
            if entry is not None and entry[0] == at:
                del self._sessions[pid]

    def broadcast(self, packet: Packet, opts: BroadcastOptions) -> None:
        """Store the packet with an offset (see the class docstring), then broadcast it."""
        if packet.type is PacketType.EVENT and packet.id is None and not opts.flags.volatile:
            now = time.monotonic()
            self._prune(now)
            offset = self._next_offset()
            data = [*packet.data, offset]
            packet = dataclasses.replace(packet, data=data)
            self._packets.append((offset, opts, data, now))
        super().broadcast(packet, opts)

    def persist_session(self, session: dict[str, Any]) -> None:
        """Keep ``session`` for ``max_disconnection_duration`` seconds."""
        now = time.monotonic()
        self._prune(now)
        self._sessions[session["pid"]] = (now, session)
        self._session_order.append((now, session["pid"]))

    async def restore_session(self, pid: str, offset: str) -> dict[str, Any] | None:
        """The session ``pid`` plus the packets it missed after ``offset``, or None.

        None when the session is unknown or expired, or when ``offset`` is no longer
        stored (too old). A restored session is forgotten (it is kept again at the
        socket's next disconnection).
        """
        now = time.monotonic()
        self._prune(now)
        entry = self._sessions.get(pid)
        if entry is None:
            return None
        missed: list[list[Any]] = []
        found = False
        for packet_offset, opts, data, _ in self._packets:
            if found:
                if _should_include(entry[1]["rooms"], opts):
                    missed.append(data)
            elif packet_offset == offset:
                found = True
        if not found:
            return None
        del self._sessions[pid]
        return {**entry[1], "missed_packets": missed}
