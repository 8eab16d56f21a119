"""What both conformance servers share: the command line, the two front ends, shutdown.

A server module gives :func:`main` a ``start`` coroutine for each front end; ``start``
returns the bound port and a coroutine function that stops the server.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from aiosocketio.runtime import loop as _loop

Stop = Callable[[], Awaitable[None]]
Start = Callable[[int], Awaitable[tuple[int, Stop]]]


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def start_uvicorn(app: Any, port: int, close: Stop) -> tuple[int, Stop]:
    """Serve an ASGI app under uvicorn (httptools; wsproto when installed, because
    websockets-sansio logs a spurious "returned without completing handshake" after an
    upgrade refused with ``websocket.http.response``)."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(
        app,
        http="httptools",
        ws="wsproto" if importlib.util.find_spec("wsproto") else "websockets-sansio",
        lifespan="off",
        log_level="warning",
        ws_ping_interval=None,
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.01)

    async def stop() -> None:
        await close()
        server.should_exit = True
        await task

    return int(sock.getsockname()[1]), stop


async def _run(start: Start, port: int, url: str) -> None:
    stop_requested = _stop_event()
    bound, stop = await start(port)
    if port == 0:
        print(json.dumps({"port": bound}), flush=True)
    else:
        print(f"conformance server on http://127.0.0.1:{bound}{url}", flush=True)
    await stop_requested.wait()
    await stop()


def main(doc: str | None, url: str, native: Start, asgi: Start) -> None:
    """Parse ``--frontend native|asgi`` and ``--port N``; serve until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0] if doc else None)
    parser.add_argument("--frontend", choices=("native", "asgi"), default="native")
    parser.add_argument("--port", type=int, default=3000)
    args = parser.parse_args()
    start = native if args.frontend == "native" else asgi
    try:
        _loop.run(_run(start, args.port, url))
    except KeyboardInterrupt:
        sys.exit(0)
