"""The catch-all listeners (``on_any``...) and the per-packet middlewares of a socket.

A mixin of the server-side :class:`~aiosocketio.server.socket.Socket`: Node's
``onAny``/``prependAny``/``offAny``/``listenersAny``, their ``Outgoing`` twins, and
``socket.use``. Until one is added, each list is None (or a shared empty tuple), so the
hot paths test one attribute and an idle socket carries no list.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from aiosocketio.server.handlers import HandlerOwner, call_handler

__all__ = ["AnyListener", "CatchAllListeners", "PacketMiddleware"]

AnyListener = Callable[..., Any]
"""``fn(event, *args)``: sees every incoming (or outgoing) event."""

PacketMiddleware = Callable[[list[Any]], Awaitable[None] | None]
"""``fn([event, *args])``, sync or async: may change the list, or raise to drop the packet."""


class CatchAllListeners:
    """Catch-all listeners and packet middlewares (the socket sets the three attributes)."""

    _any: list[AnyListener] | None
    _any_outgoing: list[AnyListener] | None
    # A list once a middleware is added (a shared empty tuple until then).
    _fns: list[PacketMiddleware] | tuple[()]

    def use(self, fn: PacketMiddleware) -> PacketMiddleware:
        """Add a per-packet middleware, called as ``fn([event, *args])`` (sync or async).

        It may modify the list; raising an exception drops the packet and the exception
        goes to the socket's ``error`` listeners. Usable as a decorator.
        """
        if type(self._fns) is list:
            self._fns.append(fn)
        else:
            self._fns = [fn]
        return fn

    def on_any(self, fn: AnyListener) -> AnyListener:
        """Call ``fn(event, *args)`` for every incoming event. Usable as a decorator."""
        if self._any is None:
            self._any = []
        self._any.append(fn)
        return fn

    def prepend_any(self, fn: AnyListener) -> AnyListener:
        """Like :meth:`on_any`, but ``fn`` runs before the other catch-all listeners."""
        if self._any is None:
            self._any = []
        self._any.insert(0, fn)
        return fn

    def off_any(self, fn: AnyListener | None = None) -> None:
        """Remove one catch-all listener, or all of them."""
        self._any = _remove_from(self._any, fn)

    def listeners_any(self) -> list[AnyListener]:
        """The catch-all listeners for incoming events."""
        return list(self._any or ())

    def on_any_outgoing(self, fn: AnyListener) -> AnyListener:
        """Call ``fn(event, *args)`` for every outgoing event. Usable as a decorator."""
        if self._any_outgoing is None:
            self._any_outgoing = []
        self._any_outgoing.append(fn)
        return fn

    def prepend_any_outgoing(self, fn: AnyListener) -> AnyListener:
        """Like :meth:`on_any_outgoing`, but ``fn`` runs first."""
        if self._any_outgoing is None:
            self._any_outgoing = []
        self._any_outgoing.insert(0, fn)
        return fn

    def off_any_outgoing(self, fn: AnyListener | None = None) -> None:
        """Remove one catch-all outgoing listener, or all of them."""
        self._any_outgoing = _remove_from(self._any_outgoing, fn)

    def listeners_any_outgoing(self) -> list[AnyListener]:
        """The catch-all listeners for outgoing events."""
        return list(self._any_outgoing or ())

    def _notify_outgoing(self, data: list[Any]) -> None:
        owner = cast(HandlerOwner, self)  # the socket
        event = data[0] if data else None
        for fn in list(self._any_outgoing or ()):
            call_handler(owner, event, "outgoing catch-all listener", fn, data)


def _remove_from(lst: list[AnyListener] | None, fn: AnyListener | None) -> list[AnyListener] | None:
    if lst is None or fn is None:
        return None
    try:
        lst.remove(fn)
    except ValueError:
        pass
    return lst or None
