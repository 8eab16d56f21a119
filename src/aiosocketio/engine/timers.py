"""One loop timer for the deadlines of many connections: a timer wheel that is on time.

Every Engine.IO session has a deadline (its next ping, its pong timeout, an upgrade or a
waiting poll). With a ``loop.call_at`` per session, each connection carries a
``TimerHandle`` (with its ``Context`` and the loop's own timer object) and every heartbeat
allocates a new one. The wheel keeps the deadlines in slots of ``tick`` seconds instead: a
slot is a dict of its owners and their exact deadlines, the slots due first are found
through a heap, and one ``call_at`` stands for the earliest thing due.

Theory of operation
-------------------
A deadline is booked into the slot that holds it (``floor(deadline / tick)``). When a
slot's start time comes, its owners move to a short list of *imminent* deadlines (a heap
of the exact times, which lives at most one tick), and the loop timer is armed for the
first of them. So the slot costs one dict entry per idle connection, and a deadline fires
at its exact time, as late as the event loop itself makes it and never earlier.

Invariants:

* Rule 1: an owner has at most one booking; :meth:`TimerWheel.cancel` forgets it wherever
  it is (in its slot or among the imminent deadlines).
* Rule 2: an owner is called once per booking, never before its deadline (by the loop's
  clock: a timer that the loop runs a clock resolution early counts as on time for the
  deadline it was armed for), and owners due together are called in deadline order.
* Rule 3: the one loop timer is armed for the earliest of the first slot's start and the
  first imminent deadline.
"""

from __future__ import annotations

import asyncio
import logging
import math
from heapq import heappop, heappush
from typing import Protocol

__all__ = ["TICK", "TimerOwner", "TimerWheel"]

logger = logging.getLogger("aiosocketio.engine")

TICK = 0.01
"""Seconds per slot: how far ahead of its deadline an owner joins the imminent list."""


class TimerOwner(Protocol):
    """What the wheel calls when an owner's deadline comes (with the slot it was booked
    in, so an owner that has moved its deadline meanwhile can tell a stale call)."""

    def _wheel_fired(self, slot: int) -> None: ...


class TimerWheel:
    """Deadlines on one event loop, fired on time.

    Args:
        loop: the event loop whose clock and timers are used.
        tick: the slot width in seconds.
    """

    __slots__ = (
        "_armed_at",
        "_due",
        "_handle",
        "_imminent",
        "_imminent_heap",
        "_seq",
        "_slots",
        "loop",
        "tick",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop, tick: float = TICK) -> None:
        self.loop = loop
        self.tick = tick
        self._slots: dict[int, dict[TimerOwner, float]] = {}
        self._due: list[int] = []  # a heap of the slots in _slots
        # owners whose slot has started: owner -> (deadline, slot), and a heap of
        # (deadline, sequence, owner) in which cancelled or moved entries are skipped
        self._imminent: dict[TimerOwner, tuple[float, int]] = {}
        self._imminent_heap: list[tuple[float, int, TimerOwner]] = []
        self._seq = 0
        self._handle: asyncio.TimerHandle | None = None
        self._armed_at = 0.0

    def __len__(self) -> int:
        """How many owners have a deadline booked."""
        return sum(len(owners) for owners in self._slots.values()) + len(self._imminent)

    def schedule(self, owner: TimerOwner, deadline: float) -> int:
        """Call ``owner._wheel_fired(slot)`` once ``deadline`` (loop time) has come.

        Returns:
            The slot, for :meth:`cancel`.
        """
        slot = math.floor(deadline / self.tick)
        if slot * self.tick <= self.loop.time():
            self._add_imminent(owner, deadline, slot)
            self._arm(deadline)
            return slot
        owners = self._slots.get(slot)
        if owners is None:
            owners = self._slots[slot] = {}
            heappush(self._due, slot)
        owners[owner] = deadline
        self._arm(slot * self.tick)
        return slot

    def cancel(self, owner: TimerOwner, slot: int) -> None:
        """Forget ``owner``'s booking in ``slot`` (an emptied slot goes when it comes)."""
        owners = self._slots.get(slot)
        if owners is not None and owners.pop(owner, None) is not None:
            return
        booked = self._imminent.get(owner)
        if booked is not None and booked[1] == slot:
            del self._imminent[owner]

    # -- internals ------------------------------------------------------------------------

    def _add_imminent(self, owner: TimerOwner, deadline: float, slot: int) -> None:
        self._imminent[owner] = (deadline, slot)
        self._seq += 1
        heappush(self._imminent_heap, (deadline, self._seq, owner))

    def _arm(self, when: float) -> None:
        handle = self._handle
        if handle is None or when < self._armed_at:
            if handle is not None:
                handle.cancel()
            self._armed_at = when
            self._handle = self.loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._handle = None
        # asyncio may run a timer a clock resolution early: what it was armed for is due
        now = max(self.loop.time(), self._armed_at)
        tick = self.tick
        heap = self._due
        while heap and heap[0] * tick <= now:
            slot = heappop(heap)
            owners = self._slots.pop(slot, None)
            if owners:
                for owner, deadline in owners.items():
                    self._add_imminent(owner, deadline, slot)
        imminent = self._imminent
        queue = self._imminent_heap
        due: list[tuple[TimerOwner, int]] = []
        while queue and queue[0][0] <= now:
            deadline, _, owner = heappop(queue)
            booked = imminent.get(owner)
            if booked is not None and booked[0] == deadline:
                del imminent[owner]
                due.append((owner, booked[1]))
        # Owners are called after the due ones are taken out: one that books again (later,
        # or still within this tick) is not called twice for one deadline.
        for owner, slot in due:
            try:
                owner._wheel_fired(slot)
            except Exception:
                logger.exception("timer callback failed")
        while queue and imminent.get(queue[0][2], (None,))[0] != queue[0][0]:
            heappop(queue)  # cancelled or booked again meanwhile
        if queue:
            self._arm(queue[0][0])
        if heap:
            self._arm(heap[0] * tick)
