"""One loop timer for the deadlines of many connections: a timer wheel.

Every Engine.IO session has a deadline (its next ping, its pong timeout, an upgrade or a
waiting poll). With a ``loop.call_at`` per session, each connection carries a
``TimerHandle`` (with its ``Context`` and the loop's own timer object) and every heartbeat
allocates a new one. The wheel keeps the deadlines in slots of ``tick`` seconds instead: a
slot is a dict of its owners, the slots due first are found through a heap, and one
``call_at`` stands for the earliest slot. A deadline fires at most one tick late and never
early; owners whose deadlines fall in one slot are called together.
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
"""Seconds per slot: how late a deadline may fire."""


class TimerOwner(Protocol):
    """What the wheel calls when an owner's slot comes (with that slot, so an owner that
    has moved its deadline meanwhile can tell a stale call)."""

    def _wheel_fired(self, slot: int) -> None: ...


class TimerWheel:
    """Deadlines on one event loop, rounded up to ``tick`` seconds.

    Args:
        loop: the event loop whose clock and timers are used.
        tick: the slot width in seconds.
    """

    __slots__ = ("_due", "_handle", "_handle_slot", "_slots", "loop", "tick")

    def __init__(self, loop: asyncio.AbstractEventLoop, tick: float = TICK) -> None:
        self.loop = loop
        self.tick = tick
        self._slots: dict[int, dict[TimerOwner, None]] = {}
        self._due: list[int] = []  # a heap of the slots in _slots
        self._handle: asyncio.TimerHandle | None = None
        self._handle_slot = 0

    def __len__(self) -> int:
        """How many owners have a deadline booked."""
        return sum(len(owners) for owners in self._slots.values())

    def schedule(self, owner: TimerOwner, deadline: float) -> int:
        """Call ``owner._wheel_fired(slot)`` once ``deadline`` (loop time) has passed.

        Returns:
            The slot, for :meth:`cancel`.
        """
        slot = math.ceil(deadline / self.tick)
        owners = self._slots.get(slot)
        if owners is None:
            owners = self._slots[slot] = {}
            heappush(self._due, slot)
        owners[owner] = None
        handle = self._handle
        if handle is None or slot < self._handle_slot:
            if handle is not None:
                handle.cancel()
            self._handle_slot = slot
            self._handle = self.loop.call_at(slot * self.tick, self._fire)
        return slot

    def cancel(self, owner: TimerOwner, slot: int) -> None:
        """Forget ``owner``'s deadline in ``slot`` (an emptied slot goes when it comes)."""
        owners = self._slots.get(slot)
        if owners is not None:
            owners.pop(owner, None)

    def _fire(self) -> None:
        self._handle = None
        # asyncio may run a timer a clock resolution early: the armed slot is due anyway
        limit = max(self._handle_slot, math.floor(self.loop.time() / self.tick))
        due: list[tuple[int, dict[TimerOwner, None]]] = []
        heap = self._due
        while heap and heap[0] <= limit:
            slot = heappop(heap)
            owners = self._slots.pop(slot, None)
            if owners:
                due.append((slot, owners))
        # Owners are called after the due slots are taken out: one that books again (into
        # a later slot, or this one if its deadline is still ahead) is not called twice.
        for slot, owners in due:
            for owner in owners:
                try:
                    owner._wheel_fired(slot)
                except Exception:
                    logger.exception("timer callback failed")
        # Owners that booked again may have armed the timer for their own slot: it must
        # stand for the earliest slot of all.
        if heap:
            first = heap[0]
            handle = self._handle
            if handle is None or first < self._handle_slot:
                if handle is not None:
                    handle.cancel()
                self._handle_slot = first
                self._handle = self.loop.call_at(first * self.tick, self._fire)
