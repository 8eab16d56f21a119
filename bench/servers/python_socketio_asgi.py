"""python-socketio 5.x as an ASGI app under uvicorn (uvloop, httptools, websockets-sansio).

usage: python python_socketio_asgi.py PORT
"""

from __future__ import annotations

from typing import Any

import socketio  # type: ignore[import-not-found]
from _common import port_from_argv
from _uvicorn import serve

sio = socketio.AsyncServer(async_mode="asgi", max_http_buffer_size=10_000_000)


@sio.on("echo")  # type: ignore[misc]
async def echo(sid: str, data: Any) -> Any:
    return data


@sio.on("join")  # type: ignore[misc]
async def join(sid: str, room: str) -> bool:
    await sio.enter_room(sid, room)
    return True


@sio.on("bcast")  # type: ignore[misc]
async def bcast(sid: str, room: str, data: Any) -> None:
    await sio.emit("m", data, room=room)


@sio.on("bin")  # type: ignore[misc]
async def binary(sid: str, data: bytes) -> bytes:
    return data


if __name__ == "__main__":
    serve(socketio.ASGIApp(sio), port_from_argv())
