"""Utility methods, engine hooks and a graceful close.

Translates the "Server API" / "Utility methods" examples of the Socket.IO v4
documentation: ``fetch_sockets``, ``sockets_join``, ``sockets_leave``,
``disconnect_sockets``, ``server_side_emit``, and the Engine.IO hooks::

    python examples/api/utility_methods.py --port 0
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
from typing import Any

from aiosocketio import ClientSocket, Server, Socket, connect
from aiosocketio.engine.http import HttpRequest


def build_server(log: list[str]) -> Server:
    io = Server()
    counter = itertools.count(1)

    def generate_id(request: HttpRequest) -> str:
        return f"engine-{next(counter):04d}"  # Node: io.engine.generateId = (req) => ...

    io.engine.generate_id = generate_id  # type: ignore[method-assign]

    @io.engine.on("initial_headers")
    def initial_headers(headers: dict[str, Any], request: HttpRequest) -> None:
        headers["set-cookie"] = "session=abc; Path=/"  # the handshake answer only

    @io.engine.on("headers")
    def every_answer(headers: dict[str, Any], request: HttpRequest) -> None:
        headers["x-served-by"] = "aiosocketio"

    @io.engine.on("connection_error")
    def connection_error(err: dict[str, Any]) -> None:
        log.append(f"connection_error {err['code']}: {err['message']}")

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        socket.data["user"] = socket.handshake.query.get("user")

    @io.on("hello-from-another-server")
    def from_cluster(text: str) -> str:
        return "not called on a single server"  # other servers' io.server_side_emit()

    return io


async def users(io: Server, room: str | None = None) -> list[str]:
    found = await (io.in_(room).fetch_sockets() if room else io.fetch_sockets())
    return sorted(str(s.data["user"]) for s in found)


async def http_get(port: int, target: str) -> tuple[str, dict[str, str]]:
    """A raw HTTP/1.1 GET: the status line and the headers (lower-case names)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    head = (await reader.read()).partition(b"\r\n\r\n")[0].decode().split("\r\n")
    writer.close()
    fields = (line.partition(":") for line in head[1:])
    return head[0], {name.lower(): value.strip() for name, _, value in fields}


async def main(port: int) -> None:
    log: list[str] = []
    io = build_server(log)
    await io.listen(port, "127.0.0.1")
    url = f"http://127.0.0.1:{io.port}"
    clients: list[ClientSocket] = []
    for user in ("ann", "ben", "cat"):
        clients.append(await connect(f"{url}?user={user}", force_new=True))
    print("engine ids:", sorted(s.conn.id for s in io.sockets.sockets.values()))
    print("clients_count:", io.engine.clients_count)
    print("everyone:", await users(io))

    # make the matching sockets join or leave rooms, wherever they are in the cluster
    io.sockets_join("lobby")
    io.except_("lobby").sockets_join("nobody")  # nobody is outside the lobby
    for s in await io.fetch_sockets():
        if s.data["user"] != "ann":
            s.join("players")
    io.in_("players").sockets_leave("lobby")
    print("lobby:", await users(io, "lobby"))
    print("players:", await users(io, "players"))
    print("nobody:", await users(io, "nobody"))
    print(
        "rooms of ann:",
        sorted(
            r
            for s in await io.fetch_sockets()
            for r in s.rooms
            if s.data["user"] == "ann" and r != s.id
        ),
    )

    # broadcasting flags: compress, local (this server only); .volatile would allow drops
    got: asyncio.Queue[str] = asyncio.Queue()
    for sock in clients:
        sock.on("tick", got.put_nowait)
    io.to("players").compress(False).local.emit("tick", "players only")
    print("ticks:", [await asyncio.wait_for(got.get(), 5) for _ in range(2)])

    # server_side_emit reaches the *other* servers: none here, so no answers
    io.server_side_emit("hello-from-another-server", "hi")
    print(
        "server answers:",
        await io.server_side_emit_with_ack("hello-from-another-server", "?", timeout=1),
    )

    # the headers hooks, and a refused request that reaches the connection_error hook
    status, headers = await http_get(io.port, "/socket.io/?EIO=4&transport=polling")
    print("handshake:", status, headers["x-served-by"], headers["set-cookie"])
    status, headers = await http_get(io.port, "/socket.io/?EIO=4&transport=carrier-pigeon")
    print("refusal:", status)

    reasons: asyncio.Queue[str] = asyncio.Queue()
    for sock in clients:
        sock.on("disconnect", reasons.put_nowait)
    io.in_("lobby").disconnect_sockets()
    print("ann's client:", str(await asyncio.wait_for(reasons.get(), 5)))
    print("left:", await users(io))

    await io.close()  # every client sees "io server disconnect" and does not reconnect
    print("on close:", sorted([str(await asyncio.wait_for(reasons.get(), 5)) for _ in range(2)]))
    print("clients_count after close:", io.engine.clients_count)
    for line in log:
        print("log:", line)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    asyncio.run(main(parser.parse_args().port))
