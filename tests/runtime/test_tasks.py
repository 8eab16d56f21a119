"""TaskRegistry: background tasks kept alive, failures logged once, waited for, cancelled."""

from __future__ import annotations

import asyncio
import gc
import logging
import weakref

import pytest

from aiosocketio.runtime import events, tasks
from aiosocketio.runtime.tasks import TaskRegistry, background, spawn


async def test_a_task_is_kept_alive_until_it_ends() -> None:
    registry = TaskRegistry()
    loop = asyncio.get_running_loop()
    holder: list[weakref.ref[asyncio.Future[int]]] = []
    done: list[int] = []

    async def orphan() -> None:
        # only this task references the future: without the registry, a gc pass would
        # collect both ("Task was destroyed but it is pending")
        fut: asyncio.Future[int] = loop.create_future()
        holder.append(weakref.ref(fut))
        done.append(await fut)

    registry.spawn(orphan())
    await asyncio.sleep(0)
    assert len(registry) == 1
    gc.collect()
    fut = holder[0]()
    assert fut is not None
    fut.set_result(7)
    del fut
    await registry.wait()
    assert done == [7] and len(registry) == 0


async def test_a_failure_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    registry = TaskRegistry("the registry's work")

    async def fail(message: str) -> None:
        raise RuntimeError(message)

    with caplog.at_level(logging.ERROR):
        named = registry.spawn(fail("boom one"), "the named work")
        unnamed = registry.spawn(fail("boom two"))
        await asyncio.wait([named, unnamed])
        del named, unnamed
        gc.collect()  # nothing is left for "Task exception was never retrieved"
        await asyncio.sleep(0)
    records = [
        (r.name, r.getMessage(), str(r.exc_info[1]) if r.exc_info else "") for r in caplog.records
    ]
    assert records == [
        ("aiosocketio.runtime", "error in the named work", "boom one"),
        ("aiosocketio.runtime", "error in the registry's work", "boom two"),
    ]


async def test_a_cancelled_task_is_not_an_error(caplog: pytest.LogCaptureFixture) -> None:
    registry = TaskRegistry()
    task = registry.spawn(asyncio.sleep(60))
    await asyncio.sleep(0)
    with caplog.at_level(logging.DEBUG):
        task.cancel()
        await asyncio.wait([task])
    assert caplog.records == [] and len(registry) == 0


async def test_any_awaitable_may_be_spawned() -> None:
    registry = TaskRegistry()
    fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    task = registry.spawn(fut)
    fut.set_result("answer")
    assert await task == "answer"


async def test_wait_includes_the_tasks_started_meanwhile() -> None:
    registry = TaskRegistry()
    log: list[str] = []

    async def child() -> None:
        await asyncio.sleep(0.02)
        log.append("child")

    async def parent() -> None:
        await asyncio.sleep(0.01)
        registry.spawn(child())
        log.append("parent")

    registry.spawn(parent())
    assert await registry.wait() is True
    assert log == ["parent", "child"]
    assert await registry.wait() is True  # nothing to wait for


async def test_wait_gives_up_after_the_timeout() -> None:
    registry = TaskRegistry()
    task = registry.spawn(asyncio.sleep(60))
    assert await registry.wait(0.02) is False
    assert not task.done()  # still running
    await registry.cancel_all()
    assert task.cancelled()


async def test_cancel_all_cancels_everything_but_the_caller() -> None:
    registry = TaskRegistry()
    cleanup_ran: list[bool] = []

    async def cleanup() -> None:
        await asyncio.sleep(60)

    async def stubborn() -> None:
        try:
            await asyncio.sleep(60)
        finally:
            registry.spawn(cleanup())  # started while being cancelled: cancelled too
            cleanup_ran.append(True)

    async def closer() -> str:
        await registry.cancel_all()
        return "closed"

    sleepers = [registry.spawn(asyncio.sleep(60)) for _ in range(3)]
    victim = registry.spawn(stubborn())
    await asyncio.sleep(0)
    caller = registry.spawn(closer())
    assert await caller == "closed"
    assert all(t.cancelled() for t in [*sleepers, victim])
    assert cleanup_ran == [True] and len(registry) == 0


def test_the_tasks_of_another_loop_are_left_alone() -> None:
    registry = TaskRegistry()
    other = asyncio.new_event_loop()
    mine = asyncio.new_event_loop()
    try:

        async def main() -> bool:
            registry.spawn(asyncio.sleep(0.01), loop=other)
            assert registry.pending(mine) == [] and len(registry.pending()) == 1
            return await registry.wait(1)

        assert mine.run_until_complete(main()) is True
        (task,) = registry.pending(other)
        other.run_until_complete(task)
        assert len(registry) == 0
    finally:
        other.close()
        mine.close()


def test_one_spawn_for_the_package() -> None:
    assert events.spawn is tasks.spawn
    assert spawn == background.spawn  # the bound method itself
    assert background.name == "an event handler"
