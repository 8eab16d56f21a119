"""A thin blocking facade over the asyncio client, for scripts and notebooks.

:class:`SyncClient` runs an event loop in a background thread and forwards every call to
an :class:`aiosocketio.client.ClientSocket` living in that loop. There is no second copy of the
client logic here: each method is one hop into the loop. Event handlers run in the loop's
thread.

::

    from aiosocketio.client.sync import SyncClient

    with SyncClient("http://localhost:3000", auth={"token": "x"}) as client:
        client.on("news", print)
        print(client.emit_with_ack("hello", "world", timeout=5))
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, overload

from aiosocketio.client.catch_all import Handler
from aiosocketio.client.connection import wait_closing
from aiosocketio.client.manager import connect
from aiosocketio.client.socket import ClientSocket
from aiosocketio.exceptions import LocalProtocolError

__all__ = ["SyncClient"]

T = TypeVar("T")
H = TypeVar("H", bound=Handler)


class SyncClient:
    """A blocking Socket.IO client backed by the asyncio client in a background thread.

    Args:
        url: the server and namespace; when given, :meth:`connect` is called at once.
        **options: options for :func:`aiosocketio.client.connect`.
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
            self.connect(url, **options)

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

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
        """Connect (blocking); raises :class:`~aiosocketio.exceptions.ConnectionError`."""

        async def go() -> ClientSocket:
            sock = await connect(url, wait=False, **options)
            for event, handler, once in self._pending:
                (sock.once if once else sock.on)(event, handler)
            self._pending.clear()
            await sock.wait_connected()
            return sock

        try:
            self._socket = self._run(go())
        except BaseException:
            if self._socket is not None:
                self._call(self._socket.disconnect)
            raise

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
        """Emit and block until the ack; raises :class:`AckTimeout` after ``timeout``."""
        sock = self.socket
        emitter = sock.timeout(timeout) if timeout is not None else sock
        return self._run(emitter.emit_with_ack(event, *args))

    call = emit_with_ack

    def disconnect(self) -> None:
        """Disconnect the namespace ("io client disconnect")."""
        if self._socket is not None:
            self._call(self._socket.disconnect)

    def close(self) -> None:
        """Disconnect and stop the background loop."""
        if not self._loop.is_closed():
            self.disconnect()
            self._run(wait_closing(), timeout=10)  # the last writes (close packet) go out
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
