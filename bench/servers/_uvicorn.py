"""Run an ASGI app under uvicorn with the fastest options, and announce readiness."""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
import uvloop
from _common import announce


def _ws_impl() -> str:
    try:
        import uvicorn.protocols.websockets.websockets_sansio_impl  # noqa: F401
    except ImportError:
        return "websockets"
    return "websockets-sansio"


def serve(app: Any, port: int) -> None:
    """Serve ``app`` on 127.0.0.1:``port`` with uvloop + httptools; print a ready line."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        loop="none",
        http="httptools",
        ws=_ws_impl(),
        ws_max_size=10_000_000,
        ws_per_message_deflate=False,
        lifespan="off",
        log_level="warning",
        access_log=False,
        backlog=2048,
    )
    server = uvicorn.Server(config)

    async def run() -> None:
        task = asyncio.ensure_future(server.serve())
        while not server.started:
            if task.done():
                task.result()
                return
            await asyncio.sleep(0.02)
        sock = server.servers[0].sockets[0]
        announce(sock.getsockname()[1])
        await task

    uvloop.run(run())
