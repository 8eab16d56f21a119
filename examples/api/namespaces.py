"""Namespaces: static ones, dynamic ones (a regex, a function) and client multiplexing.

Translates the "Namespaces" page of the Socket.IO v4 documentation::

    python examples/api/namespaces.py --port 0
"""

from __future__ import annotations

import argparse
import asyncio
import re
from typing import Any

from aiosocketio import ConnectError, Manager, Namespace, Server, Socket


def build_server(log: list[str]) -> tuple[Server, Namespace]:
    io = Server()

    @io.on("connection")
    def main_nsp(socket: Socket) -> None:
        log.append(f"main: {socket.id}")

    admin = io.of("/admin")

    @admin.on("connection")
    def admin_nsp(socket: Socket) -> None:
        log.append("admin: a client connected")

        @socket.on("whereami")
        def whereami() -> str:
            return socket.nsp.name

    # a dynamic namespace: every name that matches the regex gets its own child namespace
    workspaces = io.of(re.compile(r"^/workspace-\d+$"))

    @workspaces.on("connection")
    def workspace(socket: Socket) -> None:
        log.append(f"workspace: a client joined {socket.nsp.name}")

        @socket.on("whereami")
        def whereami() -> str:
            return socket.nsp.name

    # a dynamic namespace decided by a function of the name and the auth payload
    def only_vips(name: str, auth: dict[str, Any]) -> bool:
        return name.startswith("/vip-") and auth.get("vip") is True

    io.of(only_vips, lambda socket: log.append(f"vip: {socket.nsp.name}"))

    @io.on("new_namespace")
    def new_namespace(nsp: Namespace) -> None:
        log.append(f"new namespace {nsp.name}")

    return io, workspaces


async def main(port: int) -> None:
    log: list[str] = []
    io, workspaces = build_server(log)
    await io.listen(port, "127.0.0.1")
    url = f"http://127.0.0.1:{io.port}"

    # one Engine.IO connection, several namespaces (what io(url) does for the same origin)
    manager = Manager(url, transports=["websocket"])
    main_socket = manager.socket("/")
    admin_socket = manager.socket("/admin")
    workspace_socket = manager.socket("/workspace-42")
    for sock in (main_socket, admin_socket, workspace_socket):
        await sock.wait_connected(5)
    print("connections:", io.engine.clients_count)
    print("admin says:", await admin_socket.emit_with_ack("whereami"))
    print("workspace says:", await workspace_socket.emit_with_ack("whereami"))

    vip = manager.socket("/vip-lounge", auth={"vip": True})
    await vip.wait_connected(5)
    print("vip connected:", vip.connected)

    stranger = manager.socket("/nowhere")
    try:
        await stranger.wait_connected(5)
    except ConnectError as err:
        print("refused:", err.message)

    # emitting on the parent namespace reaches every child (io.of("/workspace-42") is one)
    got: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    workspace_socket.on("announcement", got.set_result)
    workspaces.emit("announcement", "hello every workspace")
    print("announcement:", await asyncio.wait_for(got, 5))

    manager.disconnect()
    for line in log:
        print("log:", line)
    await io.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    asyncio.run(main(parser.parse_args().port))
