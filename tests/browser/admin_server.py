"""A Python server instrumented for the Admin UI, run by the admin tests as a child process.

usage: python admin_server.py --port 0 --password-hash HASH [--server-id ID] [--redis URL --key K]

Prints ``{"port": N}`` once it listens, then one JSON line per server-side effect the tests
check: ``{"joined": room, "sid": id}`` and ``{"disconnected": id, "reason": reason}``.
Clients of "/" join the room named in their ``auth`` (``{"room": ...}``); "/chat" exists too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from typing import Any

from aiosocketio import Server, Socket
from aiosocketio.admin import instrument


def say(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--password-hash", required=True)
    parser.add_argument("--server-id")
    parser.add_argument("--redis")
    parser.add_argument("--key", default="socket.io")
    parser.add_argument("--mode", default="development")
    args = parser.parse_args()
    options: dict[str, Any] = {"cors": {"origin": True, "credentials": True}}
    if args.redis:
        from aiosocketio.adapters.redis import create_adapter

        options["adapter"] = create_adapter(args.redis, key=args.key)
    io = Server(**options)
    chat = io.of("/chat")
    instrument(
        io,
        auth={"type": "basic", "username": "admin", "password": args.password_hash},
        mode=args.mode,
        server_id=args.server_id,
    )

    @io.on("connection")
    async def on_connection(socket: Socket) -> None:
        room = socket.handshake.auth.get("room")
        if isinstance(room, str):
            await socket.join(room)
        socket.data["name"] = socket.handshake.auth.get("name")

        def on_disconnect(reason: str, *_: Any) -> None:
            say({"disconnected": socket.id, "reason": reason})

        socket.on("disconnect", on_disconnect)

    @chat.on("connection")
    def on_chat(socket: Any) -> None:
        pass

    def joined(room: str, sid: str) -> None:
        if room != sid:
            say({"joined": room, "sid": sid})

    io.sockets.adapter.on("join-room", joined)
    await io.listen(args.port, "127.0.0.1")
    say({"port": io.port, "pid": __import__("os").getpid()})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await io.close()


if __name__ == "__main__":
    asyncio.run(main())
