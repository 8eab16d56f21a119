"""The Socket.IO v5 protocol test-suite server, served by aiosocketio.

Settings the official test suite expects: pingInterval 300 ms, pingTimeout 200 ms,
maxPayload 1e6, connectTimeout 1000 ms, CORS ``*``, path ``/socket.io/``. The namespaces
``/`` and ``/custom`` emit ``auth`` with the handshake auth on connection; ``/`` echoes
``message`` as ``message-back`` and acknowledges ``message-with-ack`` with its arguments.

Usage::

    python examples/conformance/socketio_server.py [--frontend native|asgi] [--port N]

``--frontend native`` (the default) uses the built-in server; ``asgi`` runs
``server.asgi_app()`` under uvicorn. With ``--port 0`` a free port is chosen and
``{"port": N}`` is printed as one JSON line once the server is listening.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from _harness import Stop, main, start_uvicorn

from aiosocketio import Server, Socket

#: Node's server serves the browser client (``serveClient``, on by default); this one does
#: too when the pinned npm client is installed (by ``make install``).
CLIENT_DIST = (
    Path(__file__).resolve().parents[2] / "tests/interop/node_modules/socket.io-client/dist"
)


def make_server() -> Server:
    """A Server configured as the protocol test suite expects."""
    io = Server(
        ping_interval=0.3,
        ping_timeout=0.2,
        max_http_buffer_size=1_000_000,
        connect_timeout=1.0,
        cors={"origin": "*"},
        path="/socket.io/",
        serve_client=CLIENT_DIST.is_dir(),
        client_dist=CLIENT_DIST,
    )

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        socket.emit("auth", socket.handshake.auth)

        @socket.on("message")
        def on_message(*args: Any) -> None:
            socket.emit("message-back", *args)

        @socket.on("message-with-ack")
        def on_message_with_ack(*args: Any) -> tuple[Any, ...]:
            return args

    @io.of("/custom").on("connection")
    def on_custom(socket: Socket) -> None:
        socket.emit("auth", socket.handshake.auth)

    return io


async def start_native(port: int) -> tuple[int, Stop]:
    """The built-in server."""
    io = make_server()
    await io.listen(port, "127.0.0.1")
    return io.port, io.close


async def start_asgi(port: int) -> tuple[int, Stop]:
    """``io.asgi_app()`` under uvicorn."""
    io = make_server()
    return await start_uvicorn(io.asgi_app(), port, io.close)


if __name__ == "__main__":
    main(__doc__, "/socket.io/", start_native, start_asgi)
