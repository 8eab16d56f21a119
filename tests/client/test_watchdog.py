"""Heartbeat watchdog and bad input, against a scripted WebSocket server."""

from __future__ import annotations

import asyncio

import pytest

from aiosocketio.client import ClientSocket, connect
from tests.client.fake_server import FakeWebSocketPeer, accept_namespace, fake_websocket_server
from tests.support.timeouts import scaled

pytestmark = pytest.mark.usefixtures("settle")


async def connect_once(port: int) -> ClientSocket:
    """A WebSocket-only client of the fake server on ``port``, without reconnection."""
    return await connect(
        f"http://127.0.0.1:{port}", transports=["websocket"], reconnection=False, force_new=True
    )


async def test_no_ping_closes_with_ping_timeout() -> None:
    async def silent(peer: FakeWebSocketPeer) -> None:
        await accept_namespace(peer)
        await asyncio.sleep(10)

    async with fake_websocket_server(silent) as port:
        sock = await connect_once(port)
        reasons: asyncio.Queue[str] = asyncio.Queue()
        sock.on("disconnect", reasons.put_nowait)
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await asyncio.wait_for(reasons.get(), scaled(5)) == "ping timeout"
        # pingInterval + pingTimeout = 0.2 s
        assert 0.15 <= loop.time() - started < scaled(2)
        sock.disconnect()


async def test_pings_keep_the_connection_and_get_pongs() -> None:
    pongs: list[str | bytes] = []

    async def pinging(peer: FakeWebSocketPeer) -> None:
        await accept_namespace(peer)
        for _ in range(20):
            await asyncio.sleep(0.08)
            peer.send("2")
            pongs.append(await peer.receive())
        await asyncio.sleep(10)

    async with fake_websocket_server(pinging) as port:
        sock = await connect_once(port)
        pings: list[bool] = []
        sock.io.on("ping", lambda: pings.append(True))
        await asyncio.sleep(0.6)
        assert sock.connected
        assert pongs[:5] == ["3"] * 5
        assert len(pings) >= 5  # the manager's "ping" event
        sock.disconnect()


@pytest.mark.parametrize(
    "packet", ["4" + "2[not json", "9what"], ids=["socketio-packet", "engineio-packet"]
)
async def test_garbage_from_the_server_is_a_parse_error(packet: str) -> None:
    async def garbage(peer: FakeWebSocketPeer) -> None:
        await accept_namespace(peer)
        await asyncio.sleep(0.1)  # let the test attach its listener
        peer.send(packet)
        await asyncio.sleep(10)

    async with fake_websocket_server(garbage) as port:
        sock = await connect_once(port)
        reasons: asyncio.Queue[str] = asyncio.Queue()
        sock.on("disconnect", reasons.put_nowait)
        assert await asyncio.wait_for(reasons.get(), scaled(5)) == "parse error"
        sock.disconnect()


async def test_server_close_packet_is_transport_close_and_reconnects() -> None:
    connections = 0

    async def closing(peer: FakeWebSocketPeer) -> None:
        nonlocal connections
        connections += 1
        await accept_namespace(peer)
        if connections == 1:
            await asyncio.sleep(0.1)
            peer.send("1")
        await asyncio.sleep(10)

    async with fake_websocket_server(closing) as port:
        sock = await connect(
            f"http://127.0.0.1:{port}",
            transports=["websocket"],
            reconnection_delay=0.01,
            force_new=True,
        )
        reasons: asyncio.Queue[str] = asyncio.Queue()
        sock.on("disconnect", reasons.put_nowait)
        reconnected: asyncio.Queue[int] = asyncio.Queue()
        sock.io.on("reconnect", reconnected.put_nowait)
        assert await asyncio.wait_for(reasons.get(), scaled(5)) == "transport close"
        assert await asyncio.wait_for(reconnected.get(), scaled(5)) == 1
        await sock.wait_connected(scaled(5))
        sock.disconnect()


async def test_acks_from_handlers_and_none_from_a_failing_one() -> None:
    replies: asyncio.Queue[str | bytes] = asyncio.Queue()

    async def script(peer: FakeWebSocketPeer) -> None:
        await accept_namespace(peer)
        await asyncio.sleep(0.1)
        peer.send('421["boom"]')
        peer.send('422["fine",1]')
        peer.send('423[42,"numeric"]')
        peer.send('424["many"]')
        while True:
            await replies.put(await peer.receive())

    async with fake_websocket_server(script) as port:
        sock = await connect_once(port)

        @sock.on("boom")
        def boom() -> None:
            raise RuntimeError("handler bug")  # logged; no ack is sent

        sock.on("fine", lambda x: x + 1)
        sock.on("42", lambda s: s.upper())
        sock.on("many", lambda: (1, None, "three"))
        got = [await asyncio.wait_for(replies.get(), scaled(5)) for _ in range(3)]
        assert got == ["432[2]", '433["NUMERIC"]', '434[1,null,"three"]']
        assert replies.empty()
        sock.emit(7, "numbered")
        assert await asyncio.wait_for(replies.get(), scaled(5)) == '42[7,"numbered"]'
        sock.disconnect()
