"""aiosocketio.testing: the real client and server in one process, the clock moved by hand.

The timings asserted are the protocol's own (pingInterval 25 s, pingTimeout 20 s, the
reconnection delay): the clock is virtual, so they are exact and the tests take
milliseconds.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from aiosocketio import Server, Socket
from aiosocketio.exceptions import ConnectError, ConnectionRefused
from aiosocketio.testing import ManualClock, NothingHappened, TestClient


def make_app() -> tuple[Server, list[tuple[str, str]]]:
    io = Server()
    disconnects: list[tuple[str, str]] = []

    @io.use
    def auth(socket: Socket) -> None:
        if socket.handshake.auth.get("token") == "bad":
            raise ConnectionRefused("not authorized", {"code": 401})

    @io.on("connection")
    def connection(socket: Socket) -> None:
        socket.emit("welcome", socket.handshake.auth.get("name", "anonymous"))

        @socket.on("hello")
        def hello(name: str) -> str:
            return f"hi {name}"

        @socket.on("shout")
        def shout(text: str) -> None:
            io.emit("shouted", text.upper())

        @socket.on("slow")
        async def slow() -> str:
            await asyncio.sleep(10)
            return "done"

        @socket.on("disconnect")
        def gone(reason: str, *details: Any) -> None:
            disconnects.append((socket.id, reason))

    return io, disconnects


async def test_connect_emit_ack_and_broadcast() -> None:
    io, _ = make_app()
    async with TestClient(io) as client:
        alice = await client.connect(auth={"name": "alice"})
        bob = await client.connect(auth={"name": "bob"})
        assert await alice.receive("welcome") == ("alice",)
        assert await alice.emit_with_ack("hello", "alice") == "hi alice"
        bob.emit("shout", "hey")
        assert await alice.receive("shouted") == ("HEY",)
        assert await bob.receive("shouted") == ("HEY",)
        assert alice.id in io.of("/").sockets and bob.id in io.of("/").sockets
        assert len(io.engine.clients) == 2


async def test_refused_connection_raises_connect_error() -> None:
    io, _ = make_app()
    async with TestClient(io) as client:
        with pytest.raises(ConnectError) as info:
            await client.connect(auth={"token": "bad"})
        assert info.value.message == "not authorized"
        assert info.value.data == {"code": 401}


async def test_missing_event_fails_at_once_instead_of_hanging() -> None:
    io, _ = make_app()
    async with TestClient(io) as client:
        sock = await client.connect()
        started = time.monotonic()
        with pytest.raises(NothingHappened, match="unread: \\['welcome'\\]"):
            await sock.receive("never")
        with pytest.raises(NothingHappened, match="no ack to 'slow'"):
            await sock.emit_with_ack("slow")
        assert time.monotonic() - started < 5  # real seconds: no waiting happened


async def test_async_handler_sleeps_in_virtual_time() -> None:
    io, _ = make_app()
    async with TestClient(io) as client:
        sock = await client.connect()
        answer = asyncio.ensure_future(sock.socket.emit_with_ack("slow"))
        await client.clock.advance(9.999)
        assert not answer.done()
        await client.clock.advance(0.001)
        assert answer.done() and answer.result() == "done"


async def test_heartbeat_keeps_a_live_client_connected() -> None:
    io, disconnects = make_app()
    pings: list[float] = []
    async with TestClient(io) as client:
        sock = await client.connect()
        conn = io.engine.clients[sock.socket.io.engine.sid]  # type: ignore[union-attr,index]
        conn.on("heartbeat", lambda: pings.append(client.clock.elapsed))
        await client.clock.advance(24.999)
        assert pings == []
        await client.clock.advance(0.001)
        assert pings == [25.0]  # the ping went out and its pong came back at once
        await client.clock.advance(600)
        assert len(pings) == 25 and sock.connected and disconnects == []


async def test_a_silent_client_is_closed_with_ping_timeout() -> None:
    io, disconnects = make_app()
    async with TestClient(io) as client:
        sock = await client.connect()
        sid = sock.id
        sock.network(up=False)  # the ping is lost, so is the pong
        await client.clock.advance(25 + 20 - 0.001)
        assert disconnects == [] and sid in io.of("/").sockets
        await client.clock.advance(0.001)
        assert disconnects == [(sid, "ping timeout")]
        assert sock.disconnect_reasons == ["ping timeout"]  # the client's check, same time


async def test_the_client_reconnects_after_the_backoff_delay() -> None:
    io, disconnects = make_app()
    clock = ManualClock()
    async with TestClient(io, clock=clock) as client:
        sock = await client.connect(reconnection=True, reconnection_delay=2, randomization_factor=0)
        first = sock.id
        sock.network(up=False)
        await clock.advance(45)
        assert not sock.connected and disconnects == [(first, "ping timeout")]
        await clock.advance(1.999)
        assert not sock.connected
        await clock.advance(0.001)
        assert sock.connected and sock.id != first
        assert [name for name, _ in sock.received] == ["welcome", "welcome"]


async def test_connect_timeout_closes_a_connection_without_namespace() -> None:
    io = Server(connect_timeout=45)
    async with TestClient(io) as client:
        manager = client.manager()
        manager.open()
        await client.settle()
        assert len(io.engine.clients) == 1
        await client.clock.advance(44.999)
        assert len(io.engine.clients) == 1
        await client.clock.advance(0.001)
        assert len(io.engine.clients) == 0


async def test_oversized_message_closes_like_the_front_ends() -> None:
    io = Server(max_http_buffer_size=1000)
    async with TestClient(io) as client:
        sock = await client.connect()
        sock.emit("big", "x" * 2000)
        await client.settle()
        assert len(io.engine.clients) == 0
        assert sock.disconnect_reasons == ["transport error"]


async def test_the_clock_is_given_back() -> None:
    io, _ = make_app()
    loop = asyncio.get_running_loop()
    before = loop.time()
    async with TestClient(io) as client:
        await client.clock.advance(1000)
        assert loop.time() >= before + 1000
    assert abs(loop.time() - time.monotonic()) < 1


def test_a_test_that_waits_without_moving_the_clock_fails_instead_of_hanging() -> None:
    from aiosocketio.testing import ClockStalled

    async def forgot_to_advance() -> None:
        async with ManualClock(stall_timeout=0.2):
            await asyncio.sleep(5)  # only the clock can end this

    started = time.monotonic()
    with pytest.raises(ClockStalled, match="advance the clock"):
        asyncio.run(forgot_to_advance())
    assert time.monotonic() - started < 5
