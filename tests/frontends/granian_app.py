"""The ASGI app that granian serves in ``tests/frontends/test_granian.py`` (``--interface asgi``).

The Socket.IO server is the one ``tests/interop/js/server_scenarios.js`` drives
(``tests/server/interop_app.py``), with Node's heartbeat defaults so that a test can
watch a waiting long-poll without a ping answering it, and the session cookie on (a
header the engine adds to the handshake answers). Every other path goes to a bare
ASGI callable, which also tells the test what the server saw (granian runs it in
another process):

- ``GET /health``: ``ok``;
- ``GET /record``: ``{"disconnects": {sid: reason}, "upgrading": [...], "lifespan": [...],
  "waiting": [Engine.IO sids with a long-poll GET held open]}``.
"""

from __future__ import annotations

from typing import Any

from aiosocketio.frontends.asgi import Receive, Scope, Send
from aiosocketio.protocol.codec import OrjsonCodec
from tests.server.interop_app import make_app

io, record = make_app(ping_interval=25.0, ping_timeout=20.0, cookie=True)
lifespan: list[str] = []
_codec = OrjsonCodec()


async def _answer(send: Send, status: int, content_type: str, body: bytes) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def other_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The wrapped application: lifespan, ``/health``, ``/record``, 404 elsewhere."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                lifespan.append("startup")
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    elif scope["type"] == "http":
        path = scope["path"]
        if path == "/health":
            await _answer(send, 200, "text/plain", b"ok")
        elif path == "/record":
            seen: dict[str, Any] = {
                "disconnects": record.disconnects,
                "upgrading": record.upgrading,
                "lifespan": lifespan,
                "waiting": [
                    sid for sid, conn in io.engine.clients.items() if conn.session.poll_pending
                ],
            }
            await _answer(send, 200, "application/json", _codec.dumps(seen).encode())
        else:
            await _answer(send, 404, "text/plain", b"not here")
    else:  # a WebSocket outside the Socket.IO path
        await receive()
        await send({"type": "websocket.close", "code": 1000})


app = io.asgi_app(other_app=other_app)
