"""The example app of the cluster deployment (examples/cluster/README.md).

Run it as several processes joined through Redis, behind nginx::

    aiosocketio run app:sio --app-dir examples/cluster --port 3001 --redis redis://127.0.0.1:6379
    aiosocketio run app:sio --app-dir examples/cluster --port 3002 --redis redis://127.0.0.1:6379

(Or set ``REDIS_URL`` instead of ``--redis``: the app then builds its own Redis adapter.)

Every client is told which process serves it (``welcome``); a ``shout`` from any client is
broadcast to every client of every process (``shouted``).
"""

from __future__ import annotations

import os
from typing import Any

from aiosocketio import Server
from aiosocketio.adapters.redis import create_adapter
from aiosocketio.server.socket import Socket

WORKER = f"{os.getpid()}"

_redis_url = os.environ.get("REDIS_URL")
# cookie=True: the handshake answer sets the Engine.IO cookie "io" to the session id, which
# the HAProxy recipe keyed on the sid query parameter learns from (docs/deployment.md).
if _redis_url:
    sio = Server(cookie=True, adapter=create_adapter(_redis_url))
else:
    sio = Server(cookie=True)


@sio.on("connection")
def on_connection(socket: Socket) -> None:
    socket.emit("welcome", {"worker": WORKER})

    @socket.on("shout")
    def on_shout(message: Any) -> None:
        sio.emit("shouted", {"worker": WORKER, "message": message})

    @socket.on("count")
    async def on_count() -> int:
        return await sio.sockets.adapter.server_count()
