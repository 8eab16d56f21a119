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

import argparse
import asyncio
import importlib.util
import json
import signal
import socket
from typing import Any

from aiosocketio import Server, Socket, _loop


def make_server() -> Server:
    """A Server configured as the protocol test suite expects."""
    io = Server(
        ping_interval=0.3,
        ping_timeout=0.2,
        max_http_buffer_size=1_000_000,
        connect_timeout=1.0,
        cors={"origin": "*"},
        path="/socket.io/",
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


def _announce(port: int, requested: int) -> None:
    if requested == 0:
        print(json.dumps({"port": port}), flush=True)
    else:
        print(f"socket.io conformance server on http://127.0.0.1:{port}/socket.io/", flush=True)


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def run_native(port: int) -> None:
    """Serve with the built-in server until SIGINT/SIGTERM."""
    io = make_server()
    await io.listen(port, "127.0.0.1")
    _announce(io.port, port)
    await _stop_event().wait()
    await io.close()


def _uvicorn_ws() -> str:
    if importlib.util.find_spec("websockets") is not None:
        return "websockets-sansio"
    return "wsproto"


async def run_asgi(port: int) -> None:
    """Serve ``io.asgi_app()`` under uvicorn until SIGINT/SIGTERM."""
    import uvicorn

    io = make_server()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(
        io.asgi_app(),
        http="httptools",
        ws=_uvicorn_ws(),
        lifespan="off",
        log_level="warning",
        ws_ping_interval=None,
    )
    server = uvicorn.Server(config)
    stop = _stop_event()
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.01)
    _announce(int(sock.getsockname()[1]), port)
    await asyncio.wait({task, asyncio.ensure_future(stop.wait())}, return_when="FIRST_COMPLETED")
    await io.close()
    server.should_exit = True
    await task


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--frontend", choices=("native", "asgi"), default="native")
    parser.add_argument("--port", type=int, default=3000)
    args = parser.parse_args(argv)
    runner = run_native if args.frontend == "native" else run_asgi
    try:
        _loop.run(runner(args.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
