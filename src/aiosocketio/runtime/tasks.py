"""The one registry of background tasks.

A task started with :meth:`TaskRegistry.spawn` is kept alive (asyncio only holds tasks
weakly) until it ends, and its failure is logged once, never raised into the caller. The
package's own work (async event handlers, cluster operations) runs in :data:`background`;
an object that must wait for, or stop, its tasks keeps a registry of its own (the client's
closing POSTs: :data:`aiosocketio.client.connection.closing`) and calls
:meth:`TaskRegistry.wait` or :meth:`TaskRegistry.cancel_all`.

A registry may hold tasks of several event loops (the blocking client runs one in a
thread): :meth:`~TaskRegistry.wait` and :meth:`~TaskRegistry.cancel_all` act on the
running loop's tasks only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar

__all__ = ["TaskRegistry", "background", "spawn"]

logger = logging.getLogger("aiosocketio.runtime")

T = TypeVar("T")


async def _wrap(awaitable: Awaitable[T]) -> T:
    return await awaitable


class TaskRegistry:
    """A set of running tasks, each held until it ends.

    Args:
        name: what the tasks are, for the log line of a failure ("error in <name>").
    """

    __slots__ = ("_tasks", "name")

    def __init__(self, name: str = "a background task") -> None:
        self.name = name
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(
        self,
        awaitable: Awaitable[T],
        what: object = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> asyncio.Task[T]:
        """Run ``awaitable`` as a task held by this registry.

        Args:
            awaitable: a coroutine or any awaitable.
            what: names the work in the log line if it fails (default: the registry's name):
                a string, or any object whose ``str()`` is the name (made only if it fails);
                an object with a ``report_failure(exc)`` method logs the failure itself.
            loop: the loop to run it in (default: the running loop).

        Returns:
            The task; awaiting it is optional (its failure is logged either way).
        """
        coro: Coroutine[Any, Any, T] = (
            awaitable if asyncio.iscoroutine(awaitable) else _wrap(awaitable)
        )
        task = (loop or asyncio.get_running_loop()).create_task(coro)
        tasks = self._tasks
        tasks.add(task)
        label = self.name if what is None else what

        def done(task: asyncio.Task[Any]) -> None:
            tasks.discard(task)
            if not task.cancelled():
                exc = task.exception()
                if exc is not None:
                    report = getattr(label, "report_failure", None)
                    if report is not None:
                        report(exc)
                    else:
                        logger.error("error in %s", label, exc_info=exc)

        task.add_done_callback(done)
        return task

    def pending(self, loop: asyncio.AbstractEventLoop | None = None) -> list[asyncio.Task[Any]]:
        """The tasks not yet done (on ``loop`` only, when given)."""
        return [t for t in self._tasks if not t.done() and (loop is None or t.get_loop() is loop)]

    def _others(self) -> list[asyncio.Task[Any]]:
        """The running loop's pending tasks, except the caller's own."""
        current = asyncio.current_task()
        return [t for t in self.pending(asyncio.get_running_loop()) if t is not current]

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait until the running loop's tasks have ended, those they start included.

        Args:
            timeout: give up after this many seconds (the tasks keep running).

        Returns:
            True if every task ended, False on timeout.
        """
        try:
            async with asyncio.timeout(timeout):
                while tasks := self._others():
                    await asyncio.wait(tasks)
        except TimeoutError:
            return False
        return True

    async def cancel_all(self) -> None:
        """Cancel the running loop's tasks (not the caller's own) and wait until they end."""
        while tasks := self._others():
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


background = TaskRegistry("an event handler")
"""The registry of the package's own background work."""

spawn = background.spawn
"""Run an awaitable in :data:`background` (see :meth:`TaskRegistry.spawn`).

The bound method itself, so that handing a coroutine to the background costs no extra call
(async event handlers are spawned once per event).
"""
