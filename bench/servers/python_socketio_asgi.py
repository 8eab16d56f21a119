"""python-socketio 5.x as an ASGI app under uvicorn (uvloop, httptools, websockets-sansio).

usage: python python_socketio_asgi.py PORT
"""

from __future__ import annotations

from typing import Any

import socketio  # type: ignore[import-not-found, unused-ignore]
from _common import port_from_argv, redis_manager
from _uvicorn import serve

sio = socketio.AsyncServer(
    async_mode="asgi", max_http_buffer_size=10_000_000, client_manager=redis_manager()
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


if __name__ == "__main__":
    serve(socketio.ASGIApp(sio), port_from_argv())
