"""Namespaces: static, dynamic (regex and function), inheritance, cleanup."""

from __future__ import annotations

import re
from typing import Any

from aiosocketio import Server
from aiosocketio.protocol.socketio.packets import PacketType
from aiosocketio.server import Namespace, ParentNamespace, Socket
from tests.server.fakes import connect_client, settle


async def test_of_normalises_and_caches() -> None:
    io = Server()
    created: list[str] = []
    io.on("new_namespace", lambda nsp: created.append(nsp.name))
    a = io.of("chat")
    assert a is io.of("/chat") and a.name == "/chat"
    assert created == ["/chat"]
    assert io.of("/") is io.sockets


async def test_dynamic_regex_namespace_inherits() -> None:
    io = Server()
    parent = io.of(re.compile(r"^/dyn-\d+$"))
    assert isinstance(parent, ParentNamespace)
    order: list[str] = []
    connected: list[tuple[str, str]] = []

    @parent.use
    def mw(socket: Socket) -> None:
        order.append(socket.nsp.name)

    @parent.on("connection")
    def on_conn(socket: Socket) -> None:
        connected.append((socket.nsp.name, socket.id))

    conn, ans = await connect_client(io, "/dyn-1")
    assert ans.type == PacketType.CONNECT and order == ["/dyn-1"]
    assert connected[0][0] == "/dyn-1"
    child = io.of("/dyn-1")
    assert child in parent.children and not isinstance(child, ParentNamespace)
    _, ans = await connect_client(io, "/dyn-x")
    assert ans.type == PacketType.CONNECT_ERROR and ans.data == {"message": "Invalid namespace"}
    parent.emit("to-children", 1)
    packets = conn.new_packets()
    assert [(p.nsp, p.data) for p in packets] == [("/dyn-1", ["to-children", 1])]
    fetched = await parent.fetch_sockets()
    assert [s.id for s in fetched] == [connected[0][1]]


async def test_dynamic_function_namespace_async_and_cleanup() -> None:
    io = Server(cleanup_empty_child_namespaces=True)

    async def allow(name: str, auth: dict[str, Any]) -> bool:
        return name.startswith("/team-") and auth.get("ok") is True

    parent = io.of(allow)
    assert isinstance(parent, ParentNamespace)
    conn, ans = await connect_client(io, "/team-a", {"ok": True})
    assert ans.type == PacketType.CONNECT
    child = io.of("/team-a")
    _, ans = await connect_client(io, "/team-b", {"ok": False})
    assert ans.type == PacketType.CONNECT_ERROR
    socket = next(iter(child.sockets.values()))
    socket.disconnect()
    await settle()
    assert child not in parent.children and "/team-a" not in io._nsps
    assert conn.ready_state == "open"


async def test_static_namespace_connection_and_fn_argument() -> None:
    io = Server()
    seen: list[Socket] = []
    nsp = io.of("/admin", seen.append)
    assert isinstance(nsp, Namespace)
    also: list[str] = []
    nsp.on("connect", lambda s: also.append(s.id))
    await connect_client(io, "/admin")
    assert len(seen) == 1 and also == [seen[0].id]
    assert nsp.listeners("connection") == [seen.append]
    nsp.off("connection")
    assert nsp.listener_count("connection") == 0


async def test_multiplexed_namespaces_on_one_connection() -> None:
    io = Server()
    io.of("/other")
    conn, a = await connect_client(io, "/")
    conn, b = await connect_client(io, "/other", conn=conn)
    assert a.data["sid"] != b.data["sid"]
    sock = io.of("/other").sockets[b.data["sid"]]
    assert sock.client is io.sockets.sockets[a.data["sid"]].client
    reasons: list[str] = []
    sock.on("disconnect", reasons.append)
    conn.client_close("transport error")
    assert reasons == ["transport error"]
    assert io.sockets.sockets == {} and io.of("/other").sockets == {}


async def test_of_with_a_name_matching_a_regex_parent_creates_a_child() -> None:
    io = Server()
    parent = io.of(re.compile(r"^/room-\d+$"))
    assert isinstance(parent, ParentNamespace)
    child = io.of("/room-7")
    assert child in parent.children and io.of("/room-7") is child
    assert io.of("/room-x") not in parent.children
