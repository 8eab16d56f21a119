"""``TypedNamespace``: one namespace's events, declared once, in both directions.

The events a namespace receives are declared with their handlers,
``@chat.on("message") def message(socket, msg: ChatMessage) -> Receipt``: the handler gets
the socket first and the payload after it, the annotations validate the payload
(:mod:`aiosocketio.server.validation`) and the return annotation is the acknowledgement's.
The events it sends are a ``Protocol`` class whose methods are the events
(``def notice(self, text: str, /) -> None: ...``): ``chat.emitter(socket).notice("hi")``
emits ``notice``, and mypy rejects a wrong event name or payload type there.

``chat.attach(io)`` registers the handlers on every socket of the namespace as it
connects, before the namespace's ``connection`` listeners run. The AsyncAPI document
(:mod:`aiosocketio.server.asyncapi`, ``aiosocketio asyncapi app:io``) is made from the
namespaces attached to a server.
"""

from __future__ import annotations

import types
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar, cast

__all__ = ["TypedNamespace", "attached"]

E = TypeVar("E")
F = TypeVar("F", bound=Callable[..., Any])

_attached: weakref.WeakKeyDictionary[Any, list[TypedNamespace[Any]]] = weakref.WeakKeyDictionary()


def attached(server: Any) -> list[TypedNamespace[Any]]:
    """The typed namespaces attached to ``server``, in the order they were attached."""
    return list(_attached.get(server, ()))


class _Emitter:
    """What ``emitter(target)`` returns: ``.event(*args)`` emits ``event`` on ``target``."""

    __slots__ = ("_names", "_target")

    def __init__(self, target: Any, names: frozenset[str]) -> None:
        self._target = target
        self._names = names

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name not in self._names:
            raise AttributeError(f"{name!r} is not an event this namespace sends")
        emit = self._target.emit
        return lambda *args: emit(name, *args)


class TypedNamespace(Generic[E]):
    """The declared events of the namespace ``name``.

    Args:
        name: the namespace (``"/"``, ``"/chat"``).
        sends: a ``Protocol`` class: each public method is an event the server emits, its
            positional parameters (after ``self``) the payload. Give the same class as the
            type argument for typed emits: ``TypedNamespace[ToClient]("/", sends=ToClient)``.
        description: a sentence for the AsyncAPI document.
    """

    def __init__(self, name: str = "/", *, sends: Any = None, description: str = "") -> None:
        self.name = name
        self.sends = sends
        self.description = description
        self.handlers: dict[str, Callable[..., Any]] = {}
        names = () if sends is None else _event_methods(sends)
        self._send_names = frozenset(names)

    def on(self, event: str) -> Callable[[F], F]:
        """Declare the client-to-server ``event`` with its handler ``fn(socket, *payload)``.

        The payload's annotations validate it; a return value answers the acknowledgement.
        """

        def decorator(fn: F) -> F:
            self.handlers[event] = fn
            return fn

        return decorator

    def emitter(self, target: Any) -> E:
        """``target`` (a socket, ``io.of(name)``, ``io.to(room)``...) with the declared
        events as methods: ``emitter(socket).notice("hi")`` emits ``notice``."""
        return cast(E, _Emitter(target, self._send_names))

    def attach(self, server: Any) -> None:
        """Register the handlers on each socket of ``server.of(name)`` as it connects."""
        nsp = server.of(self.name)
        handlers = self.handlers

        def register(socket: Any) -> None:
            for event, fn in handlers.items():
                # a bound method: the socket is the first argument, the plan (made once
                # per code object) checks the others
                socket.on(event, types.MethodType(fn, socket))

        nsp.prepend_listener("connection", register)  # before the app's own
        _attached.setdefault(server, []).append(self)


def _event_methods(proto: Any) -> list[str]:
    return [
        name for name, value in vars(proto).items() if not name.startswith("_") and callable(value)
    ]
