"""The bench app on python-socketio 5.x, shared by its aiohttp and ASGI servers."""

from __future__ import annotations

from typing import Any

import socketio  # type: ignore[import-not-found, unused-ignore]
from _common import redis_manager


def make_server(async_mode: str) -> Any:
    """An ``AsyncServer`` with the bench handlers: echo, join, bcast, all, bin."""
    sio = socketio.AsyncServer(
        async_mode=async_mode, max_http_buffer_size=10_000_000, client_manager=redis_manager()
    )

    async def echo(sid: str, data: Any) -> Any:
        return data

    async def join(sid: str, room: str) -> bool:
        await sio.enter_room(sid, room)
        return True

    async def bcast(sid: str, room: str, data: Any) -> None:
        await sio.emit("m", data, room=room)

    async def everyone(sid: str, data: Any) -> None:
        await sio.emit("m", data)

    async def binary(sid: str, data: bytes) -> bytes:
        return data

    sio.on("echo", echo)
    sio.on("join", join)
    sio.on("bcast", bcast)
    sio.on("all", everyone)
    sio.on("bin", binary)
    return sio
