"""The server of the shutdown tests, on either front end, in its own process.

The built-in server, through the command line (the path SIGTERM takes in production)::

    python -m aiosocketio run tests.server.shutdown_app:sio --port 0 --shutdown-grace G

The ASGI app under uvicorn (``lifespan`` on, uvicorn's own signal handling)::

    python tests/server/shutdown_app.py --port 0 --grace G [--ws websockets-sansio]

A client of the ``/control`` namespace emits ``burst(n, size)``: the server broadcasts
``n`` events ``m(i, text)`` (``text`` is ``size`` characters) to every socket of ``/``,
waits a moment for the writes to stall on clients that do not read, and acknowledges
with ``{"queued": n, "sockets": ..., "buffered": bytes, "held": {...}}``: the bytes the
server still holds for its clients (in the app's queues, the transports' buffers and the
kernel's send queues).
At exit the process prints one JSON line: ``{"exit": {"reasons": {...}, "stats": ...}}``
(the server-side disconnect reasons and ``Server.stats``).
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import fcntl
import json
import os
import resource
import signal
import socket as socket_module
import struct
import sys
import termios
from collections import Counter
from typing import Any

from aiosocketio import Server, Socket

sio = Server()
reasons: Counter[str] = Counter()


def _kernel_outq(transport: Any) -> int:
    """Bytes the kernel holds in the socket's send queue (unsent or unacknowledged)."""
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None:
        return 0
    try:
        raw = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
    except OSError:
        return 0
    count: int = struct.unpack("i", raw)[0]
    return count


def buffered_bytes() -> dict[str, int]:
    """Bytes the server holds for its clients: queued in the app (the WebSocket channels'
    queues, the polling outboxes), in the transports' buffers, and in the kernel's send
    queues."""
    app = transport_bytes = kernel = 0
    for conn in list(sio.engine.clients.values()):
        channel: Any = conn._channel
        if channel is None:
            app += conn.session.buffered_amount
            continue
        transport = getattr(channel, "server_transport", None)
        if transport is None:  # the built-in server
            transport = channel.transport
            app += channel._pending_size
        else:
            app += channel.buffered_amount
        transport_bytes += transport.get_write_buffer_size()
        kernel += _kernel_outq(transport)
    return {"app": app, "transport": transport_bytes, "kernel": kernel}


@sio.on("connection")
def on_connection(socket: Socket) -> None:
    socket.on("disconnect", lambda reason: reasons.update([reason]))


@sio.of("/control").on("connection")
def on_control(socket: Socket) -> None:
    async def burst(n: int, size: int) -> dict[str, Any]:
        filler = "x" * size
        for i in range(n):
            sio.emit("m", i, filler)
        await asyncio.sleep(0.5)  # the writes stall on the clients that do not read
        held = buffered_bytes()
        return {
            "queued": n,
            "sockets": len(sio.sockets.sockets),
            "buffered": sum(held.values()),
            "held": held,
        }

    socket.on("burst", burst)


def _report() -> None:
    stats = sio.stats.as_dict()  # the ASGI app's counters included
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = round(usage.ru_utime + usage.ru_stime, 2)
    line = json.dumps({"exit": {"reasons": dict(reasons), "stats": stats, "cpu_s": cpu}})
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


atexit.register(_report)


async def _serve_asgi(args: argparse.Namespace) -> None:
    import uvicorn

    app = sio.asgi_app(shutdown_grace=args.grace)
    sock = socket_module.socket(socket_module.AF_INET, socket_module.SOCK_STREAM)
    sock.setsockopt(socket_module.SOL_SOCKET, socket_module.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(2048)
    config = uvicorn.Config(
        app,
        http="httptools",
        ws=args.ws,
        loop="uvloop",
        log_level="warning",
        access_log=False,
        lifespan="on",
        # as Node's and the built-in server's default (uvicorn's is on: it compresses
        # every message, and the clients inflate each one)
        ws_per_message_deflate=False,
    )
    server = uvicorn.Server(config)
    sys.stdout.write(json.dumps({"port": sock.getsockname()[1], "pid": os.getpid()}) + "\n")
    sys.stdout.flush()
    await server.serve(sockets=[sock])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--grace", type=float, default=10.0)
    parser.add_argument("--ws", default="websockets-sansio")
    args = parser.parse_args()
    # uvicorn re-raises the signal it caught once it has stopped (with the handlers it
    # found): let that one end the process normally, so that the exit line is printed.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_serve_asgi(args))


if __name__ == "__main__":
    main()
