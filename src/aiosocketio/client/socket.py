"""The client socket of one namespace (socket.io-client's ``Socket``).

A :class:`ClientSocket` is made by :func:`~aiosocketio.client.client_socket` (unconnected),
:func:`~aiosocketio.client.connect` or :meth:`Manager.socket`. It sends CONNECT when the
manager's Engine.IO connection opens, buffers emits while it is not connected, and answers
the server's acks with its handlers' return values. Its pending acks live in
:class:`~aiosocketio.client.acks.PendingAcks`, its catch-all listeners in
:class:`~aiosocketio.client.catch_all.CatchAllListeners`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import Any

from aiosocketio.client.acks import (
    NO_FLAGS,
    AckCallback,
    EmitFlags,
    PendingAcks,
    QueuedEmit,
    RetryQueue,
    ack_args,
    ack_result,
)
from aiosocketio.client.catch_all import CatchAllListeners
from aiosocketio.client.connecting import Connecting
from aiosocketio.client.host import SocketHost
from aiosocketio.exceptions import ConnectError, LocalProtocolError
from aiosocketio.protocol.socketio.packets import RESERVED_EVENTS, Packet, PacketType
from aiosocketio.runtime.events import NO_ANSWER, EventEmitter, call_listener, spawn
from aiosocketio.types import ClientDisconnectReason

__all__ = ["ClientSocket", "FlaggedEmitter"]

logger = logging.getLogger("aiosocketio.client")

AuthOption = dict[str, Any] | Callable[[], Any] | None


class FlaggedEmitter:
    """``socket.timeout(s)`` / ``socket.volatile``: emit once with these flags."""

    __slots__ = ("_flags", "_socket")

    def __init__(self, socket: ClientSocket, flags: EmitFlags) -> None:
        self._socket = socket
        self._flags = flags

    def timeout(self, seconds: float) -> FlaggedEmitter:
        """Also fail the ack with :class:`AckTimeout` after ``seconds``."""
        return FlaggedEmitter(self._socket, EmitFlags(self._flags.volatile, seconds))

    @property
    def volatile(self) -> FlaggedEmitter:
        """Also drop the packet instead of buffering it when it cannot be sent now."""
        return FlaggedEmitter(self._socket, EmitFlags(True, self._flags.timeout))

    def compress(self, compress: bool) -> FlaggedEmitter:
        """Accepted for Node compatibility; the client does not compress messages."""
        return self

    def emit(
        self, event: str | int, *args: Any, callback: Callable[..., Any] | None = None
    ) -> ClientSocket:
        """Like :meth:`ClientSocket.emit`, with this emitter's flags."""
        return self._socket._emit(event, args, callback, self._flags)

    async def emit_with_ack(
        self, event: str | int, *args: Any, timeout: float | None = None
    ) -> Any:
        """Like :meth:`ClientSocket.emit_with_ack`, with this emitter's flags; a
        ``timeout`` given here replaces the one of :meth:`timeout`."""
        flags = self._flags if timeout is None else EmitFlags(self._flags.volatile, timeout)
        return await self._socket._emit_with_ack(event, args, flags)


class ClientSocket(EventEmitter, CatchAllListeners):
    """A client socket for one namespace.

    Events (``socket.on(name, handler)`` or ``@socket.on(name)``):

    * ``connect()``: the namespace accepted the connection; :attr:`id` is set.
    * ``connect_error(err)``: ``err`` is a :class:`~aiosocketio.exceptions.ConnectError`
      with the server's ``message`` and ``data`` (or a transport failure's message).
    * ``disconnect(reason[, description])``: ``reason`` is one of
      :class:`~aiosocketio.types.ClientDisconnectReason` (or "forced close").
    * any other name: an event from the server; the first listener's return value (or
      its coroutine's result) answers the server's ack, a tuple giving several arguments.

    Attributes:
        io: the :class:`~aiosocketio.client.Manager` that carries this socket.
        nsp: the namespace.
        id: the session id given by the server, while connected.
        connected: whether the namespace is connected.
        recovered: whether the last connection restored the previous session (connection
            state recovery on the server: same id, rooms and missed events replayed).
        auth: a dict, or a (sync or async) callable returning one, sent with every CONNECT.
    """

    def __init__(
        self,
        io: SocketHost,
        nsp: str,
        *,
        auth: AuthOption = None,
        ack_timeout: float | None = None,
        retries: int = 0,
    ) -> None:
        self._init_catch_all()
        self.io = io
        self.nsp = nsp
        self.auth = auth
        self.ack_timeout = ack_timeout
        self.retries = retries
        self.id: str | None = None
        self.connected = False
        self.recovered = False
        # connection state recovery (socket.io 4.6+): the server's private session id
        # and the offset of the last event received, sent back with the next CONNECT
        self._pid: str | None = None
        self._last_offset: str | None = None
        self._active = False
        self._acks = PendingAcks(self._ack_timed_out)
        self._send_buffer: list[Packet] = []
        self._receive_buffer: list[Packet] = []
        self._queue: RetryQueue | None = None  # made by the first emit with retries

    # -- state -----------------------------------------------------------------------
    @property
    def active(self) -> bool:
        """Whether the socket takes part in its manager (it will reconnect)."""
        return self._active

    @property
    def disconnected(self) -> bool:
        """The opposite of :attr:`connected`."""
        return not self.connected

    @property
    def send_buffer(self) -> list[Packet]:
        """Packets emitted while disconnected, sent in order once connected."""
        return self._send_buffer

    def connect(self, timeout: float | None = None) -> Connecting[ClientSocket]:
        """Start connecting (and reconnecting after a drop); await it to wait until done.

        ``socket.connect()`` alone starts connecting, as in socket.io-client.
        ``await socket.connect()`` also waits for the namespace and returns the socket; if
        that first attempt fails, the socket is disconnected and the error raised (see
        :class:`~aiosocketio.client.connecting.Connecting`). Register the handlers first.

        Args:
            timeout: with ``await``, the seconds to wait for the connection in all.

        Raises:
            ConnectError: (awaited) the server refused the namespace (its ``message`` and
                ``data``), or the transport failed.
            TimeoutError: (awaited) not connected within ``timeout`` seconds.
        """
        if not self.connected:
            io = self.io
            if not io.reconnecting:
                io.open()
            self._active = True
            if io.ready_state == "open":
                self._on_open()
        return Connecting(self, timeout)

    open = connect

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait for ``connect``; raise the first ``connect_error`` as ConnectError.

        Unlike ``await socket.connect()``, a failure leaves the socket as it is (still
        reconnecting, if it was).

        Raises:
            ConnectError: the server refused the namespace, or the transport failed.
            TimeoutError: nothing happened within ``timeout`` seconds.
        """
        if self.connected:
            return
        if not self._active:
            self.connect()
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def on_connect() -> None:
            if not fut.done():
                fut.set_result(None)

        def on_error(err: BaseException) -> None:
            if not fut.done():
                fut.set_exception(err)

        self.once("connect", on_connect)
        self.once("connect_error", on_error)
        try:
            async with asyncio.timeout(timeout):
                await fut
        finally:
            self.off("connect", on_connect)
            self.off("connect_error", on_error)

    def disconnect(self) -> ClientSocket:
        """Leave the namespace for good ("io client disconnect"): no reconnection.

        The DISCONNECT packet is sent (the server sees "client namespace disconnect"); the
        connection stays up for the manager's other active sockets, and the last one to
        leave closes it (see :meth:`Manager.disconnect`).
        """
        if self.connected:
            self._packet(Packet(PacketType.DISCONNECT, self.nsp))
        self._destroy()
        if self.connected:
            self._on_close(ClientDisconnectReason.IO_CLIENT_DISCONNECT, None)
        return self

    close = disconnect

    def _destroy(self) -> None:
        if self._active:
            self._active = False
            self.io._destroy()

    # -- emitting --------------------------------------------------------------------
    def timeout(self, seconds: float) -> FlaggedEmitter:
        """Emit with an ack deadline: ``await socket.timeout(5).emit_with_ack(...)``."""
        return FlaggedEmitter(self, EmitFlags(False, seconds))

    @property
    def volatile(self) -> FlaggedEmitter:
        """Emit without buffering: the packet is dropped if it cannot be sent now."""
        return FlaggedEmitter(self, EmitFlags(True, None))

    def compress(self, compress: bool) -> FlaggedEmitter:
        """Accepted for Node compatibility; the client does not compress messages."""
        return FlaggedEmitter(self, NO_FLAGS)

    def send(self, *args: Any, callback: Callable[..., Any] | None = None) -> ClientSocket:
        """Emit a ``message`` event."""
        return self._emit("message", args, callback, NO_FLAGS)

    def emit(
        self, event: str | int, *args: Any, callback: Callable[..., Any] | None = None
    ) -> ClientSocket:
        """Emit ``event`` with ``args`` (bytes may appear anywhere in them).

        While disconnected the packet is buffered and sent, in order, on connect.

        Args:
            event: the event name (not a reserved one).
            callback: called with the server's ack arguments. With a timeout (from
                :meth:`timeout` or ``ack_timeout``), it is called Node's way:
                ``callback(err, *args)``, ``err`` being ``None`` or :class:`AckTimeout`.

        Raises:
            LocalProtocolError: ``event`` is reserved.
        """
        return self._emit(event, args, callback, NO_FLAGS)

    async def emit_with_ack(
        self, event: str | int, *args: Any, timeout: float | None = None
    ) -> Any:
        """Emit ``event`` and wait for the server's ack.

        Args:
            event: the event name (not a reserved one).
            *args: its arguments (bytes may appear anywhere in them).
            timeout: seconds to wait for the ack. The first of these that is set applies:
                this keyword, the chained ``socket.timeout(s)``, the ``ack_timeout``
                option; with none, the ack is awaited until the socket disconnects.

        Returns:
            The ack's argument: ``None`` for none, the value for one, a tuple for several.

        Raises:
            AckTimeout: no ack within the timeout.
            Disconnected: the socket was disconnected while the ack was pending.
        """
        flags = NO_FLAGS if timeout is None else EmitFlags(False, timeout)
        return await self._emit_with_ack(event, args, flags)

    async def _emit_with_ack(
        self, event: str | int, args: tuple[Any, ...], flags: EmitFlags
    ) -> Any:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def done(err: BaseException | None, values: list[Any]) -> None:
            if fut.done():
                return
            if err is not None:
                fut.set_exception(err)
            else:
                fut.set_result(ack_result(values))

        self._emit_internal(event, args, done, flags, with_error=True)
        return await fut

    def _emit(
        self,
        event: str | int,
        args: tuple[Any, ...],
        callback: Callable[..., Any] | None,
        flags: EmitFlags,
    ) -> ClientSocket:
        ack: AckCallback | None = None
        if callback is not None:
            timed = flags.timeout is not None or self.ack_timeout is not None or self.retries > 0
            user_cb = callback

            def ack(err: BaseException | None, values: list[Any]) -> None:
                if timed:
                    call_listener(user_cb, err, *values)
                elif err is None:
                    call_listener(user_cb, *values)

        self._emit_internal(event, args, ack, flags, with_error=callback is not None)
        return self

    def _emit_internal(
        self,
        event: str | int,
        args: tuple[Any, ...],
        ack: AckCallback | None,
        flags: EmitFlags,
        *,
        with_error: bool,
    ) -> None:
        if not isinstance(event, (str, int)) or isinstance(event, bool):
            raise LocalProtocolError("an event name must be a string (or a number)")
        if event in RESERVED_EVENTS:
            raise LocalProtocolError(f'"{event}" is a reserved event name')
        if self.retries and not flags.from_queue and not flags.volatile:
            if self._queue is None:
                self._queue = RetryQueue(self._send_queued, lambda: self.connected)
            self._queue.push(QueuedEmit(event, args, flags, ack), self.retries)
            return
        packet_id: int | None = None
        if ack is not None:
            timeout = flags.timeout if flags.timeout is not None else self.ack_timeout
            packet_id = self._acks.add(ack, timeout, with_error)
        packet = Packet(PacketType.EVENT, self.nsp, [event, *args], packet_id)
        if flags.volatile and not self._writable():
            if packet_id is not None:
                self._acks.drop(packet_id)
            return
        if self.connected:
            self._notify_any_outgoing(packet.data)
            self._packet(packet)
        else:
            self._send_buffer.append(packet)

    def _writable(self) -> bool:
        engine = self.io.engine
        return engine is not None and engine.writable

    def _ack_timed_out(self, packet_id: int) -> None:
        # the packet is not sent any more (socket.io-client drops it from its buffer)
        self._send_buffer = [p for p in self._send_buffer if p.id != packet_id]

    def _send_queued(self, entry: QueuedEmit, on_ack: AckCallback) -> None:
        flags = EmitFlags(entry.flags.volatile, entry.flags.timeout, from_queue=True)
        self._emit_internal(entry.event, entry.args, on_ack, flags, with_error=True)

    # -- from the manager ------------------------------------------------------------
    def _packet(self, packet: Packet) -> None:
        self.io._packet(packet)

    def _on_open(self) -> None:
        """The Engine.IO connection opened: send CONNECT (with auth)."""
        auth = self.auth
        if callable(auth):
            try:
                result = auth()
            except Exception as exc:
                logger.exception("the auth callable failed")
                self.emit_reserved("connect_error", ConnectError(str(exc)))
                return
            if inspect.isawaitable(result):
                spawn(self._send_connect_later(result))
                return
            self._send_connect(result)
        else:
            self._send_connect(auth)

    async def _send_connect_later(self, result: Any) -> None:
        try:
            data = await result
        except Exception as exc:
            logger.exception("the auth callable failed")
            self.emit_reserved("connect_error", ConnectError(str(exc)))
            return
        if self._active and self.io.ready_state == "open" and not self.connected:
            self._send_connect(data)

    def _send_connect(self, data: Any) -> None:
        if data is not None and not isinstance(data, dict):
            data = None
        if self._pid:
            data = {"pid": self._pid, "offset": self._last_offset, **(data or {})}
        self._packet(Packet(PacketType.CONNECT, self.nsp, data))

    def _on_error(self, err: ConnectError) -> None:
        if not self.connected:
            self.emit_reserved("connect_error", err)

    def _on_close(self, reason: str, description: str | None) -> None:
        was_connected = self.connected
        self.connected = False
        self.id = None
        if was_connected:
            self._emit_for_answer("disconnect", (reason, description), optional=2)
        if self._acks:
            self._acks.disconnected(reason, {p.id for p in self._send_buffer if p.id is not None})

    def _on_packet(self, packet: Packet) -> None:
        kind = packet.type
        if kind == PacketType.EVENT or kind == PacketType.BINARY_EVENT:
            if self.connected:
                self._on_event(packet)
            else:
                self._receive_buffer.append(packet)
        elif kind == PacketType.ACK or kind == PacketType.BINARY_ACK:
            self._on_ack(packet)
        elif kind == PacketType.CONNECT:
            data = packet.data
            if isinstance(data, dict) and isinstance(data.get("sid"), str):
                self._on_connect(data["sid"], data.get("pid"))
            else:
                self.emit_reserved(
                    "connect_error",
                    ConnectError(
                        "It seems you are trying to reach a Socket.IO server in v2.x with a "
                        "v3.x client, but they are not compatible"
                    ),
                )
        elif kind == PacketType.DISCONNECT:
            self._destroy()
            self._on_close(ClientDisconnectReason.IO_SERVER_DISCONNECT, None)
        elif kind == PacketType.CONNECT_ERROR:
            self._destroy()
            data = packet.data
            if isinstance(data, dict):
                err = ConnectError(str(data.get("message", "")), data.get("data"))
            else:
                err = ConnectError(str(data))
            self.emit_reserved("connect_error", err)

    def _on_event(self, packet: Packet) -> None:
        args = packet.data
        event = args[0]
        rest = tuple(args[1:])
        self._notify_any(event, rest)
        # With connection state recovery the server appends an offset to the events it
        # stores (no ack id); a handler that takes fewer arguments does not receive it.
        offset = bool(self._pid and packet.id is None and rest and isinstance(rest[-1], str))
        result = self._emit_for_answer(str(event), rest, optional=int(offset))
        if offset:
            self._last_offset = rest[-1]
        if packet.id is None or result is NO_ANSWER:
            return
        packet_id = packet.id
        if isinstance(result, asyncio.Future):
            result.add_done_callback(lambda task: self._ack_from_task(packet_id, task))
        else:
            self._send_ack(packet_id, result)

    def _ack_from_task(self, packet_id: int, task: asyncio.Future[Any]) -> None:
        if task.cancelled() or task.exception() is not None:
            return
        self._send_ack(packet_id, task.result())

    def _send_ack(self, packet_id: int, value: Any) -> None:
        if self.connected:
            self._packet(Packet(PacketType.ACK, self.nsp, ack_args(value), packet_id))

    def _on_ack(self, packet: Packet) -> None:
        if packet.id is not None:
            data = packet.data
            self._acks.answer(packet.id, list(data) if isinstance(data, list) else [])

    def _on_connect(self, sid: str, pid: Any) -> None:
        self.id = sid
        pid = pid if isinstance(pid, str) else None
        self.recovered = pid is not None and pid == self._pid
        self._pid = pid
        self.connected = True
        # socket.io-client's emitBuffered: first what was received, then what was emitted.
        received = self._receive_buffer
        self._receive_buffer = []
        for packet in received:
            self._on_event(packet)
        buffered = self._send_buffer
        self._send_buffer = []
        for packet in buffered:
            self._notify_any_outgoing(packet.data)
            self._packet(packet)
        self.emit_reserved("connect")
        if self._queue is not None:
            self._queue.drain(self.retries, True)

    def __repr__(self) -> str:
        state = f"id={self.id!r}" if self.connected else "disconnected"
        return f"<aiosocketio.client.ClientSocket nsp={self.nsp!r} {state}>"
