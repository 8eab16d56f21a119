"""Middlewares: connection middlewares (``io.use``) and per-packet ones (``socket.use``).

Translates the "Middlewares" page of the Socket.IO v4 documentation and the
``socket.use`` example of the server API::

    python examples/api/middlewares.py --port 0
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from aiosocketio import ConnectError, ConnectionRefused, Server, Socket, connect

USERS = {"token-alice": "alice", "token-admin": "admin"}


def build_server(log: list[str]) -> Server:
    io = Server()

    @io.use
    def log_attempt(socket: Socket) -> None:
        log.append(f"attempt from {socket.handshake.address}")

    @io.use
    async def authenticate(socket: Socket) -> None:
        user = USERS.get(socket.handshake.auth.get("token", ""))
        if user is None:
            raise ConnectionRefused("not authorized", {"content": "Please retry later"})
        socket.data["user"] = user  # shared with fetch_sockets() across a cluster

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        @socket.use
        def admin_only(packet: list[Any]) -> None:
            if packet[0].startswith("admin:") and socket.data["user"] != "admin":
                raise PermissionError("unauthorized event")
            packet.append("checked")  # a middleware may change the arguments

        @socket.on("error")
        def on_error(err: Exception) -> None:
            log.append(f"error on {socket.data['user']}: {err}")
            socket.disconnect()  # the client sees "io server disconnect"

        @socket.on("admin:reset")
        def reset(mark: str) -> str:
            return f"reset by {socket.data['user']} ({mark})"

        @socket.on("hello")
        def hello(mark: str) -> str:
            return f"hello {socket.data['user']} ({mark})"

        @socket.on("disconnect")
        def on_disconnect(reason: str) -> None:
            log.append(f"server: {socket.data['user']} disconnected: {reason}")

    return io


async def main(port: int) -> None:
    log: list[str] = []
    io = build_server(log)
    await io.listen(port, "127.0.0.1")
    url = f"http://127.0.0.1:{io.port}"

    # refused by the middleware: the message and data reach the client
    try:
        await connect(url, force_new=True, auth={"token": "wrong"}, reconnection=False)
    except ConnectError as err:
        print("refused:", err.message, err.data)

    admin = await connect(url, force_new=True, auth={"token": "token-admin"})
    alice = await connect(url, force_new=True, auth={"token": "token-alice"})
    print("admin:", await admin.emit_with_ack("admin:reset"))
    print("alice:", await alice.emit_with_ack("hello"))

    reasons: asyncio.Queue[str] = asyncio.Queue()
    alice.on("disconnect", reasons.put_nowait)
    alice.emit("admin:reset")  # dropped by the per-packet middleware
    print("alice disconnected:", await asyncio.wait_for(reasons.get(), 5))

    admin.disconnect()
    async with asyncio.timeout(5):
        while len(log) < 6:
            await asyncio.sleep(0.01)
    for line in log:
        print("log:", line)
    await io.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    asyncio.run(main(parser.parse_args().port))
