"""The test client: real clients connected to a :class:`~aiosocketio.server.Server` in
process, with no sockets, no ports and a clock that the test moves.

:class:`TestClient` opens each client with the library's own client
(:class:`~aiosocketio.client.Manager` and :class:`~aiosocketio.client.ClientSocket`)
over an in-memory WebSocket (:mod:`aiosocketio.testing.transport`) to the server's
Engine, and installs a :class:`~aiosocketio.testing.clock.ManualClock` on the loop while
it is open. :class:`TestSocket` is one connected namespace: it records what the server
sends, and its waits fail at once, with what did arrive, when nothing more can happen
without the clock moving (instead of hanging).
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl as ssl_module
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from aiosocketio.client import ClientSocket, Manager
from aiosocketio.client.transports import ClientWebSocket, Endpoint
from aiosocketio.server import Server
from aiosocketio.testing.clock import ManualClock
from aiosocketio.testing.transport import MemoryWebSocket, memory_opener

__all__ = ["NothingHappened", "TestClient", "TestSocket"]

T = TypeVar("T")


class NothingHappened(AssertionError):
    """A wait of the test client ended: the loop went idle and what the test waited for
    had not come (it needs the clock moved, or it never comes)."""


class TestSocket:
    """One client socket (one namespace) of a :class:`TestClient`.

    The real :class:`~aiosocketio.client.ClientSocket` is :attr:`socket`; the methods here
    are its common ones, with waits that cannot hang.

    Attributes:
        socket: the client socket.
        received: every event the server sent, in order: ``(event, args)``.
        disconnect_reasons: the reason of every disconnection (``"io server disconnect"``,
            ``"ping timeout"``, ...).
    """

    __test__ = False  # not a pytest test class

    def __init__(self, client: TestClient, socket: ClientSocket) -> None:
        self._client = client
        self.socket = socket
        self.received: list[tuple[str, tuple[Any, ...]]] = []
        self._unread: deque[tuple[str, tuple[Any, ...]]] = deque()
        self.disconnect_reasons: list[str] = []
        socket.on_any(self._record)
        socket.on("disconnect", self._disconnected)

    def _record(self, event: str, *args: Any) -> None:
        self.received.append((event, args))
        self._unread.append((event, args))

    def _disconnected(self, reason: str, *details: Any) -> None:
        self.disconnect_reasons.append(reason)

    @property
    def id(self) -> str | None:
        """The socket's id on the server, while connected."""
        return self.socket.id

    @property
    def connected(self) -> bool:
        """Whether the namespace is connected."""
        return self.socket.connected

    def on(self, event: str, handler: Callable[..., Any] | None = None) -> Any:
        """Register a handler on the client socket (also as a decorator)."""
        return self.socket.on(event, handler) if handler is not None else self.socket.on(event)

    def emit(self, event: str, *args: Any) -> None:
        """Send an event to the server."""
        self.socket.emit(event, *args)

    async def emit_with_ack(self, event: str, *args: Any, timeout: float | None = None) -> Any:
        """Send an event and return the server's acknowledgement.

        Raises:
            NothingHappened: the server has not answered, and nothing more can happen
                before the clock moves.
        """
        pending = self.socket.emit_with_ack(event, *args, timeout=timeout)
        return await self._client.until(pending, f"no ack to {event!r}")

    async def receive(self, event: str | None = None) -> tuple[Any, ...]:
        """The arguments of the next event received (of name ``event``), not read before.

        Raises:
            NothingHappened: no such event came, and none can before the clock moves.
        """
        for _ in range(2):
            for item in self._unread:
                if event is None or item[0] == event:
                    self._unread.remove(item)
                    return item[1]
            await self._client.settle()
        names = [name for name, _ in self._unread]
        raise NothingHappened(f"no {event or 'event'!r} came; unread: {names}")

    def network(self, up: bool) -> None:
        """Take this client's network down (``False``: every message either way is lost,
        while both ends still think they are connected) or up again."""
        for manager, pipes in self._client.pipes.items():
            if manager is self.socket.io:
                for pipe in pipes:
                    pipe.blackhole = not up

    async def disconnect(self) -> None:
        """Disconnect the namespace, and wait until the server has handled it."""
        self.socket.disconnect()
        await self._client.settle()


class TestClient:
    """Clients of ``server`` in this process, over the real protocol, with a manual clock.

    Args:
        server: the application's server (not listening anywhere).
        clock: the clock to install on the running loop while the client is open; a new
            :class:`ManualClock` by default.
        url: the server's URL as the clients see it (the ``host`` header).
        remote_address: the clients' address as the server sees it.

    ::

        async with TestClient(io) as client:
            alice = await client.connect(auth={"name": "alice"})
            assert await alice.emit_with_ack("hello") == "hi alice"
            await client.clock.advance(25)  # the server's ping; the client answers it
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        server: Server,
        *,
        clock: ManualClock | None = None,
        url: str = "http://testserver",
        remote_address: str = "127.0.0.1",
    ) -> None:
        self.server = server
        self.clock = clock if clock is not None else ManualClock()
        self.url = url
        self.remote_address = remote_address
        self.managers: list[Manager] = []
        #: The in-memory WebSockets each connection opened, oldest first.
        self.pipes: dict[Manager, list[MemoryWebSocket]] = {}
        self._installed = False

    async def __aenter__(self) -> TestClient:
        self.clock.install()
        self._installed = True
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Disconnect every client and give the loop its clock back."""
        for manager in self.managers:
            for socket in list(manager.nsps.values()):
                socket.disconnect()
            manager.disconnect()
        self.managers.clear()
        self.pipes.clear()
        if self._installed:
            await self.clock.settle()
            self.clock.uninstall()
            self._installed = False

    def manager(
        self,
        *,
        query: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        reconnection: bool = False,
        **options: Any,
    ) -> Manager:
        """A new client connection (a :class:`~aiosocketio.client.Manager`), not open yet.

        ``options`` are the Manager's (``reconnection_delay``, ``timeout``, ...); the
        transport is the in-memory WebSocket.
        """
        manager = Manager(
            self.url,
            path=self.server.engine_options.path,
            query=query,
            extra_headers=headers,
            transports=("websocket",),
            reconnection=reconnection,
            auto_connect=False,
            **options,
        )
        opener = memory_opener(self.server.engine, self.remote_address)
        pipes = self.pipes[manager] = []

        async def open_recorded(
            endpoint: Endpoint,
            target: str,
            headers: Sequence[tuple[str, str]],
            ssl: ssl_module.SSLContext | None,
            timeout: float | None,
        ) -> ClientWebSocket:
            pipe = await opener(endpoint, target, headers, ssl, timeout)
            assert isinstance(pipe, MemoryWebSocket)
            pipes.append(pipe)
            return pipe

        manager.endpoint = dataclasses.replace(manager.endpoint, opener=open_recorded)
        self.managers.append(manager)
        return manager

    def socket(
        self,
        namespace: str = "/",
        *,
        auth: Any = None,
        manager: Manager | None = None,
        **options: Any,
    ) -> TestSocket:
        """A client socket of ``namespace``, not connected yet: register its handlers,
        then ``await client.connect_socket(sock)`` (or use :meth:`connect`)."""
        io = manager if manager is not None else self.manager(**options)
        return TestSocket(self, io.socket(namespace, auth=auth))

    async def connect(
        self,
        namespace: str = "/",
        *,
        auth: Any = None,
        manager: Manager | None = None,
        **options: Any,
    ) -> TestSocket:
        """A client connected to ``namespace`` (on a new connection unless ``manager``
        is given); ``options`` go to :meth:`manager`.

        Raises:
            ConnectError: the server refused the connection (its message and data).
        """
        sock = self.socket(namespace, auth=auth, manager=manager, **options)
        await self.connect_socket(sock)
        return sock

    async def connect_socket(self, sock: TestSocket) -> TestSocket:
        """Connect ``sock`` and wait for the server's answer."""
        await self.until(sock.socket.connect(), f"no answer to CONNECT {sock.socket.nsp}")
        return sock

    async def settle(self) -> None:
        """Wait until everything that can happen without time passing has happened."""
        await self.clock.settle()

    async def until(self, awaitable: Awaitable[T], what: str = "nothing came") -> T:
        """Await ``awaitable``; raise :class:`NothingHappened` if the loop goes idle first
        (it would need the clock moved)."""
        task = asyncio.ensure_future(awaitable)
        idle = asyncio.ensure_future(self.clock.settle())
        await asyncio.wait({task, idle}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            idle.cancel()
            return task.result()
        task.cancel()
        raise NothingHappened(f"{what} (the loop is idle: move the clock?)")
