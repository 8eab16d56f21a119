"""The one event emitter: the engine, the server-side objects, the adapters and the client.

``on(event, handler)`` and the decorator form ``@obj.on(event)`` both register a listener;
``once`` registers one that runs a single time; ``off`` removes listeners (found by
identity or, for a bound method given again, by equality).

Listeners may be plain functions or coroutine functions. A coroutine is run as a task of
:data:`~aiosocketio.runtime.tasks.background`, so that it is never garbage-collected
half-way; an exception in a listener is logged, never raised into the protocol machinery.

Two ways to call the listeners, each a policy of the same registry:

* :meth:`EventEmitter.emit_reserved` is the fast path (the engine's ``message`` runs
  through it): every listener gets every argument, and what they return is dropped.
* :meth:`EventEmitter._emit_for_answer` is the client's: the last ``optional`` arguments
  are dropped for a listener that does not take them (JavaScript ignores extra arguments:
  ``disconnect(reason)`` for Node's ``disconnect(reason, description)``, an event without
  the connection-state-recovery offset the server appends), and the first listener's
  answer is returned (see :func:`call_listener`) to acknowledge the event with.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeGuard, TypeVar, overload

from aiosocketio.runtime.tasks import spawn

__all__ = ["HANDLER_FAILED", "NO_ANSWER", "EventEmitter", "Listener", "call_listener", "spawn"]

logger = logging.getLogger("aiosocketio.runtime")

F = TypeVar("F", bound=Callable[..., Any])

_ACK_PARAM_NAMES = ("ack", "callback")


class _Marker:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


HANDLER_FAILED: Final[Any] = _Marker("HANDLER_FAILED")
"""What :func:`call_listener` returns when the listener raised (the error is logged)."""

NO_ANSWER: Final[Any] = _Marker("NO_ANSWER")
"""What :meth:`EventEmitter._emit_for_answer` returns when nobody answers: no listener, or
the first one raised."""


def _ack_param(fn: Callable[..., Any]) -> str | None:
    """The name of ``fn``'s ``ack``/``callback`` parameter, if it declares one."""
    code = getattr(fn, "__code__", None)
    if code is not None:
        # fast path for functions and methods (handlers are often defined per connection)
        names = code.co_varnames[
            code.co_posonlyargcount : code.co_argcount + code.co_kwonlyargcount
        ]
        for name in _ACK_PARAM_NAMES:
            if name in names:
                return name
        return None
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return None
    for name in _ACK_PARAM_NAMES:
        param = params.get(name)
        if param is not None and param.kind in (
            inspect.Parameter.KEYWORD_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            return name
    return None


def positional_count(fn: Callable[..., Any]) -> int:
    """How many named positional parameters ``fn`` takes (``self`` excluded); 1 if unknown."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return 1
    count: int = code.co_argcount
    if inspect.ismethod(fn):
        count -= 1
    return count


_ANY_NUMBER = 1 << 30


def positional_capacity(fn: Callable[..., Any]) -> int:
    """How many positional arguments ``fn`` accepts (a huge number with ``*args``, or when
    its signature cannot be read)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return _ANY_NUMBER
    count = 0
    for param in sig.parameters.values():
        if param.kind is param.VAR_POSITIONAL:
            return _ANY_NUMBER
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            count += 1
    return count


class Listener:
    """One registered handler (internal).

    ``max_args`` is :func:`positional_capacity`, read the first time an emit may drop
    arguments (-1 until then: the server's emits never need it). ``check`` is None, or
    what checks and converts the arguments before the call (the server's sockets set it
    for annotated handlers: :mod:`aiosocketio.server.validation`).
    """

    __slots__ = ("ack_param", "check", "fn", "max_args", "once")

    def __init__(self, fn: Callable[..., Any], once: bool) -> None:
        self.fn = fn
        self.once = once
        self.ack_param = _ack_param(fn)
        self.max_args = -1
        self.check: Callable[[list[Any]], list[Any]] | None = None


_PLAIN_TYPES = frozenset({type(None), bool, int, float, str, bytes, list, tuple, dict})


def is_awaitable(value: object) -> TypeGuard[Awaitable[Any]]:
    """``inspect.isawaitable`` with a shortcut for the plain values handlers return
    (``isawaitable`` falls through to an ABC check that costs more than the handler)."""
    return type(value) not in _PLAIN_TYPES and inspect.isawaitable(value)


def call_listener(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``fn``; errors are logged, an awaitable result runs as a background task.

    Returns:
        What ``fn`` returned; for an awaitable, the :class:`asyncio.Task` running it (its
        result is then the listener's answer); :data:`HANDLER_FAILED` if ``fn`` raised.
    """
    try:
        result = fn(*args, **kwargs)
    except Exception:
        logger.exception("error in an event handler")
        return HANDLER_FAILED
    if is_awaitable(result):
        return spawn(result)
    return result


_NO_EVENTS: dict[str, tuple[Listener, ...]] = {}
_NO_ONCE: set[str] = set()


class EventEmitter:
    """Mixin: named listeners with the call form and the decorator form.

    A subclass with ``__slots__`` lists ``_events`` and ``_once_events`` and calls
    :meth:`_init_events` in its ``__init__``; any other subclass needs nothing.
    """

    __slots__ = ()

    # event -> listeners; the tuples are replaced, never mutated, so dispatching needs no
    # snapshot copy. ``_once_events`` names the events that have ``once`` listeners.
    # Until the first listener is added, both point to shared empty containers that are
    # never mutated (so emitting an event nobody listens to costs one dict lookup).
    _events: dict[str, tuple[Listener, ...]] = _NO_EVENTS
    _once_events: set[str] = _NO_ONCE

    # The empty ``__slots__`` lets slotted subclasses (the engine's per-connection object)
    # stay dict-free; mypy cannot see that those subclasses declare the two slots.
    def _init_events(self) -> None:
        self._events = _NO_EVENTS  # type: ignore[misc]
        self._once_events = _NO_ONCE  # type: ignore[misc]

    def has_listeners(self, event: str) -> bool:
        """Whether ``event`` has a listener (one dict lookup; used on hot paths)."""
        return event in self._events

    def _listeners_of(self, event: str) -> tuple[Listener, ...]:
        return self._events.get(event, ())

    def _add_listener(self, event: str, fn: Callable[..., Any], once: bool, prepend: bool) -> None:
        events = self._events
        if events is _NO_EVENTS:
            events = self._events = {}  # type: ignore[misc]
        listener = self._make_listener(event, fn, once)
        lst = events.get(event, ())
        events[event] = (listener, *lst) if prepend else (*lst, listener)
        if once:
            once_events = self._once_events
            if once_events is _NO_ONCE:
                # made on the first ``once``: most emitters never have one, and a socket
                # then carries one container fewer for the cyclic GC to walk
                once_events = self._once_events = set()  # type: ignore[misc]
            once_events.add(event)

    def _make_listener(self, event: str, fn: Callable[..., Any], once: bool) -> Listener:
        """The :class:`Listener` of ``fn`` (a subclass may give it a ``check``)."""
        return Listener(fn, once)

    @overload
    def on(self, event: str) -> Callable[[F], F]: ...
    @overload
    def on(self, event: str, handler: F) -> F: ...
    def on(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        """Register ``handler`` for ``event``; without a handler, return a decorator."""
        if handler is None:

            def decorator(fn: F) -> F:
                self._add_listener(event, fn, False, False)
                return fn

            return decorator
        self._add_listener(event, handler, False, False)
        return handler

    @overload
    def once(self, event: str) -> Callable[[F], F]: ...
    @overload
    def once(self, event: str, handler: F) -> F: ...
    def once(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        """Register ``handler`` for the next ``event`` only; decorator form without handler."""
        if handler is None:

            def decorator(fn: F) -> F:
                self._add_listener(event, fn, True, False)
                return fn

            return decorator
        self._add_listener(event, handler, True, False)
        return handler

    def prepend_listener(self, event: str, handler: F) -> F:
        """Register ``handler`` for ``event`` before its other handlers (Node's
        ``prependListener``): a library's hook that must run before the app's own."""
        self._add_listener(event, handler, False, True)
        return handler

    def prepend_once_listener(self, event: str, handler: F) -> F:
        """:meth:`prepend_listener` for the next ``event`` only (``prependOnceListener``)."""
        self._add_listener(event, handler, True, True)
        return handler

    def off(self, event: str | None = None, handler: Callable[..., Any] | None = None) -> None:
        """Remove ``handler`` from ``event``, every handler of ``event``, or every handler."""
        events = self._events
        if events is _NO_EVENTS:
            return
        if event is None:
            events.clear()
            self._once_events = _NO_ONCE  # type: ignore[misc]
            return
        if handler is None:
            events.pop(event, None)
            return
        lst = list(events.get(event, ()))
        for i, listener in enumerate(lst):
            # equality, not identity only: ``obj.method`` is a new bound method on every
            # access
            if listener.fn is handler or listener.fn == handler:
                del lst[i]
                break
        if lst:
            events[event] = tuple(lst)
        else:
            events.pop(event, None)

    def listeners(self, event: str) -> list[Callable[..., Any]]:
        """The handlers registered for ``event``, in call order."""
        return [listener.fn for listener in self._listeners_of(event)]

    def listener_count(self, event: str) -> int:
        """How many handlers are registered for ``event``."""
        return len(self._listeners_of(event))

    def _take_listeners(self, event: str) -> tuple[Listener, ...]:
        """``event``'s listeners (an immutable snapshot); ``once`` listeners are removed."""
        events = self._events
        lst = events.get(event, ())
        if lst and event in self._once_events:
            self._once_events.discard(event)
            remaining = tuple(listener for listener in lst if not listener.once)
            if remaining:
                events[event] = remaining
            else:
                del events[event]
        return lst

    def emit_reserved(self, event: str, *args: Any) -> bool:
        """Call ``event``'s listeners locally with ``args``; True if there was one."""
        listeners = self._take_listeners(event)
        for listener in listeners:
            call_listener(listener.fn, *args)
        return bool(listeners)

    def _emit_for_answer(self, event: str, args: tuple[Any, ...], optional: int = 0) -> Any:
        """Call ``event``'s listeners locally; return the first one's answer.

        Args:
            event: the event.
            args: its arguments.
            optional: how many of the last ``args`` a listener gets only if its signature
                takes them (``len(args)``: every listener gets as many as it takes).

        Returns:
            What the first listener returned, or the task running it for a coroutine
            function (see :func:`call_listener`); :data:`NO_ANSWER` if there is no listener
            or the first one raised.
        """
        listeners = self._take_listeners(event)
        answer: Any = NO_ANSWER
        required = len(args) - optional
        for i, listener in enumerate(listeners):
            call_args = args
            if optional:
                cut = listener.max_args
                if cut < 0:
                    cut = listener.max_args = positional_capacity(listener.fn)
                if cut < len(args):
                    call_args = args[: max(cut, required)]
            result = call_listener(listener.fn, *call_args)
            if i == 0 and result is not HANDLER_FAILED:
                answer = result
        return answer
