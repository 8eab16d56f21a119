"""The Engine.IO layer cases that both official suites check: handshake, heartbeat, close.

The Engine.IO v4 suite runs them against its echo server on ``/engine.io/``, the Socket.IO
v5 suite against its server on ``/socket.io/``; here each case runs against both servers,
on each front end (built-in server, ASGI under uvicorn) and on the npm reference servers.
pingInterval is 300 ms and pingTimeout 200 ms on every server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.conformance.helpers import (
    FRONTENDS,
    PING_INTERVAL,
    PING_TIMEOUT,
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
    with_retries,
    ws_url,
)
from tests.support.timeouts import scaled


@pytest.fixture(
    scope="module",
    params=[(kind, fe) for kind in ("engineio", "socketio") for fe in FRONTENDS],
    ids=lambda p: f"{p[0]}-{p[1]}",
)
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    kind, frontend = request.param
    yield from start_target(kind, frontend)


# --------------------------------------------------------------------------- handshake


async def test_polling_handshake_opens_a_session(target: Target) -> None:
    async with http_client() as client:
        response = await client.get(query(target, "EIO=4&transport=polling"))
    assert response.status_code == 200
    check_handshake(response.text, ["websocket"])


@pytest.mark.parametrize("qs", ["transport=polling", "EIO=abc&transport=polling"])
async def test_polling_handshake_rejects_a_bad_eio(target: Target, qs: str) -> None:
    async with http_client() as client:
        response = await client.get(query(target, qs))
    assert response.status_code == 400


@pytest.mark.parametrize("qs", ["EIO=4", "EIO=4&transport=abc"])
async def test_polling_handshake_rejects_a_bad_transport(target: Target, qs: str) -> None:
    async with http_client() as client:
        response = await client.get(query(target, qs))
    assert response.status_code == 400


@pytest.mark.parametrize("method", ["POST", "PUT"])
async def test_polling_handshake_must_be_a_get(target: Target, method: str) -> None:
    async with http_client() as client:
        response = await client.request(method, query(target, "EIO=4&transport=polling"))
    assert response.status_code == 400


async def test_websocket_handshake_opens_a_session(target: Target) -> None:
    async with websocket(ws_url(target)) as ws:
        check_handshake(text(await ws.recv()), [])


@pytest.mark.parametrize("qs", ["transport=websocket", "EIO=abc&transport=websocket"])
async def test_websocket_handshake_rejects_a_bad_eio(target: Target, qs: str) -> None:
    assert await refused_or_closed(f"{target.ws}?{qs}")


@pytest.mark.parametrize("qs", ["EIO=4", "EIO=4&transport=abc"])
async def test_websocket_handshake_rejects_a_bad_transport(target: Target, qs: str) -> None:
    assert await refused_or_closed(f"{target.ws}?{qs}")


# --------------------------------------------------------------------------- heartbeat


async def test_polling_ping_pong(target: Target) -> None:
    async def scenario() -> None:
        async with http_client() as client:
            sid = await open_polling_session(client, target)
            for _ in range(3):
                poll = await client.get(session_url(target, sid))
                assert poll.status_code == 200
                assert poll.text == "2"
                push = await client.post(session_url(target, sid), content=b"3")
                assert push.status_code == 200

    await with_retries(scenario)


async def test_polling_ping_timeout_closes_the_session(target: Target) -> None:
    async with http_client() as client:
        sid = await open_polling_session(client, target)
        # exactly the official suite's wait: the spec's timing, with no slack and no scaling
        await asyncio.sleep((PING_INTERVAL + PING_TIMEOUT) / 1000)
        poll = await client.get(session_url(target, sid))
        assert poll.status_code == 400


async def test_websocket_ping_pong(target: Target) -> None:
    async def scenario() -> None:
        async with websocket(ws_url(target)) as ws:
            text(await ws.recv())  # handshake
            for _ in range(3):
                assert await ws.recv() == "2"
                await ws.send("3")

    await with_retries(scenario)


async def test_websocket_ping_timeout_closes_the_session(target: Target) -> None:
    async with websocket(ws_url(target)) as ws:
        assert await ws.closed()


# --------------------------------------------------------------------------- close


async def test_polling_close_packet_closes_the_session(target: Target) -> None:
    async with http_client() as client:
        sid = await open_polling_session(client, target)
        poll = asyncio.ensure_future(client.get(session_url(target, sid)))
        await asyncio.sleep(scaled(0.03))  # the GET is pending when the close arrives
        push = await client.post(session_url(target, sid), content=b"1")
        assert push.status_code == 200
        response = await poll
        assert response.status_code == 200
        assert response.text == "6"
        again = await client.get(session_url(target, sid))
        assert again.status_code == 400


async def test_a_get_that_arrives_just_after_the_close_packet(target: Target) -> None:
    # The official suites' "forcefully closes the session" sends its GET and its CLOSE
    # together; now and then the CLOSE arrives first. Node then answers the GET 400
    # (unknown session); ours still answers the one GET that was in flight with the NOOP
    # it would have had a moment earlier, and refuses any later one.
    async with http_client() as client:
        sid = await open_polling_session(client, target)
        push = await client.post(session_url(target, sid), content=b"1")
        assert push.status_code == 200
        late = await client.get(session_url(target, sid))
        if target.frontend == "node":
            assert late.status_code == 400
        else:
            assert (late.status_code, late.text) == (200, "6")
        again = await client.get(session_url(target, sid))
        assert again.status_code == 400


async def test_websocket_close_packet_closes_the_session(target: Target) -> None:
    async with websocket(ws_url(target)) as ws:
        text(await ws.recv())  # handshake
        await ws.send("1")
        assert await ws.closed()
