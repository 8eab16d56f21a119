"""Unit tests of Socket, without network: through aiosocketio.testing's real client and
manual clock where the client's view tells, through a fake Engine.IO connection where the
exact packets written matter."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aiosocketio import (
    AckTimeout,
    ConnectError,
    ConnectionRefused,
    Disconnected,
    LocalProtocolError,
    Server,
)
from aiosocketio.protocol.socketio.packets import Packet, PacketType
from aiosocketio.server import Socket
from aiosocketio.testing import TestClient
from tests.server.fakes import FakeConn, connect_client, event, open_conn, settle


def only_socket(server: Server, nsp: str = "/") -> Socket:
    sockets = list(server.of(nsp).sockets.values())
    assert len(sockets) == 1
    return sockets[0]


async def test_connect_reply_has_sid_distinct_from_engine_id() -> None:
    io = Server()
    seen: list[Socket] = []
    io.on("connection", seen.append)
    conn, answer = await connect_client(io)
    assert answer.type == PacketType.CONNECT
    sid = answer.data["sid"]
    assert len(sid) == 20 and sid != conn.id
    assert seen[0].id == sid and seen[0].connected
    assert seen[0].rooms == {sid}


async def test_handshake_fields() -> None:
    io = Server()
    conn = FakeConn(
        headers={"host": "h", "origin": "http://x"},
        query_string="EIO=4&transport=polling&token=abc",
        secure=True,
    )
    await open_conn(io, conn)
    await connect_client(io, auth={"token": "t"}, conn=conn)
    hs = only_socket(io).handshake
    assert hs.headers["origin"] == "http://x"
    assert hs.address == "10.1.2.3"
    assert hs.xdomain is True and hs.secure is True
    assert hs.query["token"] == "abc"
    assert hs.url == "/socket.io/?EIO=4&transport=polling&token=abc"
    assert hs.auth == {"token": "t"}
    assert hs.issued > 1_600_000_000_000 and "GMT" in hs.time
    assert hs.to_dict()["auth"] == {"token": "t"}


async def test_events_and_return_value_ack() -> None:
    io = Server()
    got: list[Any] = []

    @io.on("connection")
    def on_conn(socket: Socket) -> None:
        @socket.on("sync")
        def sync(a: int, b: bytes) -> tuple[int, bytes]:
            got.append((a, b))
            return a + 1, b + b"!"

        @socket.on("async")
        async def asyn(x: str) -> str:
            await asyncio.sleep(0)
            return x.upper()

        @socket.on("none")
        def none() -> None:
            return None

    async with TestClient(io) as client:
        sock = await client.connect()
        assert await sock.emit_with_ack("sync", 1, b"\x00") == (2, b"\x00!")
        assert await sock.emit_with_ack("async", "hi") == "HI"
        assert await sock.emit_with_ack("none") is None
    assert got == [(1, b"\x00")]


async def test_node_style_ack_parameter() -> None:
    io = Server()

    @io.on("connection")
    def on_conn(socket: Socket) -> None:
        @socket.on("cb")
        def cb(x: int, ack: Any = None) -> str:
            assert ack is not None
            ack(x, "two")
            ack("ignored: only the first call answers")
            return "ignored"

        @socket.on("cb2")
        def cb2(callback: Any = None) -> None:
            assert callback is None

    conn, _ = await connect_client(io)
    conn.inject(event("/", "cb", 5, id=1))
    conn.inject(event("/", "cb2"))
    await settle()
    acks = conn.new_packets()
    assert [(p.id, p.data) for p in acks] == [(1, [5, "two"])]


async def test_emit_reserved_raises_and_int_event() -> None:
    io = Server()
    conn, _ = await connect_client(io)
    socket = only_socket(io)
    with pytest.raises(LocalProtocolError, match='"disconnect" is a reserved event name'):
        socket.emit("disconnect")
    with pytest.raises(LocalProtocolError):
        io.emit("connect")
    with pytest.raises(LocalProtocolError):
        socket.to("x").emit("disconnecting")
    socket.emit(42, {"a": [1, b"\x02"]})
    socket.send("m")
    assert conn.raw[-3:] == [
        '51-[42,{"a":[1,{"_placeholder":true,"num":0}]}]',
        b"\x02",
        '2["message","m"]',
    ]
    packets = conn.new_packets()
    assert packets[-2].data == [42, {"a": [1, b"\x02"]}]
    assert packets[-1].data == ["message", "m"]


async def test_emit_is_one_plain_frame() -> None:
    io = Server()
    conn, _ = await connect_client(io)
    only_socket(io).emit("hello", "world")
    assert conn.raw[-1] == '2["hello","world"]'


async def test_emit_with_ack_and_timeout() -> None:
    io = Server()
    async with TestClient(io) as client:
        sock = await client.connect()
        sock.on("q", lambda n: "answer")
        sock.on("q2", lambda: (1, 2))
        socket = only_socket(io)
        assert await client.until(socket.emit_with_ack("q", 1)) == "answer"
        assert await client.until(socket.emit_with_ack("q2")) == (1, 2)

        never = asyncio.ensure_future(socket.timeout(5).emit_with_ack("never"))
        await client.clock.advance(4.999)
        assert not never.done()
        await client.clock.advance(0.001)
        with pytest.raises(AckTimeout, match="operation has timed out") as info:
            await never
        assert isinstance(info.value, TimeoutError)
        assert not socket._acks
        # no timed ack in flight, no timer table
        assert socket._ack_timers is None


async def test_timed_acks_share_one_timer_table_made_on_demand() -> None:
    io = Server()
    conn, _ = await connect_client(io)
    socket = only_socket(io)
    assert socket._acks is None and socket._ack_timers is None  # none until the first
    slow = asyncio.ensure_future(socket.timeout(5).emit_with_ack("slow"))
    fast = asyncio.ensure_future(socket.timeout(0.01).emit_with_ack("fast"))
    plain = asyncio.ensure_future(socket.emit_with_ack("plain"))
    await settle()
    assert socket._acks is not None and len(socket._acks) == 3
    assert socket._ack_timers is not None and len(socket._ack_timers) == 2  # one timer
    with pytest.raises(AckTimeout):
        await fast
    sent = {p.data[0]: p.id for p in conn.new_packets()}
    conn.inject(Packet(PacketType.ACK, "/", ["s"], sent["slow"]))
    conn.inject(Packet(PacketType.ACK, "/", ["p"], sent["plain"]))
    conn.inject(Packet(PacketType.ACK, "/", ["late"], sent["fast"]))  # ignored
    assert await slow == "s"
    assert await plain == "p"
    assert not socket._acks and socket._ack_timers is None


async def test_emit_with_ack_fails_on_disconnect() -> None:
    io = Server()
    async with TestClient(io) as client:
        sock = await client.connect()
        socket = only_socket(io)
        task = asyncio.ensure_future(socket.emit_with_ack("q"))
        await client.settle()
        await sock.disconnect()
        with pytest.raises(Disconnected) as info:
            await task
        assert info.value.reason == "client namespace disconnect"
        with pytest.raises(Disconnected):
            await socket.emit_with_ack("late")
        socket.emit("dropped silently")


async def test_volatile_and_compress_flags() -> None:
    io = Server()
    conn, _ = await connect_client(io)
    socket = only_socket(io)
    socket.volatile.emit("v")
    socket.compress(False).emit("c")
    io.volatile.emit("bv")
    assert conn.volatile_flags[-3:] == [True, False, True]


async def test_disconnecting_keeps_rooms_then_disconnect() -> None:
    io = Server()
    log: list[Any] = []

    @io.on("connection")
    def on_conn(socket: Socket) -> None:
        socket.join(["a", "b"])
        socket.on("disconnecting", lambda reason: log.append(("ing", reason, socket.rooms)))
        socket.on("disconnect", lambda reason: log.append(("ed", reason, socket.rooms)))

    conn, ans = await connect_client(io)
    sid = ans.data["sid"]
    conn.inject(Packet(PacketType.DISCONNECT, "/"))
    await settle()
    assert log == [
        ("ing", "client namespace disconnect", {sid, "a", "b"}),
        ("ed", "client namespace disconnect", set()),
    ]
    nsp = io.of("/")
    assert nsp.adapter.rooms == {} and nsp.adapter.sids == {} and nsp.sockets == {}


@pytest.mark.parametrize(
    ("close", "reason"),
    [("transport close", "transport close"), ("ping timeout", "ping timeout")],
)
async def test_engine_close_reasons(close: str, reason: str) -> None:
    io = Server()
    reasons: list[str] = []
    io.on("connection", lambda s: s.on("disconnect", reasons.append))
    conn, _ = await connect_client(io)
    conn.client_close(close)
    assert reasons == [reason]


async def test_server_disconnect_and_close() -> None:
    io = Server()
    reasons: list[str] = []
    io.on("connection", lambda s: s.on("disconnect", reasons.append))
    conn, _ = await connect_client(io)
    only_socket(io).disconnect()
    assert conn.new_packets()[-1].type == PacketType.DISCONNECT
    assert reasons == ["server namespace disconnect"] and conn.ready_state == "open"

    conn2, _ = await connect_client(io)
    only_socket(io).disconnect(close=True)
    assert conn2.new_packets()[-1].type == PacketType.DISCONNECT
    assert conn2.closed_by_server
    assert reasons == ["server namespace disconnect"] * 2


async def test_parse_error_closes() -> None:
    io = Server()
    reasons: list[str] = []
    errors: list[BaseException] = []

    @io.on("connection")
    def on_conn(socket: Socket) -> None:
        socket.on("disconnect", reasons.append)
        socket.on("error", errors.append)

    conn, _ = await connect_client(io)
    conn.inject_raw('2["unterminated')
    assert reasons == ["parse error"] and conn.closed_by_server and len(errors) == 1
    conn2, _ = await connect_client(io)
    conn2.inject_raw('2["disconnect"]')
    assert reasons[-1] == "parse error" and conn2.closed_by_server


async def test_invalid_state_closes_connection() -> None:
    io = Server()
    reasons: list[str] = []
    io.on("connection", lambda s: s.on("disconnect", reasons.append))
    conn, _ = await connect_client(io)
    conn.inject(Packet(PacketType.CONNECT, "/"))
    assert reasons == ["forced server close"] and conn.closed_by_server
    conn2 = await open_conn(io)
    conn2.inject(event("/", "not connected yet"))
    assert conn2.closed_by_server


async def test_per_packet_middlewares_and_error_listener() -> None:
    io = Server()
    got: list[Any] = []
    errors: list[str] = []

    @io.on("connection")
    def on_conn(socket: Socket) -> None:
        @socket.use
        def first(packet: list[Any]) -> None:
            packet.append("added")

        @socket.use
        async def second(packet: list[Any]) -> None:
            await asyncio.sleep(0)
            if packet[0] == "forbidden":
                raise ValueError("unauthorized event")

        socket.on("ok", lambda *a: got.append(a))
        socket.on("forbidden", lambda *a: got.append(("forbidden", a)))

        @socket.on("error")
        def on_error(err: Exception) -> None:
            errors.append(str(err))
            socket.disconnect()

    conn, _ = await connect_client(io)
    conn.inject(event("/", "ok", 1))
    conn.inject(event("/", "forbidden", 2))
    await settle(10)
    assert got == [(1, "added")]
    assert errors == ["unauthorized event"]
    assert conn.new_packets()[-1].type == PacketType.DISCONNECT


async def test_any_listeners() -> None:
    io = Server()
    log: list[Any] = []

    @io.on("connection")
    def on_conn(socket: Socket) -> None:
        socket.on_any(lambda *a: log.append(("any", *a)))
        socket.prepend_any(lambda *a: log.append(("first", *a)))
        socket.on_any_outgoing(lambda *a: log.append(("out", *a)))
        fn = socket.on_any(lambda *a: log.append(("removed", *a)))
        socket.off_any(fn)
        assert len(socket.listeners_any()) == 2
        assert len(socket.listeners_any_outgoing()) == 1

    conn, _ = await connect_client(io)
    conn.inject(event("/", "e", 1))
    socket = only_socket(io)
    socket.emit("o", 2)
    io.emit("b", 3)
    assert log == [("first", "e", 1), ("any", "e", 1), ("out", "o", 2), ("out", "b", 3)]
    socket.off_any()
    socket.off_any_outgoing()
    assert socket.listeners_any() == [] and socket.listeners_any_outgoing() == []


async def test_once_off_and_listener_errors_are_contained() -> None:
    io = Server()
    log: list[Any] = []

    @io.on("connection")
    def on_conn(socket: Socket) -> None:
        socket.once("one", lambda: log.append("once"))

        def boom() -> None:
            raise RuntimeError("handler bug")

        socket.on("boom", boom)
        h = socket.on("gone", lambda: log.append("gone"))
        socket.off("gone", h)

    conn, _ = await connect_client(io)
    for name in ("one", "one", "boom", "gone"):
        conn.inject(event("/", name))
    await settle()
    assert log == ["once"]
    assert only_socket(io).connected


async def test_connection_middlewares_in_order_and_refusal() -> None:
    io = Server()
    order: list[str] = []

    @io.use
    def first(socket: Socket) -> None:
        order.append("first")
        socket.data["user"] = socket.handshake.auth.get("user")

    @io.use
    async def second(socket: Socket) -> None:
        await asyncio.sleep(0)
        order.append("second")
        if socket.data["user"] is None:
            raise ConnectionRefused("not authorized", {"content": "retry later"})

    @io.use
    def third(socket: Socket) -> None:
        order.append("third")

    nsp = io.of("/plain")

    @nsp.use
    def plain(socket: Socket) -> None:
        raise ValueError("nope")

    async with TestClient(io) as client:
        await client.connect(auth={"user": "bob"})
        assert order == ["first", "second", "third"]
        assert only_socket(io).data == {"user": "bob"}
        order.clear()
        with pytest.raises(ConnectError) as info:
            await client.connect()
        assert (info.value.message, info.value.data) == (
            "not authorized",
            {"content": "retry later"},
        )
        assert order == ["first", "second"]
        with pytest.raises(ConnectError) as info:
            await client.connect("/plain")
        assert (info.value.message, info.value.data) == ("nope", None)


async def test_invalid_namespace_and_connect_timeout() -> None:
    io = Server(connect_timeout=45)
    async with TestClient(io) as client:
        with pytest.raises(ConnectError, match="Invalid namespace"):
            await client.connect("/nowhere")
        client.manager().open()  # a connection that joins no namespace
        await client.settle()
        assert len(io.engine.clients) == 1
        await client.clock.advance(44.999)
        assert len(io.engine.clients) == 1
        await client.clock.advance(0.001)
        assert len(io.engine.clients) == 0  # closed at connect_timeout
        await client.connect()
        await client.clock.advance(100)
        assert len(io.engine.clients) == 1  # a connected client stays


async def test_rooms_joined_in_a_refusing_middleware_are_left() -> None:
    io = Server()

    @io.use
    def mw(socket: Socket) -> None:
        socket.join("vip")
        if not socket.handshake.auth.get("ok"):
            raise ConnectionRefused("no")

    _, answer = await connect_client(io, auth={"ok": True})
    assert answer.type == PacketType.CONNECT
    sid = answer.data["sid"]
    _, answer = await connect_client(io)
    assert answer.type == PacketType.CONNECT_ERROR
    assert io.sockets.adapter.rooms["vip"] == {sid}
    socket = only_socket(io)
    socket.disconnect()
    socket.join("after")
    assert io.sockets.adapter.rooms == {} and io.sockets.adapter.sids == {}


async def test_double_connect_during_async_middleware_closes() -> None:
    io = Server()

    @io.use
    async def slow(socket: Socket) -> None:
        await asyncio.sleep(0.01)

    conn = await open_conn(io)
    conn.inject(Packet(PacketType.CONNECT, "/"))
    conn.inject(Packet(PacketType.CONNECT, "/"))
    await asyncio.sleep(0.05)
    assert conn.closed_by_server
    assert io.sockets.sockets == {} and io.sockets.adapter.sids == {}


async def test_close_on_long_polling_waits_for_the_disconnect_to_be_fetched() -> None:
    io = Server()
    reasons: list[str] = []
    io.on("connection", lambda s: s.on("disconnect", reasons.append))
    conn = await open_conn(io, FakeConn(transport="polling"))
    await connect_client(io, conn=conn)
    only_socket(io).disconnect(close=True)
    assert reasons == ["server namespace disconnect"]
    assert conn.new_packets()[-1].type == PacketType.DISCONNECT
    assert conn.ready_state == "open" and not conn.closed_by_server
    conn.drain()
    assert conn.closed_by_server


async def test_emit_in_a_middleware_precedes_connect_and_emit_after_disconnect_is_dropped() -> None:
    io = Server()

    @io.use
    def greet(socket: Socket) -> None:
        socket.emit("early", 1)

    conn = await open_conn(io)
    conn.inject(Packet(PacketType.CONNECT, "/"))
    await settle()
    packets = conn.new_packets()
    assert [p.type for p in packets] == [PacketType.EVENT, PacketType.CONNECT]
    socket = only_socket(io)
    socket.disconnect()
    conn.new_packets()
    socket.emit("late")
    assert conn.new_packets() == []


async def test_disconnect_listeners_may_take_the_description() -> None:
    io = Server()
    log: list[Any] = []

    class Handlers:
        def with_description(self, reason: str, description: Any) -> None:
            log.append(("method", reason, description))

    @io.on("connection")
    def on_conn(socket: Socket) -> None:
        socket.on("disconnecting", lambda reason, description: log.append((reason, description)))
        socket.on("disconnect", lambda reason: log.append((reason,)))
        socket.on("disconnect", Handlers().with_description)
        socket.on("disconnect", lambda *args: log.append(("varargs", *args)))

    conn, _ = await connect_client(io)
    conn.client_close("transport error", "websocket closed with code 1006")
    assert log == [
        ("transport error", "websocket closed with code 1006"),
        ("transport error",),
        ("method", "transport error", "websocket closed with code 1006"),
        ("varargs", "transport error"),
    ]
