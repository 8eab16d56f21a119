"""python-socketio 5.x on aiohttp + uvloop: its fastest set-up on this machine.

usage: python python_socketio_aiohttp.py PORT
"""

from __future__ import annotations

import asyncio
from typing import Any

import socketio  # type: ignore[import-not-found, unused-ignore]
import uvloop
from _common import announce, port_from_argv, redis_manager
from aiohttp import web

sio = socketio.AsyncServer(
    async_mode="aiohttp", max_http_buffer_size=10_000_000, client_manager=redis_manager()
)


async def echo(sid: str, data: Any) -> Any:
    return data


async def join(sid: str, room: str) -> bool:
    await sio.enter_room(sid, room)
    return True


async def bcast(sid: str, room: str, data: Any) -> None:
    await sio.emit("m", data, room=room)


async def binary(sid: str, data: bytes) -> bytes:
    return data


sio.on("echo", echo)
sio.on("join", join)
sio.on("bcast", bcast)
sio.on("bin", binary)


async def main(port: int) -> None:
    app = web.Application()
    sio.attach(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=2048)
    await site.start()
    server = site._server
    assert server is not None
    announce(server.sockets[0].getsockname()[1])  # type: ignore[union-attr, unused-ignore]
    await asyncio.Event().wait()


if __name__ == "__main__":
    uvloop.run(main(port_from_argv()))
