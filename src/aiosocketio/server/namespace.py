"""Namespaces: a communication channel multiplexed over the connections.

``server.of("/chat")`` returns a :class:`Namespace`. ``server.of(re.compile(...))`` or
``server.of(callable)`` returns a :class:`ParentNamespace`: a client connecting to a
matching name gets a child namespace, created on demand, that inherits the parent's
middlewares and ``connection`` handlers.

The module is under 600 lines because :class:`Namespace` is Node's whole
namespace API in one class (emitting, the utility methods, the middlewares, the
connection sequence); the socket itself, the broadcast operator and the listeners live in
their own modules.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any, Protocol, TypeVar, cast

from aiosocketio.adapters.interface import (
    AckCallback,
    AdapterLike,
    BroadcastOptions,
    SocketDetails,
    SocketLike,
)
from aiosocketio.adapters.memory import MemoryAdapter
from aiosocketio.exceptions import AckTimeout, ConnectionRefused, LocalProtocolError
from aiosocketio.frontends.stats import LimitStats, prepared_size
from aiosocketio.protocol.prepared import PreparedMessage
from aiosocketio.protocol.socketio.packets import RESERVED_EVENTS, Packet, PacketType
from aiosocketio.runtime.events import EventEmitter, call_listener, spawn
from aiosocketio.server.broadcast import BroadcastOperator, RemoteSocket
from aiosocketio.server.catalog import HandlerCatalog
from aiosocketio.server.done import DONE
from aiosocketio.server.handlers import call_handler, check_namespace_listener
from aiosocketio.server.socket import Socket, SocketClient, SocketServer

__all__ = [
    "Middleware",
    "Namespace",
    "NamespaceClient",
    "NamespaceMatcher",
    "NamespaceServer",
    "ParentNamespace",
]

logger = logging.getLogger("aiosocketio.server")

Middleware = Callable[[Socket], Awaitable[None] | None]
"""``fn(socket)``, sync or async: raise (ideally :class:`ConnectionRefused`) to refuse."""

F = TypeVar("F", bound=Callable[..., Any])

NamespaceMatcher = Callable[[str, dict[str, Any]], "bool | Awaitable[bool]"]
"""``fn(name, auth) -> bool`` (sync or async): whether a dynamic namespace accepts ``name``."""


AdapterFactory = Callable[["Namespace"], AdapterLike]
"""``factory(namespace) -> adapter``: what ``Server(adapter=...)`` takes."""


class NamespaceServer(SocketServer, Protocol):
    """What a namespace needs from the server."""

    @property
    def cleanup_empty_child_namespaces(self) -> bool:
        """Whether an emptied child of a dynamic namespace is removed."""
        ...

    @property
    def _adapter_factory(self) -> AdapterFactory: ...

    def _add_namespace(self, nsp: Namespace) -> None: ...

    def _remove_namespace(self, nsp: Namespace) -> None: ...


class NamespaceClient(SocketClient, Protocol):
    """What a namespace needs from the multiplexer of a connection that joins it."""

    @property
    def closed(self) -> bool:
        """Whether the connection closed."""
        ...

    @property
    def nsps(self) -> MutableMapping[str, Socket]:
        """The connected sockets of the connection, by namespace name."""
        ...

    def close(self) -> None:
        """Close the connection."""
        ...

    def _on_socket_connected(self, socket: Socket) -> None: ...


def _refusal(exc: BaseException, fn: Any, socket: Socket) -> dict[str, Any]:
    """The CONNECT_ERROR data for a middleware's exception (Node's, for a generic Error:
    ``{"message": str(exc)}`` and its ``data`` if it has one). Anything but
    :class:`ConnectionRefused` is a bug in the middleware: logged with its traceback."""
    if isinstance(exc, ConnectionRefused):
        message, data = exc.message, exc.data
    else:
        logger.error(
            "the connection middleware %s failed for socket %s of namespace %r (the client "
            "gets connect_error %r; raise ConnectionRefused to refuse a client on purpose)",
            getattr(fn, "__name__", repr(fn)),
            socket.id,
            socket.nsp.name,
            str(exc),
            exc_info=exc,
        )
        message, data = str(exc), getattr(exc, "data", None)
    out: dict[str, Any] = {"message": message}
    if data is not None:
        out["data"] = data
    return out


class Namespace(EventEmitter):
    """A namespace (Node's ``Namespace``).

    Listen to ``connection`` (or its alias ``connect``) to get each new :class:`Socket`;
    other event names receive :meth:`server_side_emit` messages from the cluster.

    Attributes:
        name: the namespace name, such as ``"/"`` or ``"/chat"``.
        server: the :class:`Server`.
        sockets: the connected sockets of this server, by id.
        adapter: the namespace's :class:`Adapter`.
        handler_catalog: the handlers its sockets registered with ``socket.on``, once
            per event and handler code (:class:`~aiosocketio.server.catalog.HandlerCatalog`;
            the AsyncAPI document is made from it).
    """

    def __init__(self, server: NamespaceServer, name: str) -> None:
        self.name = name
        self.server = server
        self.sockets: dict[str, Socket] = {}
        self._fns: list[Middleware] = []
        self._ids = 0
        self._parent: ParentNamespace | None = None
        self.adapter: AdapterLike = self._create_adapter()
        self.handler_catalog = HandlerCatalog()  # a dynamic namespace's children: the parent's

    def _create_adapter(self) -> AdapterLike:
        return self.server._adapter_factory(self)

    @property
    def parent(self) -> ParentNamespace | None:
        """The dynamic namespace this one is a child of; None for a namespace of its own."""
        return self._parent

    def _add_listener(self, event: str, fn: Callable[..., Any], once: bool, prepend: bool) -> None:
        check_namespace_listener(self.name, event, fn)  # python-socketio's handler shapes
        super()._add_listener(event, fn, once, prepend)

    def event(self, fn: F) -> F:
        """Listen to the event named after ``fn`` (python-socketio's ``@sio.event``).

        ``@io.event`` on ``def connection(socket)`` is ``@io.on("connection")``. The
        clients' events are handled on each socket (``socket.on``), not here.
        """
        return self.on(fn.__name__, fn)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} sockets={len(self.sockets)}>"

    def _next_ack_id(self) -> int:
        ack_id = self._ids
        self._ids += 1
        return ack_id

    # -- middlewares and connections --------------------------------------------------------

    def use(self, fn: Middleware) -> Middleware:
        """Add a connection middleware, called as ``fn(socket)`` (sync or async).

        Middlewares run in order before ``connection``. Raising refuses the client, who
        receives CONNECT_ERROR ``{"message": str(exc), "data": exc.data}``
        (:class:`ConnectionRefused` carries both). Usable as a decorator.
        """
        self._fns.append(fn)
        return fn

    def _add(self, client: NamespaceClient, auth: dict[str, Any]) -> None:
        """Run the middlewares for a new client and connect it (called by the client).

        Synchronous middlewares run inline; the chain goes on in a task from the first
        one that returns an awaitable.
        """
        recovery = self.server.connection_state_recovery
        if (
            recovery is not None
            and isinstance(auth.get("pid"), str)
            and isinstance(auth.get("offset"), str)
        ):
            spawn(self._add_recovering(client, auth, recovery["skip_middlewares"]))
            return
        self._run_chain(client, Socket(self, client, auth))

    async def _add_recovering(
        self, client: NamespaceClient, auth: dict[str, Any], skip_middlewares: bool
    ) -> None:
        try:
            session = await self.adapter.restore_session(auth["pid"], auth["offset"])
        except Exception:
            logger.exception("error while restoring a session")
            session = None
        socket = Socket(self, client, auth, session)
        if session is not None and skip_middlewares:
            self._do_connect(client, socket, None)
        else:
            self._run_chain(client, socket)

    def _run_chain(self, client: NamespaceClient, socket: Socket) -> None:
        fns = self._fns
        for i, fn in enumerate(fns):
            try:
                result = fn(socket)
            except Exception as exc:
                self._do_connect(client, socket, _refusal(exc, fn, socket))
                return
            if inspect.isawaitable(result):
                spawn(self._add_async(client, socket, result, i + 1))
                return
        self._do_connect(client, socket, None)

    async def _add_async(
        self, client: NamespaceClient, socket: Socket, pending: Awaitable[None], start: int
    ) -> None:
        refusal = None
        fn: Any = self._fns[start - 1] if start - 1 < len(self._fns) else None
        try:
            await pending
            for fn in list(self._fns[start:]):
                result = fn(socket)
                if inspect.isawaitable(result):
                    await result
        except Exception as exc:
            refusal = _refusal(exc, fn, socket)
        self._do_connect(client, socket, refusal)

    def _do_connect(
        self, client: NamespaceClient, socket: Socket, refusal: dict[str, Any] | None
    ) -> None:
        if client.closed or client.conn.ready_state != "open":
            logger.debug("client closed during the middlewares; ignoring socket %s", socket.id)
            socket._cleanup()
            return
        if refusal is not None:
            socket._cleanup()
            socket._error(refusal)
            return
        if self.name in client.nsps:
            # a second CONNECT for a namespace that connected meanwhile: invalid state
            socket._cleanup()
            client.close()
            return
        self.sockets[socket.id] = socket
        socket._on_connect()
        client._on_socket_connected(socket)
        for event in _CONNECTION_EVENTS:
            for listener in self._take_listeners(event):
                call_handler(socket, event, "handler", listener.fn, (socket,))

    def _remove(self, socket: Socket) -> None:
        self.sockets.pop(socket.id, None)
        parent = self._parent
        if parent is not None and not self.sockets and self.server.cleanup_empty_child_namespaces:
            logger.debug("closing empty child namespace %s", self.name)
            parent._remove_child(self)
            spawn(self.adapter.close())

    # -- delivering (called by the adapter) --------------------------------------------------

    def deliver(self, packet: Packet, sockets: Iterable[SocketLike], volatile: bool) -> None:
        """Write ``packet`` to each of ``sockets`` (the adapter picked them from :attr:`sockets`).

        The packet is encoded once; every connection gets the same :class:`PreparedMessage`.
        """
        prepared = PreparedMessage(self.server.encoder.encode(packet))
        data = packet.data
        count = 0
        for socket in cast("Iterable[Socket]", sockets):
            if socket._any_outgoing is not None:
                socket._notify_outgoing(data)
            socket.conn.write_prepared(prepared, volatile=volatile)
            count += 1
        stats = self.server.counters
        if stats.detailed:
            _count_out(stats, prepared, count)

    def deliver_with_ack(
        self, packet: Packet, sockets: Iterable[SocketLike], volatile: bool, ack: AckCallback
    ) -> int:
        """Like :meth:`deliver`, each client's acknowledgement going to ``ack(args)``.

        ``packet`` gets this namespace's next ack id. Returns the number of recipients.
        """
        ack_id = self._next_ack_id()
        packet = dataclasses.replace(packet, id=ack_id)
        prepared = PreparedMessage(self.server.encoder.encode(packet))
        data = packet.data
        count = 0
        for socket in cast("Iterable[Socket]", sockets):
            if socket._any_outgoing is not None:
                socket._notify_outgoing(data)
            acks = socket._acks  # Socket._expect_ack, inlined: this runs per recipient
            if acks is None:
                socket._acks = {ack_id: ack}
            else:
                acks[ack_id] = ack
            socket.conn.write_prepared(prepared, volatile=volatile)
            count += 1
        stats = self.server.counters
        if stats.detailed:
            _count_out(stats, prepared, count)
        return count

    def remote_socket(self, details: SocketDetails) -> RemoteSocket:
        """A :class:`RemoteSocket` for a socket of another server (from a fetch answer)."""
        return RemoteSocket(self.adapter, details)

    # -- broadcasting -----------------------------------------------------------------------

    def _operator(self) -> BroadcastOperator[Socket]:
        return BroadcastOperator(self.adapter)

    def to(self, room: str | Iterable[str]) -> BroadcastOperator[Socket]:
        """Target the sockets in ``room`` (one name or several)."""
        return self._operator().to(room)

    in_ = to

    def except_(self, room: str | Iterable[str]) -> BroadcastOperator[Socket]:
        """Target every socket except those in ``room`` (one name or several)."""
        return self._operator().except_(room)

    def emit(self, event: str | int, *args: Any) -> Awaitable[None]:
        """Emit ``event`` to every socket of the namespace (encoded once).

        The result may be awaited or not: the broadcast is handed to the adapter at once.
        """
        if isinstance(event, str) and event in RESERVED_EVENTS:
            raise LocalProtocolError(f'"{event}" is a reserved event name')
        self.adapter.broadcast(Packet(PacketType.EVENT, self.name, [event, *args]), _EVERYONE)
        return DONE

    async def emit_with_ack(
        self, event: str | int, *args: Any, timeout: float | None = None
    ) -> list[Any]:
        """Emit ``event`` to everyone and gather the acknowledgements (see BroadcastOperator)."""
        result: list[Any] = await self._operator().emit_with_ack(event, *args, timeout=timeout)
        return result

    def send(self, *args: Any) -> Awaitable[None]:
        """Emit a ``message`` event to everyone (the result may be awaited or not)."""
        return self.emit("message", *args)

    write = send

    def compress(self, compress: bool) -> BroadcastOperator[Socket]:
        """Set the compress flag for the next emission."""
        return self._operator().compress(compress)

    @property
    def volatile(self) -> BroadcastOperator[Socket]:
        """The next emission may be dropped for clients that are not ready."""
        return self._operator().volatile

    @property
    def local(self) -> BroadcastOperator[Socket]:
        """The next emission reaches the sockets of this server only."""
        return self._operator().local

    def timeout(self, seconds: float) -> BroadcastOperator[Socket]:
        """Wait at most ``seconds`` for the acknowledgements of the next emission."""
        return self._operator().timeout(seconds)

    # -- utility methods --------------------------------------------------------------------

    async def fetch_sockets(self) -> list[Socket | RemoteSocket]:
        """Every socket of the namespace (across the cluster with a cluster adapter)."""
        return await self._operator().fetch_sockets()

    def sockets_join(self, room: str | Iterable[str]) -> None:
        """Make every socket join ``room``."""
        self._operator().sockets_join(room)

    def sockets_leave(self, room: str | Iterable[str]) -> None:
        """Make every socket leave ``room``."""
        self._operator().sockets_leave(room)

    def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect every socket (and close the connections if ``close``)."""
        self._operator().disconnect_sockets(close)

    async def all_sockets(self) -> set[str]:
        """The ids of every socket (deprecated in Node: use :meth:`fetch_sockets`)."""
        return await self._operator().all_sockets()

    # -- server-side events -----------------------------------------------------------------

    def server_side_emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to the other servers of the cluster (their namespace listeners).

        Raises:
            LocalProtocolError: ``event`` is a reserved name.
        """
        if event in RESERVED_EVENTS:
            raise LocalProtocolError(f'"{event}" is a reserved event name')
        self.adapter.server_side_emit([event, *args])

    async def server_side_emit_with_ack(
        self, event: str, *args: Any, timeout: float | None = None
    ) -> list[Any]:
        """Send ``event`` to the other servers and gather one response per server.

        On a single server the list is empty.

        Raises:
            AckTimeout: some servers did not answer in time (``responses`` holds the rest).
        """
        if event in RESERVED_EVENTS:
            raise LocalProtocolError(f'"{event}" is a reserved event name')
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()

        def ack(error: Exception | None, responses: list[Any]) -> None:
            if future.done():
                return
            if error is not None:
                if isinstance(error, AckTimeout):
                    error.responses = responses
                future.set_exception(error)
            else:
                future.set_result(responses)

        self.adapter.server_side_emit([event, *args], ack, timeout)
        return await future

    def deliver_server_side_emit(
        self, args: list[Any], ack: Callable[..., Any] | None = None
    ) -> None:
        """Hand another server's ``[event, *args]`` to the listeners (called by the adapter).

        When the sender wants an answer, ``ack`` is given to the listeners as their
        ``ack``/``callback`` parameter, or called with their return value.
        """
        if not args:
            return
        event = str(args[0])
        rest = args[1:]
        for listener in self._take_listeners(event):
            if ack is not None and listener.ack_param is not None:
                call_listener(listener.fn, *rest, **{listener.ack_param: ack})
            elif ack is not None:
                _reply(event, listener.fn, rest, ack)
            else:
                call_listener(listener.fn, *rest)


_EVERYONE = BroadcastOptions()
_CONNECTION_EVENTS = ("connect", "connection")


def _reply(event: str, fn: Callable[..., Any], args: list[Any], ack: Callable[..., Any]) -> None:
    try:
        result = fn(*args)
    except Exception:
        logger.exception("error in the server-side emit listener of %r", event)
        return
    if inspect.isawaitable(result):

        async def later() -> None:
            ack(await result)

        spawn(later())
    else:
        ack(result)


class ParentNamespace(Namespace):
    """A dynamic namespace: matches names with a regex or a function, creates children.

    Children inherit the middlewares and ``connection`` handlers registered on the parent
    before the child is created (register them on the parent first, as in Node).
    Emitting on the parent emits on every child.
    """

    _count = 0

    def __init__(
        self, server: NamespaceServer, matcher: re.Pattern[str] | NamespaceMatcher
    ) -> None:
        ParentNamespace._count += 1
        self.matcher = matcher
        self.children: set[Namespace] = set()
        super().__init__(server, f"/_{ParentNamespace._count}")

    def _create_adapter(self) -> AdapterLike:
        return _ParentAdapter(self)

    async def matches(self, name: str, auth: dict[str, Any]) -> bool:
        """Whether ``name`` belongs to this dynamic namespace."""
        matcher = self.matcher
        if isinstance(matcher, re.Pattern):
            return matcher.search(name) is not None  # as JavaScript's regex.test()
        try:
            result = matcher(name, auth)
            if inspect.isawaitable(result):
                result = await result
        except Exception:
            logger.exception("error in a dynamic namespace matcher")
            return False
        return bool(result)

    def create_child(self, name: str) -> Namespace:
        """Create the child namespace ``name`` (called when a client first connects)."""
        child = Namespace(self.server, name)
        for fn in self._fns:
            child.use(fn)
        for event in ("connect", "connection"):
            for fn in self.listeners(event):
                child.on(event, fn)
        self.children.add(child)
        child._parent = self
        child.handler_catalog = self.handler_catalog  # documented under the parent
        self.server._add_namespace(child)
        return child

    def _remove_child(self, child: Namespace) -> None:
        self.children.discard(child)
        self.server._remove_namespace(child)


class _ParentAdapter(MemoryAdapter):
    """The adapter of a parent namespace: every operation goes to the children."""

    def broadcast(self, packet: Packet, opts: BroadcastOptions) -> None:
        for child in list(self._children()):
            child.adapter.broadcast(dataclasses.replace(packet, nsp=child.name), opts)

    def _children(self) -> set[Namespace]:
        nsp = self.nsp
        assert isinstance(nsp, ParentNamespace)
        return nsp.children

    def broadcast_with_ack(
        self,
        packet: Packet,
        opts: BroadcastOptions,
        client_count_callback: Callable[[int], None],
        ack: AckCallback,
    ) -> None:
        total = 0

        def count(n: int) -> None:
            nonlocal total
            total += n

        for child in list(self._children()):
            child.adapter.broadcast_with_ack(
                dataclasses.replace(packet, nsp=child.name), opts, count, ack
            )
        client_count_callback(total)

    async def fetch_sockets(self, opts: BroadcastOptions) -> list[SocketLike]:
        out: list[SocketLike] = []
        for child in list(self._children()):
            out.extend(await child.adapter.fetch_sockets(opts))
        return out

    def add_sockets(self, opts: BroadcastOptions, rooms: Iterable[str]) -> None:
        for child in list(self._children()):
            child.adapter.add_sockets(opts, rooms)

    def del_sockets(self, opts: BroadcastOptions, rooms: Iterable[str]) -> None:
        for child in list(self._children()):
            child.adapter.del_sockets(opts, rooms)

    def disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        for child in list(self._children()):
            child.adapter.disconnect_sockets(opts, close)


def _count_out(stats: LimitStats, prepared: PreparedMessage, recipients: int) -> None:
    stats.events_out += recipients
    stats.packets_out += len(prepared.parts) * recipients
    stats.bytes_out += prepared_size(prepared) * recipients
