"""A small event emitter for the I/O layer (engine and connection events).

Listeners may be plain functions or coroutine functions; a coroutine's result is
scheduled on the running loop. A listener that raises is logged, never propagated into
the I/O layer.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import Any, TypeVar, overload

__all__ = ["Emitter", "call_listener"]

logger = logging.getLogger("aiosocketio.engineio")

F = TypeVar("F", bound=Callable[..., Any])

_background: set[asyncio.Future[Any]] = set()


def call_listener(listener: Callable[..., Any], *args: Any) -> None:
    """Call ``listener(*args)``; schedule it if it is a coroutine; log what it raises."""
    try:
        result = listener(*args)
    except Exception:
        logger.exception("listener %r raised", listener)
        return
    if inspect.isawaitable(result):
        fut = asyncio.ensure_future(result)
        _background.add(fut)
        fut.add_done_callback(_done)


def _done(fut: asyncio.Future[Any]) -> None:
    _background.discard(fut)
    if not fut.cancelled() and fut.exception() is not None:
        logger.error("async listener raised", exc_info=fut.exception())


class Emitter:
    """``on``/``once``/``off``/``emit`` with Node's semantics and a decorator form."""

    __slots__ = ("_listeners",)

    def __init__(self) -> None:
        self._listeners: dict[str, list[Callable[..., Any]]] | None = None

    @overload
    def on(self, event: str) -> Callable[[F], F]: ...

    @overload
    def on(self, event: str, handler: F) -> F: ...

    def on(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        """Add a listener: ``x.on("close", fn)`` or ``@x.on("close")``."""
        if handler is None:

            def decorator(fn: F) -> F:
                self._add(event, fn)
                return fn

            return decorator
        self._add(event, handler)
        return handler

    def once(self, event: str, handler: Callable[..., Any]) -> None:
        """Add a listener that is removed after its first call."""

        def wrapper(*args: Any) -> Any:
            self.off(event, wrapper)
            return handler(*args)

        self._add(event, wrapper)

    def off(self, event: str | None = None, handler: Callable[..., Any] | None = None) -> None:
        """Remove one listener, every listener of an event, or every listener."""
        listeners = self._listeners
        if listeners is None:
            return
        if event is None:
            listeners.clear()
        elif handler is None:
            listeners.pop(event, None)
        else:
            found = listeners.get(event)
            if found and handler in found:
                found.remove(handler)
                if not found:
                    del listeners[event]

    def _add(self, event: str, handler: Callable[..., Any]) -> None:
        if self._listeners is None:
            self._listeners = {}
        self._listeners.setdefault(event, []).append(handler)

    def has_listeners(self, event: str) -> bool:
        """Whether ``event`` has at least one listener (cheap; used on hot paths)."""
        listeners = self._listeners
        return bool(listeners and listeners.get(event))

    def emit(self, event: str, *args: Any) -> None:
        """Call the listeners of ``event`` in order."""
        listeners = self._listeners
        if not listeners:
            return
        found = listeners.get(event)
        if not found:
            return
        for listener in list(found):
            call_listener(listener, *args)
