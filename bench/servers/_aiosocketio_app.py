"""The benchmark app on aiosocketio (shared by the native and the ASGI front ends, and by
``aiosocketio run _aiosocketio_app:make_cluster_server --factory --redis URL`` in
bench/scale.py)."""

from __future__ import annotations

import os
import sys
from typing import Any

from aiosocketio import Server


def _redis_adapter() -> Any:
    """A Redis adapter factory when ``--redis URL`` is given (the cluster scenario)."""
    if "--redis" not in sys.argv:
        return None
    import redis.asyncio as aioredis

    from aiosocketio.adapters.redis import RedisAdapter

    url = sys.argv[sys.argv.index("--redis") + 1]
    key = os.environ.get("BENCH_REDIS_KEY", "bench-socket.io")
    return RedisAdapter.factory(aioredis.Redis.from_url(url), key=key)


def make_server() -> Server:
    """A Server running the benchmark app: echo, join, bcast, all, bin. With ``--metrics``
    the Prometheus exporter is on (:func:`aiosocketio.metrics.instrument`); run
    :func:`scrape_every` beside it to also pay for the scrapes."""
    adapter = _redis_adapter()
    server = _with_handlers(Server(adapter=adapter) if adapter is not None else Server())
    if "--metrics" in sys.argv:
        from aiosocketio.metrics import instrument

        instrument(server)
    return server


def extra_app() -> Any:
    """With ``--metrics``, the ASGI app that serves ``GET /metrics`` beside Socket.IO."""
    if "--metrics" not in sys.argv:
        return None
    from aiosocketio.metrics import metrics_app

    return metrics_app()


async def scrape_every(seconds: float) -> None:
    """Render the Prometheus exposition every ``seconds``, as a scraper would (with
    ``--metrics``; Prometheus' usual interval is 15 s, this is harsher)."""
    if "--metrics" not in sys.argv:
        return
    import asyncio

    from prometheus_client import REGISTRY, generate_latest

    while True:
        await asyncio.sleep(seconds)
        generate_latest(REGISTRY)


def make_cluster_server() -> Server:
    """The benchmark app for ``aiosocketio run --factory``: the command's own ``--redis``
    and ``--redis-key`` options attach the adapter."""
    return _with_handlers(Server())


def _with_handlers(server: Server) -> Server:

    @server.on("connection")
    def on_connection(socket: Any) -> None:
        def echo(data: Any) -> Any:
            return data

        def join(room: str) -> bool:
            socket.join(room)
            return True

        def bcast(room: str, data: Any) -> None:
            server.to(room).emit("m", data)

        def everyone(data: Any) -> None:
            server.emit("m", data)

        def binary(data: bytes) -> bytes:
            return data

        socket.on("echo", echo)
        socket.on("join", join)
        socket.on("bcast", bcast)
        socket.on("all", everyone)
        socket.on("bin", binary)

    return server
