"""The one registry of background tasks.

A task started with :meth:`TaskRegistry.spawn` is kept alive (asyncio only holds tasks
weakly) until it ends, and its failure is logged once, never raised into the caller. The
package's own work (async event handlers, cluster operations, the client's last POST)
runs in :data:`background`; an object that must stop its tasks when it closes (an adapter,
a client connection) keeps a registry of its own and calls :meth:`TaskRegistry.cancel_all`.
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
        name: what the tasks are, for the log line of a failure ("error in <what>").
    """

    __slots__ = ("_tasks", "name")

    def __init__(self, name: str = "a background task") -> None:
        self.name = name
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, awaitable: Awaitable[T], what: str | None = None) -> asyncio.Task[T]:
        """Run ``awaitable`` as a task held by this registry.

        Args:
            awaitable: a coroutine or any awaitable.
            what: names the work in the log line if it fails (default: the registry's name).
        """
        coro: Coroutine[Any, Any, T] = (
            awaitable if asyncio.iscoroutine(awaitable) else _wrap(awaitable)
        )
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        label = what or self.name

        def done(task: asyncio.Task[Any]) -> None:
            self._tasks.discard(task)
            if not task.cancelled():
                exc = task.exception()
                if exc is not None:
                    logger.error("error in %s", label, exc_info=exc)

        task.add_done_callback(done)
        return task

    def pending(self, loop: asyncio.AbstractEventLoop | None = None) -> list[asyncio.Task[Any]]:
        """The tasks not yet done (on ``loop`` only, when given)."""
        return [t for t in self._tasks if not t.done() and (loop is None or t.get_loop() is loop)]

    async def wait(self, timeout: float | None = None) -> None:
        """Wait for the tasks of the running loop to end (at most ``timeout`` seconds)."""
        tasks = self.pending(asyncio.get_running_loop())
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

    async def cancel_all(self) -> None:
        """Cancel the tasks of the running loop and wait until they are done."""
        tasks = self.pending(asyncio.get_running_loop())
        current = asyncio.current_task()
        tasks = [t for t in tasks if t is not current]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


background = TaskRegistry("an event handler")
"""The registry of the package's own background work."""


def spawn(awaitable: Awaitable[T], what: str | None = None) -> asyncio.Task[T]:
    """Run ``awaitable`` in :data:`background` (see :meth:`TaskRegistry.spawn`)."""
    return background.spawn(awaitable, what)
