"""The Engine.IO protocol test-suite server, served by aiosocketio.

Echoes every message back (text and binary) with the settings the official test suite
expects: pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1e6, CORS ``*``, path
``/engine.io/``.

Usage::

    python examples/conformance/engineio_server.py [--frontend native|asgi] [--port N]

``--frontend native`` (the default) uses the built-in server; ``asgi`` runs
:class:`aiosocketio.io.asgi.ASGIApp` under uvicorn (uvloop, httptools, and whichever
WebSocket implementation uvicorn has). With ``--port 0`` a free port is chosen and
``{"port": N}`` is printed as one JSON line once the server is listening.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import signal
import socket
import sys

from aiosocketio import _loop
from aiosocketio.io.asgi import ASGIApp
from aiosocketio.io.engine import Engine, EngineSocket
from aiosocketio.io.native import serve


def make_engine() -> Engine:
    """An Engine configured as the protocol test suite expects, echoing every message."""
    engine = Engine(
        ping_interval=0.3,
        ping_timeout=0.2,
        max_http_buffer_size=1_000_000,
        cors={"origin": "*"},
        path="/engine.io/",
    )

    def on_connection(conn: EngineSocket) -> None:
        conn.on_message = conn.send

    engine.on_connection = on_connection
    return engine


def _announce(port: int, requested: int) -> None:
    if requested == 0:
        print(json.dumps({"port": port}), flush=True)
    else:
        print(f"engine.io conformance server on http://127.0.0.1:{port}/engine.io/", flush=True)


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def run_native(port: int) -> None:
    """Serve with the built-in server until SIGINT/SIGTERM."""
    engine = make_engine()
    server = await serve(engine, "127.0.0.1", port)
    _announce(server.port, port)
    await _stop_event().wait()
    await engine.close()
    server.close()
    await server.wait_closed()


def _uvicorn_ws() -> str:
    # wsproto first: uvicorn's websockets-sansio logs a spurious "returned without
    # completing handshake" after a refused upgrade answered with websocket.http.response
    if importlib.util.find_spec("wsproto") is not None:
        return "wsproto"
    return "websockets-sansio"


async def run_asgi(port: int) -> None:
    """Serve the ASGI app under uvicorn until SIGINT/SIGTERM."""
    import uvicorn

    engine = make_engine()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(
        ASGIApp(engine),
        http="httptools",
        ws=_uvicorn_ws(),
        lifespan="off",
        log_level="warning",
        ws_ping_interval=None,
    )
    server = uvicorn.Server(config)  # uvicorn handles SIGINT/SIGTERM itself
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.01)
    _announce(int(sock.getsockname()[1]), port)
    await task
    await engine.close()


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
        sys.exit(0)


if __name__ == "__main__":
    main()
