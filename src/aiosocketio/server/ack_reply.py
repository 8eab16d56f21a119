"""``AckReply``: how the server answers one acknowledgement a client asked for.

A handler's return value answers it (:meth:`AckReply.reply`, awaited first for a coroutine:
:func:`reply_later`), or a Node-style handler calls the ``ack``/``callback`` it was given
(:meth:`AckReply.__call__`). It is answered at most once. A value that cannot be encoded
is logged as "the ack of <event>" with the socket and the namespace; a handler that fails
sends no acknowledgement, as in Node, and its log line says so.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from aiosocketio.protocol.socketio.packets import Packet, PacketType, make_packet
from aiosocketio.server.handlers import HandlerOwner, handler_failed, logger, may_log

__all__ = ["AckReply", "AckSocket", "reply_later"]


class AckSocket(HandlerOwner, Protocol):
    """What an :class:`AckReply` needs from its socket."""

    def _packet(self, packet: Packet, volatile: bool = False) -> None: ...


class AckReply:
    """The callable that answers one client acknowledgement (of ``event``), at most once."""

    __slots__ = ("dump", "event", "id", "sent", "socket")

    def __init__(self, socket: AckSocket, ack_id: int, event: Any) -> None:
        self.socket = socket
        self.id = ack_id
        self.event = event
        self.sent = False
        # for a typed handler: turns a returned dataclass, Struct or model into JSON values
        self.dump: Callable[[Any], Any] | None = None

    def __call__(self, *args: Any) -> None:
        if self.sent:
            return
        self.sent = True
        self._send(list(args))

    def reply(self, value: Any) -> None:
        """Answer with a handler's return value: ``None`` is no argument, a tuple several."""
        if self.sent:
            return
        self.sent = True
        if self.dump is not None:
            value = self.dump(value)
        if value is None:
            args = []
        elif isinstance(value, tuple):
            args = list(value)
        else:
            args = [value]
        socket = self.socket  # _send, inlined: every acknowledged event comes this way
        try:
            socket._packet(make_packet(PacketType.ACK, socket.nsp.name, args, self.id))
        except Exception as exc:
            self._unencodable(exc)

    def _send(self, args: list[Any]) -> None:
        socket = self.socket
        try:
            socket._packet(make_packet(PacketType.ACK, socket.nsp.name, args, self.id))
        except Exception as exc:
            self._unencodable(exc)

    def _unencodable(self, exc: Exception) -> None:
        # the value cannot be encoded (a set, an object nested too deep...)
        socket = self.socket
        more = may_log(socket)
        if more is None:
            return
        logger.error(
            "the ack of %r (socket %s, namespace %r) was not sent: its value cannot be "
            "encoded (%s: %s)%s",
            self.event,
            socket.id,
            socket.nsp.name,
            type(exc).__name__,
            exc,
            more,
            exc_info=exc,
        )

    def failed(self, fn: Any, args: Sequence[Any], exc: BaseException) -> None:
        """The handler ``fn`` raised ``exc``: no acknowledgement is sent (as in Node)."""
        handler_failed(self.socket, self.event, "handler", fn, args, exc, ack=True)


async def reply_later(
    pending: Awaitable[Any], acker: AckReply, fn: Any, args: Sequence[Any]
) -> None:
    try:
        value = await pending
    except Exception as exc:
        acker.failed(fn, args, exc)
        return
    acker.reply(value)
