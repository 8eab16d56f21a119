"""A table of pending requests keyed by id, each with an optional deadline (sans-I/O).

Every "send something, wait for its answer or a timeout" in the package keeps its waiters
in a :class:`DeadlineTable`: the acks of a socket (server and client), the acks of a
broadcast, and the requests of a cluster adapter. The table never reads a clock: the
caller passes the deadline in and asks for :meth:`~DeadlineTable.next_deadline`, then
calls :meth:`~DeadlineTable.expire` with the current time when it is due. The asyncio
driver, one loop timer per table, is :class:`aiosocketio.runtime.pending.PendingTable`.

Theory of operation: the entries live in a dict (so :meth:`~DeadlineTable.pop` is one
lookup); their deadlines live in a heap of ``(deadline, sequence, key)``. An entry that is
answered, or added again, leaves its old heap item behind; an item counts only while its
sequence number is the one recorded for its key, and stale items are dropped when they
surface at the top (or all at once when they outnumber the live ones).

Invariants:

* Rule 1: a key is in the table at most once; :meth:`~DeadlineTable.pop` (an answer) and
  :meth:`~DeadlineTable.expire` (a timeout) each hand an entry out exactly once.
* Rule 2: :meth:`~DeadlineTable.expire` returns entries in deadline order (then in the
  order their deadlines were set), and never one whose deadline is still ahead.
"""

from __future__ import annotations

from collections.abc import Iterator
from heapq import heapify, heappop, heappush
from typing import Generic, TypeVar

__all__ = ["DeadlineTable"]

K = TypeVar("K")
V = TypeVar("V")

# Stale heap items are swept out when there are more than this many and they outnumber
# the live ones (a socket whose acks are all answered in time never expires anything).
_COMPACT_MIN = 64


class DeadlineTable(Generic[K, V]):
    """Pending entries by key, with deadlines kept in a heap (lazy deletion)."""

    __slots__ = ("_entries", "_heap", "_seq", "_seqs")

    def __init__(self) -> None:
        self._entries: dict[K, V] = {}
        # key -> sequence number of its live heap item (keys with a deadline only)
        self._seqs: dict[K, int] = {}
        # (deadline, sequence, key); the sequence is unique, so keys are never compared
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

        Adding a key that is already pending replaces its value and deadline (it keeps
        its place among :meth:`values`). After this, the caller re-reads
        :meth:`next_deadline` (it may be earlier now).
        """
        self._entries[key] = value
        if deadline is None:
            self._seqs.pop(key, None)
            return
        seq = self._seq = self._seq + 1
        self._seqs[key] = seq
        heappush(self._heap, (deadline, seq, key))

    def get(self, key: K) -> V | None:
        """The entry of ``key``, left in the table."""
        return self._entries.get(key)

    def pop(self, key: K) -> V | None:
        """Take the entry of ``key`` out (its answer came); ``None`` if it is not pending."""
        try:
            value = self._entries.pop(key)
        except KeyError:
            return None
        seqs = self._seqs
        if seqs.pop(key, None) is not None:
            heap = self._heap
            if not self._entries:
                heap.clear()
            elif len(heap) > _COMPACT_MIN and len(heap) > 2 * len(seqs):
                self._compact()
        return value

    def _compact(self) -> None:
        seqs = self._seqs
        heap = [item for item in self._heap if seqs.get(item[2]) == item[1]]
        heapify(heap)
        self._heap = heap

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
        self._seqs.clear()
        self._heap.clear()
        return values

    def next_deadline(self) -> float | None:
        """The earliest deadline of a pending entry (``None``: nothing can time out).

        The caller arranges to call :meth:`expire` at that time.
        """
        heap = self._heap
        seqs = self._seqs
        while heap:
            deadline, seq, key = heap[0]
            if seqs.get(key) == seq:
                return deadline
            heappop(heap)  # answered, or added again since
        return None

    def expire(self, now: float) -> list[tuple[K, V]]:
        """Take out every entry whose deadline is at or before ``now``.

        The caller fails each returned entry (a timeout), then re-reads
        :meth:`next_deadline`.
        """
        out: list[tuple[K, V]] = []
        heap = self._heap
        seqs = self._seqs
        entries = self._entries
        while heap and heap[0][0] <= now:
            _, seq, key = heappop(heap)
            if seqs.get(key) == seq:
                del seqs[key]
                out.append((key, entries.pop(key)))
        return out
