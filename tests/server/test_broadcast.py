"""Broadcasting, rooms and the utility methods, through fake connections (and the
acknowledgements' timeouts through aiosocketio.testing's real clients and manual clock)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aiosocketio import AckTimeout, RemoteSocket, Server
from aiosocketio.protocol.socketio.packets import Packet, PacketType
from aiosocketio.server import BroadcastOperator, Socket
from aiosocketio.testing import TestClient
from tests.server.fakes import FakeConn, connect_client, settle


async def clients(io: Server, n: int, nsp: str = "/") -> list[tuple[FakeConn, Socket]]:
    out = []
    for _ in range(n):
        conn, ans = await connect_client(io, nsp)
        out.append((conn, io.of(nsp).sockets[ans.data["sid"]]))
        conn.new_packets()
    return out


def events(conn: FakeConn) -> list[list[Any]]:
    return [p.data for p in conn.new_packets() if p.type in (PacketType.EVENT, 5)]


async def test_operator_is_immutable() -> None:
    io = Server()
    base = io.to("a")
    more = base.to(["b", "c"]).except_("d").volatile.local.timeout(2).compress(False)
    assert base.options.rooms == {"a"} and base.options.except_ == frozenset()
    assert more.options.rooms == {"a", "b", "c"} and more.options.except_ == {"d"}
    flags = more.options.flags
    assert flags.volatile and flags.local and flags.timeout == 2 and not flags.compress
    assert not base.options.flags.volatile
    assert isinstance(io.in_("x"), BroadcastOperator)


async def test_rooms_multi_room_except_once() -> None:
    io = Server()
    (c1, s1), (c2, s2), (c3, s3), (c4, _s4) = await clients(io, 4)
    s1.join(["a", "b"])
    s2.join("a")
    await s3.join("b")
    s3.join("c")
    io.to("a").to("b").except_("c").emit("ev", 1)
    assert events(c1) == [["ev", 1]]
    assert events(c2) == [["ev", 1]]
    assert events(c3) == [] and events(c4) == []
    await s2.leave("a")
    io.to("a").emit("again")
    assert events(c1) == [["again"]] and events(c2) == []
    io.except_(["a", "c"]).emit("rest")
    assert events(c2) == [["rest"]] and events(c4) == [["rest"]]
    assert events(c1) == [] and events(c3) == []


async def test_broadcast_encodes_once() -> None:
    io = Server()
    pairs = await clients(io, 3)
    io.emit("bin", b"\x01")
    prepared = [conn.prepared[-1] for conn, _ in pairs]
    assert all(p is prepared[0] for p in prepared)
    assert prepared[0].parts == ('51-["bin",{"_placeholder":true,"num":0}]', b"\x01")


async def test_socket_broadcast_excludes_sender() -> None:
    io = Server()
    (c1, s1), (c2, s2), (c3, _) = await clients(io, 3)
    s2.join("r")
    s1.join("r")
    s1.broadcast.emit("all-but-me")
    assert events(c1) == [] and events(c2) == [["all-but-me"]] and events(c3) == [["all-but-me"]]
    s1.to("r").emit("room-but-me")
    assert events(c1) == [] and events(c2) == [["room-but-me"]] and events(c3) == []
    s1.except_("r").emit("none-in-r")
    assert events(c3) == [["none-in-r"]] and events(c2) == []
    s1.local.emit("local")
    assert events(c2) == [["local"]]


async def test_namespaces_are_separate() -> None:
    io = Server()
    io.of("/chat")
    conn, _ = await connect_client(io)
    await connect_client(io, "/chat", conn=conn)
    io.of("/chat").emit("x")
    packets = conn.new_packets()
    assert [(p.nsp, p.data) for p in packets] == [("/chat", ["x"])]
    io.send("hi")
    assert [(p.nsp, p.data) for p in conn.new_packets()] == [("/", ["message", "hi"])]


async def test_broadcast_with_ack_gathers_and_times_out() -> None:
    io = Server()
    async with TestClient(io) as client:
        socks = [await client.connect() for _ in range(3)]
        for i, sock in enumerate(socks):
            sock.on("q", lambda n, i=i: (i * 10, "ignored"))  # the first value counts
        socks[0].on("q2", lambda: "only")  # the others never answer "q2"
        assert sorted(await client.until(io.timeout(1).emit_with_ack("q", 1))) == [0, 10, 20]

        task = asyncio.ensure_future(io.timeout(1).emit_with_ack("q2"))
        await client.clock.advance(0.999)
        assert not task.done()
        await client.clock.advance(0.001)
        with pytest.raises(AckTimeout, match="operation has timed out") as info:
            await task
        assert info.value.responses == ["only"]

        assert await io.to("empty-room").emit_with_ack("nobody") == []


async def test_utility_methods() -> None:
    io = Server()
    (c1, s1), (c2, s2), (_c3, s3) = await clients(io, 3)
    s1.join("a")
    s2.join("a")
    s1.data["n"] = 1
    fetched = await io.in_("a").fetch_sockets()
    assert {s.id for s in fetched} == {s1.id, s2.id}
    assert any(getattr(s, "data", None) == {"n": 1} for s in fetched)
    assert await io.of("/").all_sockets() == {s1.id, s2.id, s3.id}
    assert await io.all_sockets() == {s1.id, s2.id, s3.id}
    assert await io.in_("a").all_sockets() == {s1.id, s2.id}
    assert len(await io.fetch_sockets()) == 3

    io.in_("a").sockets_join(["b", "c"])
    assert s1.rooms == {s1.id, "a", "b", "c"} and s3.rooms == {s3.id}
    io.in_("b").sockets_leave("a")
    assert s2.rooms == {s2.id, "b", "c"}
    io.sockets_join("all")
    assert "all" in s3.rooms
    io.sockets_leave("all")
    assert "all" not in s3.rooms

    io.in_("c").except_(s2.id).disconnect_sockets()
    assert not s1.connected and s2.connected
    assert [p.type for p in c1.new_packets()] == [PacketType.DISCONNECT]
    io.disconnect_sockets(close=True)
    assert not s2.connected and not s3.connected and c2.closed_by_server


async def test_remote_socket_wraps_details() -> None:
    io = Server()
    (c1, s1), _ = await clients(io, 2)
    remote = RemoteSocket(
        io.sockets.adapter,
        {"id": s1.id, "handshake": s1.handshake.to_dict(), "rooms": [s1.id], "data": {"k": 1}},
    )
    assert remote.handshake.address == "10.1.2.3" and remote.rooms == {s1.id}
    remote.emit("hey", 1)
    assert events(c1) == [["hey", 1]]
    remote.join("x")
    assert "x" in s1.rooms
    remote.leave("x")
    assert "x" not in s1.rooms
    task = asyncio.ensure_future(remote.timeout(1).emit_with_ack("q"))
    await settle()
    sent = c1.new_packets()[-1]
    c1.inject(Packet(PacketType.ACK, "/", ["single"], sent.id))
    assert await task == "single"
    with pytest.raises(AckTimeout) as info:
        await remote.timeout(0.01).emit_with_ack("q")
    assert info.value.responses is None
    remote.disconnect()
    assert not s1.connected


async def test_server_side_emit_single_server() -> None:
    io = Server()
    got: list[Any] = []
    io.on("hello", lambda *a: got.append(a))
    io.server_side_emit("hello", 1)
    assert await io.server_side_emit_with_ack("ping") == []
    assert await io.of("/x").server_side_emit_with_ack("ping", timeout=1) == []
    assert got == []
    io.sockets.deliver_server_side_emit(["hello", "from", "elsewhere"])
    answers: list[Any] = []
    io.on("ask", lambda x: x * 2)
    io.sockets.deliver_server_side_emit(["ask", 21], answers.append)
    assert got == [("from", "elsewhere")] and answers == [42]


async def test_reserved_names_in_server_side_emit() -> None:
    from aiosocketio import LocalProtocolError

    io = Server()
    with pytest.raises(LocalProtocolError):
        io.server_side_emit("disconnect")


async def test_broadcast_ack_without_timeout_stops_waiting_for_departed_clients() -> None:
    io = Server()
    (c1, _), (c2, _) = await clients(io, 2)
    task = asyncio.ensure_future(io.emit_with_ack("q"))
    await settle()
    sent = c1.new_packets()[-1]
    c1.inject(Packet(PacketType.ACK, "/", ["one"], sent.id))
    await settle()
    assert not task.done()
    c2.client_close("transport close")
    assert await asyncio.wait_for(task, 1) == ["one"]
