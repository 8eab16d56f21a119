"""From a URL to a client socket: socket.io-client's ``io(url, opts)``, in two shapes.

* :func:`client_socket` builds the socket without connecting it (``io(url, {autoConnect:
  false})``): register every handler, then ``await socket.connect()``. Nothing is sent or
  read before that call, so no event can arrive before its handler.
* :func:`connect` builds the socket, connects it and (by default) waits until the
  namespace is connected: ``await connect(url)``.

Both share socket.io-client's cache of managers: sockets of the same origin ride one
:class:`~aiosocketio.client.Manager` (one Engine.IO connection) unless ``force_new`` is
set, ``multiplex`` is off, or the namespace already has a socket there.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from aiosocketio.client.manager import Manager, parse_url
from aiosocketio.client.socket import AuthOption, ClientSocket

__all__ = ["client_socket", "connect"]

# socket.io-client's cache of managers, by event loop and origin; the sockets made
# outside any event loop share the key 0 (their manager binds to a loop when opened).
_cache: weakref.WeakValueDictionary[tuple[int, str], Manager] = weakref.WeakValueDictionary()


def _lookup(
    url: str, multiplex: bool, force_new: bool, options: dict[str, Any]
) -> tuple[Manager, str]:
    """The manager a socket of ``url`` rides on (cached or new), and its namespace."""
    secure, host, port, nsp, _ = parse_url(url)
    try:
        loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    key = (0 if loop is None else id(loop), f"{'https' if secure else 'http'}://{host}:{port}")
    cached = _cache.get(key)
    if cached is not None and cached.loop not in (None, loop):
        cached = None  # an event loop that died, its id reused by this one
    same_namespace = cached is not None and nsp in cached.nsps
    if cached is None or force_new or not multiplex or same_namespace:
        manager = Manager(url, **options)
        if multiplex and not force_new and not same_namespace:
            _cache[key] = manager
        return manager, nsp
    return cached, nsp


def client_socket(
    url: str = "http://localhost",
    *,
    multiplex: bool = True,
    force_new: bool = False,
    auth: AuthOption = None,
    ack_timeout: float | None = None,
    retries: int = 0,
    **options: Any,
) -> ClientSocket:
    """A client socket for ``url``'s namespace, not connected yet.

    This is socket.io-client's ``io(url, { autoConnect: false })``: register the
    handlers, then ``await socket.connect()``. Every handler is in place before the first
    byte arrives, so an event the server emits on connection is never missed::

        socket = client_socket("http://localhost:3000", auth={"token": "abc"})

        @socket.on("welcome")
        def welcome(text): ...

        await socket.connect()  # raises ConnectError if refused or unreachable

    It may be called outside a running event loop (at module level); the socket's
    manager then binds to the loop its socket connects in.

    Args:
        url: the server and namespace (``"http://host:3000/admin"``).
        multiplex: share the connection with other sockets of the same origin.
        force_new: always make a new connection.
        auth: a dict, or a (sync or async) callable returning one, for every CONNECT.
        ack_timeout: default ack timeout in seconds for :meth:`ClientSocket.emit_with_ack`.
        retries: resend an unacknowledged packet up to this many times (at-least-once).
        **options: :class:`~aiosocketio.client.Manager` options (``transports``,
            ``reconnection``, ``timeout``...), used when a new manager is made.
            ``auto_connect`` is not one of them here: :func:`connect` is the function
            that connects at once.
    """
    if "auto_connect" in options:
        raise TypeError(
            "client_socket() never connects: call `await socket.connect()`, or use "
            "connect(url) to connect at once"
        )
    manager, nsp = _lookup(url, multiplex, force_new, {**options, "auto_connect": False})
    return manager._socket(nsp, auth, ack_timeout, retries)


async def connect(
    url: str = "http://localhost",
    *,
    wait: bool = True,
    auto_connect: bool = True,
    multiplex: bool = True,
    force_new: bool = False,
    auth: AuthOption = None,
    ack_timeout: float | None = None,
    retries: int = 0,
    **options: Any,
) -> ClientSocket:
    """Connect to a namespace, like socket.io-client's ``io(url, opts)``.

    The URL's path is the namespace (``"http://host:3000/admin"``). Sockets of the same
    origin share one :class:`~aiosocketio.client.Manager` unless ``force_new`` is set,
    ``multiplex`` is off, or the namespace already has a socket there.

    Beware of the race: ``socket = await connect(url)`` returns once the namespace is
    connected, and a handler registered only after that misses what the server emitted
    in between, such as an emit from its ``connection`` handler (on WebSocket it arrives
    in the same read as the connection). To have every handler in place before the first
    byte arrives, build the socket with :func:`client_socket`, register the handlers,
    then ``await socket.connect()``. ``await connect(url)`` suits a client that only
    emits, or whose server sends nothing unasked.

    Args:
        url: the server and namespace.
        wait: wait for ``connect`` (and raise the first ``connect_error``); with
            ``wait=False`` the socket is returned at once and connects in the background.
        auto_connect: with ``False``, the socket is returned without connecting (as with
            :func:`client_socket`): ``await socket.connect()`` then.
        multiplex: share the connection with other namespaces of the same origin.
        force_new: always make a new connection.
        auth: a dict, or a (sync or async) callable returning one, for every CONNECT.
        ack_timeout: default ack timeout in seconds for :meth:`ClientSocket.emit_with_ack`.
        retries: resend an unacknowledged packet up to this many times (at-least-once).
        **options: :class:`~aiosocketio.client.Manager` options (``transports``,
            ``reconnection``, ...).

    Raises:
        ConnectError: (with ``wait``) the namespace refused the connection, or the
            first connection attempt failed; the socket is then disconnected.
    """
    manager, nsp = _lookup(url, multiplex, force_new, {**options, "auto_connect": auto_connect})
    sock = manager._socket(nsp, auth, ack_timeout, retries)
    if not auto_connect:
        return sock
    connecting = sock.connect()
    if wait:
        await connecting
    return sock
