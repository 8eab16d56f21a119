"""The server of ``test_polling_backlog.py``: a Socket.IO echo server in its own process,
so that its RSS can be read alone.

Usage::

    python tests/abuse/polling_backlog_app.py --port 0 --frontend native|asgi

It prints ``{"port": N}`` once it listens, then ``{"close": reason, "description": d}``
for every Engine.IO connection that closes. ``echo`` acknowledges its arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket as socket_module
import sys
from typing import Any

from aiosocketio import Server, Socket
from aiosocketio.engine.socket import EngineSocket


def out(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def make_server() -> Server:
    io = Server()

    def on_engine_connection(conn: EngineSocket) -> None:
        conn.on(
            "close", lambda reason, description: out({"close": reason, "description": description})
        )

    io.engine.on("connection", on_engine_connection)

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        socket.on("echo", lambda *args: args)

    return io


async def serve(frontend: str, port: int) -> None:
    io = make_server()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if frontend == "native":
        await io.listen(port, "127.0.0.1")
        out({"port": io.port})
        await stop.wait()
        await io.close(grace=1)  # the tests abandon sessions with a backlog
        return
    import uvicorn

    sock = socket_module.socket(socket_module.AF_INET, socket_module.SOCK_STREAM)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(
        io.asgi_app(), http="httptools", lifespan="off", log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.01)
    out({"port": sock.getsockname()[1]})
    await stop.wait()
    await io.close(grace=1)
    server.should_exit = True
    await task


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--frontend", choices=("native", "asgi"), default="native")
    args = parser.parse_args()
    asyncio.run(serve(args.frontend, args.port))


if __name__ == "__main__":
    main()
