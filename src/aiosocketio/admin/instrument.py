"""``instrument(io, ...)``: serve the Socket.IO Admin UI (@socket.io/admin-ui 0.5) from a server.

The dashboard connects to the admin namespace ("/admin") and logs in there. What it gets:

* ``config`` ``{"supportedFeatures": [...]}`` and, in development mode, ``all_sockets``
  (the sockets of every namespace, across the cluster through ``fetch_sockets``);
* ``server_stats`` every 2 seconds from every server (the admin namespace's broadcast goes
  through the adapter, so a dashboard connected to one server of a cluster lists them all);
* in development mode, the live changes: ``socket_connected``, ``socket_updated``,
  ``socket_disconnected``, ``room_joined``, ``room_left``, ``event_received``,
  ``event_sent``.

What it sends (unless ``read_only``): ``emit``, ``join``, ``leave`` and ``_disconnect``, each
applied to a namespace, optionally filtered by a room or a socket id, across the cluster.

Nothing here runs for a server that is not instrumented: the hooks are ordinary listeners
(sockets, adapters, in development mode) added by :func:`instrument`. The aggregated events
of ``server_stats`` are read from the server's counters (``io.counters``, whose ``detailed``
mode :func:`instrument` turns on; see :mod:`aiosocketio.admin.stats`), the same that the
Prometheus exporter reads: no listener per connection.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket as socket_module
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from aiosocketio.admin.auth import BasicAuth, InMemoryStore, Store
from aiosocketio.admin.serialize import WatchedData, public_data, serialize_socket
from aiosocketio.admin.stats import CounterDeltas, js_date

if TYPE_CHECKING:
    from aiosocketio.server.namespace import Namespace
    from aiosocketio.server.server import Server
    from aiosocketio.server.socket import Socket

__all__ = ["STATS_INTERVAL", "Instrumentation", "instrument"]

logger = logging.getLogger("aiosocketio.admin")

STATS_INTERVAL = 2.0
"""Seconds between two ``server_stats`` (Node's 2000 ms)."""

_COMMANDS = ["EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT"]
_IMPORTED = time.time()


def _uptime() -> float:
    """Seconds since this process started (Node's ``process.uptime()``)."""
    try:
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            system_up = float(f.read().split()[0])
        return max(0.0, system_up - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return time.time() - _IMPORTED


class Instrumentation:
    """What :func:`instrument` set up; :meth:`close` stops the ``server_stats`` timer."""

    def __init__(
        self,
        io: Server,
        admin: Namespace,
        features: list[str],
        development: bool,
        server_id: str,
    ) -> None:
        self.io = io
        self.admin = admin
        self.features = features
        self.development = development
        self.server_id = server_id
        #: The aggregated events: the differences of ``io.counters`` between two stats.
        self.stats = CounterDeltas(io.counters)
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False
        self.engine_listener = self._on_engine_connection

    def _on_engine_connection(self, conn: Any) -> None:
        # instrument() ran without a loop: the first connection starts the timer
        self.start()

    # -- server_stats -----------------------------------------------------------------------

    def server_stats(self) -> dict[str, Any]:
        """The ``server_stats`` payload now (the aggregated events: what the server's
        counters counted since the previous payload)."""
        return {
            "serverId": self.server_id,
            "hostname": socket_module.gethostname(),
            "pid": os.getpid(),
            "uptime": _uptime(),
            "clientsCount": self.io.engine.clients_count,
            "pollingClientsCount": self.io.engine.clients_by_transport().get("polling", 0),
            "aggregatedEvents": self.stats.take(),
            "namespaces": [
                {"name": nsp.name, "socketsCount": len(nsp.sockets)}
                for nsp in self.io.namespaces.values()
            ],
        }

    def start(self) -> None:
        """Emit the stats now and every :data:`STATS_INTERVAL` seconds (needs a loop)."""
        if self._timer is not None or self._closed:
            return
        self.io.engine.off("connection", self.engine_listener)
        self._tick()

    def _tick(self) -> None:
        if self._closed:
            return
        self.admin.emit("server_stats", self.server_stats())
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(STATS_INTERVAL, self._tick)

    def close(self) -> None:
        """Stop the ``server_stats`` timer (the server's counters keep counting)."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        self.io.engine.off("connection", self.engine_listener)

    # -- the admin sockets --------------------------------------------------------------------

    async def on_admin_connection(self, socket: Socket) -> None:
        """Send ``config`` (and ``all_sockets``), and take the dashboard's commands."""
        self.start()
        self._register_commands(socket)
        socket.emit("config", {"supportedFeatures": self.features})
        if self.development:
            socket.emit("all_sockets", await self.all_sockets())

    async def all_sockets(self) -> list[dict[str, Any]]:
        """Every socket of every namespace, across the cluster."""
        out: list[dict[str, Any]] = []
        for nsp in list(self.io.namespaces.values()):
            try:
                found: list[Any] = list(await nsp.fetch_sockets())
            except Exception:
                logger.warning("fetch_sockets failed in %r: local sockets only", nsp.name)
                found = list(nsp.sockets.values())
            out.extend(serialize_socket(s, nsp.name) for s in found)
        return out

    def _namespace(self, name: Any) -> Namespace | None:
        return self.io.namespaces.get(name) if isinstance(name, str) else None

    def _register_commands(self, socket: Socket) -> None:
        features = self.features

        def targets(name: Any, filter_: Any) -> Any:
            nsp = self._namespace(name)
            if nsp is None:
                return None
            if isinstance(filter_, str) and filter_:
                return nsp.to(filter_)
            return nsp

        if "EMIT" in features:

            def on_emit(
                nsp: Any = None, filter_: Any = None, event: Any = None, *args: Any
            ) -> None:
                target = targets(nsp, filter_)
                if target is not None and isinstance(event, str) and event:
                    try:
                        target.emit(event, *args)
                    except Exception as exc:  # a reserved name: refused, as Node throws
                        logger.warning("admin emit %r refused: %s", event, exc)

            socket.on("emit", on_emit)
        if "JOIN" in features:

            def on_join(nsp: Any = None, room: Any = None, filter_: Any = None, *_: Any) -> None:
                target = targets(nsp, filter_)
                if target is not None and isinstance(room, str):
                    target.sockets_join(room)

            socket.on("join", on_join)
        if "LEAVE" in features:

            def on_leave(nsp: Any = None, room: Any = None, filter_: Any = None, *_: Any) -> None:
                target = targets(nsp, filter_)
                if target is not None and isinstance(room, str):
                    target.sockets_leave(room)

            socket.on("leave", on_leave)
        if "DISCONNECT" in features:

            def on_disconnect(
                nsp: Any = None, close: Any = False, filter_: Any = None, *_: Any
            ) -> None:
                target = targets(nsp, filter_)
                if target is not None:
                    target.disconnect_sockets(close is True)

            socket.on("_disconnect", on_disconnect)

    # -- development mode: the live changes ---------------------------------------------------

    def watch(self, nsp: Namespace) -> None:
        """Report the connections, rooms and events of ``nsp`` to the dashboard."""
        admin = self.admin
        name = nsp.name

        def on_connection(socket: Socket) -> None:
            conn = socket.conn
            admin_data = {"clientId": conn.id[:12], "transport": conn.transport.name}
            if isinstance(socket.data, dict):

                def data_changed() -> None:
                    admin.emit(
                        "socket_updated",
                        {"id": socket.id, "nsp": name, "data": public_data(socket.data)},
                    )

                socket.data = WatchedData({**socket.data, "_admin": admin_data}, data_changed)
            admin.emit("socket_connected", serialize_socket(socket, name), js_date())

            def upgraded(transport: Any) -> None:
                admin_data["transport"] = transport.name
                admin.emit(
                    "socket_updated", {"id": socket.id, "nsp": name, "transport": transport.name}
                )

            conn.on("upgrade", upgraded)
            if nsp is not admin:

                def received(*args: Any) -> None:
                    admin.emit("event_received", name, socket.id, list(args), js_date())

                def sent(*args: Any) -> None:
                    admin.emit("event_sent", name, socket.id, list(args), js_date())

                socket.on_any(received)
                socket.on_any_outgoing(sent)

            def disconnected(reason: Any = None, *_: Any) -> None:
                conn.off("upgrade", upgraded)
                admin.emit("socket_disconnected", name, socket.id, reason, js_date())

            socket.on("disconnect", disconnected)

        # first, as Node's prependListener: socket.data["_admin"] is set before the app's
        # connection handler runs
        nsp.prepend_listener("connection", on_connection)

        def joined(room: Any, sid: Any) -> None:
            admin.emit("room_joined", name, room, sid, js_date())

        def left(room: Any, sid: Any) -> None:
            when = js_date()
            asyncio.get_running_loop().call_soon(
                lambda: admin.emit("room_left", name, room, sid, when)
            )

        nsp.adapter.on("join-room", joined)
        nsp.adapter.on("leave-room", left)


def instrument(
    io: Server,
    auth: Literal[False] | Mapping[str, Any] | None = None,
    *,
    mode: Literal["development", "production"] = "development",
    namespace_name: str = "/admin",
    read_only: bool = False,
    server_id: str | None = None,
    store: Store | None = None,
) -> Instrumentation:
    """Serve the Socket.IO Admin UI from ``io`` (Node's ``instrument`` of @socket.io/admin-ui).

    Args:
        io: the server.
        auth: ``{"type": "basic", "username": ..., "password": <bcrypt hash>}``, or
            ``False`` to let anyone in (must be given, as in Node). The hash may come from
            ``bcrypt.hashpw`` or from Node's bcryptjs (``$2a$``/``$2b$``/``$2y$``).
        mode: ``"development"`` sends every socket, room change and event to the dashboard;
            ``"production"`` only the server stats and aggregated counts.
        namespace_name: the admin namespace ("/admin").
        read_only: refuse the dashboard's commands (emit, join, leave, disconnect).
        server_id: how the dashboard names this server (the hostname by default: give one
            per process when several run on one host).
        store: where the dashboard's session ids are kept (:class:`InMemoryStore`).

    Returns:
        the :class:`Instrumentation` (``close()`` stops its timer).

    Raises:
        ValueError: ``auth`` is missing or invalid, or the password is not a bcrypt hash.

    Call it after choosing the adapter (``Server(adapter=...)``): the room events are read
    from the adapters the namespaces have then. The stats timer starts at once when a loop
    runs, otherwise with the first engine or admin connection. It turns
    ``io.counters.detailed`` on: the aggregated events are the server's counters, shared
    with :mod:`aiosocketio.metrics`.
    """
    if auth is None:
        raise ValueError("the `auth` option must be specified or explicitly set to `False`")
    if mode not in ("development", "production"):
        raise ValueError('mode must be "development" or "production"')
    store = store if store is not None else InMemoryStore()
    admin = io.of(namespace_name)
    if auth is not False:
        admin.use(BasicAuth(auth, store))
    features = [] if read_only else list(_COMMANDS)
    features.append("AGGREGATED_EVENTS")
    development = mode == "development"
    if development:
        features.append("ALL_EVENTS")
    io.counters.detailed = True
    tool = Instrumentation(
        io, admin, features, development, server_id or socket_module.gethostname()
    )
    admin.on("connection", tool.on_admin_connection)

    if development:
        for nsp in list(io.namespaces.values()):
            tool.watch(nsp)
        io.on("new_namespace", tool.watch)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        io.engine.on("connection", tool.engine_listener)
    else:
        tool.start()
    return tool
