"""The limits the ASGI app enforces itself, under real uvicorn (issue 12).

The ASGI server parses HTTP and frames WebSocket messages, so it owns those limits
(``SECURITY.md`` names its options). The app enforces what it can see: 400 for HTTP/1.1
without ``Host``, 408 for a body that trickles past ``request_timeout``, and an abort
timer that drops a WebSocket whose close waits behind a send that never finishes
(medium 7: the connection and its queue used to stay for good).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from aiosocketio.frontends.asgi import ASGIApp
from aiosocketio.frontends.asgi_types import ASGIMessage
from aiosocketio.frontends.stats import ASGI_CLOSE_ABORTED, HTTP_NO_HOST, HTTP_REQUEST_TIMEOUT
from tests.frontends.test_asgi import running
from tests.support.http_fakes import FakeEngine, RawWebSocket, http_exchange
from tests.support.timeouts import scaled


async def read_until_closed(reader: asyncio.StreamReader, timeout: float = 5) -> bytes:
    data = b""
    with contextlib.suppress(ConnectionError):
        while chunk := await asyncio.wait_for(reader.read(65536), scaled(timeout)):
            data += chunk
    return data


async def test_http_1_1_without_host_gets_400() -> None:
    app = ASGIApp(FakeEngine())
    async with running(app, "uvicorn") as port:
        [(status, _, _)] = await http_exchange(port, b"GET /engine.io/?EIO=4 HTTP/1.1\r\n\r\n")
        assert status == 400
        [(status, _, _)] = await http_exchange(port, b"GET /engine.io/?EIO=4 HTTP/1.0\r\n\r\n")
        assert status == 200
    assert app.stats[HTTP_NO_HOST] == 1


async def test_a_websocket_without_host_is_refused() -> None:
    engine = FakeEngine()
    app = ASGIApp(engine)
    sent: list[ASGIMessage] = []
    messages = iter([{"type": "websocket.connect"}])

    async def receive() -> ASGIMessage:
        return next(messages)

    async def send(message: ASGIMessage) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/engine.io/", "http_version": "1.1", "headers": []}
    await app(scope, receive, send)
    assert sent[0]["type"] == "websocket.close"
    assert engine.handlers == []


async def test_a_body_that_trickles_gets_408() -> None:
    engine = FakeEngine(limits={"request_timeout": 0.5})
    app = ASGIApp(engine)
    async with running(app, "uvicorn") as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(
                b"POST /engine.io/?EIO=4 HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n4"
            )
            started = time.monotonic()
            answer = asyncio.ensure_future(read_until_closed(reader))
            while not answer.done():
                with contextlib.suppress(ConnectionError):
                    writer.write(b"4")
                await asyncio.wait({answer}, timeout=0.1)
            data = answer.result()
        finally:
            writer.transport.abort()
        assert data.startswith(b"HTTP/1.1 408 ")
        assert time.monotonic() - started < scaled(0.5) + 1
    assert app.stats[HTTP_REQUEST_TIMEOUT] == 1
    assert engine.requests == []


async def test_a_close_stuck_behind_a_send_is_aborted_under_uvicorn() -> None:
    engine = FakeEngine(limits={"abort_timeout": 0.3})
    app = ASGIApp(engine)
    async with running(app, "uvicorn-websockets") as port:
        ws = await RawWebSocket.connect(port)
        try:
            ws.send("hello")
            while not engine.handlers:
                await asyncio.sleep(0.01)
            channel = engine.handlers[0].channel
            for _ in range(2000):  # the client reads nothing: uvicorn's send blocks
                channel.send_message(b"\x00" * 65536)
                await asyncio.sleep(0)
                if channel.buffered_amount > 4 << 20:
                    break
            assert channel.buffered_amount > 4 << 20
            started = time.monotonic()
            channel.close(1000)
            await asyncio.wait_for(engine.close_event.wait(), scaled(3))
            assert time.monotonic() - started < scaled(0.3) + 1
            assert channel.buffered_amount == 0  # the queue is released
            # and the TCP connection too: the client sees its end
            with contextlib.suppress(ConnectionError):
                while await asyncio.wait_for(ws.reader.read(1 << 20), scaled(3)):
                    pass
        finally:
            ws.writer.transport.abort()
    assert app.stats[ASGI_CLOSE_ABORTED] == 1


async def test_without_a_transport_the_app_returns_quietly() -> None:
    """An ASGI server whose ``send`` shows no transport: the app returns, and the server
    closes its side (no exception reaches it)."""
    engine = FakeEngine(limits={"abort_timeout": 0.2})
    app = ASGIApp(engine)
    stuck = asyncio.Event()
    connected = False

    async def receive() -> ASGIMessage:
        nonlocal connected
        if not connected:
            connected = True
            return {"type": "websocket.connect"}
        await asyncio.Event().wait()  # the client says nothing more
        raise AssertionError("unreachable")

    async def send(message: ASGIMessage) -> None:
        if message["type"] == "websocket.send":
            await stuck.wait()  # the client never reads

    scope: dict[str, Any] = {
        "type": "websocket",
        "path": "/engine.io/",
        "headers": [(b"host", b"x")],
    }
    task = asyncio.ensure_future(app(scope, receive, send))
    while not engine.handlers:
        await asyncio.sleep(0.01)
    channel = engine.handlers[0].channel
    channel.send_message("stuck")
    await asyncio.sleep(0.05)
    channel.close(1000)
    await asyncio.wait_for(task, scaled(2))  # returns, without raising
    assert engine.closed == [None]
    assert app.stats[ASGI_CLOSE_ABORTED] == 1
