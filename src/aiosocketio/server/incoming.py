"""What becomes of an event a client sends: the server-side socket's incoming path.

A mixin of :class:`~aiosocketio.server.socket.Socket`. An EVENT packet goes to the
catch-all listeners (``on_any``), then through the per-packet middlewares
(``socket.use``: sync ones in a loop, an async one resumes the chain when it is done),
then to the event's handlers:

* a typed handler's arguments are checked first (:mod:`aiosocketio.server.validation`);
  a payload that does not fit never reaches it, and the client is told once per packet;
* when the client asked for an acknowledgement, the handler's return value answers it
  (:class:`~aiosocketio.server.ack_reply.AckReply`), or a Node-style handler gets the
  ``ack``/``callback`` it names;
* a failing middleware's exception goes to the socket's ``error`` listeners.

The socket provides what is declared on the class below (its id, its namespace and
server, ``connected`` and ``_packet``); this module does not import it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from aiosocketio.runtime.events import EventEmitter, Listener, is_awaitable, spawn
from aiosocketio.server.ack_reply import AckReply, reply_later
from aiosocketio.server.catalog import HandlerCatalog
from aiosocketio.server.handlers import call_handler, logger, may_log
from aiosocketio.server.listeners import CatchAllListeners
from aiosocketio.server.validation import PayloadRejected, check_for, reject, to_builtins

if TYPE_CHECKING:
    from aiosocketio.protocol.socketio.packets import Packet

__all__ = ["HandlerTracer", "IncomingEvents", "IncomingNamespace", "IncomingServer"]

_NOT_CHECKED = frozenset({"disconnect", "disconnecting", "error", "newListener", "removeListener"})
"""The socket's own events: their listeners' arguments come from the server, unchecked."""


class HandlerTracer(Protocol):
    """What traces the handlers of incoming events (the server's ``tracer``)."""

    def wrap(self, socket: Any, event: Any, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn``, a handler of ``event``, run in a span (till its awaitable is done)."""
        ...


class IncomingServer(Protocol):
    """What the incoming path needs from the server."""

    @property
    def tracer(self) -> HandlerTracer | None:
        """Traces event handlers (``None``: off)."""
        ...


class IncomingNamespace(Protocol):
    """What the incoming path needs from the socket's namespace."""

    @property
    def name(self) -> str:
        """The namespace name."""
        ...

    @property
    def handler_catalog(self) -> HandlerCatalog:
        """The handlers registered on the namespace's sockets (for the AsyncAPI document)."""
        ...


class IncomingEvents(CatchAllListeners, EventEmitter):
    """The incoming path of a socket's events (mixed into the server-side ``Socket``)."""

    # provided by the socket
    id: str
    connected: bool
    nsp: IncomingNamespace
    server: IncomingServer

    if TYPE_CHECKING:

        def _packet(self, packet: Packet, volatile: bool = False) -> None: ...

        def emit(self, event: str | int, *args: Any) -> Awaitable[None]: ...

    def _on_event(self, packet: Packet) -> None:
        args: list[Any] = packet.data  # the decoder's fresh list: ours to hand out
        if self._any is not None:
            event = args[0] if args else None
            for fn in list(self._any):
                call_handler(self, event, "catch-all listener", fn, args)
        if self._fns:
            self._run_middlewares(args, packet.id, 0)
        else:
            self._dispatch(args, packet.id)

    def _run_middlewares(self, args: list[Any], ack_id: int | None, start: int) -> None:
        fns = self._fns
        for i in range(start, len(fns)):
            try:
                result = fns[i](args)
            except Exception as exc:
                self._on_error(exc, args)
                return
            if is_awaitable(result):
                spawn(self._middleware_async(result, args, ack_id, i + 1))
                return
        self._dispatch(args, ack_id)

    async def _middleware_async(
        self, pending: Awaitable[None], args: list[Any], ack_id: int | None, nxt: int
    ) -> None:
        try:
            await pending
        except Exception as exc:
            self._on_error(exc, args)
            return
        self._run_middlewares(args, ack_id, nxt)

    def _on_error(self, exc: BaseException, args: list[Any]) -> None:
        """A packet middleware (``socket.use``) refused the packet ``args`` with ``exc``: it
        goes to the ``error`` listeners (logged with a traceback if there is none)."""
        if not self._emit_error(exc):
            more = may_log(self)
            if more is None:
                return
            logger.error(
                "a packet middleware (socket.use) failed on %r (socket %s, namespace %r) and "
                "the socket has no 'error' listener (missing error handler)%s",
                args[0] if args else None,
                self.id,
                self.nsp.name,
                more,
                exc_info=exc,
            )

    def _on_remote_error(self, exc: BaseException) -> None:
        """The client sent a malformed packet: ``exc`` goes to the ``error`` listeners, if
        any (the multiplexer counts it and logs one rate-limited line)."""
        self._emit_error(exc)

    def _emit_error(self, exc: BaseException) -> bool:
        listeners = self._take_listeners("error")
        for listener in listeners:
            call_handler(self, "error", "listener", listener.fn, (exc,))
        return bool(listeners)

    def _dispatch(self, args: list[Any], ack_id: int | None) -> None:
        if not self.connected or not args:
            return
        event = args[0]
        listeners = self._take_listeners(event if isinstance(event, str) else str(event))
        if not listeners:
            return
        rest = args[1:]
        tracer = self.server.tracer
        if ack_id is None:
            for listener in listeners:
                fn = listener.fn if tracer is None else tracer.wrap(self, event, listener.fn)
                check = listener.check
                if check is None:
                    call_handler(self, event, "handler", fn, rest)
                    continue
                try:
                    call_handler(self, event, "handler", fn, check(rest))
                except PayloadRejected as exc:
                    reject(self, event, exc, None)
                    return  # one answer per packet
            return
        acker = AckReply(self, ack_id, event)
        for listener in listeners:
            fn = listener.fn if tracer is None else tracer.wrap(self, event, listener.fn)
            call_args = rest
            if listener.check is not None:
                try:
                    call_args = listener.check(rest)
                except PayloadRejected as exc:
                    reject(self, event, exc, acker)
                    return  # one answer per packet
                acker.dump = to_builtins
            if listener.ack_param is not None:
                call_handler(self, event, "handler", fn, call_args, {listener.ack_param: acker})
                continue
            # the handler's return value answers the ack (awaited if it is awaitable)
            try:
                result = fn(*call_args)
            except Exception as exc:
                acker.failed(fn, call_args, exc)
                continue
            if is_awaitable(result):
                spawn(reply_later(result, acker, fn, call_args))
            else:
                acker.reply(result)

    def _make_listener(self, event: str, fn: Callable[..., Any], once: bool) -> Listener:
        listener = Listener(fn, once)
        if event not in _NOT_CHECKED:
            listener.check = check_for(fn, listener.ack_param)
            self.nsp.handler_catalog.record(event, fn, listener.ack_param)
        return listener
