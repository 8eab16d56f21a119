"""A small event emitter for the client: ``on``/``once``/``off``, decorator form, async handlers.

A handler may be a plain function or a coroutine function. A coroutine is run as a task;
its exceptions are logged, never raised into the I/O layer.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

__all__ = ["HANDLER_FAILED", "EventEmitter", "Handler", "call_handler"]

logger = logging.getLogger("aiosocketio.client")

Handler = Callable[..., Any]
H = TypeVar("H", bound=Handler)

_tasks: set[asyncio.Task[Any]] = set()


def _task_done(task: asyncio.Task[Any]) -> None:
    _tasks.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.error("error in an event handler", exc_info=task.exception())


HANDLER_FAILED: Any = object()
"""What :func:`call_handler` returns when a plain handler raised (no ack is sent then)."""


def call_handler(fn: Handler, args: tuple[Any, ...]) -> Any:
    """Call ``fn(*args)``; a coroutine becomes a task (returned). Errors are logged.

    Returns the handler's result, an :class:`asyncio.Task` for a coroutine, or
    :data:`HANDLER_FAILED` when a plain handler raised.
    """
    try:
        result = fn(*args)
    except Exception:
        logger.exception("error in an event handler")
        return HANDLER_FAILED
    if inspect.isawaitable(result):
        task = asyncio.ensure_future(result)
        _tasks.add(task)
        task.add_done_callback(_task_done)
        return task
    return result


def _positional_capacity(fn: Handler) -> int:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return 1 << 30
    count = 0
    for param in sig.parameters.values():
        if param.kind is param.VAR_POSITIONAL:
            return 1 << 30
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            count += 1
    return count


class _Listener:
    __slots__ = ("fn", "max_args", "once")

    def __init__(self, fn: Handler, once: bool, max_args: int) -> None:
        self.fn = fn
        self.once = once
        self.max_args = max_args


class EventEmitter:
    """``on``/``once``/``off`` for named events, usable as decorators.

    Reserved events whose listeners may take fewer arguments than Node passes (for
    example ``disconnect(reason, description)``) are listed in ``_FLEXIBLE``; a listener
    gets as many of those arguments as its signature accepts.
    """

    _FLEXIBLE: frozenset[str] = frozenset()

    def __init__(self) -> None:
        self._listeners: dict[str, list[_Listener]] = {}

    def _add(self, event: str, fn: Handler, once: bool) -> None:
        self._listeners.setdefault(event, []).append(_Listener(fn, once, _positional_capacity(fn)))

    @overload
    def on(self, event: str, handler: None = None) -> Callable[[H], H]: ...
    @overload
    def on(self, event: str, handler: H) -> H: ...
    def on(self, event: str, handler: H | None = None) -> H | Callable[[H], H]:
        """Add a listener for ``event``; without ``handler``, return a decorator."""
        if handler is None:

            def decorator(fn: H) -> H:
                self._add(event, fn, False)
                return fn

            return decorator
        self._add(event, handler, False)
        return handler

    @overload
    def once(self, event: str, handler: None = None) -> Callable[[H], H]: ...
    @overload
    def once(self, event: str, handler: H) -> H: ...
    def once(self, event: str, handler: H | None = None) -> H | Callable[[H], H]:
        """Add a listener called at most once; without ``handler``, return a decorator."""
        if handler is None:

            def decorator(fn: H) -> H:
                self._add(event, fn, True)
                return fn

            return decorator
        self._add(event, handler, True)
        return handler

    def off(self, event: str | None = None, handler: Handler | None = None) -> None:
        """Remove one listener, every listener of ``event``, or every listener."""
        if event is None:
            self._listeners.clear()
            return
        if handler is None:
            self._listeners.pop(event, None)
            return
        listeners = self._listeners.get(event)
        if not listeners:
            return
        for i, listener in enumerate(listeners):
            if listener.fn == handler:
                del listeners[i]
                break
        if not listeners:
            del self._listeners[event]

    def listeners(self, event: str) -> list[Handler]:
        """The listeners of ``event``, in order."""
        return [listener.fn for listener in self._listeners.get(event, ())]

    def has_listeners(self, event: str) -> bool:
        """Whether ``event`` has any listener."""
        return bool(self._listeners.get(event))

    def _emit_reserved(self, event: str, *args: Any, optional_tail: int = 0) -> tuple[bool, Any]:
        """Call every listener of ``event``; return (called any, first listener's result).

        The last ``optional_tail`` arguments are dropped for a listener that cannot take
        them (as JavaScript ignores extra arguments): the connection-state-recovery offset
        that the server appends to events.
        """
        listeners = self._listeners.get(event)
        if not listeners:
            return False, None
        flexible = event in self._FLEXIBLE
        first: Any = None
        for i, listener in enumerate(list(listeners)):
            if listener.once:
                self.off(event, listener.fn)
            cut = listener.max_args
            if not flexible:
                cut = max(cut, len(args) - optional_tail)
            call_args = args if len(args) <= cut else args[:cut]
            result = call_handler(listener.fn, call_args)
            if i == 0:
                first = result
        return True, first


def is_task(value: Any) -> bool:
    """Whether ``value`` is a task made by :func:`call_handler` (a coroutine handler)."""
    return isinstance(value, asyncio.Future)


AwaitableAny = Awaitable[Any]
