"""The asyncio Socket.IO client (socket.io-client 4.8's behaviour).

::

    sock = await aiosocketio.client.connect("http://localhost:3000", auth={"token": "x"})
    @sock.on("news")
    async def news(data): ...
    answer = await sock.timeout(5).emit_with_ack("hello", b"\\x00binary")
"""

from __future__ import annotations

from aiosocketio.client.backoff import Backoff
from aiosocketio.client.manager import Manager, connect
from aiosocketio.client.socket import ClientSocket, FlaggedEmitter

__all__ = ["Backoff", "ClientSocket", "FlaggedEmitter", "Manager", "connect"]
