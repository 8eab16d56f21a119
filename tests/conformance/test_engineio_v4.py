"""Engine.IO v4 protocol conformance, written from docs/engine.io-protocol/v4-current.md.

Every behaviour checked by the official v4 test suite is checked here (handshake, heartbeat
and close in test_engine_layer.py, which runs them on both servers), against each front
end (built-in server, ASGI under uvicorn) and against the npm engine.io reference server.
The server under test echoes every message; pingInterval is 300 ms, pingTimeout 200 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import httpx
import pytest

from tests.conformance.helpers import (
    FRONTENDS,
    Target,
    check_handshake,
    http_client,
    open_polling_session,
    query,
    refused_or_closed,
    session_url,
    start_target,
    text,
    websocket,
)
from tests.support.timeouts import scaled


@pytest.fixture(scope="module", params=FRONTENDS)
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    yield from start_target("engineio", request.param)


# --------------------------------------------------------------------------- message


@pytest.mark.parametrize(
    "payload",
    ["4hello", "4test1\x1e4test2\x1e4test3", "4hello\x1ebAQIDBA==", "4€uro ✓\x1e4x"],
    ids=["one-text", "several-text", "text-and-binary", "utf8-and-empty"],
)
async def test_polling_message_echo(target: Target, payload: str) -> None:
    async with http_client() as client:
        sid = await open_polling_session(client, target)
        push = await client.post(session_url(target, sid), content=payload.encode())
        assert push.status_code == 200
        assert push.text == "ok"
        poll = await client.get(session_url(target, sid))
        assert poll.status_code == 200
        assert poll.text == payload


async def test_polling_invalid_packet_closes_the_session(target: Target) -> None:
    async with http_client() as client:
        sid = await open_polling_session(client, target)
        with contextlib.suppress(httpx.TransportError):
            push = await client.post(session_url(target, sid), content=b"abc")
            # The spec wants the session closed; npm engine.io still answers 200 "ok".
            assert push.status_code in (200, 400)
        poll = await client.get(session_url(target, sid))
        assert poll.status_code == 400


async def test_polling_duplicate_get_closes_the_session(target: Target) -> None:
    async with http_client() as client:
        sid = await open_polling_session(client, target)

        async def second() -> httpx.Response:
            await asyncio.sleep(0.005)
            return await client.get(session_url(target, sid, "&t=burst"))

        first, dup = await asyncio.gather(client.get(session_url(target, sid)), second())
        assert first.status_code == 200
        assert first.text == "1"  # the session is closed: a close packet ends the first GET
        assert dup.status_code in (400, 500)
        again = await client.get(session_url(target, sid))
        assert again.status_code == 400


async def test_polling_cancelled_get_closes_the_session(target: Target) -> None:
    async with http_client() as client:
        sid = await open_polling_session(client, target)
    async with http_client() as aborting:
        task = asyncio.ensure_future(aborting.get(session_url(target, sid)))
        await asyncio.sleep(scaled(0.05))
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await asyncio.sleep(scaled(0.05))  # let the server notice the dropped connection
    async with http_client() as client:
        poll = await client.get(session_url(target, sid))
    assert poll.status_code == 400


async def test_websocket_text_message_echo(target: Target) -> None:
    async with websocket(target.ws + "?EIO=4&transport=websocket") as ws:
        text(await ws.recv())  # handshake
        await ws.send("4hello")
        assert await ws.recv() == "4hello"


async def test_websocket_binary_message_echo(target: Target) -> None:
    async with websocket(target.ws + "?EIO=4&transport=websocket") as ws:
        text(await ws.recv())  # handshake
        await ws.send(bytes([1, 2, 3, 4]))
        assert await ws.recv() == bytes([1, 2, 3, 4])


async def test_websocket_invalid_packet_closes_the_session(target: Target) -> None:
    async with websocket(target.ws + "?EIO=4&transport=websocket") as ws:
        text(await ws.recv())  # handshake
        await ws.send("abc")
        assert await ws.closed()


# --------------------------------------------------------------------------- upgrade


async def test_upgrade_from_polling_to_websocket(target: Target) -> None:
    async with http_client() as client:
        sid = await open_polling_session(client, target)
        async with websocket(f"{target.ws}?EIO=4&transport=websocket&sid={sid}") as ws:
            await ws.send("2probe")
            assert await ws.recv() == "3probe"
            poll = await client.get(session_url(target, sid))
            assert poll.status_code == 200
            assert poll.text == "6"  # noop: ends the long-polling request cleanly
            await ws.send("5")
            await ws.send("4hello")
            assert await ws.recv_skip_pings() == "4hello"


async def test_polling_request_after_upgrade_is_refused(target: Target) -> None:
    async with http_client() as client:
        sid = await open_polling_session(client, target)
        async with websocket(f"{target.ws}?EIO=4&transport=websocket&sid={sid}") as ws:
            await ws.send("2probe")
            assert await ws.recv() == "3probe"
            await ws.send("5")
            # An echo on the WebSocket proves the server has handled "5" (frames are ordered).
            await ws.send("4hello")
            assert await ws.recv_skip_pings() == "4hello"
            poll = await client.get(session_url(target, sid))
            assert poll.status_code == 400
            await ws.send("4world")
            assert await ws.recv_skip_pings() == "4world"


async def test_second_websocket_after_upgrade_is_refused(target: Target) -> None:
    async with http_client() as client:
        sid = await open_polling_session(client, target)
    url = f"{target.ws}?EIO=4&transport=websocket&sid={sid}"
    async with websocket(url) as ws:
        await ws.send("2probe")
        assert await ws.recv() == "3probe"
        await ws.send("5")
        await ws.send("4hello")
        assert await ws.recv_skip_pings() == "4hello"
        assert await refused_or_closed(url)
        await ws.send("4world")
        assert await ws.recv_skip_pings() == "4world"


# ================================================ beyond the official suite (spec, Node)


@pytest.mark.parametrize(
    ("method", "qs", "code", "message"),
    [
        ("GET", "EIO=4&transport=polling&sid=unknown", 1, "Session ID unknown"),
        ("GET", "EIO=4&transport=abc", 0, "Transport unknown"),
        ("GET", "EIO=4", 0, "Transport unknown"),
        ("POST", "EIO=4&transport=polling", 2, "Bad handshake method"),
        ("GET", "EIO=abc&transport=polling", 5, "Unsupported protocol version"),
        ("GET", "EIO=3&transport=polling", 5, "Unsupported protocol version"),
    ],
)
async def test_error_bodies_carry_the_engineio_code(
    target: Target, method: str, qs: str, code: int, message: str
) -> None:
    async with http_client() as client:
        response = await client.request(method, query(target, qs))
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"code": code, "message": message}


async def test_polling_post_over_max_payload_is_refused(target: Target) -> None:
    async with http_client() as client:
        sid = await open_polling_session(client, target)
        push = await client.post(session_url(target, sid), content=b"4" + b"x" * 1_000_000)
        assert push.status_code == 413
        # As in Node, the session itself survives: the next GET brings the ping.
        poll = await client.get(session_url(target, sid))
        assert poll.status_code == 200
        assert poll.text == "2"


async def test_polling_response_headers_and_cors(target: Target) -> None:
    origin = {"Origin": "http://example.com"}
    async with http_client() as client:
        handshake = await client.get(query(target, "EIO=4&transport=polling"), headers=origin)
        assert handshake.headers["content-type"] == "text/plain; charset=UTF-8"
        assert handshake.headers["cache-control"] == "no-store"
        assert handshake.headers["access-control-allow-origin"] == "*"
        sid = check_handshake(handshake.text, ["websocket"])
        push = await client.post(session_url(target, sid), content=b"4hi", headers=origin)
        assert push.status_code == 200
        assert push.headers["content-type"].startswith("text/html")
        assert push.headers["access-control-allow-origin"] == "*"
        preflight = await client.options(
            query(target, "EIO=4&transport=polling"),
            headers={**origin, "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == "*"
        assert "POST" in preflight.headers["access-control-allow-methods"]


async def test_polling_large_payload_is_compressed(target: Target) -> None:
    body = "4" + "abc" * 1000  # over the 1024-byte compression threshold
    async with http_client() as client:
        sid = await open_polling_session(client, target)
        await client.post(session_url(target, sid), content=body.encode())
        poll = await client.get(session_url(target, sid), headers={"Accept-Encoding": "gzip"})
        assert poll.status_code == 200
        assert poll.headers.get("content-encoding") == "gzip"
        assert poll.text == body  # httpx inflates it


async def test_websocket_upgrade_keeps_buffered_messages_in_order(target: Target) -> None:
    async with http_client() as client:
        sid = await open_polling_session(client, target)
        push = await client.post(session_url(target, sid), content=b"4one\x1e4two")
        assert push.status_code == 200
        async with websocket(f"{target.ws}?EIO=4&transport=websocket&sid={sid}") as ws:
            await ws.send("2probe")
            assert await ws.recv() == "3probe"
            await ws.send("5")
            # The echoes were queued for polling before the upgrade finished; they arrive
            # either in a last GET or on the WebSocket, in order and exactly once.
            received: list[str] = []
            poll = await client.get(session_url(target, sid))
            if poll.status_code == 200:
                received += [p[1:] for p in poll.text.split("\x1e") if p.startswith("4")]
            while len(received) < 2:
                message = text(await ws.recv_skip_pings())
                if message.startswith("4"):
                    received.append(message[1:])
            assert received == ["one", "two"]
