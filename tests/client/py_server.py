"""aiosocketio's own server with the handlers of ``tests/interop/js/client_node_server.js``.

Usage: ``python -m tests.client.py_server [port]`` (0 = ephemeral). Prints ``{"port": N}``
once listening, then one JSON line per observed event, exactly like the Node script.
TLS_KEY / TLS_CERT (file paths) switch it to HTTPS.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import ssl
import sys
from collections.abc import Callable
from typing import Any, cast

from aiosocketio import ConnectionRefused, Server, Socket
from aiosocketio.protocol.socketio import msgpack_parser
from aiosocketio.server.namespace import Namespace


def log(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def setup(socket: Socket, seen: dict[str, int]) -> None:
    def echo(*args: Any, ack: Callable[..., None] | None = None) -> None:
        if ack is not None:
            ack(*args)
        else:
            socket.emit("echo", *args)

    def record(value: Any) -> None:
        log({"record": value, "id": socket.id, "nsp": socket.nsp.name})

    def no_ack(*args: Any, ack: Callable[..., None] | None = None) -> None:
        pass  # never acknowledges (taking ``ack`` stops the return value from answering)

    def flaky(value: str, ack: Callable[..., None] | None = None) -> None:
        n = seen[value] = seen.get(value, 0) + 1
        log({"flaky": value, "n": n})
        if n >= 2 and ack is not None:
            ack({"value": value, "n": n})

    def binary() -> Any:
        return {"buf": b"\x01\x02\x03", "list": [b"x", 4]}

    def describe(*args: Any) -> Any:
        return [{"bin": list(a)} if isinstance(a, bytes) else a for a in args]

    def whoami() -> Any:
        hs = socket.handshake
        return {
            "id": socket.id,
            "auth": hs.auth,
            "query": hs.query,
            "header": hs.headers.get("x-custom"),
            "transport": socket.conn.transport.name,
        }

    async def ask(question: Any) -> None:
        try:
            answer = await socket.timeout(2).emit_with_ack("question", question)
            socket.emit("answer", answer)
        except Exception as exc:
            socket.emit("answer", {"error": str(exc)})

    async def ask_binary() -> None:
        answer = await socket.timeout(2).emit_with_ack("question", b"\x09\x08")
        socket.emit("answer", {"bin": list(answer)} if isinstance(answer, bytes) else answer)

    def push(event: str, *args: Any) -> None:
        socket.emit(event, *args)

    async def push_later(delay_ms: float, event: str, *args: Any) -> None:
        await asyncio.sleep(delay_ms / 1000)
        socket.emit(event, *args)

    def push_binary(event: str) -> None:
        socket.emit(event, b"\x00\xff", {"nested": [b"\x07"]})

    def burst(n: int) -> None:
        for i in range(n):
            socket.emit("burst", i)

    def server_disconnect() -> None:
        socket.disconnect()

    def close_engine() -> None:
        socket.conn.close()

    def transport() -> str:
        return str(socket.conn.transport.name)

    def on_disconnect(reason: str, *rest: Any) -> None:
        log({"disconnect": reason, "id": socket.id, "nsp": socket.nsp.name})

    def join(room: str) -> bool:
        socket.join(room)
        return True

    def to_room(room: str) -> None:
        cast(Namespace, socket.nsp).to(room).emit("room_news", room)

    handlers: dict[str, Callable[..., Any]] = {
        "join": join,
        "to_room": to_room,
        "echo": echo,
        "record": record,
        "no_ack": no_ack,
        "flaky": flaky,
        "binary": binary,
        "describe": describe,
        "whoami": whoami,
        "ask": ask,
        "ask_binary": ask_binary,
        "push": push,
        "push_later": push_later,
        "push_binary": push_binary,
        "burst": burst,
        "server_disconnect": server_disconnect,
        "close_engine": close_engine,
        "transport": transport,
        "disconnect": on_disconnect,
    }
    for name, fn in handlers.items():
        socket.on(name, fn)


async def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    io = Server(
        ping_interval=float(os.environ.get("PING_INTERVAL", "25000")) / 1000,
        ping_timeout=float(os.environ.get("PING_TIMEOUT", "20000")) / 1000,
        max_http_buffer_size=int(os.environ.get("MAX_HTTP_BUFFER", "10000000")),
        connection_state_recovery=(
            {"max_disconnection_duration": 60, "skip_middlewares": True}
            if os.environ.get("RECOVERY")
            else None
        ),
        parser=msgpack_parser if os.environ.get("MSGPACK") else None,
        allow_eio3=bool(os.environ.get("ALLOW_EIO3")),
    )
    seen: dict[str, int] = {}

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        log({"connection": socket.id, "nsp": "/"})
        setup(socket, seen)

    admin = io.of("/admin")

    @admin.use
    def check_token(socket: Socket) -> None:
        auth = socket.handshake.auth or {}
        if auth.get("token") != "secret":
            raise ConnectionRefused(
                "not authorized", {"content": "Please retry later", "token": auth.get("token")}
            )

    @admin.on("connection")
    def on_admin(socket: Socket) -> None:
        log({"connection": socket.id, "nsp": "/admin"})
        socket.emit("welcome", socket.handshake.auth)
        setup(socket, seen)

    # on connection, emits still in flight when a client disconnects at once (clean close)
    blob = "x" * 65536

    @io.of("/greet").on("connection")
    def on_greet(socket: Socket) -> None:
        log({"connection": socket.id, "nsp": "/greet"})
        setup(socket, seen)

        def on_packet(packet: Any) -> None:  # what reached the server (as the Node script)
            data = packet.data
            if isinstance(data, str) and data.startswith('2/greet,["record",'):
                log({"received": json.loads(data[8:])[1], "id": socket.id})

        socket.conn.on("packet", on_packet)
        socket.emit("welcome", {"id": socket.id})
        socket.emit("blob", blob)

    @io.of("/chat").on("connection")
    def on_chat(socket: Socket) -> None:
        setup(socket, seen)

    ctx: ssl.SSLContext | None = None
    if os.environ.get("TLS_KEY"):
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(os.environ["TLS_CERT"], os.environ["TLS_KEY"])
    if os.environ.get("ASGI"):
        await serve_asgi(io, port)
        return
    await io.listen(port, "127.0.0.1", ssl=ctx)
    log({"port": io.port})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    os._exit(0)  # like the Node script: die at once, without a graceful close


async def serve_asgi(io: Server, port: int) -> None:
    """Serve ``io`` through its ASGI app on uvicorn (the ASGI front end)."""
    import socket as socket_module

    import uvicorn

    sock = socket_module.socket()
    sock.setsockopt(socket_module.SOL_SOCKET, socket_module.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)  # connections wait in the backlog until uvicorn accepts them
    config = uvicorn.Config(io.asgi_app(), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    log({"port": sock.getsockname()[1]})
    await server.serve(sockets=[sock])


if __name__ == "__main__":
    asyncio.run(main())
