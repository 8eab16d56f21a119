"""An Engine.IO echo server on the built-in front end, in this process.

Every message a client sends comes back on the same connection; the WebSocket interop
tests (npm ``ws``, headless Chromium) drive it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiosocketio.engine.engine import Engine
from aiosocketio.engine.socket import EngineSocket
from aiosocketio.frontends.native.server import NativeServer, serve


@contextlib.asynccontextmanager
async def echo_server(*, per_message_deflate: bool) -> AsyncIterator[NativeServer]:
    """An echoing Engine on ``/engine.io/``, served on an ephemeral loopback port."""
    engine = Engine(path="/engine.io/", per_message_deflate=per_message_deflate)

    def on_connection(conn: EngineSocket) -> None:
        conn.on_message = conn.send

    engine.on_connection = on_connection
    srv = await serve(engine, "127.0.0.1", 0)
    yield srv
    await engine.close()
    srv.close()
    await srv.wait_closed()
