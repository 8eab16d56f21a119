"""A table of pending requests keyed by id, each with an optional deadline (sans-I/O).

Every "send something, wait for its answer or a timeout" in the package keeps its waiters
in a :class:`DeadlineTable`: the acks of a socket (server and client), the acks of a
broadcast, and the requests of a cluster adapter. The table never reads a clock: the
caller passes the deadline in and asks for :meth:`~DeadlineTable.next_deadline`, then
calls :meth:`~DeadlineTable.expire` with the current time when it is due. The asyncio
driver, one loop timer per table, is :class:`aiosocketio.runtime.pending.PendingTable`.

Invariants:

* Rule 1: a key is in the table at most once; :meth:`~DeadlineTable.pop` (an answer) and
  :meth:`~DeadlineTable.expire` (a timeout) each hand an entry out exactly once.
* Rule 2: :meth:`~DeadlineTable.expire` returns entries in deadline order (then in the
  order they were added), and never one whose deadline is still ahead.
"""

from __future__ import annotations

from collections.abc import Iterator
from heapq import heappop, heappush
from typing import Generic, TypeVar

__all__ = ["DeadlineTable"]

K = TypeVar("K")
V = TypeVar("V")


class DeadlineTable(Generic[K, V]):
    """Pending entries by key, with deadlines kept in a heap (lazy deletion)."""

    __slots__ = ("_deadlines", "_entries", "_heap", "_seq")

    def __init__(self) -> None:
        self._entries: dict[K, V] = {}
        self._deadlines: dict[K, float] = {}
        # (deadline, sequence, key); entries popped meanwhile are skipped when they surface
        self._heap: list[tuple[float, int, K]] = []
        self._seq = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __bool__(self) -> bool:
        return bool(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[K]:
        return iter(list(self._entries))

    def add(self, key: K, value: V, deadline: float | None = None) -> None:
        """Wait for ``key``; ``deadline`` (the caller's clock) is when it times out.

        Adding a key that is already pending replaces its value and deadline.
        """
        self._entries[key] = value
        if deadline is None:
            self._deadlines.pop(key, None)
            return
        self._deadlines[key] = deadline
        self._seq += 1
        heappush(self._heap, (deadline, self._seq, key))

    def get(self, key: K) -> V | None:
        """The entry of ``key``, left in the table."""
        return self._entries.get(key)

    def pop(self, key: K) -> V | None:
        """Take the entry of ``key`` out (its answer came); ``None`` if it is not pending."""
        value = self._entries.pop(key, None)
        if value is not None:
            self._deadlines.pop(key, None)
            if not self._entries:
                self._heap.clear()
        return value

    def values(self) -> list[V]:
        """The pending entries, in the order they were added."""
        return list(self._entries.values())

    def items(self) -> list[tuple[K, V]]:
        """The pending ``(key, entry)`` pairs, in the order they were added."""
        return list(self._entries.items())

    def take_all(self) -> list[V]:
        """Take every entry out (the peer is gone), in the order they were added."""
        values = list(self._entries.values())
        self._entries.clear()
        self._deadlines.clear()
        self._heap.clear()
        return values

    def next_deadline(self) -> float | None:
        """The earliest deadline of a pending entry (``None``: nothing can time out)."""
        heap = self._heap
        deadlines = self._deadlines
        while heap:
            deadline, _, key = heap[0]
            if deadlines.get(key) == deadline:
                return deadline
            heappop(heap)  # answered, or added again with another deadline
        return None

    def expire(self, now: float) -> list[tuple[K, V]]:
        """Take out every entry whose deadline is at or before ``now``."""
        out: list[tuple[K, V]] = []
        heap = self._heap
        deadlines = self._deadlines
        while heap and heap[0][0] <= now:
            deadline, _, key = heappop(heap)
            if deadlines.get(key) == deadline:
                del deadlines[key]
                out.append((key, self._entries.pop(key)))
        return out
