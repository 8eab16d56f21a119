"""A clock that tests move by hand: the event loop's time, made virtual.

Every deadline of the library is a timer on the event loop (the engine's timer wheel,
the connect timeout, ack timeouts, the client's heartbeat check and its reconnection
delay), and the loop reads its time from ``loop.time()``. :class:`ManualClock` replaces
that time on the running loop while it is installed: time stands still until
:meth:`ManualClock.advance` moves it, and then every timer that falls due on the way fires
at its own time, in order, with what it causes (a ping, its pong, the next deadline)
running before the clock moves on. So ``await clock.advance(25)`` sends the server's
ping at once, and a client that does not answer is closed with "ping timeout" by
``await clock.advance(20)``.

How: the loop asks its selector for I/O with a timeout that is the time to the next
timer. The clock wraps that call. When the loop has nothing ready and a test is moving
the clock, the clock jumps to the next timer (or to the target) instead of sleeping. The
in-memory transport of :mod:`aiosocketio.testing` does no I/O, so the loop is *idle*
exactly when nothing more can happen without time passing: :meth:`ManualClock.settle`
waits for that moment.
"""

from __future__ import annotations

import asyncio
import selectors
import time
from collections.abc import Callable
from typing import Any

__all__ = ["ClockStalled", "ManualClock"]


class ClockStalled(RuntimeError):
    """The loop waited ``stall_timeout`` real seconds for a timer that only the manual
    clock can bring, with nothing else to do: the test awaits something without moving
    the clock (raised out of the event loop, so the test fails instead of hanging)."""


def _ns(seconds: float) -> int:
    """``seconds`` to the nearest whole nanosecond (the loop counts a timer less than its
    clock resolution, 1 ns, away as due; rounding up would drift a rescheduled timer)."""
    return round(seconds * 1e9)


_REAL_WAIT = 0.05
"""Seconds the loop blocks at most, while time stands still, before it looks again."""


class ManualClock:
    """The running loop's clock, moved by hand.

    Args:
        autojump: when the loop is idle and nobody moves the clock, jump to the next timer
            at once (as trio's ``MockClock(autojump_threshold=0)``): a test that waits for
            a timeout then gets it without real waiting.
        stall_timeout: real seconds the loop may wait, idle, for a timer before
            :class:`ClockStalled` is raised out of it (``None``: wait forever).

    Use it as ``async with ManualClock() as clock:`` (or :meth:`install` /
    :meth:`uninstall`); :class:`~aiosocketio.testing.TestClient` installs the one it is
    given. Only the default selector event loop is supported.
    """

    def __init__(self, *, autojump: bool = False, stall_timeout: float | None = 10.0) -> None:
        self.autojump = autojump
        self.stall_timeout = stall_timeout
        self._stalled_since: float | None = None
        # The time is kept as whole nanoseconds since install over the loop's reading then:
        # moves add exactly, so advance(24.999) then advance(0.001) is 25 s to the bit.
        self._ns = 0
        self._start = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._selector: selectors.BaseSelector | None = None
        self._real_select: Callable[..., list[Any]] | None = None
        self._target: int | None = None
        self._reached: asyncio.Future[None] | None = None
        self._idle_waiters: list[asyncio.Future[None]] = []

    # -- installation ---------------------------------------------------------------------

    def install(self) -> ManualClock:
        """Take over the running loop's time (from its current reading)."""
        loop = asyncio.get_running_loop()
        if self._loop is not None:
            raise RuntimeError("this ManualClock is already installed")
        selector = getattr(loop, "_selector", None)
        if selector is None:
            raise RuntimeError("ManualClock needs asyncio's selector event loop")
        self._start = loop.time()
        self._ns = 0
        self._loop = loop
        self._selector = selector
        self._real_select = selector.select
        loop.time = self.time  # type: ignore[method-assign]
        selector.select = self._select
        return self

    def uninstall(self) -> None:
        """Give the loop its real time back."""
        loop, selector = self._loop, self._selector
        if loop is None or selector is None:
            return
        del loop.time
        del selector.select
        self._loop = None
        self._selector = None
        for waiter in self._idle_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._idle_waiters.clear()

    async def __aenter__(self) -> ManualClock:
        return self.install()

    async def __aexit__(self, *exc: object) -> None:
        self.uninstall()

    # -- time -----------------------------------------------------------------------------

    def time(self) -> float:
        """The loop's time now (seconds, as ``loop.time()``)."""
        return self._start + self._ns / 1e9 if self._ns else self._start

    @property
    def elapsed(self) -> float:
        """Seconds the clock was moved since it was installed."""
        return self._ns / 1e9

    async def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``: every timer due on the way fires at its time,
        and what it causes runs, before this returns."""
        if seconds < 0:
            raise ValueError("time does not go back")
        loop = self._require()
        await self.settle()
        self._target = self._ns + round(seconds * 1e9)
        reached = self._reached = loop.create_future()
        try:
            await reached
        finally:
            self._target = None
            self._reached = None
        await self.settle()

    async def settle(self) -> None:
        """Wait until the loop is idle: everything that can happen without time passing
        has happened (handlers ran, messages were delivered, answers came back)."""
        loop = self._require()
        waiter = loop.create_future()
        self._idle_waiters.append(waiter)
        await waiter

    # -- internals ------------------------------------------------------------------------

    def _require(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("the ManualClock is not installed")
        return self._loop

    def _select(self, timeout: float | None = None) -> list[Any]:
        real = self._real_select
        assert real is not None
        if timeout == 0:
            self._stalled_since = None
            return real(0)  # callbacks are ready: the loop is busy
        events = real(0)
        if events:
            self._stalled_since = None
            return events
        # idle: nothing is ready, the next timer is `timeout` seconds away (None: none)
        waiters = self._idle_waiters
        if waiters:
            self._idle_waiters = []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
            return []
        target = self._target
        if target is not None:
            step = None if timeout is None else _ns(timeout)
            if step is not None and self._ns + step <= target:
                self._ns += step
            else:
                self._ns = max(self._ns, target)
                reached = self._reached
                if reached is not None and not reached.done():
                    reached.set_result(None)
            return []
        if self.autojump and timeout is not None:
            self._ns += _ns(timeout)
            return []
        if timeout is not None and self.stall_timeout is not None:
            now = time.monotonic()
            if self._stalled_since is None:
                self._stalled_since = now
            elif now - self._stalled_since > self.stall_timeout:
                self._stalled_since = None
                raise ClockStalled(
                    f"the loop waited {self.stall_timeout} s for a timer {timeout:.3f} s away"
                    " on the manual clock: advance the clock (or use autojump)"
                )
        return real(_REAL_WAIT if timeout is None else min(timeout, _REAL_WAIT))
