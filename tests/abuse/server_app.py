"""The server under attack: a Socket.IO echo server on one front end, in its own process.

Usage::

    python tests/abuse/server_app.py --port 0 --frontend native|asgi
        [--http httptools|h11] [--ws websockets-sansio|wsproto|websockets]
        [--options JSON] [--uvicorn JSON]

``--options`` holds the ``Server`` keyword arguments (the Engine.IO options, ``limits``
among them). It prints ``{"port": N, "pid": P}`` once it listens. ``GET /stats`` (outside
the Socket.IO path) answers the front end's limit counters and the disconnect reasons the
server saw, as JSON.

Events: ``echo`` acknowledges its arguments; ``spam`` makes the server send ``n`` binary
messages of ``size`` bytes on the Engine.IO connection (a send path the Engine does not
bound); ``flood`` emits ``n`` distinct text events of ``size`` bytes (the broadcast path,
bounded by the Engine's ``max_send_buffer``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket as socket_module
import sys
from collections import Counter
from collections.abc import Callable
from typing import Any

from aiosocketio import Server, Socket
from aiosocketio.frontends.asgi_types import Receive, Scope, Send


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--frontend", choices=("native", "asgi"), default="native")
    parser.add_argument("--http", choices=("httptools", "h11"), default="httptools")
    parser.add_argument("--ws", default="websockets-sansio")
    parser.add_argument("--options", default="{}")
    parser.add_argument("--uvicorn", default="{}")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        pass
    asyncio.run(serve(args))


def make_server(options: dict[str, Any]) -> tuple[Server, Counter[str]]:
    sio = Server(**options)
    reasons: Counter[str] = Counter()

    @sio.on("connection")
    def on_connection(socket: Socket) -> None:
        def echo(*args: Any, ack: Callable[..., None] | None = None) -> None:
            if ack is not None:
                ack(*args)

        def spam(n: int, size: int) -> None:
            blob = b"\x00" * size
            for _ in range(n):
                if socket.conn.ready_state != "open":
                    break
                socket.conn.send(blob)

        def flood(n: int, size: int) -> None:
            filler = "x" * size
            for i in range(n):
                if socket.conn.ready_state != "open":
                    break
                socket.emit("blob", f"{i}{filler}")

        def disconnect(reason: str, *_: Any) -> None:
            reasons[reason] += 1

        socket.on("echo", echo)
        socket.on("spam", spam)
        socket.on("flood", flood)
        socket.on("disconnect", disconnect)

    return sio, reasons


def stats_app(get_stats: Callable[[], dict[str, Any]]) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = json.dumps(get_stats()).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


def _counters(frontend: Any) -> dict[str, int]:
    stats = getattr(frontend, "stats", None)
    if stats is None:
        return {}
    return dict(stats.as_dict())


async def serve(args: argparse.Namespace) -> None:
    sio, reasons = make_server(json.loads(args.options))
    holder: dict[str, Any] = {}

    def get_stats() -> dict[str, Any]:
        return {
            "limits": _counters(holder.get("frontend")),
            "disconnects": dict(reasons),
            "clients": sio.engine.clients_count,
        }

    other = stats_app(get_stats)
    if args.frontend == "native":
        holder["frontend"] = await sio.listen(args.port, "127.0.0.1", app=other)
        port = sio.port
        announce(port)
        await asyncio.Event().wait()
        return
    import uvicorn

    app = sio.asgi_app(other)
    holder["frontend"] = app
    sock = socket_module.socket(socket_module.AF_INET, socket_module.SOCK_STREAM)
    sock.setsockopt(socket_module.SOL_SOCKET, socket_module.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(2048)
    extra = json.loads(args.uvicorn)
    config = uvicorn.Config(
        app,
        http=args.http,
        ws=args.ws,
        loop="uvloop",
        log_level="warning",
        access_log=False,
        lifespan="off",
        **extra,
    )
    server = uvicorn.Server(config)
    announce(sock.getsockname()[1])
    await server.serve(sockets=[sock])


def announce(port: int) -> None:
    sys.stdout.write(json.dumps({"port": port, "pid": os.getpid()}) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
