"""The asyncio driver of :class:`~aiosocketio.protocol.pending.DeadlineTable`.

A :class:`PendingTable` is a deadline table with one loop timer, armed for its earliest
deadline: a socket with a thousand acks in flight holds one ``TimerHandle``, not a
thousand. Timed-out entries are handed to the ``on_expire`` callback given at creation.

The timer is stopped when the table empties (the last answer came), so a table whose
entries were all answered holds no reference from the loop to its owner.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TypeVar

from aiosocketio.protocol.pending import DeadlineTable

__all__ = ["PendingTable"]

logger = logging.getLogger("aiosocketio.runtime")

K = TypeVar("K")
V = TypeVar("V")


class PendingTable(DeadlineTable[K, V]):
    """Pending entries with timeouts measured on the running loop's clock.

    Args:
        on_expire: called as ``on_expire(key, entry)`` for each entry whose timeout passed
            (it is out of the table by then). An exception in it is logged.
    """

    __slots__ = ("_handle", "_handle_at", "_loop", "on_expire")

    def __init__(self, on_expire: Callable[[K, V], None]) -> None:
        super().__init__()
        self.on_expire = on_expire
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._handle_at = 0.0

    def add_with_timeout(self, key: K, value: V, timeout: float | None) -> None:
        """Wait for ``key`` for at most ``timeout`` seconds (``None``: no limit).

        Must be called from a running event loop when ``timeout`` is given.
        """
        if timeout is None:
            self.add(key, value)
            return
        loop = self._loop
        if loop is None or self._handle is None:
            # no timer pending: take the running loop (the table may outlive a loop)
            loop = self._loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout)
        self.add(key, value, deadline)
        self._arm(loop, deadline)

    def pop(self, key: K) -> V | None:
        """Take the entry of ``key`` out (its answer came); the timer stops with the last."""
        value = super().pop(key)
        if self._handle is not None and not self:
            self.cancel_timer()
        return value

    def take_all(self) -> list[V]:
        """Take every entry out, and stop the timer."""
        self.cancel_timer()
        return super().take_all()

    def cancel_timer(self) -> None:
        """Stop the loop timer (the table is being dropped)."""
        handle = self._handle
        if handle is not None:
            handle.cancel()
            self._handle = None

    def _arm(self, loop: asyncio.AbstractEventLoop, deadline: float) -> None:
        """Make sure the timer goes off at ``deadline`` at the latest."""
        handle = self._handle
        if handle is None or deadline < self._handle_at:
            if handle is not None:
                handle.cancel()
            self._handle_at = deadline
            self._handle = loop.call_at(deadline, self._fire)

    def _fire(self) -> None:
        self._handle = None
        loop = self._loop
        assert loop is not None
        # asyncio runs a timer up to one clock resolution early: what it was armed for
        # is due anyway
        now = max(loop.time(), self._handle_at)
        for key, value in self.expire(now):
            try:
                self.on_expire(key, value)
            except Exception:
                logger.exception("a timeout callback failed")
        # a callback may have armed the timer for a later entry than the next one left
        deadline = self.next_deadline()
        if deadline is not None:
            self._arm(loop, deadline)
