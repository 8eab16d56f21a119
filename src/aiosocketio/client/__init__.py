"""The asyncio Socket.IO client (socket.io-client 4.8's behaviour).

::

    socket = aiosocketio.client_socket("http://localhost:3000", auth={"token": "x"})

    @socket.on("news")
    async def news(data): ...

    await socket.connect()  # every handler is in place before the first byte arrives
    answer = await socket.emit_with_ack("hello", b"\\x00binary", timeout=5)
"""

from __future__ import annotations

from aiosocketio.client.backoff import Backoff
from aiosocketio.client.connecting import Connecting
from aiosocketio.client.lookup import client_socket, connect
from aiosocketio.client.manager import Manager
from aiosocketio.client.socket import ClientSocket, FlaggedEmitter

__all__ = [
    "Backoff",
    "ClientSocket",
    "Connecting",
    "FlaggedEmitter",
    "Manager",
    "client_socket",
    "connect",
]
