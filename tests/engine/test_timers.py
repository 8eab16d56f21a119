"""TimerWheel: many deadlines on one loop timer, never early, in order, cancellable."""

from __future__ import annotations

import asyncio
import logging

import pytest

from aiosocketio.engine.timers import TimerWheel
from tests.support.timeouts import scaled


class Owner:
    def __init__(self, wheel: TimerWheel, name: str, log: list[tuple[str, float, float]]) -> None:
        self.wheel = wheel
        self.name = name
        self.log = log
        self.deadline = 0.0
        self.slot = -1
        self.then: float | None = None  # book again this much later when fired

    def book(self, delay: float) -> None:
        self.deadline = self.wheel.loop.time() + delay
        self.slot = self.wheel.schedule(self, self.deadline)

    def _wheel_fired(self, slot: int) -> None:
        assert slot == self.slot
        self.log.append((self.name, self.deadline, self.wheel.loop.time()))
        if self.then is not None:
            delay, self.then = self.then, None
            self.book(delay)


async def settle(wheel: TimerWheel, log: list[tuple[str, float, float]], count: int) -> None:
    deadline = wheel.loop.time() + scaled(5)
    while len(log) < count:
        assert wheel.loop.time() < deadline, log
        await asyncio.sleep(0.005)


async def test_deadlines_fire_in_order_and_never_early() -> None:
    wheel = TimerWheel(asyncio.get_running_loop())
    log: list[tuple[str, float, float]] = []
    owners = {name: Owner(wheel, name, log) for name in "abcde"}
    for name, delay in zip("abcde", (0.09, 0.03, 0.06, 0.031, 0.12), strict=True):
        owners[name].book(delay)
    assert len(wheel) == 5
    await settle(wheel, log, 5)
    assert [name for name, _, _ in log] == ["b", "d", "c", "a", "e"]
    assert sorted(log, key=lambda entry: entry[1]) == sorted(log, key=lambda entry: entry[2])
    for _, due, fired in log:
        assert fired >= due - 0.002  # the loop's clock resolution, never a tick early
    assert len(wheel) == 0


async def test_cancel_and_rebook() -> None:
    wheel = TimerWheel(asyncio.get_running_loop())
    log: list[tuple[str, float, float]] = []
    a, b = Owner(wheel, "a", log), Owner(wheel, "b", log)
    a.book(0.02)
    b.book(0.02)
    wheel.cancel(a, a.slot)
    await settle(wheel, log, 1)
    await asyncio.sleep(0.05)
    assert [name for name, _, _ in log] == ["b"]


async def test_an_owner_booking_later_from_its_callback_does_not_hold_back_earlier_slots() -> None:
    # a fires first and books itself far ahead from its callback; b's slot lies between
    # and must still fire on time (not when a's new slot comes)
    wheel = TimerWheel(asyncio.get_running_loop())
    log: list[tuple[str, float, float]] = []
    a, b = Owner(wheel, "a", log), Owner(wheel, "b", log)
    a.then = 30.0
    a.book(0.02)
    b.book(0.06)
    await settle(wheel, log, 2)
    assert [name for name, _, _ in log] == ["a", "b"]
    assert len(wheel) == 1  # a, 30 s ahead
    wheel.cancel(a, a.slot)


async def test_a_failing_owner_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    wheel = TimerWheel(asyncio.get_running_loop())
    log: list[tuple[str, float, float]] = []

    class Failing(Owner):
        def _wheel_fired(self, slot: int) -> None:
            raise RuntimeError("boom")

    bad, good = Failing(wheel, "bad", log), Owner(wheel, "good", log)
    bad.book(0.02)
    good.book(0.02)
    with caplog.at_level(logging.ERROR, logger="aiosocketio.engine"):
        await settle(wheel, log, 1)
    assert [name for name, _, _ in log] == ["good"]
    assert "timer callback failed" in caplog.text


async def test_deadlines_fire_on_time_not_at_the_end_of_their_slot() -> None:
    # A 10 ms slot must not make a deadline 10 ms late: owners join the imminent list when
    # their slot starts and fire at their own deadline.
    wheel = TimerWheel(asyncio.get_running_loop())
    log: list[tuple[str, float, float]] = []
    delays = [0.013 + 0.0037 * i for i in range(24)]
    owners = [Owner(wheel, f"o{i}", log) for i in range(len(delays))]
    for owner, delay in zip(owners, delays, strict=True):
        owner.book(delay)
    await settle(wheel, log, len(owners))
    late = sorted(fired - due for _, due, fired in log)
    assert late[0] >= -0.002  # never early (the loop's clock resolution aside)
    assert late[len(late) // 2] < 0.003, late  # a slot-rounding wheel is ~5 ms late here
    assert [name for name, _, _ in log] == [f"o{i}" for i in range(len(delays))]


async def test_a_deadline_inside_the_current_slot_and_a_rebooking_within_it() -> None:
    wheel = TimerWheel(asyncio.get_running_loop())
    log: list[tuple[str, float, float]] = []
    a, b = Owner(wheel, "a", log), Owner(wheel, "b", log)
    a.book(0.0005)  # its slot has already started
    a.then = 0.001  # books again from its callback, most likely in the same slot
    b.book(0.003)
    await settle(wheel, log, 3)
    assert sorted(name for name, _, _ in log) == ["a", "a", "b"]
    for _, due, fired in log:
        assert fired >= due - 0.002
    assert len(wheel) == 0


async def test_cancel_an_imminent_deadline() -> None:
    wheel = TimerWheel(asyncio.get_running_loop(), tick=0.05)
    log: list[tuple[str, float, float]] = []
    a, b = Owner(wheel, "a", log), Owner(wheel, "b", log)
    b.book(0.002)
    a.book(0.03)
    await settle(wheel, log, 1)  # b fired: a's slot has started, a is imminent
    wheel.cancel(a, a.slot)
    assert len(wheel) == 0
    await asyncio.sleep(0.05)
    assert [name for name, _, _ in log] == ["b"]
