"""A thin blocking facade over the asyncio client, for scripts and notebooks.

:class:`SyncClient` runs an event loop in a background thread and forwards every call to
an :class:`aiosocketio.client.ClientSocket` living in that loop. There is no second copy of the
client logic here: each method is one hop into the loop. Event handlers run in the loop's
thread.

::

    from aiosocketio.client.sync import SyncClient

    client = SyncClient()
    client.on("news", print)  # registered before the first byte arrives
    with client:
        client.connect("http://localhost:3000", auth={"token": "x"})
        print(client.emit_with_ack("hello", "world", timeout=5))

A client that cannot connect frees everything: ``SyncClient(url)`` that raises leaves no
thread and no event loop behind, and a failed :meth:`SyncClient.connect` leaves no socket
reconnecting in the background (the thread stays, for another ``connect``, until
:meth:`SyncClient.close`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, overload

from aiosocketio.client.catch_all import Handler
from aiosocketio.client.connection import wait_closing
from aiosocketio.client.lookup import client_socket
from aiosocketio.client.socket import ClientSocket
from aiosocketio.exceptions import LocalProtocolError

__all__ = ["SyncClient"]

T = TypeVar("T")
H = TypeVar("H", bound=Handler)


class SyncClient:
    """A blocking Socket.IO client backed by the asyncio client in a background thread.

    Handlers registered with :meth:`on` before :meth:`connect` are in place before the
    first byte arrives (the socket is built with
    :func:`~aiosocketio.client.client_socket`), so none of the server's emits on
    connection is missed.

    Args:
        url: the server and namespace; when given, :meth:`connect` is called at once,
            and if it fails the thread and its loop are stopped before the error is
            raised.
        **options: options for :func:`aiosocketio.client.client_socket`.
    """

    def __init__(self, url: str | None = None, **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="aiosocketio-client", daemon=True
        )
        self._thread.start()
        self._socket: ClientSocket | None = None
        self._pending: list[tuple[str, Handler, bool]] = []
        if url is not None:
            try:
                self.connect(url, **options)
            except BaseException:
                self.close()  # the caller gets no object to close: free everything now
                raise

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except BaseException:
            future.cancel()  # interrupted (Ctrl-C, timeout): stop the coroutine too
            raise

    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        async def hop() -> T:
            return fn(*args, **kwargs)

        return self._run(hop())

    @property
    def socket(self) -> ClientSocket:
        """The underlying asyncio socket (use it only from the loop's thread)."""
        if self._socket is None:
            raise LocalProtocolError("not connected: call connect() first")
        return self._socket

    @property
    def id(self) -> str | None:
        """The socket id, while connected."""
        return None if self._socket is None else self._socket.id

    @property
    def connected(self) -> bool:
        """Whether the namespace is connected."""
        return self._socket is not None and self._socket.connected

    def connect(self, url: str, **options: Any) -> None:
        """Connect (blocking), with the handlers registered so far already in place.

        Args:
            url: the server and namespace.
            **options: options for :func:`aiosocketio.client.client_socket`.

        Raises:
            ConnectError: the namespace refused the connection, or the server could not
                be reached; the socket is then disconnected (no reconnection goes on).
        """

        async def go() -> ClientSocket:
            sock = client_socket(url, **options)
            for event, handler, once in self._pending:
                (sock.once if once else sock.on)(event, handler)
            await sock.connect()  # disconnects the socket if it fails
            self._pending.clear()  # kept for another try until one succeeds
            return sock

        self._socket = self._run(go())

    @overload
    def on(self, event: str, handler: None = None) -> Callable[[H], H]: ...
    @overload
    def on(self, event: str, handler: H) -> H: ...
    def on(self, event: str, handler: H | None = None) -> H | Callable[[H], H]:
        """Add a listener (decorator form too); it runs in the client's thread."""
        if handler is None:

            def decorator(fn: H) -> H:
                self.on(event, fn)
                return fn

            return decorator
        if self._socket is None:
            self._pending.append((event, handler, False))
        else:
            self._call(self._socket.on, event, handler)
        return handler

    def once(self, event: str, handler: Handler) -> Handler:
        """Add a one-time listener."""
        if self._socket is None:
            self._pending.append((event, handler, True))
        else:
            self._call(self._socket.once, event, handler)
        return handler

    def off(self, event: str | None = None, handler: Handler | None = None) -> None:
        """Remove listeners (see :meth:`ClientSocket.off`)."""
        self._call(self.socket.off, event, handler)

    def on_any(self, handler: Handler) -> Handler:
        """Add a catch-all listener."""
        return self._call(self.socket.on_any, handler)

    def emit(self, event: str, *args: Any, callback: Callable[..., Any] | None = None) -> None:
        """Emit an event (buffered while disconnected)."""
        self._call(self.socket.emit, event, *args, callback=callback)

    def send(self, *args: Any) -> None:
        """Emit a ``message`` event."""
        self._call(self.socket.send, *args)

    def emit_with_ack(self, event: str, *args: Any, timeout: float | None = None) -> Any:
        """Emit and block until the ack; raises :class:`AckTimeout` after ``timeout``
        (see :meth:`ClientSocket.emit_with_ack`)."""
        return self._run(self.socket.emit_with_ack(event, *args, timeout=timeout))

    call = emit_with_ack

    def disconnect(self) -> None:
        """Disconnect the namespace ("io client disconnect")."""
        if self._socket is not None:
            self._call(self._socket.disconnect)

    def close(self) -> None:
        """Disconnect, then stop the background thread and close its event loop."""
        if self._loop.is_closed():
            return
        if self._thread.is_alive():
            try:
                self.disconnect()
                self._run(wait_closing(), timeout=10)  # the last writes (close packet) go out
            finally:
                self._run(self._loop.shutdown_default_executor(), timeout=10)  # DNS threads
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join()
        self._loop.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
