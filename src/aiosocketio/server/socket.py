"""The server-side ``Socket``: one client connected to one namespace.

Handlers and acknowledgements:

* ``socket.on("event", handler)`` (or ``@socket.on("event")``) registers a handler that is
  called with the event's arguments. It may be a function or a coroutine function.
* When the client asked for an acknowledgement, the handler's **return value** answers it
  (awaited first for a coroutine): ``None`` answers with no argument, a ``tuple`` answers
  with its items as separate arguments, anything else is the single argument.
* Node-style code may instead declare a parameter named ``ack`` or ``callback``: it then
  receives a callable ``ack(*args)`` (only when the client asked for an acknowledgement;
  give the parameter a default such as ``None``), and the return value is ignored.
* The acknowledgements the server waits for (``emit_with_ack``, a broadcast's) are kept by
  id in a map made for the first one (a socket that never waits for one carries none);
  the deadlines of ``socket.timeout(s)`` are a
  :class:`~aiosocketio.runtime.pending.PendingTable` (one timer), made for the first and
  dropped with the last.

The module is the ``Socket`` users hold: with it are its flagged emitter and the
structural types of what it needs from the namespace, the server and the connection's
multiplexer, which name ``Socket`` and keep the server package acyclic. What becomes of
an event the client sends (catch-all listeners, packet middlewares, typed checks, the
handlers and their acknowledgements) is :mod:`aiosocketio.server.incoming`; the catch-all
listeners' registry is :mod:`aiosocketio.server.listeners`, the acknowledgements it
answers :mod:`aiosocketio.server.ack_reply`, and the calls of the user's handlers (with
log lines that say where they failed) :mod:`aiosocketio.server.handlers`.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from aiosocketio.adapters.interface import (
    AckCallback,
    AdapterLike,
    BroadcastFlags,
    BroadcastOptions,
)
from aiosocketio.exceptions import AckTimeout, Disconnected, LocalProtocolError
from aiosocketio.frontends.stats import (
    ACK_LATENCY,
    HANDSHAKE_REJECTED,
    LimitStats,
    prepared_size,
)
from aiosocketio.protocol.prepared import PreparedMessage
from aiosocketio.protocol.socketio.packets import RESERVED_EVENTS, Packet, PacketType, make_packet
from aiosocketio.runtime.events import (
    positional_count,
)
from aiosocketio.runtime.pending import PendingTable
from aiosocketio.server.broadcast import BroadcastOperator
from aiosocketio.server.done import DONE
from aiosocketio.server.handlers import call_handler, logger
from aiosocketio.server.handshake import Handshake
from aiosocketio.server.incoming import HandlerTracer, IncomingEvents, IncomingNamespace

if TYPE_CHECKING:
    from aiosocketio.engine.http import HttpRequest
    from aiosocketio.engine.socket import EngineSocket

_EVENT = PacketType.EVENT

__all__ = [
    "RECOVERABLE_REASONS",
    "PacketEncoder",
    "Socket",
    "SocketClient",
    "SocketEmitter",
    "SocketNamespace",
    "SocketServer",
]

RECOVERABLE_REASONS = frozenset(
    {
        "transport error",
        "transport close",
        "forced close",
        "ping timeout",
        "server shutting down",
        "forced server close",
    }
)
"""Disconnect reasons after which a session is kept for connection state recovery."""


# -- what a socket needs from the objects above it (they satisfy these structurally) ----------


class PacketEncoder(Protocol):
    """The server's Socket.IO encoder."""

    def encode(self, packet: Packet) -> Sequence[str | bytes]:
        """The Engine.IO messages of ``packet``: its text, then its binary attachments."""
        ...


class SocketServer(Protocol):
    """What a socket needs from the server."""

    @property
    def encoder(self) -> PacketEncoder:
        """The Socket.IO encoder."""
        ...

    @property
    def connection_state_recovery(self) -> dict[str, Any] | None:
        """The recovery options, None when recovery is off."""
        ...

    @property
    def counters(self) -> LimitStats:
        """The server's counters (the traffic when ``stats.detailed``)."""
        ...

    @property
    def tracer(self) -> EventTracer | None:
        """Traces event handlers and acknowledgements (``None``: off)."""
        ...


class EventTracer(HandlerTracer, Protocol):
    """What traces a server's event handling (``aiosocketio.tracing`` sets one on
    ``Server.tracer``; ``None``, the default, costs one attribute test per event): the
    handlers (``wrap``) and the acknowledgements the server waits for."""

    def ack(self, socket: Socket, event: Any) -> Callable[[BaseException | None], None]:
        """Start the span of an ``emit_with_ack``; the result ends it (with the error)."""
        ...


class SocketNamespace(IncomingNamespace, Protocol):
    """What a socket needs from its namespace (its name and handler catalog included)."""

    @property
    def server(self) -> SocketServer:
        """The server."""
        ...

    @property
    def adapter(self) -> AdapterLike:
        """The namespace's adapter."""
        ...

    def _next_ack_id(self) -> int: ...

    def _remove(self, socket: Socket) -> None: ...


class SocketClient(Protocol):
    """What a socket needs from the multiplexer of its connection."""

    @property
    def conn(self) -> EngineSocket:
        """The Engine.IO connection."""
        ...

    def _disconnect(self) -> None: ...

    def _remove(self, socket: Socket) -> None: ...


def generate_sid() -> str:
    """A fresh 20-character base64url id (as Node's ``base64id``)."""
    return secrets.token_urlsafe(15)


class _FutureAck:
    """A pending ``emit_with_ack``: resolves a future; fails it on timeout or disconnect."""

    __slots__ = ("future",)

    def __init__(self, future: asyncio.Future[Any]) -> None:
        self.future = future

    def __call__(self, args: list[Any]) -> None:
        if not self.future.done():
            if not args:
                self.future.set_result(None)
            elif len(args) == 1:
                self.future.set_result(args[0])
            else:
                self.future.set_result(tuple(args))

    def fail(self, exc: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(exc)


def _ack_timed_out(pending: _FutureAck, _: _FutureAck) -> None:
    """The ``on_expire`` of a socket's ack timers (its ``emit_with_ack`` cleans up after)."""
    pending.fail(AckTimeout())


def _check_event(event: str | int) -> None:
    if isinstance(event, str) and event in RESERVED_EVENTS:
        raise LocalProtocolError(f'"{event}" is a reserved event name')


class SocketEmitter:
    """``socket.timeout(s)``, ``socket.volatile``, ``socket.compress(c)``: emit with flags.

    Immutable; every modifier returns a new emitter.
    """

    __slots__ = ("_compress", "_socket", "_timeout", "_volatile")

    def __init__(
        self, socket: Socket, volatile: bool, compress: bool, timeout: float | None
    ) -> None:
        self._socket = socket
        self._volatile = volatile
        self._compress = compress
        self._timeout = timeout

    def timeout(self, seconds: float) -> SocketEmitter:
        """Fail ``emit_with_ack`` with :class:`AckTimeout` after ``seconds``."""
        return SocketEmitter(self._socket, self._volatile, self._compress, seconds)

    @property
    def volatile(self) -> SocketEmitter:
        """The packet may be dropped if the client is not ready to receive it."""
        return SocketEmitter(self._socket, True, self._compress, self._timeout)

    def compress(self, compress: bool) -> SocketEmitter:
        """Node's compress flag, accepted for compatibility.

        Compression (permessage-deflate, HTTP compression) is decided per connection by the
        engine's options; the flag does not change it.
        """
        return SocketEmitter(self._socket, self._volatile, compress, self._timeout)

    def emit(self, event: str | int, *args: Any) -> Awaitable[None]:
        """Emit ``event`` to this client with the flags (see ``Socket.emit``)."""
        self._socket._emit(event, args, self._volatile)
        return DONE

    async def emit_with_ack(
        self, event: str | int, *args: Any, timeout: float | None = None
    ) -> Any:
        """Emit ``event`` and wait for the client's acknowledgement (see ``Socket``).

        ``timeout`` (seconds) overrides the emitter's own ``timeout(s)``.
        """
        wait = timeout if timeout is not None else self._timeout
        return await self._socket._emit_with_ack(event, args, wait, self._volatile)


class Socket(IncomingEvents):
    """One client in one namespace (Node's server-side ``Socket``).

    Users may set their own attributes (``socket.user = ...``); ``socket.data`` is the
    dict that ``fetch_sockets`` shares across a cluster.

    Attributes:
        id: the socket id (20 characters, distinct from the Engine.IO id).
        handshake: the :class:`Handshake` of the connection.
        data: free-form data (serialised to other servers by cluster adapters).
        nsp: the :class:`Namespace`.
        server: the :class:`Server`.
        client: the connection-level client object.
        conn: the Engine.IO connection (``EngineSocket``).
        connected: whether the socket is connected to its namespace.
        recovered: whether this connection restored a previous session
            (``connection_state_recovery``).
        pid: the private session id used for recovery (None when recovery is off).
    """

    nsp: SocketNamespace
    server: SocketServer

    def __init__(
        self,
        nsp: SocketNamespace,
        client: SocketClient,
        auth: dict[str, Any],
        session: dict[str, Any] | None = None,
    ) -> None:
        self.nsp = nsp
        self.server = nsp.server
        self.client = client
        self.conn: EngineSocket = client.conn
        self.handshake = Handshake.from_connection(client.conn, auth)
        self.connected = False
        self._cleaned = False
        self._recovery = nsp.server.connection_state_recovery is not None
        self._restore = session
        if session is not None:
            self.id: str = session["sid"]
            self.pid: str | None = session["pid"]
            self.data: dict[str, Any] = session.get("data") or {}
            self.recovered = True
        else:
            self.id = generate_sid()
            self.pid = generate_sid() if self._recovery else None
            self.data = {}
            self.recovered = False
        # The acks in flight, by id: a plain dict (a broadcast with acks adds to it for
        # every recipient, the acks come back through it), made for the first ack and kept.
        # The deadlines of those with a timeout: made for the first, dropped with the last.
        # A socket that never waits for an ack carries neither.
        self._acks: dict[int, AckCallback] | None = None
        self._ack_timers: PendingTable[_FutureAck, _FutureAck] | None = None
        self._any = None
        self._any_outgoing = None
        self._fns = ()

    def __repr__(self) -> str:
        return f"<Socket id={self.id!r} nsp={self.nsp.name!r} connected={self.connected}>"

    # -- state ------------------------------------------------------------------------------

    @property
    def adapter(self) -> AdapterLike:
        """The adapter of the namespace."""
        return self.nsp.adapter

    @property
    def rooms(self) -> set[str]:
        """The rooms this socket is in (a copy), its own id included."""
        return set(self.adapter.socket_rooms(self.id) or ())

    @property
    def disconnected(self) -> bool:
        """Whether the socket is disconnected from its namespace."""
        return not self.connected

    @property
    def request(self) -> HttpRequest:
        """The HTTP request that opened the connection."""
        return self.conn.request

    # -- emitting ---------------------------------------------------------------------------

    def emit(self, event: str | int, *args: Any) -> Awaitable[None]:
        """Send ``event`` with ``args`` to this client (binary may appear anywhere).

        The packet is written at once. The result may be awaited (python-socketio's
        ``await sio.emit(...)``) or not: it is already done.

        Raises:
            LocalProtocolError: ``event`` is a reserved name.
        """
        self._emit(event, args, False)
        return DONE

    def send(self, *args: Any) -> Awaitable[None]:
        """Emit a ``message`` event (the result may be awaited or not)."""
        self._emit("message", args, False)
        return DONE

    write = send

    async def emit_with_ack(
        self, event: str | int, *args: Any, timeout: float | None = None
    ) -> Any:
        """Emit ``event`` and wait for the client's acknowledgement.

        Args:
            event: the event name.
            *args: its arguments.
            timeout: seconds to wait for the acknowledgement (the same as
                ``socket.timeout(s).emit_with_ack(...)``, which it overrides); ``None``
                waits until the client answers or disconnects.

        Returns:
            the acknowledgement's argument: ``None`` if there was none, the value if there
            was one, a tuple if there were several.

        Raises:
            Disconnected: the socket disconnected first.
            AckTimeout: no acknowledgement came within ``timeout``.
        """
        return await self._emit_with_ack(event, args, timeout, False)

    def timeout(self, seconds: float) -> SocketEmitter:
        """An emitter whose ``emit_with_ack`` fails with :class:`AckTimeout` after ``seconds``."""
        return SocketEmitter(self, False, True, seconds)

    @property
    def volatile(self) -> SocketEmitter:
        """An emitter whose packets may be dropped if the client is not ready."""
        return SocketEmitter(self, True, True, None)

    def compress(self, compress: bool) -> SocketEmitter:
        """An emitter with the compress flag set to ``compress``."""
        return SocketEmitter(self, False, compress, None)

    def _emit(self, event: str | int, args: tuple[Any, ...], volatile: bool) -> None:
        _check_event(event)
        data = [event, *args]
        if self._recovery:
            # Through the adapter, so that the packet gets an offset and is kept; as in
            # Node this holds after a disconnection too: the client that comes back for
            # this session gets it replayed.
            opts = BroadcastOptions(frozenset((self.id,)), flags=BroadcastFlags(volatile=volatile))
            self.adapter.broadcast(Packet(PacketType.EVENT, self.nsp.name, data), opts)
            return
        if self._cleaned:
            return  # disconnected: the client has left this namespace
        if self._any_outgoing is not None:
            self._notify_outgoing(data)
        self._packet(make_packet(PacketType.EVENT, self.nsp.name, data, None), volatile)

    async def _emit_with_ack(
        self, event: str | int, args: tuple[Any, ...], timeout: float | None, volatile: bool
    ) -> Any:
        _check_event(event)
        if not self.connected:
            raise Disconnected("socket is disconnected")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        pending = _FutureAck(future)
        ack_id = self.nsp._next_ack_id()
        self._expect_ack(ack_id, pending)
        if timeout is not None:
            timers = self._ack_timers
            if timers is None:
                timers = self._ack_timers = PendingTable(_ack_timed_out)
            timers.add_with_timeout(pending, pending, timeout)
        data = [event, *args]
        if self._any_outgoing is not None:
            self._notify_outgoing(data)
        self._packet(make_packet(PacketType.EVENT, self.nsp.name, data, ack_id), volatile)
        server = self.server
        stats = server.counters
        started = asyncio.get_running_loop().time() if stats.detailed else None
        tracer = server.tracer
        end_span = tracer.ack(self, event) if tracer is not None else None
        try:
            value = await future
        except BaseException as exc:
            if end_span is not None:
                end_span(exc)
            raise
        finally:
            self._take_ack(ack_id)
            timers = self._ack_timers
            if timers is not None:
                timers.pop(pending)  # answered, or failed (expired entries are out already)
                if not timers:
                    timers.cancel_timer()
                    self._ack_timers = None
        if started is not None:
            stats.observe(ACK_LATENCY, asyncio.get_running_loop().time() - started)
        if end_span is not None:
            end_span(None)
        return value

    def _expect_ack(self, ack_id: int, ack: AckCallback) -> None:
        """Wait for the client's ACK ``ack_id``: it goes to ``ack(args)``."""
        acks = self._acks
        if acks is None:
            self._acks = {ack_id: ack}
        else:
            acks[ack_id] = ack

    def _take_ack(self, ack_id: int) -> AckCallback | None:
        """The waiter of ACK ``ack_id``, out of the map."""
        acks = self._acks
        return None if acks is None else acks.pop(ack_id, None)

    def _packet(self, packet: Packet, volatile: bool = False) -> None:
        """Encode ``packet`` and write it to the connection."""
        conn = self.conn
        if conn.ready_state != "open":
            return
        server = self.server
        prepared = PreparedMessage(server.encoder.encode(packet))
        stats = server.counters
        if stats.detailed:
            parts = prepared.parts
            stats.packets_out += len(parts)
            stats.bytes_out += len(parts[0]) if len(parts) == 1 else prepared_size(prepared)
            if packet.type is _EVENT:
                stats.events_out += 1
        conn.write_prepared(prepared, volatile=volatile)

    # -- broadcasting from this socket ------------------------------------------------------

    def to(self, room: str | Iterable[str]) -> BroadcastOperator[Socket]:
        """Broadcast to ``room`` (one or several), this socket excluded."""
        return self.broadcast.to(room)

    in_ = to

    def except_(self, room: str | Iterable[str]) -> BroadcastOperator[Socket]:
        """Broadcast to everyone but ``room`` (one or several) and this socket."""
        return self.broadcast.except_(room)

    @property
    def broadcast(self) -> BroadcastOperator[Socket]:
        """Broadcast to every socket of the namespace but this one."""
        return BroadcastOperator(self.adapter, except_=frozenset((self.id,)))

    @property
    def local(self) -> BroadcastOperator[Socket]:
        """Broadcast on this server only, this socket excluded."""
        return self.broadcast.local

    # -- rooms ------------------------------------------------------------------------------

    def join(self, rooms: str | Iterable[str]) -> Awaitable[None]:
        """Join one room or several. The result may be awaited (it is already done)."""
        if self._cleaned:
            return DONE
        if isinstance(rooms, str):
            rooms = (rooms,)
        self.adapter.add_all(self.id, rooms)
        return DONE

    def leave(self, room: str) -> Awaitable[None]:
        """Leave ``room``. The result may be awaited (it is already done)."""
        self.adapter.del_(self.id, room)
        return DONE

    # -- disconnecting ----------------------------------------------------------------------

    def disconnect(self, close: bool = False) -> Socket:
        """Disconnect from the namespace; with ``close``, close the whole connection.

        The client sees ``io server disconnect`` and does not reconnect.
        """
        if not self.connected:
            return self
        if close:
            self.client._disconnect()
        else:
            self._packet(Packet(PacketType.DISCONNECT, self.nsp.name))
            self._on_close("server namespace disconnect")
        return self

    # -- called by the client and the namespace ---------------------------------------------

    def _on_connect(self) -> None:
        self.connected = True
        self.join(self.id)
        nsp = self.nsp.name
        session = self._restore
        if session is not None:
            # applied only now, after the middlewares (if they ran) accepted the client
            self._restore = None
            self.join(session.get("rooms") or ())
            for data in session.get("missed_packets") or ():
                self._packet(Packet(PacketType.EVENT, nsp, data))
        if self.conn.protocol == 3:
            self._packet(Packet(PacketType.CONNECT, nsp))  # Socket.IO v2: no payload
        elif self.pid is not None:
            self._packet(Packet(PacketType.CONNECT, nsp, {"sid": self.id, "pid": self.pid}))
        else:
            self._packet(Packet(PacketType.CONNECT, nsp, {"sid": self.id}))

    def _on_packet(self, packet: Packet) -> None:
        ptype = packet.type
        if ptype == PacketType.EVENT or ptype == PacketType.BINARY_EVENT:
            self._on_event(packet)
        elif ptype == PacketType.ACK or ptype == PacketType.BINARY_ACK:
            acks = self._acks  # _take_ack, inlined: a broadcast's acks all come this way
            if acks is not None:
                cb = acks.pop(packet.id, None)  # type: ignore[arg-type]
                if cb is not None:
                    cb(list(packet.data or ()))
        elif ptype == PacketType.DISCONNECT:
            self._on_close("client namespace disconnect")

    def _cleanup(self) -> None:
        """Leave every room; later ``join`` calls do nothing."""
        self._cleaned = True
        self.adapter.del_all(self.id)

    def _error(self, data: Any) -> None:
        """Refuse the connection: send CONNECT_ERROR with ``data``."""
        conn = self.conn
        if conn.protocol == 3 and isinstance(data, dict):
            # Socket.IO v2's ERROR packet: the error's data if any, else its message
            data = data.get("data") if data.get("data") is not None else data.get("message")
        if conn.ready_state == "open":
            packet = Packet(PacketType.CONNECT_ERROR, self.nsp.name, data)
            prepared = PreparedMessage(self.server.encoder.encode(packet))
            stats = self.server.counters
            if stats.detailed:
                stats.add(f"{HANDSHAKE_REJECTED}/middleware")
                stats.packets_out += len(prepared.parts)
                stats.bytes_out += prepared_size(prepared)
            conn.write_prepared(prepared)

    def _on_close(self, reason: str, description: Any = None) -> None:
        """Disconnect from the namespace with ``reason`` (one of Node's strings)."""
        if not self.connected:
            return
        logger.debug("socket %s leaves %s: %s", self.id, self.nsp.name, reason)
        self._emit_closing("disconnecting", reason, description)
        if self._recovery and reason in RECOVERABLE_REASONS:
            self.adapter.persist_session(
                {"sid": self.id, "pid": self.pid, "rooms": list(self.rooms), "data": self.data}
            )
        self._cleanup()
        self.nsp._remove(self)
        self.client._remove(self)
        self.connected = False
        timers = self._ack_timers
        if timers is not None:
            self._ack_timers = None
            timers.take_all()  # the acks fail just below: no timeout after that
        acks = self._acks
        if acks is not None:
            self._acks = None
            error = Disconnected(reason)
            for cb in acks.values():
                if isinstance(cb, _FutureAck):
                    cb.fail(error)
                else:
                    gone = getattr(cb, "client_gone", None)
                    if gone is not None:
                        gone()
        self._emit_closing("disconnect", reason, description)
        # Nothing reaches a disconnected socket again: dropping its listeners breaks the
        # Socket -> handler closure -> Socket cycles, so it is freed by reference counting
        # instead of waiting for the cyclic GC.
        self.off()
        self._any = self._any_outgoing = None
        self._fns = ()

    def _emit_closing(self, event: str, reason: str, description: Any) -> None:
        # Node calls these listeners with (reason, description); a Python listener gets the
        # description only if it names a second positional parameter.
        for listener in self._take_listeners(event):
            fn = listener.fn
            if positional_count(fn) >= 2:
                call_handler(self, event, "listener", fn, (reason, description))
            else:
                call_handler(self, event, "listener", fn, (reason,))
