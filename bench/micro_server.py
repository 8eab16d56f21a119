"""Micro-benchmarks of the Socket.IO server's hot paths, in process.

Each figure is the best of several runs of ``timeit``, in nanoseconds per operation. A real
``Server`` and ``Engine`` are driven the way a front end drives them (a fake WebSocket
channel that takes prebuilt frames and drops them), so the figures show the server layer,
the engine and the codecs, without the network: an incoming event with an ack (echo), an
event whose handler emits back, ``socket.emit`` and the broadcasts.

With ``--metrics`` the server is instrumented for Prometheus (``aiosocketio.metrics``:
the traffic is counted), to show what the metrics cost.

Usage::

    .venv/bin/python bench/micro_server.py [--number N] [--repeat R] [--metrics]
"""

from __future__ import annotations

import argparse
import asyncio
import timeit
from collections.abc import Callable
from typing import Any

from aiosocketio import Server, Socket
from aiosocketio.engine.http import HttpRequest, WebSocketAccept, WebSocketHandler


class FakeChannel:
    """A WebSocket channel that takes prebuilt frames and drops them."""

    can_write_frames = True

    def __init__(self) -> None:
        self.written = 0

    def write_frames(self, data: bytes) -> None:
        self.written += 1

    def send_message(self, data: str | bytes) -> None:
        self.written += 1

    def close(self, code: int = 1000, reason: str = "") -> None:
        pass

    def drop(self) -> None:
        pass

    @property
    def drained(self) -> bool:
        return True  # it writes nothing, so nothing is left (io.close() drains)

    @property
    def buffered_amount(self) -> int:
        return 0


def _request() -> HttpRequest:
    return HttpRequest("GET", "/socket.io/", "EIO=4&transport=websocket", {}, "127.0.0.1", 1, False)


def _open(io: Server) -> WebSocketHandler:
    accept = io.engine.handle_websocket(_request())
    assert isinstance(accept, WebSocketAccept)
    handler = accept.attach(FakeChannel())
    handler.on_message("40")  # join "/"
    return handler


def _best(stmt: Callable[[], object], number: int, repeat: int) -> float:
    return min(timeit.repeat(stmt, number=number, repeat=repeat)) / number * 1e9


async def main(number: int, repeat: int, metrics: bool = False) -> None:
    io = Server(ping_interval=3600, ping_timeout=3600)
    if metrics:
        from prometheus_client import CollectorRegistry

        from aiosocketio.metrics import instrument

        instrument(io, CollectorRegistry())
    sockets: list[Socket] = []

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        sockets.append(socket)
        socket.join("room")

        @socket.on("echo")
        def echo(value: Any) -> Any:
            return value

        @socket.on("ping")
        def ping(value: Any) -> None:
            socket.emit("pong", value)

    handler = _open(io)
    for _ in range(99):
        _open(io)
    assert len(sockets) == 100
    socket = sockets[0]
    on_message = handler.on_message
    results: dict[str, float] = {}

    echo = '420["echo","hello"]'
    results["echo: event + ack (sync handler)"] = _best(lambda: on_message(echo), number, repeat)
    ping = '42["ping","hello"]'
    results["event whose handler emits back"] = _best(lambda: on_message(ping), number, repeat)
    emit = socket.emit
    results["socket.emit"] = _best(lambda: emit("news", "hello"), number, repeat)
    results["io.emit to 100 sockets"] = _best(
        lambda: io.emit("news", "hello"), number // 20, repeat
    )
    results["io.to(room).emit to 100 sockets"] = _best(
        lambda: io.to("room").emit("news", "hello"), number // 20, repeat
    )

    width = max(len(name) for name in results)
    for name, ns in results.items():
        print(f"{name:<{width}}  {ns:9.1f} ns")
    await io.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--number", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--metrics", action="store_true", help="with Prometheus metrics on")
    args = parser.parse_args()
    asyncio.run(main(args.number, args.repeat, args.metrics))
