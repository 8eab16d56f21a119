"""``DONE``: what an emit returns, so that it may be awaited or not.

Emitting writes at once (or hands the packet to the adapter at once): there is nothing
to wait for. python-socketio's ``await sio.emit(...)`` habit still works, because an emit
returns :data:`DONE`, an awaitable that finishes immediately without suspending. Not
awaiting it is just as correct: it is not a coroutine, so nothing warns that it was
"never awaited", and returning it costs one global load.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

__all__ = ["DONE", "Done"]


class Done:
    """An already-finished awaitable (``await`` on it returns ``None`` at once)."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return
        yield  # a generator that ends at once: ``await`` never suspends

    def __repr__(self) -> str:
        return "<done>"


DONE = Done()
"""The one :class:`Done` instance."""
