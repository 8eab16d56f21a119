"""``Server``: the Socket.IO server (Node's ``Server``, with snake_case names and seconds).

::

    io = Server(cors={"origin": "*"})

    @io.on("connection")
    async def on_connection(socket):
        socket.emit("hello", "world")

    await io.listen(3000)

Options that belong to Engine.IO (``ping_interval``, ``ping_timeout``, ``upgrade_timeout``,
``max_http_buffer_size``, ``allow_request``, ``transports``, ``allow_upgrades``,
``http_compression``, ``per_message_deflate``, ``cookie``, ``cors``, ``path``...) go to
:class:`aiosocketio.protocol.engineio.options.EngineOptions`; ``server.engine`` is the engine.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar, overload

from aiosocketio.adapters.interface import AdapterLike
from aiosocketio.adapters.memory import MemoryAdapter, SessionAwareAdapter
from aiosocketio.engine.engine import Engine
from aiosocketio.engine.socket import EngineSocket
from aiosocketio.frontends.stats import LimitStats
from aiosocketio.protocol.engineio.options import EngineOptions
from aiosocketio.protocol.socketio.parsers import make_decoder, make_encoder
from aiosocketio.runtime.events import spawn
from aiosocketio.server.broadcast import BroadcastOperator, RemoteSocket
from aiosocketio.server.client_loader import ClientFiles
from aiosocketio.server.multiplexer import Multiplexer
from aiosocketio.server.namespace import (
    AdapterFactory,
    Middleware,
    Namespace,
    NamespaceMatcher,
    ParentNamespace,
)
from aiosocketio.server.shutdown import shut_down
from aiosocketio.server.socket import EventTracer, Socket
from aiosocketio.server.stats import ServerStats

if TYPE_CHECKING:
    import ssl as ssl_module

    from aiosocketio.frontends.asgi import ASGIApp
    from aiosocketio.frontends.native.server import NativeServer
    from aiosocketio.frontends.stats import LimitStats
    from aiosocketio.protocol.codec import JSONCodec

__all__ = ["DEFAULT_GRACE", "Server"]

logger = logging.getLogger("aiosocketio.server")

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_GRACE = 10.0
"""Seconds :meth:`Server.close` lets the clients read their backlog before it drops them."""


class Server:
    """The Socket.IO server.

    Args:
        connect_timeout: seconds a connection may stay without joining any namespace (45).
        cleanup_empty_child_namespaces: remove a dynamic namespace's child once its last
            socket leaves (False).
        connection_state_recovery: ``True`` or a dict with ``max_disconnection_duration``
            (seconds, 120) and ``skip_middlewares`` (True) to let clients that lost their
            connection get back their id, rooms, ``data`` and the events they missed
            (Node's ``connectionStateRecovery``). Off by default.
        adapter: a factory ``adapter(namespace) -> Adapter`` (a subclass of
            :class:`aiosocketio.adapters.Adapter` works); in-memory by default.
        parser: an object with ``encoder``/``decoder`` factories (``Encoder`` and
            ``Decoder`` attributes, such as a module); the default Socket.IO parser
            otherwise. ``aiosocketio.protocol.socketio.msgpack_parser`` is accepted as well.
        json: the JSON codec of the default parser (orjson by default).
        serve_client: serve the official browser client under the path. Pages load it
            with ``<script src="/socket.io/client.js">`` and
            ``aiosocketio.ready.then((io) => ...)``: that loader serves the client from
            an installed copy when there is one (``/socket.io/socket.io.js``,
            ``socket.io.min.js``, the msgpack and ESM builds and their maps, with Node's
            ETag, 304 and compression, as Node's ``serveClient`` does), otherwise loads
            the official CDN build with a Subresource Integrity hash, and shows what is
            missing in the page when neither works. aiosocketio does not ship that
            JavaScript: the copy is read from ``client_dist``, or from
            ``node_modules/socket.io-client/dist`` in the working directory or a parent.
            Off by default (Node's default is on).
        client_dist: the folder of the client files for ``serve_client``
            (``FileNotFoundError`` if it holds none).
        client_cdn: let ``/socket.io/client.js`` fall back to the CDN when there is no
            installed copy (True).
        engine_options: the Engine.IO options, with Node's names in snake_case and times
            in seconds (see :class:`EngineOptions`). ``path`` defaults to ``/socket.io/``.

    Attributes:
        engine: the Engine.IO :class:`Engine` (``clients_count``, ``generate_id``,
            ``engine.on("connection_error", ...)``).
        sockets: the main namespace ``"/"``.
        stats: a snapshot of what the server holds (:class:`ServerStats`); its ``limits``
            include what the peers sent that was malformed (``"sio_parse_error"``,
            ``"sio_invalid_state"``, ``"eio_parse_error"``). Each such connection is closed;
            the log (``aiosocketio.server``, DEBUG) has at most one line per kind every
            10 seconds, so a peer cannot flood it.
        counters: the live counters (:class:`~aiosocketio.frontends.stats.LimitStats`):
            those malformed packets and, once ``counters.detailed`` is on (metrics), the
            traffic (events and bytes in and out), refusals and latencies.
        client_files: what ``serve_client`` serves (``client_files.source`` is
            ``"local"``, ``"cdn"`` or ``None``), or ``None`` when it is off.
    """

    def __init__(
        self,
        *,
        connect_timeout: float = 45.0,
        cleanup_empty_child_namespaces: bool = False,
        connection_state_recovery: bool | dict[str, Any] | None = None,
        adapter: AdapterFactory | None = None,
        parser: Any = None,
        json: JSONCodec | None = None,
        serve_client: bool = False,
        client_dist: str | Path | None = None,
        client_cdn: bool = True,
        **engine_options: Any,
    ) -> None:
        self.client_files: ClientFiles | None = None
        if serve_client:
            self.client_files = ClientFiles.find(client_dist, cdn=client_cdn)
        self.connect_timeout = connect_timeout
        self.cleanup_empty_child_namespaces = cleanup_empty_child_namespaces
        self.connection_state_recovery = _recovery_options(connection_state_recovery)
        default: AdapterFactory = (
            MemoryAdapter if self.connection_state_recovery is None else SessionAwareAdapter
        )
        self._adapter_factory: AdapterFactory = adapter if adapter is not None else default
        self._parser = parser
        self._json = json
        self.encoder: Any = self._make_encoder()
        self.engine_options = EngineOptions(**engine_options)
        self.engine = Engine(self.engine_options)
        self.engine.on_connection = self._on_connection
        if self.client_files is not None:
            self.engine.static_files = self.client_files.answer
        self._nsps: dict[str, Namespace] = {}
        self._parent_nsps: dict[ParentNamespace, None] = {}
        self._http: NativeServer | None = None
        self._pending_init: list[AdapterLike] = []
        self._stopped: asyncio.Event | None = None
        #: The malformed packets the peers sent, counted (logged at DEBUG, rate-limited;
        #: also in ``stats.limits``), and with ``detailed`` the traffic (aiosocketio.metrics).
        self.counters = LimitStats(logger, logging.DEBUG)
        self._closing: asyncio.Future[None] | None = None
        self._asgi_apps: list[ASGIApp] = []
        # the front ends' counters (kept after close), and the server's own
        self._front_stats: list[LimitStats] = [self.counters]
        #: Traces event handlers and acknowledgements (``aiosocketio.tracing.trace``);
        #: ``None`` (the default): off.
        self.tracer: EventTracer | None = None
        self.sockets: Namespace = self.of("/")

    def __repr__(self) -> str:
        return f"<Server path={self.engine_options.path!r} clients={self.engine.clients_count}>"

    # -- parser -----------------------------------------------------------------------------

    def _make_encoder(self) -> Any:
        return make_encoder(self._parser, self._json)

    def _new_decoder(self) -> Any:
        return make_decoder(self._parser, self._json)

    # -- engine -----------------------------------------------------------------------------

    def _on_connection(self, conn: EngineSocket) -> None:
        if self._pending_init:
            # namespaces created before the loop ran (served through asgi_app())
            spawn(self._init_pending_adapters())
        Multiplexer(self, conn)

    def bind(self, engine: Engine) -> Server:
        """Serve Socket.IO on another ``Engine`` (Node's ``io.bind(engine)``)."""
        if self.engine.on_connection == self._on_connection:
            self.engine.on_connection = None
        self.engine = engine
        self.engine_options = engine.options
        engine.on_connection = self._on_connection
        return self

    # -- namespaces -------------------------------------------------------------------------

    def of(
        self,
        name: str | re.Pattern[str] | NamespaceMatcher,
        fn: Callable[[Socket], Any] | None = None,
    ) -> Namespace:
        """The namespace ``name`` (created on first use).

        ``name`` may also be a compiled regex or a function ``fn(name, auth) -> bool``
        (sync or async): the result is a dynamic :class:`ParentNamespace` whose children
        are created when clients connect to matching names.

        Args:
            name: the namespace name, regex or matcher.
            fn: optional ``connection`` handler.
        """
        if isinstance(name, str):
            if not name.startswith("/"):
                name = "/" + name
            nsp = self._nsps.get(name)
            if nsp is None:
                for parent in self._parent_nsps:
                    if isinstance(parent.matcher, re.Pattern) and parent.matcher.search(name):
                        nsp = parent.create_child(name)
                        break
                else:
                    nsp = Namespace(self, name)
                    self._add_namespace(nsp)
        else:
            nsp = ParentNamespace(self, name)
            self._parent_nsps[nsp] = None
            self._init_adapter(nsp)
        if fn is not None:
            nsp.on("connection", fn)
        return nsp

    @overload
    def adapter(self) -> AdapterFactory: ...
    @overload
    def adapter(self, factory: AdapterFactory) -> Server: ...
    def adapter(self, factory: AdapterFactory | None = None) -> AdapterFactory | Server:
        """Get the adapter factory, or switch every namespace to ``factory`` (Node's ``adapter()``).

        The namespaces get new adapters, which take over the room memberships of the old
        ones; the old adapters are closed.
        """
        if factory is None:
            return self._adapter_factory
        self._adapter_factory = factory
        for nsp in list(self._nsps.values()) + list(self._parent_nsps):
            old = nsp.adapter
            nsp.adapter = nsp._create_adapter()
            for sid, rooms in list(old.sids.items()):
                nsp.adapter.add_all(sid, rooms)
            self._init_adapter(nsp)
            if old in self._pending_init:
                self._pending_init.remove(old)  # never initialised: nothing to close
                continue
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                continue
            spawn(old.close())
        return self

    def _add_namespace(self, nsp: Namespace) -> None:
        """Serve ``nsp`` (a new one, or a new child of a dynamic namespace)."""
        self._nsps[nsp.name] = nsp
        self._init_adapter(nsp)
        if nsp.name != "/":
            self.sockets.emit_reserved("new_namespace", nsp)

    def _remove_namespace(self, nsp: Namespace) -> None:
        """Stop serving ``nsp`` (an emptied child of a dynamic namespace)."""
        if self._nsps.get(nsp.name) is nsp:
            del self._nsps[nsp.name]

    def _init_adapter(self, nsp: Namespace) -> None:
        """Run ``nsp.adapter.init()`` now, or once the loop runs (exactly once per adapter)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self._pending_init.append(nsp.adapter)
            return
        spawn(nsp.adapter.init())

    async def _init_pending_adapters(self) -> None:
        pending, self._pending_init = self._pending_init, []
        for adapter in pending:
            await adapter.init()

    # -- the main namespace's API -----------------------------------------------------------

    def use(self, fn: Middleware) -> Middleware:
        """Add a connection middleware to the main namespace (see :meth:`Namespace.use`)."""
        return self.sockets.use(fn)

    @overload
    def on(self, event: str) -> Callable[[F], F]: ...
    @overload
    def on(self, event: str, handler: F) -> F: ...
    def on(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        """Listen on the main namespace (``connection``, ``new_namespace``...)."""
        if handler is None:
            return self.sockets.on(event)
        return self.sockets.on(event, handler)

    @overload
    def once(self, event: str) -> Callable[[F], F]: ...
    @overload
    def once(self, event: str, handler: F) -> F: ...
    def once(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        """Listen once on the main namespace."""
        if handler is None:
            return self.sockets.once(event)
        return self.sockets.once(event, handler)

    def event(self, fn: F) -> F:
        """Listen on the main namespace to the event named after ``fn`` (python-socketio's
        ``@sio.event``; see :meth:`Namespace.event`)."""
        return self.sockets.event(fn)

    def off(self, event: str | None = None, handler: Callable[..., Any] | None = None) -> None:
        """Remove listeners from the main namespace."""
        self.sockets.off(event, handler)

    def listeners(self, event: str) -> list[Callable[..., Any]]:
        """The main namespace's listeners of ``event``."""
        return self.sockets.listeners(event)

    def to(self, room: str | Iterable[str]) -> BroadcastOperator[Socket]:
        """Target ``room`` in the main namespace."""
        return self.sockets.to(room)

    in_ = to

    def except_(self, room: str | Iterable[str]) -> BroadcastOperator[Socket]:
        """Exclude ``room`` in the main namespace."""
        return self.sockets.except_(room)

    def emit(self, event: str | int, *args: Any) -> Awaitable[None]:
        """Emit to every socket of the main namespace.

        The result may be awaited (``await io.emit(...)``, as python-socketio apps write
        it) or not: the broadcast is handed to the adapter at once.
        """
        return self.sockets.emit(event, *args)

    async def emit_with_ack(
        self, event: str | int, *args: Any, timeout: float | None = None
    ) -> list[Any]:
        """Emit to everyone in the main namespace and gather the acknowledgements."""
        return await self.sockets.emit_with_ack(event, *args, timeout=timeout)

    def send(self, *args: Any) -> Awaitable[None]:
        """Emit a ``message`` event to everyone in the main namespace (may be awaited)."""
        return self.sockets.send(*args)

    write = send

    def compress(self, compress: bool) -> BroadcastOperator[Socket]:
        """Set the compress flag for the next emission."""
        return self.sockets.compress(compress)

    @property
    def volatile(self) -> BroadcastOperator[Socket]:
        """The next emission may be dropped for clients that are not ready."""
        return self.sockets.volatile

    @property
    def local(self) -> BroadcastOperator[Socket]:
        """The next emission reaches the sockets of this server only."""
        return self.sockets.local

    def timeout(self, seconds: float) -> BroadcastOperator[Socket]:
        """Wait at most ``seconds`` for the acknowledgements of the next emission."""
        return self.sockets.timeout(seconds)

    async def fetch_sockets(self) -> list[Socket | RemoteSocket]:
        """Every socket of the main namespace."""
        return await self.sockets.fetch_sockets()

    async def all_sockets(self) -> set[str]:
        """The ids of the main namespace's sockets (deprecated in Node: use fetch_sockets)."""
        return await self.sockets.all_sockets()

    def sockets_join(self, room: str | Iterable[str]) -> None:
        """Make every socket of the main namespace join ``room``."""
        self.sockets.sockets_join(room)

    def sockets_leave(self, room: str | Iterable[str]) -> None:
        """Make every socket of the main namespace leave ``room``."""
        self.sockets.sockets_leave(room)

    def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect every socket of the main namespace."""
        self.sockets.disconnect_sockets(close)

    def server_side_emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to the other servers of the cluster (main namespace)."""
        self.sockets.server_side_emit(event, *args)

    async def server_side_emit_with_ack(
        self, event: str, *args: Any, timeout: float | None = None
    ) -> list[Any]:
        """Send ``event`` to the other servers and gather their answers (main namespace)."""
        return await self.sockets.server_side_emit_with_ack(event, *args, timeout=timeout)

    # -- running ----------------------------------------------------------------------------

    async def listen(
        self,
        port: int = 3000,
        host: str | None = "0.0.0.0",
        *,
        ssl: ssl_module.SSLContext | None = None,
        app: Any = None,
    ) -> NativeServer:
        """Start the built-in HTTP/WebSocket server and return once it listens.

        Args:
            port: the TCP port; 0 picks a free one (read it from :attr:`port`).
            host: the interface to bind (all IPv4 interfaces by default).
            ssl: a server ``SSLContext`` for HTTPS/WSS.
            app: an ASGI application for the paths outside the Socket.IO path.
        """
        from aiosocketio.frontends.native.server import serve

        await self._init_pending_adapters()
        self.engine.accepting = True
        self._http = await serve(self.engine, host, port, ssl=ssl, app=app)
        self._front_stats.append(self._http.stats)
        return self._http

    async def serve(
        self,
        port: int = 3000,
        host: str | None = "0.0.0.0",
        *,
        ssl: ssl_module.SSLContext | None = None,
        app: Any = None,
    ) -> None:
        """Listen (see :meth:`listen`) and run until cancelled or :meth:`close` is called."""
        stopped = self._stopped = asyncio.Event()
        await self.listen(port, host, ssl=ssl, app=app)
        try:
            await stopped.wait()
        except asyncio.CancelledError:
            await self.close()
            raise

    @property
    def port(self) -> int:
        """The port the built-in server listens on (after :meth:`listen`)."""
        if self._http is None:
            raise RuntimeError("the server is not listening")
        return self._http.port

    def asgi_app(self, other_app: Any = None, *, shutdown_grace: float = DEFAULT_GRACE) -> ASGIApp:
        """An ASGI application serving Socket.IO; other paths go to ``other_app``.

        The app shuts the server down gracefully (:meth:`close` with ``shutdown_grace``)
        before the ASGI server stops: under uvicorn on the first SIGINT/SIGTERM, before
        uvicorn closes the connections; elsewhere on ``lifespan.shutdown``. The ASGI server
        must run the lifespan protocol (uvicorn does by default).
        """
        from aiosocketio.frontends.asgi import ASGIApp

        async def shutdown() -> None:
            await self.close(shutdown_grace)

        if self._closing is None:
            self.engine.accepting = True  # serving again after a close
        app = ASGIApp(self.engine, other_app, on_shutdown=shutdown)
        self._asgi_apps.append(app)
        self._front_stats.append(app.stats)
        return app

    async def close(self, grace: float = DEFAULT_GRACE) -> None:
        """Shut down gracefully: nothing already queued for a client is lost, unless the
        client does not read it within ``grace`` seconds.

        In order:

        1. New sessions are refused: a handshake gets ``503`` (``engine.accepting``), and
           the built-in server closes its listening socket (at once, or once the
           long-polling clients, which may open new connections for their requests, have
           read their backlog).
        2. Every socket of every namespace gets a DISCONNECT packet, behind the packets
           already queued for it: its client reads its whole backlog, then sees
           ``"io server disconnect"`` and does not reconnect. The server-side sockets see
           ``"server shutting down"`` now; the adapters close.
        3. Each connection is closed once its backlog has gone out: a close frame on
           WebSocket; on polling, the CLOSE packet for the next GET (a waiting GET gets
           the rest of the backlog first). The official client closes on its own as soon
           as it reads the DISCONNECT.
        4. ``grace`` seconds after the call, the connections still holding data are
           dropped (counted as ``shutdown_dropped`` in the front end's ``stats``).

        It returns once every connection of the built-in server and of the ASGI apps
        (:meth:`asgi_app`) is closed: at most ``grace`` seconds and a few loop turns. A
        second call while it runs waits for the same shutdown.

        Args:
            grace: seconds the clients have to read their backlog (10).
        """
        running = self._closing
        if running is None:
            running = self._closing = asyncio.ensure_future(self._shutdown(grace))
        try:
            await asyncio.shield(running)
        finally:
            if running.done() and self._closing is running:
                self._closing = None

    async def _shutdown(self, grace: float) -> None:
        deadline = asyncio.get_running_loop().time() + max(0.0, grace)
        http, self._http = self._http, None
        namespaces = list(self._nsps.values()) + list(self._parent_nsps)
        await shut_down(namespaces, self.engine, http, self._asgi_apps, deadline)
        if self._stopped is not None:
            self._stopped.set()

    @property
    def namespaces(self) -> Mapping[str, Namespace]:
        """The namespaces that exist now, by name (a dynamic namespace's children
        included), as a read-only view."""
        return MappingProxyType(self._nsps)

    @property
    def dynamic_namespaces(self) -> tuple[ParentNamespace, ...]:
        """The dynamic namespaces (``io.of(regex)``, ``io.of(matcher)``), in the order they
        were made; their children are in :attr:`namespaces`."""
        return tuple(self._parent_nsps)

    @property
    def stats(self) -> ServerStats:
        """A snapshot of what the server holds now (a new, read-only object each time):
        the connected sockets per namespace, the Engine.IO sessions (``clients``) and their
        transports, and the front ends' counters of limits hit (see
        :class:`~aiosocketio.server.stats.ServerStats`). Reading it costs one pass over the
        namespaces and sessions; serving costs nothing more."""
        return ServerStats.collect(list(self._nsps.values()), self.engine, self._front_stats)


def _recovery_options(value: bool | dict[str, Any] | None) -> dict[str, Any] | None:
    """Normalise ``connection_state_recovery`` (None when off)."""
    if value is None or value is False:
        return None
    options: dict[str, Any] = {"max_disconnection_duration": 120.0, "skip_middlewares": True}
    if isinstance(value, dict):
        unknown = set(value) - set(options)
        if unknown:
            raise TypeError(f"unknown connection_state_recovery options: {sorted(unknown)}")
        options.update(value)
    return options
