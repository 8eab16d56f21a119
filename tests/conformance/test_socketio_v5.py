"""Socket.IO v5 protocol conformance, written from docs/socket.io-protocol/v5-current.md.

Every behaviour checked by the official v5 test suite is checked here (its Engine.IO
handshake, heartbeat and close cases in test_engine_layer.py), against each front
end (built-in server, ASGI under uvicorn) and against the npm socket.io reference server.

The server under test: pingInterval 300 ms, pingTimeout 200 ms, connectTimeout 1000 ms,
path /socket.io/. Namespaces "/" and "/custom" emit "auth" with the handshake auth on
connect; "/" echoes "message" as "message-back" and acknowledges "message-with-ack"
with its arguments.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest

from tests.conformance.helpers import (
    FRONTENDS,
    WS,
    Target,
    http_client,
    open_polling_session,
    refused_or_closed,
    session_url,
    start_target,
    text,
    websocket,
    with_retries,
    ws_url,
)


@pytest.fixture(scope="module", params=FRONTENDS)
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    yield from start_target("socketio", request.param)


@asynccontextmanager
async def connected(target: Target) -> AsyncIterator[WS]:
    """A WebSocket session connected to the main namespace (handshake and auth read)."""
    async with websocket(ws_url(target)) as ws:
        text(await ws.recv())  # Engine.IO handshake
        await ws.send("40")
        assert text(await ws.recv_skip_pings()).startswith("40")  # Socket.IO handshake
        assert await ws.recv_skip_pings() == '42["auth",{}]'
        yield ws


def namespace_sid(message: str | bytes, prefix: str) -> str:
    body = text(message)
    assert body.startswith(prefix), body
    handshake = json.loads(body[len(prefix) :])
    assert set(handshake) == {"sid"}, handshake
    assert isinstance(handshake["sid"], str)
    sid: str = handshake["sid"]
    return sid


# ============================================================ Engine.IO layer, /socket.io/
# (handshake, heartbeat and close: test_engine_layer.py runs them on both servers)


# --------------------------------------------------------------------------- upgrade


async def test_upgrade_from_polling_to_websocket(target: Target) -> None:
    async with http_client() as client:
        sid = await open_polling_session(client, target)
    async with websocket(ws_url(target, sid)) as ws:
        await ws.send("2probe")
        assert await ws.recv() == "3probe"
        await ws.send("5")
        # The session now lives on the WebSocket: a namespace connection works there.
        await ws.send("40")
        assert text(await ws.recv_skip_pings()).startswith("40{")


async def upgrade_without_waiting(ws: WS) -> None:
    """Probe and upgrade at once, then connect the main namespace on the WebSocket.

    A namespace connection answered on the WebSocket proves "5" was handled.
    """
    await ws.send("2probe")
    await ws.send("5")
    assert await ws.recv() == "3probe"
    await ws.send("40")
    assert text(await ws.recv_skip_pings()).startswith("40{")


async def test_polling_request_after_upgrade_is_refused(target: Target) -> None:
    async with http_client() as client:
        sid = await open_polling_session(client, target)
        async with websocket(ws_url(target, sid)) as ws:
            await upgrade_without_waiting(ws)
            poll = await client.get(session_url(target, sid))
            assert poll.status_code == 400


async def test_second_websocket_after_upgrade_is_refused(target: Target) -> None:
    async with http_client() as client:
        sid = await open_polling_session(client, target)
    async with websocket(ws_url(target, sid)) as ws:
        await upgrade_without_waiting(ws)
        assert await refused_or_closed(ws_url(target, sid))
        # The first WebSocket still works.
        await ws.send('42["message","still here"]')
        message = await ws.recv_skip_pings()
        if message == '42["auth",{}]':
            message = await ws.recv_skip_pings()
        assert message == '42["message-back","still here"]'


# ============================================================ Socket.IO layer
# --------------------------------------------------------------------------- connect


@pytest.mark.parametrize(
    ("connect", "prefix", "auth_event"),
    [
        ("40", "40", '42["auth",{}]'),
        ('40{"token":"123"}', "40", '42["auth",{"token":"123"}]'),
        ("40/custom,", "40/custom,", '42/custom,["auth",{}]'),
        ('40/custom,{"token":"abc"}', "40/custom,", '42/custom,["auth",{"token":"abc"}]'),
    ],
    ids=["main", "main-with-auth", "custom", "custom-with-auth"],
)
async def test_connect_to_a_namespace(
    target: Target, connect: str, prefix: str, auth_event: str
) -> None:
    async with websocket(ws_url(target)) as ws:
        text(await ws.recv())  # Engine.IO handshake
        await ws.send(connect)
        namespace_sid(await ws.recv_skip_pings(), prefix)
        assert await ws.recv_skip_pings() == auth_event


async def test_connect_to_an_unknown_namespace_is_refused(target: Target) -> None:
    async with websocket(ws_url(target)) as ws:
        text(await ws.recv())
        await ws.send("40/random")
        assert await ws.recv_skip_pings() == '44/random,{"message":"Invalid namespace"}'


async def test_invalid_connect_packet_closes_the_connection(target: Target) -> None:
    async with websocket(ws_url(target)) as ws:
        text(await ws.recv())
        await ws.send("4abc")
        assert await ws.closed()


async def test_no_connect_packet_closes_the_connection(target: Target) -> None:
    # connectTimeout is 1000 ms; answer pings so that only the connect timeout applies.
    async def scenario() -> None:
        async with websocket(ws_url(target)) as ws:
            text(await ws.recv())
            loop = asyncio.get_running_loop()
            start = loop.time()
            while True:
                try:
                    message = await ws.recv(timeout=3.0)
                except AssertionError:
                    break  # closed
                if message == "2":
                    await ws.send("3")
            assert loop.time() - start >= 0.9

    await with_retries(scenario)


# --------------------------------------------------------------------------- disconnect


async def test_disconnect_from_the_main_namespace(target: Target) -> None:
    async with connected(target) as ws:
        await ws.send("41")
        # Nothing is sent back: the next packet is the server's next ping.
        assert await ws.recv() == "2"


async def test_connect_then_disconnect_a_custom_namespace(target: Target) -> None:
    async with connected(target) as ws:
        assert await ws.recv() == "2"
        await ws.send("3")
        await ws.send("40/custom")
        namespace_sid(await ws.recv_skip_pings(), "40/custom,")
        assert await ws.recv_skip_pings() == '42/custom,["auth",{}]'
        await ws.send("41/custom")
        await ws.send('42["message","message to main namespace"]')
        assert await ws.recv_skip_pings() == '42["message-back","message to main namespace"]'


# --------------------------------------------------------------------------- message


async def test_plain_text_event(target: Target) -> None:
    async with connected(target) as ws:
        await ws.send('42["message",1,"2",{"3":[true]}]')
        assert await ws.recv_skip_pings() == '42["message-back",1,"2",{"3":[true]}]'


async def test_event_with_binary_attachments(target: Target) -> None:
    async with connected(target) as ws:
        await ws.send('452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')
        await ws.send(bytes([1, 2, 3]))
        await ws.send(bytes([4, 5, 6]))
        assert await ws.recv_many_skip_pings(3) == [
            '452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]',
            bytes([1, 2, 3]),
            bytes([4, 5, 6]),
        ]


async def test_plain_text_event_with_ack(target: Target) -> None:
    async with connected(target) as ws:
        await ws.send('42456["message-with-ack",1,"2",{"3":[false]}]')
        assert await ws.recv_skip_pings() == '43456[1,"2",{"3":[false]}]'


async def test_binary_event_with_ack(target: Target) -> None:
    async with connected(target) as ws:
        await ws.send(
            '452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]'
        )
        await ws.send(bytes([1, 2, 3]))
        await ws.send(bytes([4, 5, 6]))
        assert await ws.recv_many_skip_pings(3) == [
            '462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]',
            bytes([1, 2, 3]),
            bytes([4, 5, 6]),
        ]


@pytest.mark.parametrize(
    "packet",
    ["4abc", "42{}", '42abc["message-with-ack",1,"2",{"3":[false]}]'],
    ids=["unknown-packet-type", "invalid-payload-format", "invalid-ack-id"],
)
async def test_invalid_packet_closes_the_connection(target: Target, packet: str) -> None:
    async with connected(target) as ws:
        await ws.send(packet)
        assert await ws.closed()


# ================================================ beyond the official suite (spec, Node)


async def _poll_packets(client: httpx.AsyncClient, url: str, count: int) -> list[str]:
    """GET until ``count`` non-ping packets have arrived (pings are answered)."""
    packets: list[str] = []
    while len(packets) < count:
        poll = await client.get(url)
        assert poll.status_code == 200, poll.text
        for packet in poll.text.split("\x1e"):
            if packet == "2":
                await client.post(url, content=b"3")
            else:
                packets.append(packet)
    return packets


async def test_socketio_over_long_polling(target: Target) -> None:
    # The spec's "Sample session", requests 1 to 5, against this server's handlers.
    async with http_client() as client:
        sid = await open_polling_session(client, target)
        url = session_url(target, sid)
        assert (await client.post(url, content=b'40{"token":"xyz"}')).text == "ok"
        connect, auth = await _poll_packets(client, url, 2)
        namespace_sid(connect, "40")
        assert auth == '42["auth",{"token":"xyz"}]'
        body = '42["message","hello"]\x1e4212["message-with-ack","world"]'
        assert (await client.post(url, content=body.encode())).text == "ok"
        assert await _poll_packets(client, url, 2) == [
            '42["message-back","hello"]',
            '4312["world"]',
        ]


async def test_binary_event_over_long_polling(target: Target) -> None:
    async with http_client() as client:
        sid = await open_polling_session(client, target)
        url = session_url(target, sid)
        await client.post(url, content=b"40")
        await _poll_packets(client, url, 2)
        body = '451-["message",{"_placeholder":true,"num":0}]\x1ebAQID'
        assert (await client.post(url, content=body.encode())).text == "ok"
        assert await _poll_packets(client, url, 2) == [
            '451-["message-back",{"_placeholder":true,"num":0}]',
            "bAQID",
        ]


async def test_packet_for_a_namespace_not_joined_closes_the_connection(target: Target) -> None:
    # Node's Client closes the connection on anything but CONNECT for an unknown socket.
    async with connected(target) as ws:
        await ws.send('42/custom,["message","nobody"]')
        assert await ws.closed()


@pytest.mark.parametrize(
    "packet",
    [
        '42["connect"]',  # reserved event names
        '42["disconnecting"]',
        "42[]",  # EVENT: non-empty array
        "42[null]",  # first element: string or number
        '43["x"]',  # well-formed ACK without an id: ignored (special-cased below)
        "43",  # ACK without its array
        "40[]",  # CONNECT: object or nothing
        '41{"a":1}',  # DISCONNECT: nothing
        '4511-["message"]',  # more than 10 attachments
        '450-["message"]',  # zero attachments declared
    ],
)
async def test_more_invalid_packets_close_the_connection(target: Target, packet: str) -> None:
    async with connected(target) as ws:
        await ws.send(packet)
        if packet == '43["x"]':
            # An ACK with an array and no id is well-formed; like Node, the server drops it.
            await ws.send('42["message","still open"]')
            assert await ws.recv_skip_pings() == '42["message-back","still open"]'
            return
        assert await ws.closed()


async def test_binary_data_without_a_binary_packet_closes_the_connection(target: Target) -> None:
    async with connected(target) as ws:
        await ws.send(b"\x01\x02")
        assert await ws.closed()


async def test_text_while_waiting_for_attachments_closes_the_connection(target: Target) -> None:
    async with connected(target) as ws:
        await ws.send('451-["message",{"_placeholder":true,"num":0}]')
        await ws.send('42["message","too early"]')
        assert await ws.closed()
