"""Connection state recovery (Node's ``connectionStateRecovery``), with fake connections."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aiosocketio import ConnectionRefused, Server
from aiosocketio.adapters.memory import SessionAwareAdapter
from aiosocketio.protocol.socketio.packets import Packet, PacketType
from aiosocketio.server import Socket
from tests.server.fakes import FakeConn, connect_client, settle


async def first_session(io: Server) -> tuple[FakeConn, Socket, str]:
    conn, answer = await connect_client(io)
    assert set(answer.data) == {"sid", "pid"}
    socket = io.sockets.sockets[answer.data["sid"]]
    socket.join("r")
    socket.data["user"] = "ann"
    io.to("r").emit("seen", 1)
    last = conn.new_packets()[-1]
    offset = last.data[-1]
    assert last.data[:2] == ["seen", 1] and isinstance(offset, str)
    return conn, socket, offset


async def test_recovery_restores_id_rooms_data_and_missed_events() -> None:
    io = Server(connection_state_recovery=True)
    assert isinstance(io.sockets.adapter, SessionAwareAdapter)
    conn, socket, offset = await first_session(io)
    conn.client_close("transport close")
    io.to("r").emit("missed-room", b"\x01")
    io.emit("missed-all")
    io.to("elsewhere").emit("not-for-me")
    io.except_("r").emit("excluded")
    io.volatile.emit("volatile-not-kept")

    auth = {"pid": socket.pid, "offset": offset}
    conn2, _ = await connect_client(io, auth=auth)
    packets = [p for p in conn2.packets() if p.nsp == "/"]
    events = [p.data[:-1] for p in packets if p.type in (PacketType.EVENT, 5)]
    assert events == [["missed-room", b"\x01"], ["missed-all"]]
    connect = packets[-1]
    assert connect.type == PacketType.CONNECT
    assert connect.data == {"sid": socket.id, "pid": socket.pid}
    restored = io.sockets.sockets[socket.id]
    assert restored is not socket and restored.recovered
    assert restored.rooms == {socket.id, "r"} and restored.data == {"user": "ann"}

    # a session is restored once; later it is kept again at the next disconnection
    _, answer = await connect_client(io, auth=auth)
    assert answer.data["sid"] != socket.id


async def test_plain_emits_are_kept_too() -> None:
    io = Server(connection_state_recovery={"max_disconnection_duration": 5})
    conn, socket, offset = await first_session(io)
    socket.emit("direct", 2)
    assert conn.new_packets()[-1].data[:2] == ["direct", 2]
    conn.client_close("ping timeout")
    io.to(socket.id).emit("while-away")
    conn2, _ = await connect_client(io, auth={"pid": socket.pid, "offset": offset})
    packets = conn2.packets()
    events = [p.data[:-1] for p in packets if p.type == PacketType.EVENT]
    assert events == [["direct", 2], ["while-away"]]
    assert packets[-1].type == PacketType.CONNECT and packets[-1].data["sid"] == socket.id


@pytest.mark.parametrize(
    ("reason", "auth_change"),
    [
        ("client namespace disconnect", {}),
        ("transport close", {"offset": "unknown-offset"}),
        ("transport close", {"pid": "unknown-pid"}),
    ],
)
async def test_no_recovery(reason: str, auth_change: dict[str, Any]) -> None:
    io = Server(connection_state_recovery=True)
    conn, socket, offset = await first_session(io)
    if reason == "client namespace disconnect":
        conn.inject(Packet(PacketType.DISCONNECT, "/"))
    else:
        conn.client_close(reason)
    auth = {"pid": socket.pid, "offset": offset, **auth_change}
    _, answer = await connect_client(io, auth=auth)
    assert answer.data["sid"] != socket.id
    new = io.sockets.sockets[answer.data["sid"]]
    assert not new.recovered and new.rooms == {new.id}


async def test_sessions_expire() -> None:
    io = Server(connection_state_recovery={"max_disconnection_duration": 0.02})
    conn, socket, offset = await first_session(io)
    conn.client_close("transport error")
    await asyncio.sleep(0.05)
    _, answer = await connect_client(io, auth={"pid": socket.pid, "offset": offset})
    assert answer.data["sid"] != socket.id


async def test_middlewares_run_unless_skipped() -> None:
    io = Server(connection_state_recovery={"skip_middlewares": False})
    calls: list[Any] = []

    @io.use
    def gate(socket: Socket) -> None:
        calls.append(socket.recovered)
        if socket.handshake.auth.get("deny"):
            raise ConnectionRefused("denied")

    conn, socket, offset = await first_session(io)
    conn.client_close("transport close")
    io.to("r").emit("secret")
    conn2, answer = await connect_client(
        io, auth={"pid": socket.pid, "offset": offset, "deny": True}
    )
    assert answer.type == PacketType.CONNECT_ERROR
    # refused: nothing of the old session leaked to this connection
    assert [p.type for p in conn2.packets()] == [PacketType.CONNECT_ERROR]
    assert io.sockets.adapter.rooms.get("r") is None
    assert calls == [False, True]


async def test_options_are_checked() -> None:
    with pytest.raises(TypeError):
        Server(connection_state_recovery={"max_duration": 1})
    io = Server()
    _, answer = await connect_client(io)
    assert set(answer.data) == {"sid"}
    await settle()


@pytest.mark.interop
@pytest.mark.parametrize("mode", ["websocket", "polling", "upgrade"])
async def test_recovery_with_socket_io_client(mode: str) -> None:
    from tests.support.node import run_node

    io = Server(connection_state_recovery=True)
    reasons: list[str] = []

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        @socket.on("join-news")
        def join_news() -> None:
            socket.join("news")
            asyncio.get_running_loop().call_soon(io.to("news").emit, "news", 1)

        @socket.on("drop-me")
        def drop_me() -> None:
            socket.conn.close()

        @socket.on("disconnect")
        def on_disconnect(reason: str) -> None:
            reasons.append(reason)
            io.to("news").emit("news", 2)  # missed by the client, replayed on recovery

        @socket.on("my-rooms")
        def my_rooms() -> list[str]:
            return sorted(socket.rooms - {socket.id})

    await io.listen(0, "127.0.0.1")
    try:
        result = await run_node("server_recovery.js", f"http://127.0.0.1:{io.port}", mode)
    finally:
        await io.close()
    result.check()
    line = result.lines[-1]
    assert line == {
        "firstRecovered": False,
        "reason": "transport close",
        "recovered": True,
        "sameId": True,
        "news": [1, 2],
        "rooms": ["news"],
    }, result.stdout + result.stderr
    assert reasons[0] == "forced close"
