"""The client socket's outgoing bookkeeping: emit flags, the acks it waits for, and the
entries of its at-least-once queue.

:class:`PendingAcks` keeps the acks of one :class:`~aiosocketio.client.ClientSocket` in a
:class:`~aiosocketio.runtime.pending.PendingTable` (one loop timer for all of them, made
with the first ack). socket.io-client's rules, applied here:

* an ack is answered once, by the server's ACK, by its timeout (:class:`AckTimeout`),
  or when the socket disconnects (:class:`Disconnected`, only for an ack that expects an
  error: one with a timeout, or awaited);
* the ack of a packet still in the socket's send buffer survives a disconnection (it is
  sent on the next connection).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiosocketio.exceptions import AckTimeout, Disconnected
from aiosocketio.runtime.pending import PendingTable

__all__ = [
    "AckCallback",
    "EmitFlags",
    "PendingAcks",
    "QueuedEmit",
    "RetryQueue",
    "ack_args",
    "ack_result",
]

AckCallback = Callable[[BaseException | None, list[Any]], None]
"""Called as ``callback(None, args)`` with the server's ack arguments, or
``callback(error, [])``."""


class EmitFlags:
    """How one emit goes out: ``volatile`` (dropped unless it can be sent now), the ack
    ``timeout``, and ``from_queue`` (a resend of the at-least-once queue)."""

    __slots__ = ("from_queue", "timeout", "volatile")

    def __init__(
        self, volatile: bool = False, timeout: float | None = None, from_queue: bool = False
    ) -> None:
        self.volatile = volatile
        self.timeout = timeout
        self.from_queue = from_queue


NO_FLAGS = EmitFlags()


class QueuedEmit:
    """An emit in the at-least-once queue (``retries``): resent until acknowledged."""

    __slots__ = ("args", "callback", "event", "flags", "pending", "tries")

    def __init__(
        self,
        event: str | int,
        args: tuple[Any, ...],
        flags: EmitFlags,
        callback: AckCallback | None,
    ) -> None:
        self.event = event
        self.args = args
        self.flags = flags
        self.callback = callback
        self.pending = False
        self.tries = 0


class RetryQueue:
    """The at-least-once queue (socket.io-client 4.6+, ``retries``): one emit in flight
    at a time, resent until the server acknowledges it or its tries run out.

    Args:
        send: sends an entry once, asking for an ack answered to ``on_ack``:
            ``send(entry, on_ack)``.
        ready: whether the socket can send now (it is connected).
    """

    __slots__ = ("_items", "_ready", "_send")

    def __init__(
        self, send: Callable[[QueuedEmit, AckCallback], None], ready: Callable[[], bool]
    ) -> None:
        self._items: list[QueuedEmit] = []
        self._send = send
        self._ready = ready

    def __len__(self) -> int:
        return len(self._items)

    def push(self, entry: QueuedEmit, retries: int) -> None:
        """Queue ``entry``; it goes out once those before it are done."""
        self._items.append(entry)
        self.drain(retries)

    def drain(self, retries: int, force: bool = False) -> None:
        """Send the first entry unless it is in flight (``force``: send it again, after
        a reconnection); an entry is sent at most ``retries + 1`` times."""
        items = self._items
        if not items or not self._ready():
            return
        entry = items[0]
        if entry.pending and not force:
            return
        entry.pending = True
        entry.tries += 1

        def on_ack(err: BaseException | None, values: list[Any]) -> None:
            if not items or items[0] is not entry:
                return
            if err is None or entry.tries > retries:
                items.pop(0)
                if entry.callback is not None:
                    entry.callback(err, values)
            entry.pending = False
            self.drain(retries)

        self._send(entry, on_ack)


def ack_args(value: Any) -> list[Any]:
    """A handler's return value as ack arguments: None -> none, tuple -> several."""
    if value is None:
        return []
    if isinstance(value, tuple):
        return list(value)
    return [value]


def ack_result(args: list[Any]) -> Any:
    """The server's ack arguments as one value: none -> None, one -> it, more -> a tuple."""
    if not args:
        return None
    if len(args) == 1:
        return args[0]
    return tuple(args)


class _Entry:
    __slots__ = ("callback", "with_error")

    def __init__(self, callback: AckCallback, with_error: bool) -> None:
        self.callback = callback
        self.with_error = with_error


class PendingAcks:
    """The acks a client socket waits for, by packet id.

    Args:
        on_timeout: called with a packet id when its ack timed out, before its callback
            (the socket drops the packet from its send buffer).
    """

    __slots__ = ("_next_id", "_on_timeout", "_table")

    def __init__(self, on_timeout: Callable[[int], None]) -> None:
        self._on_timeout = on_timeout
        self._next_id = 0
        self._table: PendingTable[int, _Entry] | None = None

    def __len__(self) -> int:
        return 0 if self._table is None else len(self._table)

    def add(self, callback: AckCallback, timeout: float | None, with_error: bool) -> int:
        """Wait for an ack; return the packet id to send it with.

        Args:
            callback: the ack callback.
            timeout: seconds until it fails with :class:`AckTimeout` (``None``: never).
            with_error: also fail it with :class:`Disconnected` on a disconnection (always
                so with a timeout).
        """
        packet_id = self._next_id
        self._next_id += 1
        table = self._table
        if table is None:
            table = self._table = PendingTable(self._timed_out)
        table.add_with_timeout(
            packet_id, _Entry(callback, with_error or timeout is not None), timeout
        )
        return packet_id

    def drop(self, packet_id: int) -> None:
        """Forget an ack without calling it (its packet was not sent)."""
        if self._table is not None:
            self._table.pop(packet_id)

    def answer(self, packet_id: int, args: list[Any]) -> None:
        """The server acknowledged ``packet_id`` with ``args`` (an unknown id is ignored)."""
        entry = self._table.pop(packet_id) if self._table is not None else None
        if entry is not None:
            entry.callback(None, args)

    def disconnected(self, reason: str, keep: set[int]) -> None:
        """The socket disconnected: release every ack except those in ``keep`` (their
        packets are still buffered); the ones expecting an error get
        :class:`Disconnected`."""
        table = self._table
        if not table:
            return
        for packet_id, entry in table.items():
            if packet_id in keep or table.pop(packet_id) is None:
                continue  # still buffered, or answered by an earlier callback
            if entry.with_error:
                entry.callback(Disconnected(reason), [])

    def _timed_out(self, packet_id: int, entry: _Entry) -> None:
        self._on_timeout(packet_id)
        entry.callback(AckTimeout(), [])
