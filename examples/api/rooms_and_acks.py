"""Rooms, broadcasting and acknowledgements: a server and three clients in one process.

Translates the examples of the Socket.IO v4 documentation ("Emitting events",
"Rooms", "Broadcasting events", "Acknowledgements")::

    python examples/api/rooms_and_acks.py --port 0

Each line printed is one observable fact; ``tests/test_examples_api.py`` checks them.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from aiosocketio import AckTimeout, ClientSocket, Server, Socket, client_socket


def build_server() -> Server:
    io = Server()

    @io.on("connection")
    async def on_connection(socket: Socket) -> None:
        name = socket.handshake.auth.get("name", "anonymous")
        socket.data["name"] = name

        @socket.on("join")
        def join(room: str) -> str:
            socket.join(room)
            socket.to(room).emit("joined", name, room)  # everyone in the room but the sender
            return f"{name} is in {room}"  # the return value is the acknowledgement

        @socket.on("say")
        def say(room: str, text: str) -> None:
            io.to(room).emit("said", name, text)  # everyone in the room, the sender included

        @socket.on("sum")
        async def total(*numbers: int) -> tuple[int, int]:
            return sum(numbers), len(numbers)  # a tuple answers with several arguments

        @socket.on("upload")
        def upload(blob: bytes, meta: dict[str, Any]) -> int:
            return len(blob) + int(meta["extra"])

        @socket.on("disconnecting")
        def disconnecting(reason: str) -> None:
            for room in socket.rooms - {socket.id}:  # still in the rooms here
                socket.to(room).emit("left", name, room)

    return io


async def client(url: str, name: str, log: list[str]) -> ClientSocket:
    # handlers first, then connect: none of the server's events can arrive before them
    sock = client_socket(url, force_new=True, auth={"name": name}, transports=["websocket"])

    @sock.on("joined")
    def joined(who: str, room: str) -> None:
        log.append(f"{name} saw {who} join {room}")

    @sock.on("said")
    def said(who: str, text: str) -> None:
        log.append(f"{name} got {text!r} from {who}")

    @sock.on("left")
    def left(who: str, room: str) -> None:
        log.append(f"{name} saw {who} leave {room}")

    @sock.on("question")
    async def question(text: str) -> str:
        return f"{name} answers {text}"

    return await sock.connect()


async def settle(log: list[str], count: int) -> None:
    """Wait until ``log`` holds ``count`` lines (bounded)."""
    async with asyncio.timeout(5):
        while len(log) < count:
            await asyncio.sleep(0.01)


async def main(port: int) -> None:
    io = build_server()
    await io.listen(port, "127.0.0.1")
    url = f"http://127.0.0.1:{io.port}"
    log: list[str] = []
    alice = await client(url, "alice", log)
    bob = await client(url, "bob", log)
    carol = await client(url, "carol", log)

    # client -> server acknowledgements (the server handler's return value)
    print("ack:", await alice.emit_with_ack("join", "kitchen"))
    print("ack:", await bob.emit_with_ack("join", "kitchen"))
    print("ack:", await carol.emit_with_ack("join", "garden"))
    await settle(log, 1)

    alice.emit("say", "kitchen", "dinner is ready")
    await settle(log, 3)

    print("sum:", await carol.emit_with_ack("sum", 1, 2, 3))
    print("binary:", await carol.emit_with_ack("upload", b"\x00\x01\x02", {"extra": 10}))

    # server -> client acknowledgements, one socket and a whole room
    server_side = {s.data["name"]: s for s in await io.fetch_sockets() if isinstance(s, Socket)}
    print("ack from client:", await server_side["carol"].emit_with_ack("question", "hi"))
    answers = await io.to("kitchen").timeout(2).emit_with_ack("question", "who is here?")
    print("room acks:", sorted(answers))

    # a timeout: nobody answers an event without a handler
    try:
        await server_side["bob"].timeout(0.2).emit_with_ack("nobody-listens")
    except AckTimeout as exc:
        print("timeout:", exc)

    bob.disconnect()  # alice sees bob leave (from the "disconnecting" handler)
    await settle(log, 4)
    for line in log:
        print("event:", line)
    alice.disconnect()
    carol.disconnect()
    await io.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    asyncio.run(main(parser.parse_args().port))
