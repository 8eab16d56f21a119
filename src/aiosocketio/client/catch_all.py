"""Catch-all listeners of the client socket (socket.io-client's ``onAny`` family).

An incoming catch-all listener is called with ``(event, *args)`` for every event the
server sends, before the event's own listeners; an outgoing one for every event the socket
sends, when it leaves. Like every listener, either may be a coroutine function (run as a
task) and its errors are logged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiosocketio.runtime.events import call_listener

__all__ = ["CatchAllListeners", "Handler"]

Handler = Callable[..., Any]


class CatchAllListeners:
    """Mixin: ``on_any``/``prepend_any``/``off_any``/``listeners_any`` and their
    ``*_outgoing`` twins. A subclass calls :meth:`_init_catch_all` in its ``__init__``."""

    _any: list[Handler]
    _any_outgoing: list[Handler]

    def _init_catch_all(self) -> None:
        self._any = []
        self._any_outgoing = []

    def on_any(self, handler: Handler) -> Handler:
        """Add a catch-all listener, called with ``(event, *args)`` for incoming events."""
        self._any.append(handler)
        return handler

    def prepend_any(self, handler: Handler) -> Handler:
        """Add a catch-all listener before the others."""
        self._any.insert(0, handler)
        return handler

    def off_any(self, handler: Handler | None = None) -> None:
        """Remove one catch-all listener, or all of them."""
        _remove(self._any, handler)

    def listeners_any(self) -> list[Handler]:
        """The catch-all listeners."""
        return list(self._any)

    def on_any_outgoing(self, handler: Handler) -> Handler:
        """Add a listener called with ``(event, *args)`` for every packet sent."""
        self._any_outgoing.append(handler)
        return handler

    def prepend_any_outgoing(self, handler: Handler) -> Handler:
        """Add an outgoing catch-all listener before the others."""
        self._any_outgoing.insert(0, handler)
        return handler

    def off_any_outgoing(self, handler: Handler | None = None) -> None:
        """Remove one outgoing catch-all listener, or all of them."""
        _remove(self._any_outgoing, handler)

    def listeners_any_outgoing(self) -> list[Handler]:
        """The outgoing catch-all listeners."""
        return list(self._any_outgoing)

    def _notify_any(self, event: Any, args: tuple[Any, ...]) -> None:
        """Call the incoming catch-all listeners with ``(event, *args)``."""
        if self._any:
            for handler in list(self._any):
                call_listener(handler, event, *args)

    def _notify_any_outgoing(self, data: list[Any]) -> None:
        """Call the outgoing catch-all listeners with an EVENT's ``[event, *args]``."""
        if self._any_outgoing:
            for handler in list(self._any_outgoing):
                call_listener(handler, *data)


def _remove(handlers: list[Handler], handler: Handler | None) -> None:
    if handler is None:
        handlers.clear()
    elif handler in handlers:
        handlers.remove(handler)
