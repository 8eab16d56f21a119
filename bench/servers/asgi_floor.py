"""The floor of any Socket.IO app under uvicorn: a bare ASGI app, no library.

usage: python asgi_floor.py PORT

It speaks just enough Engine.IO v4 / Socket.IO v5 for the load generator (the open packet,
the namespace connect, echo, join, bcast and bin, WebSocket and long-polling) with string
slicing and no parsing, no heartbeat, no checks. Nothing real should run like this; it
shows how much of a scenario's cost is uvicorn's own (its HTTP parsing, its WebSocket
framing, one ``transport.write`` per ASGI message), which no ASGI app can remove. Every
ratio between two ASGI apps under the same uvicorn is bounded by it.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from _common import port_from_argv
from _uvicorn import serve

_ids = itertools.count()
_OPEN = '0{"sid":"%s","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}'
_HEADERS = [(b"content-type", b"text/plain; charset=UTF-8")]
_rooms: dict[str, list[Any]] = {}
_pending: set[asyncio.Task[None]] = set()


def _answer(packet: str) -> str | None:
    """The reply to one client packet, or None. ``42<id>["echo",x]`` -> ``43<id>[x]``."""
    if packet == "40":
        return '40{"sid":"s"}'
    if packet.startswith('42["bcast","'):
        room, _, rest = packet[12:].partition('",')
        frame = '42["m",' + rest
        for send in _rooms.get(room, ()):
            send(frame)
        return None
    head, _, rest = packet.partition('["')
    if rest.startswith('echo",'):
        return "43" + head[2:] + "[" + rest[6:]
    if rest.startswith('join",'):
        return None  # handled by the WebSocket loop, which knows its sender
    return None


async def _finish(coro: Any) -> None:
    await coro


async def _websocket(receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "websocket.accept"})
    sid = f"{next(_ids):020d}"
    await send({"type": "websocket.send", "text": _OPEN % sid})
    loop = asyncio.get_running_loop()

    def push(text: str) -> None:
        # uvicorn's websockets-sansio send finishes without suspending: run it in place.
        coro = send({"type": "websocket.send", "text": text})
        try:
            coro.send(None)
        except StopIteration:
            return
        _pending.add(task := loop.create_task(_finish(coro)))
        task.add_done_callback(_pending.discard)

    joined: list[Any] | None = None
    attachment_head: str | None = None
    while True:
        message = await receive()
        if message["type"] != "websocket.receive":
            break
        data = message.get("text")
        if data is None:
            if attachment_head is not None:
                await send({"type": "websocket.send", "text": attachment_head})
                await send({"type": "websocket.send", "bytes": message["bytes"]})
                attachment_head = None
            continue
        if data.startswith("451-"):  # 451-<id>["bin",{placeholder}] -> 461-<id>[{placeholder}]
            head, _, rest = data.partition('["bin",')
            attachment_head = "461-" + head[4:] + "[" + rest
            continue
        if data.startswith("42") and '["join","' in data:
            head, _, rest = data.partition('["join","')
            joined = _rooms.setdefault(rest[:-2], [])
            joined.append(push)
            await send({"type": "websocket.send", "text": "43" + head[2:] + "[true]"})
            continue
        reply = _answer(data)
        if reply is not None:
            await send({"type": "websocket.send", "text": reply})
    if joined is not None:
        joined.remove(push)


_outbox: dict[str, list[str]] = {}
_waiters: dict[str, asyncio.Future[None]] = {}


async def _body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _respond(send: Any, body: bytes) -> None:
    headers = [*_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _polling(scope: dict[str, Any], receive: Any, send: Any) -> None:
    query = scope["query_string"].decode()
    sid = query.partition("sid=")[2].partition("&")[0]
    if scope["method"] == "POST":
        box = _outbox.get(sid)
        for packet in (await _body(receive)).decode().split("\x1e"):
            reply = _answer(packet)
            if reply is not None and box is not None:
                box.append(reply)
        waiter = _waiters.pop(sid, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        await _respond(send, b"ok")
        return
    await _body(receive)
    if not sid:
        sid = f"{next(_ids):020d}"
        _outbox[sid] = []
        await _respond(send, (_OPEN % sid).encode())
        return
    box = _outbox[sid]
    if not box:
        waiter = _waiters[sid] = asyncio.get_running_loop().create_future()
        await waiter
    body = "\x1e".join(box).encode()
    box.clear()
    await _respond(send, body)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The ASGI entry point."""
    if scope["type"] == "websocket":
        await _websocket(receive, send)
    elif scope["type"] == "http":
        await _polling(scope, receive, send)


if __name__ == "__main__":
    serve(app, port_from_argv())
