"""Calling the user's handlers, and saying where and why one failed.

Every line this module logs (logger ``aiosocketio.server``) names the event (or "the ack
of <event>"), the socket id and the namespace, so that a failure can be found in a
server with many clients. An exception in the user's code is logged with its traceback;
a handler called with more or fewer arguments than it takes is reported in one line
(what it takes, what the client sent), and python-socketio's handler shape ``(sid, data)``
is named as such, with the way to write it here.

A client can make a handler fail on purpose, event after event: the lines of one socket
are rate-limited (:func:`may_log`: a burst of :data:`ERROR_BURST`, then
:data:`ERROR_RATE` a second), and the next line that is written says how many were left
out.

Registration checks (:func:`check_namespace_listener`) catch python-socketio's shapes at
import time: ``@io.on("connect") def connect(sid, environ)`` raises a ``TypeError`` that
explains aiosocketio's shape; ``@io.on("chat") def chat(sid, data)`` (a listener of
server-side emits, not of client events) and ``io.on("disconnect")`` log a warning.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from aiosocketio.runtime.events import HANDLER_FAILED, is_awaitable, spawn

__all__ = [
    "ERROR_BURST",
    "ERROR_RATE",
    "MIGRATING_GUIDE",
    "HandlerLabel",
    "HandlerOwner",
    "call_handler",
    "check_namespace_listener",
    "describe_mismatch",
    "handler_failed",
    "logger",
    "may_log",
]

logger = logging.getLogger("aiosocketio.server")

MIGRATING_GUIDE = "https://github.com/aiosocketio/aiosocketio/blob/main/docs/guides/migrating-from-python-socketio.md"
"""The guide for python-socketio users, named by the messages below."""

_SHAPE = (
    "in aiosocketio a connection handler gets the Socket, and the socket's handlers get the "
    "event's arguments only:\n\n"
    '    @io.on("connection")\n'
    "    async def on_connection(socket):\n"
    '        @socket.on("chat")\n'
    "        async def on_chat(data):\n"
    "            ...\n\n"
    f"(see {MIGRATING_GUIDE})"
)


class _Named(Protocol):
    @property
    def name(self) -> str: ...


class HandlerOwner(Protocol):
    """What a log line names: the socket's id and its namespace's name."""

    @property
    def id(self) -> str:
        """The socket id."""
        ...

    @property
    def nsp(self) -> _Named:
        """The namespace."""
        ...


def _where(owner: HandlerOwner) -> str:
    return f"socket {owner.id}, namespace {owner.nsp.name!r}"


ERROR_BURST = 10
"""How many error lines one socket may log at once."""

ERROR_RATE = 1.0
"""How many error lines a second one socket may log after its burst."""


class _ErrorBudget:
    """A token bucket of error lines, kept on the socket (``socket._error_budget``)."""

    __slots__ = ("at", "left_out", "tokens")

    def __init__(self, now: float) -> None:
        self.tokens = float(ERROR_BURST)
        self.at = now
        self.left_out = 0


def may_log(owner: HandlerOwner) -> str | None:
    """Whether one more error line of ``owner`` may be logged now.

    Returns:
        None if not (the line is counted, to be mentioned by the next one); else the
        suffix of the line: empty, or how many lines were left out since the last one.
    """
    now = time.monotonic()
    budget: _ErrorBudget | None = getattr(owner, "_error_budget", None)
    if budget is None:
        budget = _ErrorBudget(now)
        try:
            setattr(owner, "_error_budget", budget)  # noqa: B010 - not part of the Protocol
        except AttributeError:
            return ""  # an owner without a __dict__: not rate-limited
    else:
        budget.tokens = min(float(ERROR_BURST), budget.tokens + (now - budget.at) * ERROR_RATE)
        budget.at = now
    if budget.tokens < 1.0:
        budget.left_out += 1
        return None
    budget.tokens -= 1.0
    left_out, budget.left_out = budget.left_out, 0
    return f" (and {left_out} more errors of this socket since the last line)" if left_out else ""


class HandlerLabel:
    """Names a handler's background task in its failure's log line; the text is made
    only if the task fails (see :meth:`~aiosocketio.runtime.tasks.TaskRegistry.spawn`)."""

    __slots__ = ("event", "owner", "what")

    def __init__(self, what: str, owner: HandlerOwner, event: Any) -> None:
        self.what = what
        self.owner = owner
        self.event = event

    def __str__(self) -> str:
        return f"the {self.what} of {self.event!r} ({_where(self.owner)})"

    def report_failure(self, exc: BaseException) -> None:
        """Log the task's failure (rate-limited per socket)."""
        more = may_log(self.owner)
        if more is not None:
            logger.error("error in %s%s", self, more, exc_info=exc)


def _positional(fn: Callable[..., Any]) -> tuple[list[str], int, bool] | None:
    """``fn``'s positional parameter names, how many are required, and ``*args``."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    names: list[str] = []
    required = 0
    var = False
    for param in params:
        if param.kind is param.VAR_POSITIONAL:
            var = True
        elif param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            names.append(param.name)
            if param.default is param.empty:
                required += 1
    return names, required, var


def _python_socketio_shape(names: Sequence[str]) -> bool:
    return bool(names) and names[0] == "sid"


def describe_mismatch(
    fn: Callable[..., Any], args: Sequence[Any], kwargs: dict[str, Any] | None = None
) -> str | None:
    """Why calling ``fn(*args, **kwargs)`` fails to bind, or None if it binds (or ``fn``'s
    signature cannot be read): then a ``TypeError`` came from inside ``fn``."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    try:
        sig.bind(*args, **(kwargs or {}))
    except TypeError as exc:
        reason = str(exc)
    else:
        return None
    shape = _positional(fn)
    names, required, var = shape if shape is not None else ([], 0, False)
    names = [n for n in names if not kwargs or n not in kwargs]
    if var:
        takes = f"at least {required}"
    elif required == len(names):
        takes = str(required)
    else:
        takes = f"{required} to {len(names)}"
    text = (
        f"{getattr(fn, '__name__', repr(fn))}({', '.join(names)}) takes {takes} "
        f"argument{'' if takes == '1' else 's'} but the client sent {len(args)} ({reason})"
    )
    if _python_socketio_shape(names):
        text += f". (sid, ...) is python-socketio's handler shape; {_SHAPE}"
    return text


def handler_failed(
    owner: HandlerOwner,
    event: Any,
    what: str,
    fn: Callable[..., Any],
    args: Sequence[Any],
    exc: BaseException,
    *,
    kwargs: dict[str, Any] | None = None,
    ack: bool = False,
) -> None:
    """Log that calling ``fn`` (the ``what`` of ``event``) raised ``exc``.

    Args:
        owner: the socket.
        event: the event name.
        what: "handler", "catch-all listener"...
        fn: the callable.
        args: what it was called with.
        exc: what it raised.
        kwargs: the keyword arguments it was called with (an ``ack`` callable).
        ack: the client asked for an acknowledgement, which is then not sent (as in Node,
            where a handler that throws never calls its callback).
    """
    more = may_log(owner)
    if more is None:
        return
    tail = "; the client asked for an acknowledgement: none was sent" if ack else ""
    mismatch = describe_mismatch(fn, args, kwargs) if isinstance(exc, TypeError) else None
    if mismatch is not None:
        logger.error(
            "the %s of %r (%s) was not called%s: %s%s",
            what,
            event,
            _where(owner),
            tail,
            mismatch,
            more,
        )
        return
    logger.error(
        "error in the %s of %r (%s)%s%s", what, event, _where(owner), tail, more, exc_info=exc
    )


def call_handler(
    owner: HandlerOwner,
    event: Any,
    what: str,
    fn: Callable[..., Any],
    args: Sequence[Any],
    kwargs: dict[str, Any] | None = None,
) -> Any:
    """Call ``fn(*args, **kwargs)``: a failure is logged with where it happened, an
    awaitable result runs as a background task (whose failure is logged the same way).

    Returns:
        What ``fn`` returned, the task for an awaitable, or ``HANDLER_FAILED``.
    """
    try:
        result = fn(*args, **kwargs) if kwargs else fn(*args)
    except Exception as exc:
        handler_failed(owner, event, what, fn, args, exc, kwargs=kwargs)
        return HANDLER_FAILED
    if is_awaitable(result):
        return spawn(result, HandlerLabel(what, owner, event))
    return result


_CONNECTION_EVENTS = ("connect", "connection")

_warned: set[object] = set()  # the functions warned about (a dynamic namespace's children
# get their parent's connection handlers again: one warning is enough)


def _warn_once(fn: Callable[..., Any], message: str, *args: Any) -> None:
    key = getattr(fn, "__code__", None) or id(fn)
    if key not in _warned:
        _warned.add(key)
        logger.warning(message, *args)


def check_namespace_listener(nsp: str, event: str, fn: Callable[..., Any]) -> None:
    """Catch python-socketio's handler shapes when a listener is added to a namespace.

    Raises:
        TypeError: a ``connect``/``connection`` listener that cannot be called with the
            one argument it gets (the Socket), such as ``connect(sid, environ)``.
    """
    shape = _positional(fn)
    if shape is None:
        return
    names, required, _ = shape
    name = getattr(fn, "__name__", repr(fn))
    on = f"io.of({nsp!r}).on({event!r})" if nsp != "/" else f"io.on({event!r})"
    if event in _CONNECTION_EVENTS:
        if required > 1:
            raise TypeError(
                f"{on} got {name}({', '.join(names)}), which takes {required} arguments, but "
                f"a connection handler is called with one, the Socket. "
                f"{'(sid, environ, ...) is' if names[0] == 'sid' else 'This looks like'} "
                f"python-socketio's shape; {_SHAPE}"
            )
        if _python_socketio_shape(names):
            _warn_once(fn, "%s: %s(sid) gets the Socket, not a session id; %s", on, name, _SHAPE)
    elif event == "disconnect":
        _warn_once(
            fn,
            "%s: a namespace has no 'disconnect' event, %s is never called; listen on each "
            'socket instead: socket.on("disconnect", handler); %s',
            on,
            name,
            _SHAPE,
        )
    elif _python_socketio_shape(names):
        _warn_once(
            fn,
            "%s: %s(%s) looks like a python-socketio event handler, but a namespace's "
            "listeners receive the server-side emits of other servers (server_side_emit), "
            "not the clients' events; %s",
            on,
            name,
            ", ".join(names),
            _SHAPE,
        )
