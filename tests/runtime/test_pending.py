"""PendingTable: a deadline table driven by one loop timer, on a real event loop."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import weakref
from collections.abc import Callable

import pytest

from aiosocketio.runtime.pending import PendingTable
from tests.support.timeouts import scaled


class Recorder:
    """An ``on_expire`` that logs ``(key, value, loop time)``."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.log: list[tuple[str, int, float]] = []
        self.then: Callable[[str], None] | None = None

    def expired(self, key: str, value: int) -> None:
        self.log.append((key, value, self.loop.time()))
        if self.then is not None:
            self.then(key)

    async def until(self, count: int) -> None:
        deadline = self.loop.time() + scaled(5)
        while len(self.log) < count:
            assert self.loop.time() < deadline, self.log
            await asyncio.sleep(0.005)


async def test_entries_time_out_in_deadline_order_not_before_their_deadline() -> None:
    loop = asyncio.get_running_loop()
    rec = Recorder(loop)
    table: PendingTable[str, int] = PendingTable(rec.expired)
    start = loop.time()
    table.add_with_timeout("a", 1, 0.06)
    table.add_with_timeout("b", 2, 0.02)
    table.add_with_timeout("never", 3, None)
    table.add_with_timeout("c", 4, 0.1)
    table.add_with_timeout("now", 5, -1)  # a negative timeout is due at once
    await rec.until(4)
    assert [(k, v) for k, v, _ in rec.log] == [("now", 5), ("b", 2), ("a", 1), ("c", 4)]
    timeouts = {"now": 0.0, "b": 0.02, "a": 0.06, "c": 0.1}
    for key, _, at in rec.log:
        assert at >= start + timeouts[key] - 0.001, key
    assert table.values() == [3]
    await asyncio.sleep(0.05)
    assert len(rec.log) == 4


async def test_an_answered_entry_does_not_time_out() -> None:
    loop = asyncio.get_running_loop()
    rec = Recorder(loop)
    table: PendingTable[str, int] = PendingTable(rec.expired)
    table.add_with_timeout("a", 1, 0.02)
    table.add_with_timeout("b", 2, 0.04)
    assert table.pop("a") == 1
    await rec.until(1)
    assert [k for k, _, _ in rec.log] == ["b"]


async def test_an_earlier_entry_re_arms_the_timer() -> None:
    loop = asyncio.get_running_loop()
    rec = Recorder(loop)
    table: PendingTable[str, int] = PendingTable(rec.expired)
    start = loop.time()
    table.add_with_timeout("late", 1, 10)
    table.add_with_timeout("soon", 2, 0.02)
    await rec.until(1)
    assert rec.log[0][0] == "soon" and rec.log[0][2] - start < scaled(1)
    table.take_all()


async def test_an_entry_added_again_times_out_at_its_new_deadline() -> None:
    loop = asyncio.get_running_loop()
    rec = Recorder(loop)
    table: PendingTable[str, int] = PendingTable(rec.expired)
    start = loop.time()
    table.add_with_timeout("a", 1, 0.02)
    table.add_with_timeout("a", 2, 0.08)  # the timer still goes off at 0.02: nothing due
    await rec.until(1)
    assert rec.log[0][:2] == ("a", 2) and rec.log[0][2] >= start + 0.08 - 0.001


async def test_a_callback_adding_a_later_entry_does_not_delay_the_next_one() -> None:
    loop = asyncio.get_running_loop()
    rec = Recorder(loop)
    table: PendingTable[str, int] = PendingTable(rec.expired)

    def add_later(key: str) -> None:
        if key == "first":
            table.add_with_timeout("added", 9, 1.0)

    rec.then = add_later
    start = loop.time()
    table.add_with_timeout("first", 1, 0.02)
    table.add_with_timeout("second", 2, 0.06)
    await rec.until(2)
    assert [k for k, _, _ in rec.log] == ["first", "second"]
    assert rec.log[1][2] - start < 0.06 + scaled(0.4)  # not at the added entry's 1.0
    assert table.values() == [9]
    table.take_all()


async def test_a_late_timer_expires_everything_due_at_once() -> None:
    loop = asyncio.get_running_loop()
    rec = Recorder(loop)
    table: PendingTable[str, int] = PendingTable(rec.expired)
    left: list[list[str]] = []
    rec.then = lambda key: left.append(list(table))
    table.add_with_timeout("b", 2, 0.02)
    table.add_with_timeout("a", 1, 0.01)
    table.add_with_timeout("c", 3, 5)
    time.sleep(0.05)  # the loop is blocked past both deadlines
    await rec.until(2)
    assert [k for k, _, _ in rec.log] == ["a", "b"]
    assert left == [["c"], ["c"]]  # both were taken out in one timer run
    assert table.values() == [3]
    table.take_all()


def test_a_timer_that_runs_early_expires_what_it_was_armed_for() -> None:
    # asyncio runs a timer whose time is within the clock resolution of "now"; with a
    # coarse clock it runs visibly early, when something else wakes the loop up first.
    loop = asyncio.SelectorEventLoop()
    loop._clock_resolution = 0.05  # type: ignore[attr-defined]

    async def main() -> list[tuple[str, int, float]]:
        rec = Recorder(loop)
        table: PendingTable[str, int] = PendingTable(rec.expired)
        start = loop.time()
        table.add_with_timeout("a", 1, 0.05)
        loop.call_later(0.01, lambda: None)  # wakes the loop 40 ms before the deadline
        await rec.until(1)
        await asyncio.sleep(0.1)
        assert rec.log[0][2] < start + 0.04  # it ran early, and the entry expired then
        return rec.log

    try:
        log = loop.run_until_complete(main())
    finally:
        loop.close()
    assert [k for k, _, _ in log] == ["a"]


async def test_take_all_stops_the_timer() -> None:
    loop = asyncio.get_running_loop()
    rec = Recorder(loop)
    table: PendingTable[str, int] = PendingTable(rec.expired)
    table.add_with_timeout("a", 1, 0.01)
    table.add_with_timeout("b", 2, 0.01)
    table.add_with_timeout("c", 3, None)
    assert table.take_all() == [1, 2, 3]
    await asyncio.sleep(0.04)
    assert rec.log == [] and not table
    table.add_with_timeout("d", 4, 0.01)  # the table is still usable
    await rec.until(1)
    assert [k for k, _, _ in rec.log] == ["d"]


async def test_answered_entries_leave_no_timer_that_keeps_the_owner_alive() -> None:
    loop = asyncio.get_running_loop()
    owner = Recorder(loop)
    table: PendingTable[str, int] = PendingTable(owner.expired)
    table.add_with_timeout("a", 1, 60)
    table.add_with_timeout("b", 2, 30)
    table.pop("a")
    table.pop("b")
    gone = weakref.ref(owner)
    gc.disable()
    try:
        del owner, table
        assert gone() is None  # freed by reference counting: no loop timer holds it
    finally:
        gc.enable()


async def test_a_failing_callback_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = asyncio.get_running_loop()
    rec = Recorder(loop)

    def on_expire(key: str, value: int) -> None:
        if key == "bad":
            raise RuntimeError("boom in on_expire")
        rec.expired(key, value)

    table: PendingTable[str, int] = PendingTable(on_expire)
    table.add_with_timeout("bad", 1, 0.01)
    table.add_with_timeout("good", 2, 0.01)
    with caplog.at_level(logging.ERROR, logger="aiosocketio.runtime"):
        await rec.until(1)
    assert [k for k, _, _ in rec.log] == ["good"]
    failures = [r for r in caplog.records if "timeout callback" in r.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info is not None
    assert "boom in on_expire" in str(failures[0].exc_info[1])


def test_a_table_may_outlive_its_event_loop() -> None:
    expired: list[str] = []
    table: PendingTable[str, int] = PendingTable(lambda key, value: expired.append(key))

    async def one(key: str) -> None:
        table.add_with_timeout(key, 0, 0.01)
        deadline = asyncio.get_running_loop().time() + scaled(5)
        while key not in expired:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.005)

    asyncio.run(one("first loop"))
    asyncio.run(one("second loop"))
    assert expired == ["first loop", "second loop"]
