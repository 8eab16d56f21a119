"""The ASGI front end under real uvicorn and hypercorn, against a fake Engine."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config as HypercornConfig
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from aiosocketio.frontends.asgi import ASGIApp, ASGIWebSocketChannel
from tests.support.http_fakes import (
    FakeEngine,
    RawWebSocket,
    get,
    http_exchange,
    post,
    read_response,
)
from tests.support.timeouts import scaled

SERVERS = ["uvicorn", "uvicorn-websockets", "hypercorn"]


def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.set_inheritable(True)
    return sock


@contextlib.asynccontextmanager
async def running(app: Any, kind: str) -> AsyncIterator[int]:
    """Run ``app`` under ``kind`` on an ephemeral port and yield the port."""
    sock = _bound_socket()
    port = int(sock.getsockname()[1])
    if kind.startswith("uvicorn"):
        config = uvicorn.Config(
            app,
            log_level="warning",
            http="httptools",
            ws="websockets-sansio" if kind == "uvicorn-websockets" else "wsproto",
            lifespan="on",
            ws_max_size=10_000_000,
        )
        server = uvicorn.Server(config)
        task = asyncio.ensure_future(server.serve(sockets=[sock]))
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.01)
        try:
            yield port
        finally:
            server.should_exit = True
            await asyncio.wait_for(task, 10)
            sock.close()
    else:
        hconfig = HypercornConfig()
        hconfig.bind = [f"fd://{sock.fileno()}"]
        hconfig.loglevel = "WARNING"
        hconfig.graceful_timeout = 0.5
        stop = asyncio.Event()
        task = asyncio.ensure_future(hypercorn_serve(app, hconfig, shutdown_trigger=stop.wait))
        for _ in range(500):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                await writer.wait_closed()
                break
            except OSError:
                await asyncio.sleep(0.01)
        try:
            yield port
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)
            sock.detach()  # hypercorn owns (and closed) the descriptor


@pytest.fixture(params=SERVERS)
def kind(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture(autouse=True)
def _quiet_servers(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="hypercorn.error")


async def test_http_to_engine(kind: str) -> None:
    engine = FakeEngine()
    async with running(ASGIApp(engine), kind) as port:
        answers = await http_exchange(
            port,
            get("/engine.io/?EIO=4&transport=polling&b=2")
            + post("/engine.io/?async=1", b"body!")
            + get("/nowhere"),
            responses=3,
        )
        status, headers, body = answers[0]
        assert status == 200 and headers["content-type"] == "application/json"
        info = json.loads(body)
        assert info["query"] == {"EIO": "4", "transport": "polling", "b": "2"}
        assert info["path"] == "/engine.io/"
        assert info["remote"][0] == "127.0.0.1"
        assert info["secure"] is False and info["scope"] is True
        status, headers, body = answers[1]
        assert status == 201 and headers["x-async"] == "1"
        assert json.loads(body)["body"] == "body!"
        assert answers[2][0] == 404


async def test_413_and_500(kind: str) -> None:
    engine = FakeEngine()
    async with running(ASGIApp(engine), kind) as port:
        [(status, _, body)] = await http_exchange(port, post("/engine.io/", b"x" * 5000))
        assert status == 413 and body == b"too big"
        [(status, _, _)] = await http_exchange(port, get("/engine.io/?boom=1"))
        assert status == 500


async def test_long_poll_answer_and_abort(kind: str) -> None:
    engine = FakeEngine()
    async with running(ASGIApp(engine), kind) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(get("/engine.io/?wait=1"))
        for _ in range(200):
            if engine.pending:
                break
            await asyncio.sleep(0.01)
        engine.pending[0].respond(200, [("Content-Type", "text/plain")], b"6")
        status, _, body = await read_response(reader)
        assert (status, body) == (200, b"6")
        writer.write(get("/engine.io/?wait=1"))
        for _ in range(200):
            if len(engine.pending) == 2:
                break
            await asyncio.sleep(0.01)
        writer.close()
        await asyncio.wait_for(engine.abort_event.wait(), scaled(5))
        assert engine.aborted == 1


async def test_wrapped_app_and_lifespan(kind: str) -> None:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    async def hello(request: Request) -> JSONResponse:
        return JSONResponse({"hi": request.query_params.get("n")})

    other = Starlette(routes=[Route("/hello", hello)], lifespan=lifespan)
    engine = FakeEngine()
    async with running(ASGIApp(engine, other), kind) as port:
        answers = await http_exchange(
            port, get("/hello?n=1") + get("/engine.io/?x=1") + get("/missing"), responses=3
        )
        assert json.loads(answers[0][2]) == {"hi": "1"}
        assert json.loads(answers[1][2])["query"] == {"x": "1"}
        assert answers[2][0] == 404
        assert events == ["startup"]
    assert events == ["startup", "shutdown"]


async def test_websocket_echo_and_close_codes(kind: str) -> None:
    engine = FakeEngine(max_http_buffer_size=100_000)
    async with running(ASGIApp(engine), kind) as port:
        ws = await RawWebSocket.connect(port)
        assert ws.headers["x-engine"] == "fake"
        ws.send("hello")
        ws.send(b"\x00\xff")
        ws.send("é" * 30_000)
        assert await ws.recv() == "hello"
        assert await ws.recv() == b"\x00\xff"
        assert await ws.recv() == "é" * 30_000
        ws.send("info")
        assert await ws.recv() == "x"
        info = json.loads(await ws.recv())
        # "x" was handed to the server in place (or queued behind a suspended send).
        assert info["frames"] is False and info["buffered"] in (0, 1)
        closed = await ws.close(1000)
        assert closed.code == 1000
        ws.writer.close()
        await asyncio.wait_for(engine.close_event.wait(), scaled(5))
        # hypercorn reports 1006 for a client-initiated close it has already answered
        assert engine.closed[0] in ({1000, 1006} if kind == "hypercorn" else {1000})

        engine.close_event.clear()
        ws = await RawWebSocket.connect(port)
        ws.send("close:4002")
        event = await ws.recv_event()
        assert event == ws_close(4002, "bye")
        ws.writer.close()
        await asyncio.wait_for(engine.close_event.wait(), scaled(5))
        assert engine.closed[-1] is not None


def ws_close(code: int, reason: str) -> object:
    from aiosocketio.protocol.websocket import Close

    return Close(code, reason)


async def test_websocket_refused_and_async_accept(kind: str) -> None:
    engine = FakeEngine()
    async with running(ASGIApp(engine), kind) as port:
        with pytest.raises(ConnectionRefusedError, match="403"):
            await RawWebSocket.connect(port, "/engine.io/?transport=websocket&refuse=1")
        ws = await RawWebSocket.connect(port, "/engine.io/?transport=websocket&async=1")
        ws.send("ok")
        assert await ws.recv() == "ok"
        await ws.close()


async def test_websocket_vanished_peer(kind: str) -> None:
    engine = FakeEngine()
    async with running(ASGIApp(engine), kind) as port:
        ws = await RawWebSocket.connect(port)
        ws.send("x")
        assert await ws.recv() == "x"
        ws.writer.transport.abort()
        await asyncio.wait_for(engine.close_event.wait(), scaled(5))
        assert len(engine.closed) == 1


async def test_lifespan_without_other_app() -> None:
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: Any) -> None:
        sent.append(dict(message))

    await ASGIApp(FakeEngine())({"type": "lifespan"}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


async def test_channel_queue_accounting() -> None:
    channel = ASGIWebSocketChannel()
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(dict(message))

    channel.send_message("abc")
    channel.send_message(b"\x01\x02")
    assert channel.buffered_amount == 5
    with pytest.raises(NotImplementedError):
        channel.write_frames(b"")
    writer = asyncio.ensure_future(channel.run_writer(send))
    await asyncio.sleep(0)
    assert channel.buffered_amount == 0
    channel.close(4000, "done")
    channel.send_message("ignored")
    await asyncio.wait_for(writer, scaled(5))
    assert sent == [
        {"type": "websocket.send", "text": "abc"},
        {"type": "websocket.send", "bytes": b"\x01\x02"},
        {"type": "websocket.close", "code": 4000, "reason": "done"},
    ]


async def test_mounted_under_a_prefix() -> None:
    engine = FakeEngine()
    outer = Starlette(routes=[Mount("/sio", app=ASGIApp(engine))])
    async with running(outer, "uvicorn") as port:
        [(status, _, body)] = await http_exchange(port, get("/sio/engine.io/?m=1"))
        assert status == 200
        info = json.loads(body)
        assert info["path"] == "/engine.io/" and info["query"] == {"m": "1"}
        ws = await RawWebSocket.connect(port, "/sio/engine.io/?transport=websocket")
        ws.send("mounted")
        assert await ws.recv() == "mounted"
        await ws.close()


async def test_channel_sends_at_the_end_of_the_tick() -> None:
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(dict(message))

    channel = ASGIWebSocketChannel(send)
    channel.send_message("a")
    channel.send_message(b"\x00")
    assert sent == [] and channel.buffered_amount == 2
    await asyncio.sleep(0)
    # Handed over by one callback, without a task.
    assert sent == [
        {"type": "websocket.send", "text": "a"},
        {"type": "websocket.send", "bytes": b"\x00"},
    ]
    assert channel.buffered_amount == 0
    channel.close(4001, "bye")
    channel.send_message("ignored")
    await asyncio.sleep(0)
    assert sent[-1] == {"type": "websocket.close", "code": 4001, "reason": "bye"}
    assert len(sent) == 3


async def test_channels_of_one_app_share_one_flush() -> None:
    from aiosocketio.frontends.asgi.websocket import Flusher

    flusher = Flusher()
    sent: list[tuple[int, str]] = []

    def sender(index: int) -> Any:
        async def send(message: Any) -> None:
            sent.append((index, message["text"]))

        return send

    channels = [ASGIWebSocketChannel(sender(i), flusher) for i in range(3)]
    for text in "xy":
        for channel in channels:
            channel.send_message(text)
    await asyncio.sleep(0)
    # Connection by connection, each in order.
    assert sent == [(0, "x"), (0, "y"), (1, "x"), (1, "y"), (2, "x"), (2, "y")]


async def test_channel_queues_behind_a_suspended_send() -> None:
    loop = asyncio.get_running_loop()
    gate: asyncio.Future[None] = loop.create_future()
    sent: list[str] = []

    async def send(message: Any) -> None:
        if message.get("text") == "slow":
            await gate
        sent.append(message.get("text", message["type"]))

    channel = ASGIWebSocketChannel(send)
    channel.send_message("first")
    channel.send_message("slow")
    channel.send_message("after")
    await asyncio.sleep(0)
    channel.send_message("more")
    assert sent == ["first"]
    assert channel.buffered_amount == len("after") + len("more")
    await asyncio.sleep(0)
    assert sent == ["first"]
    gate.set_result(None)
    for _ in range(5):
        await asyncio.sleep(0)
    assert sent == ["first", "slow", "after", "more"]
    assert channel.buffered_amount == 0
    channel.send_message("again")
    await asyncio.sleep(0)
    assert sent[-1] == "again"


async def test_channel_send_failure_closes_it() -> None:
    calls: list[Any] = []

    async def send(message: Any) -> None:
        calls.append(message)
        raise RuntimeError("disconnected")

    channel = ASGIWebSocketChannel(send)
    channel.send_message("x")
    channel.send_message("y")
    await asyncio.sleep(0)
    assert channel.closed and channel.buffered_amount == 0
    channel.send_message("z")
    await asyncio.sleep(0)
    assert len(calls) == 1


async def test_channel_abort_drops_the_queue() -> None:
    loop = asyncio.get_running_loop()
    gate: asyncio.Future[None] = loop.create_future()
    sent: list[str] = []

    async def send(message: Any) -> None:
        await gate
        sent.append(message["text"])

    channel = ASGIWebSocketChannel(send)
    channel.send_message("a")
    channel.send_message("b")
    await asyncio.sleep(0)
    channel.abort()
    await asyncio.sleep(0)
    assert channel.closed and channel.buffered_amount == 0
    gate.set_result(None)
    await asyncio.sleep(0)
    assert sent == []


async def test_channel_with_a_send_that_is_not_a_coroutine() -> None:
    loop = asyncio.get_running_loop()
    sent: list[str] = []

    def send(message: Any) -> asyncio.Future[None]:
        sent.append(message["text"])
        future: asyncio.Future[None] = loop.create_future()
        loop.call_soon(future.set_result, None)
        return future

    channel = ASGIWebSocketChannel(send)
    channel.send_message("a")
    channel.send_message("b")
    await asyncio.sleep(0)
    assert sent == ["a"] and channel.buffered_amount == 1
    for _ in range(5):
        await asyncio.sleep(0)
    assert sent == ["a", "b"] and channel.buffered_amount == 0


async def test_channel_send_that_yields_once() -> None:
    sent: list[str] = []

    async def send(message: Any) -> None:
        await asyncio.sleep(0)
        sent.append(message["text"])

    channel = ASGIWebSocketChannel(send)
    for text in "abc":
        channel.send_message(text)
    await asyncio.sleep(0)
    assert sent == []
    for _ in range(6):
        await asyncio.sleep(0)
    assert sent == ["a", "b", "c"]


async def test_channel_send_raising_synchronously() -> None:
    def send(message: Any) -> Any:
        raise RuntimeError("gone")

    channel = ASGIWebSocketChannel(send)
    channel.send_message("a")
    await asyncio.sleep(0)
    assert channel.closed and channel.buffered_amount == 0


def test_response_headers_are_cached_without_hop_headers() -> None:
    from aiosocketio.frontends.asgi.http import response_headers

    headers = [("Content-Type", "text/plain"), ("Connection", "close"), ("Content-Length", "9")]
    first = response_headers(headers, 3)
    second = response_headers(list(headers), 12)
    assert first == [(b"content-type", b"text/plain"), (b"content-length", b"3")]
    assert second == [(b"content-type", b"text/plain"), (b"content-length", b"12")]
    assert response_headers([("X-A", "\u00e9")], 0) == [
        (b"x-a", b"\xe9"),
        (b"content-length", b"0"),
    ]
