"""The built-in asyncio server, tested against a fake Engine and raw clients."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import random
import socket
import struct
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import uvloop
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route

from aiosocketio.engine.http import HttpRequest, Responder
from aiosocketio.frontends.native.server import NativeServer, NativeWebSocketConnection, serve
from aiosocketio.protocol.websocket import Close, Opcode, Pong, encode_frame
from tests.support.http_fakes import (
    FakeEngine,
    RawWebSocket,
    get,
    http_exchange,
    make_tls_contexts,
    post,
    read_response,
)
from tests.support.timeouts import scaled


@pytest.fixture
async def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
async def server(engine: FakeEngine) -> AsyncIterator[NativeServer]:
    srv = await serve(engine, "127.0.0.1", 0)
    yield srv
    srv.close()
    await srv.wait_closed()


async def test_get_is_handed_to_the_engine(server: NativeServer, engine: FakeEngine) -> None:
    [(status, headers, body)] = await http_exchange(
        server.port,
        get("/engine.io/?EIO=4&transport=polling&a=1&a=2", extra="X-A: 1\r\nX-A: 2\r\n"),
    )
    assert status == 200
    assert headers["connection"] == "keep-alive"
    assert headers["content-type"] == "application/json"
    info = json.loads(body)
    assert info["path"] == "/engine.io/"
    assert info["query"] == {"EIO": "4", "transport": "polling", "a": "1"}
    assert info["url"] == "/engine.io/?EIO=4&transport=polling&a=1&a=2"
    assert info["remote"][0] == "127.0.0.1" and info["remote"][1] > 0
    assert info["secure"] is False
    assert info["headers"]["x-a"] == "1, 2"


async def test_keep_alive_and_pipelining_keep_order(server: NativeServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(
        get("/engine.io/?n=1&async=1") + get("/engine.io/?n=2") + post("/engine.io/?n=3", b"hi")
    )
    answers = [await read_response(reader) for _ in range(3)]
    assert [a[0] for a in answers] == [201, 200, 200]
    assert [json.loads(a[2])["query"]["n"] for a in answers] == ["1", "2", "3"]
    assert json.loads(answers[2][2])["body"] == "hi"
    # the same connection serves another request later
    writer.write(get("/engine.io/?n=4", close=True))
    status, headers, _ = await read_response(reader)
    assert status == 200 and headers["connection"] == "close"
    assert await reader.read() == b""
    writer.close()


async def test_long_poll_holds_later_answers_until_it_responds(
    server: NativeServer, engine: FakeEngine
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(get("/engine.io/?wait=1") + get("/engine.io/?n=2"))
    for _ in range(100):
        if engine.pending:
            break
        await asyncio.sleep(0.01)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 0.1)
    engine.pending[0].respond(200, [], b"6")
    first = await read_response(reader)
    second = await read_response(reader)
    assert first[2] == b"6"
    assert json.loads(second[2])["query"] == {"n": "2"}
    writer.close()


async def test_client_going_away_aborts_pending_poll(
    server: NativeServer, engine: FakeEngine
) -> None:
    _reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(get("/engine.io/?wait=1"))
    for _ in range(100):
        if engine.pending:
            break
        await asyncio.sleep(0.01)
    writer.close()
    await asyncio.wait_for(engine.abort_event.wait(), scaled(5))
    assert engine.aborted == 1
    engine.pending[0].respond(200, [], b"late")  # harmless after the abort


async def test_outside_path_is_404(server: NativeServer) -> None:
    [(status, _, body)] = await http_exchange(server.port, get("/other"))
    assert status == 404 and body == b"Not Found"
    [(status, _, _)] = await http_exchange(server.port, get("/engine.iox/"))
    assert status == 200  # Node's prefix check: "/engine.io" matches


@pytest.mark.parametrize("chunked", [False, True])
async def test_body_over_limit_gets_413_from_engine(
    server: NativeServer, engine: FakeEngine, chunked: bool
) -> None:
    body = b"x" * 1500
    if chunked:
        raw = (
            b"POST /engine.io/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"%x\r\n" % 700
            + body[:700]
            + b"\r\n"
            + b"%x\r\n" % 800
            + body[700:]
            + b"\r\n0\r\n\r\n"
        )
    else:
        raw = post("/engine.io/", body)
    [(status, headers, answer)] = await http_exchange(server.port, raw)
    assert status == 413 and answer == b"too big"
    assert headers["connection"] == "close"
    [(status, _, answer)] = await http_exchange(server.port, post("/engine.io/", b"y" * 1000))
    assert status == 200 and json.loads(answer)["body"] == "y" * 1000


@pytest.mark.parametrize(
    "raw",
    [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
        b"GET /engine.io/ HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00",
    ],
)
async def test_malformed_http_gets_400_and_close(server: NativeServer, raw: bytes) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(raw)
    status, headers, _ = await read_response(reader)
    assert status == 400 and headers["connection"] == "close"
    assert await asyncio.wait_for(reader.read(), scaled(5)) == b""
    writer.close()


async def test_engine_exception_gets_500(server: NativeServer) -> None:
    [(status, _, _)] = await http_exchange(server.port, get("/engine.io/?boom=1"))
    assert status == 500


async def test_idle_keep_alive_connection_is_closed(engine: FakeEngine) -> None:
    srv = NativeServer(engine, idle_timeout=0.2)
    await srv.listen("127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(get("/engine.io/"))
        await read_response(reader)
        assert await asyncio.wait_for(reader.read(), scaled(5)) == b""
        writer.close()
    finally:
        srv.close()
        await srv.wait_closed()


async def test_wrapped_starlette_app(engine: FakeEngine) -> None:
    async def hello(request: Request) -> JSONResponse:
        return JSONResponse({"hello": request.query_params.get("name"), "path": request.url.path})

    async def echo(request: Request) -> PlainTextResponse:
        return PlainTextResponse((await request.body()).upper(), status_code=202)

    app = Starlette(routes=[Route("/hello", hello), Route("/echo", echo, methods=["POST"])])
    srv = await serve(engine, "127.0.0.1", 0, app=app)
    try:
        answers = await http_exchange(
            srv.port,
            get("/hello?name=bob") + post("/echo", b"abc") + get("/engine.io/") + get("/nope"),
            responses=4,
        )
        assert answers[0][0] == 200 and json.loads(answers[0][2]) == {
            "hello": "bob",
            "path": "/hello",
        }
        assert answers[1][0] == 202 and answers[1][2] == b"ABC"
        assert answers[2][0] == 200 and json.loads(answers[2][2])["path"] == "/engine.io/"
        assert answers[3][0] == 404
    finally:
        srv.close()
        await srv.wait_closed()


# -- WebSocket ------------------------------------------------------------------------------


async def test_websocket_echo_text_and_binary(server: NativeServer, engine: FakeEngine) -> None:
    ws = await RawWebSocket.connect(server.port)
    assert ws.headers["x-engine"] == "fake"
    assert "sec-websocket-extensions" not in ws.headers
    ws.send("hello")
    ws.send(b"\x00\x01\x02")
    big = "é" * 400
    ws.send(big)
    assert await ws.recv() == "hello"
    assert await ws.recv() == b"\x00\x01\x02"
    assert await ws.recv() == big
    ws.send("info")
    assert await ws.recv() == "x"
    info = json.loads(await ws.recv())
    assert info["frames"] is True and info["buffered"] > 0
    assert engine.requests[-1].query["transport"] == "websocket"
    closed = await ws.close(1000)
    assert closed.code == 1000
    await asyncio.wait_for(engine.close_event.wait(), scaled(5))
    assert engine.closed == [1000]


async def test_websocket_fragments_and_ping(server: NativeServer, engine: FakeEngine) -> None:
    ws = await RawWebSocket.connect(server.port)

    def frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
        return encode_frame(opcode, payload, fin=fin, mask=True)

    ws.send_raw(
        frame(Opcode.TEXT, b"fra", fin=False)
        + frame(Opcode.PING, b"p1")
        + frame(Opcode.CONT, b"gm", fin=False)
        + frame(Opcode.CONT, b"ent")
    )
    assert await ws.recv_event() == Pong(b"p1")
    assert await ws.recv() == "fragment"
    # split one frame across many TCP writes
    wire = frame(Opcode.BINARY, b"abc" * 300)
    for i in range(0, len(wire), 100):
        ws.send_raw(wire[i : i + 100])
        await asyncio.sleep(0)
    assert await ws.recv() == b"abc" * 300
    await ws.close()


async def test_server_initiated_close(server: NativeServer, engine: FakeEngine) -> None:
    ws = await RawWebSocket.connect(server.port)
    ws.send("close:4001")
    event = await ws.recv_event()
    assert event == Close(4001, "bye")
    assert await ws.wait_eof() == b""
    await asyncio.wait_for(engine.close_event.wait(), scaled(5))
    assert engine.closed == [4001]


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (encode_frame(Opcode.TEXT, b"unmasked"), 1002),
        (encode_frame(Opcode.TEXT, b"\xff", mask=True), 1007),
        (encode_frame(Opcode.BINARY, b"x" * 1001, mask=True), 1009),
        (encode_frame(Opcode.CLOSE, struct.pack("!H", 1005), mask=True), 1002),
    ],
)
async def test_protocol_errors_close_the_connection(
    server: NativeServer, engine: FakeEngine, raw: bytes, code: int
) -> None:
    ws = await RawWebSocket.connect(server.port)
    ws.send_raw(raw)
    event = await ws.recv_event()
    assert isinstance(event, Close) and event.code == code
    await ws.wait_eof()
    await asyncio.wait_for(engine.close_event.wait(), scaled(5))
    assert engine.closed == [code]


async def test_vanished_peer_reports_none(server: NativeServer, engine: FakeEngine) -> None:
    ws = await RawWebSocket.connect(server.port)
    ws.send("x")
    assert await ws.recv() == "x"
    ws.writer.transport.abort()
    await asyncio.wait_for(engine.close_event.wait(), scaled(5))
    assert engine.closed == [None]


async def test_upgrade_refused_or_invalid(server: NativeServer, engine: FakeEngine) -> None:
    with pytest.raises(ConnectionRefusedError, match="403"):
        await RawWebSocket.connect(server.port, "/engine.io/?transport=websocket&refuse=1")
    with pytest.raises(ConnectionRefusedError, match="404"):
        await RawWebSocket.connect(server.port, "/elsewhere")
    bad = (
        b"GET /engine.io/ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
    [(status, _, body)] = await http_exchange(server.port, bad)
    assert status == 400 and b"version" in body


async def test_async_accept(server: NativeServer) -> None:
    ws = await RawWebSocket.connect(server.port, "/engine.io/?transport=websocket&async=1")
    ws.send("later")
    assert await ws.recv() == "later"
    await ws.close()


async def test_message_sent_with_the_upgrade_request(server: NativeServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(
        b"GET /engine.io/ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        + encode_frame(Opcode.TEXT, b"early", mask=True)
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert b"101" in head and b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head
    assert await asyncio.wait_for(reader.readexactly(7), scaled(5)) == b"\x81\x05early"
    writer.close()


async def test_permessage_deflate() -> None:
    engine = FakeEngine(per_message_deflate={"threshold": 100}, max_http_buffer_size=100_000)
    srv = await serve(engine, "127.0.0.1", 0)
    try:
        ws = await RawWebSocket.connect(
            srv.port, extensions="permessage-deflate; client_max_window_bits"
        )
        assert ws.headers["sec-websocket-extensions"] == "permessage-deflate"
        text = "compress me " * 1000
        ws.send(text)
        raw = await asyncio.wait_for(ws.reader.read(65536), scaled(5))
        assert raw[0] == 0xC1 and len(raw) < 1000  # RSV1 set, compressed
        assert ws.protocol.receive_data(raw) == [text]
        ws.send("info")
        assert await ws.recv() == "x"
        assert json.loads(await ws.recv())["frames"] is False
        # a client without the offer gets no compression
        plain = await RawWebSocket.connect(srv.port)
        assert "sec-websocket-extensions" not in plain.headers
        plain.send(text)
        assert await plain.recv() == text
        await plain.close()
        await ws.close()
    finally:
        srv.close()
        await srv.wait_closed()


async def test_tls(tmp_path: Path) -> None:
    server_ctx, client_ctx = make_tls_contexts(tmp_path)
    engine = FakeEngine()
    srv = await serve(engine, "127.0.0.1", 0, ssl=server_ctx)
    try:
        [(status, _, body)] = await http_exchange(
            srv.port, get("/engine.io/?x=1"), ssl_context=client_ctx
        )
        assert status == 200 and json.loads(body)["secure"] is True
        ws = await RawWebSocket.connect(srv.port, ssl_context=client_ctx)
        ws.send("over tls")
        assert await ws.recv() == "over tls"
        assert engine.requests[-1].secure is True
        await ws.close()
    finally:
        srv.close()
        await srv.wait_closed()


async def test_close_drops_open_connections(engine: FakeEngine) -> None:
    srv = await serve(engine, "127.0.0.1", 0)
    ws = await RawWebSocket.connect(srv.port)
    assert len(srv.sockets) == 1
    srv.close()
    await srv.wait_closed()
    assert await ws.recv_event() == Close(1001, "server shutting down")
    assert await ws.wait_eof() == b""
    await asyncio.wait_for(engine.close_event.wait(), scaled(5))
    assert engine.closed == [None]


def test_on_uvloop(tmp_path: Path) -> None:
    """uvloop's transports are not asyncio.Transport subclasses: the server must not care."""
    server_ctx, client_ctx = make_tls_contexts(tmp_path)

    async def scenario() -> None:
        engine = FakeEngine()
        srv = await serve(engine, "127.0.0.1", 0)
        tls = await serve(engine, "127.0.0.1", 0, ssl=server_ctx)
        try:
            answers = await http_exchange(
                srv.port,
                get("/engine.io/?n=1&async=1") + post("/engine.io/?n=2", b"b") + get("/x"),
                responses=3,
            )
            assert [a[0] for a in answers] == [201, 200, 404]
            [(status, _, body)] = await http_exchange(
                tls.port, get("/engine.io/"), ssl_context=client_ctx
            )
            assert status == 200 and json.loads(body)["secure"] is True
            for port, ctx in ((srv.port, None), (tls.port, client_ctx)):
                ws = await RawWebSocket.connect(port, ssl_context=ctx)
                ws.send("uv")
                ws.send(b"\x01")
                assert await ws.recv() == "uv"
                assert await ws.recv() == b"\x01"
                ws.send("close:4003")
                assert await ws.recv_event() == Close(4003, "bye")
                ws.writer.close()
            for _ in range(100):
                if len(engine.closed) == 2:
                    break
                await asyncio.sleep(0.01)
            assert engine.closed == [4003, 4003]
        finally:
            for server in (srv, tls):
                server.close()
                await server.wait_closed()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(scenario())


async def test_head_expect_continue_and_204(server: NativeServer, engine: FakeEngine) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"HEAD /engine.io/?h=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), scaled(5))
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"Content-Length: " in head
    assert b"Content-Length: 0\r\n" not in head
    # no body followed the HEAD answer: the next response starts right away
    writer.write(
        b"POST /engine.io/ HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"
    )
    interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), scaled(5))
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    writer.write(b"abc")
    status, _, body = await read_response(reader)
    assert status == 200 and json.loads(body)["body"] == "abc"
    writer.close()


async def test_no_content_length_on_204(engine: FakeEngine) -> None:
    def preflight(request: object, body: bytes | None, responder: Responder) -> None:
        responder.respond(204, [("Access-Control-Allow-Origin", "*")], b"ignored")

    engine.handle_request = preflight  # type: ignore[method-assign]
    srv = await serve(engine, "127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(b"OPTIONS /engine.io/ HTTP/1.1\r\nHost: x\r\n\r\n" + get("/engine.io/"))
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), scaled(5))
        assert head.startswith(b"HTTP/1.1 204 No Content\r\n")
        assert b"content-length" not in head.lower()
        status, _, _ = await read_response(reader)
        assert status == 204
        writer.close()
    finally:
        srv.close()
        await srv.wait_closed()


async def test_slow_headers_are_cut_by_the_idle_timer(engine: FakeEngine) -> None:
    srv = NativeServer(engine, idle_timeout=0.2)
    await srv.listen("127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(b"GET /engine.io/ HTTP/1.1\r\nHost: x\r\n")  # never finished
        assert await asyncio.wait_for(reader.read(), scaled(5)) == b""
        writer.close()
    finally:
        srv.close()
        await srv.wait_closed()


async def test_slow_reader_is_buffered_without_blocking_others(
    server: NativeServer, engine: FakeEngine
) -> None:
    ws = await RawWebSocket.connect(server.port)
    ws.send("hi")
    assert await ws.recv() == "hi"
    channel = engine.handlers[0].channel
    chunk = b"z" * 65536
    for _ in range(100):
        channel.send_message(chunk)
    await asyncio.sleep(0.05)
    assert channel.buffered_amount > 1_000_000  # the peer is not reading: bytes stay queued
    # another client is served meanwhile
    [(status, _, _)] = await http_exchange(server.port, get("/engine.io/"))
    assert status == 200
    for _ in range(100):
        assert await ws.recv() == chunk
    for _ in range(100):
        if channel.buffered_amount == 0:
            break
        await asyncio.sleep(0.01)
    assert channel.buffered_amount == 0
    await ws.close()


class _CountingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.reading = True

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def writelines(self, data: list[bytes]) -> None:
        # One write per flush whatever the number of frames (writev in uvloop).
        self.writes.append(b"".join(data))

    def get_write_buffer_size(self) -> int:
        return 0

    def close(self) -> None:
        pass

    def is_closing(self) -> bool:
        return False

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True


async def test_frames_are_flushed_once_per_tick(engine: FakeEngine) -> None:
    srv = NativeServer(engine)
    transport = _CountingTransport()
    request = HttpRequest("GET", "/engine.io/", "", {}, "127.0.0.1", 1, False)
    conns = [
        NativeWebSocketConnection(
            srv,
            transport,  # type: ignore[arg-type]
            request,
            max_message_size=engine.options.max_http_buffer_size,
        )
        for _ in range(2)
    ]
    for conn in conns:
        conn.write_frames(b"a")
        conn.write_frames(b"b")
        conn.send_message("c")
    assert transport.writes == []
    assert conns[0].buffered_amount == 5
    await asyncio.sleep(0)
    assert transport.writes == [b"ab\x81\x01c", b"ab\x81\x01c"]
    conns[0].pause_writing()
    assert not transport.reading  # a peer that does not read is not read from either
    conns[0].write_frames(b"d")
    await asyncio.sleep(0)
    assert len(transport.writes) == 2 and conns[0].buffered_amount == 1
    conns[0].resume_writing()
    assert transport.writes[-1] == b"d"
    assert transport.reading


async def test_wrapped_app_streaming_and_errors(engine: FakeEngine) -> None:
    async def numbers() -> AsyncIterator[bytes]:
        for i in range(3):
            yield f"part{i};".encode()
            await asyncio.sleep(0.01)

    async def stream(request: Request) -> StreamingResponse:
        return StreamingResponse(numbers(), media_type="text/plain")

    async def broken(request: Request) -> PlainTextResponse:
        raise RuntimeError("app bug")

    app = Starlette(routes=[Route("/stream", stream), Route("/broken", broken)])
    srv = await serve(engine, "127.0.0.1", 0, app=app)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(get("/stream") + get("/engine.io/?after=1"))
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), scaled(5))
        assert b"Transfer-Encoding: chunked" in head and b"Content-Length" not in head
        body = b""
        while True:
            size = int(await asyncio.wait_for(reader.readuntil(b"\r\n"), scaled(5)), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
        assert body == b"part0;part1;part2;"
        # the pipelined request behind the stream is answered after it, on the same connection
        status, _, answer = await read_response(reader)
        assert status == 200 and json.loads(answer)["query"] == {"after": "1"}
        writer.close()
        [(status, _, _)] = await http_exchange(srv.port, get("/broken"))
        assert status == 500
    finally:
        srv.close()
        await srv.wait_closed()


async def test_wrapped_app_websocket_route(engine: FakeEngine) -> None:
    app = FastAPI()
    events: list[object] = []

    @app.websocket("/ws/{room}")
    async def room_ws(websocket: WebSocket, room: str) -> None:
        await websocket.accept(subprotocol="chat")
        try:
            while True:
                text = await websocket.receive_text()
                if text == "bye":
                    await websocket.close(4100)
                    return
                await websocket.send_text(f"{room}:{text}")
        except WebSocketDisconnect as exc:
            events.append(exc.code)

    @app.websocket("/deny")
    async def deny(websocket: WebSocket) -> None:
        await websocket.close()

    srv = await serve(engine, "127.0.0.1", 0, app=app)
    try:
        ws = await RawWebSocket.connect(srv.port, "/ws/lobby", protocols="chat, other")
        assert ws.headers["sec-websocket-protocol"] == "chat"
        ws.send("hi")
        assert await ws.recv() == "lobby:hi"
        ws.send("bye")
        assert await ws.recv_event() == Close(4100, "")
        await ws.wait_eof()
        ws = await RawWebSocket.connect(srv.port, "/ws/a")
        ws.send("x")
        assert await ws.recv() == "a:x"
        await ws.close(1000)
        for _ in range(100):
            if events:
                break
            await asyncio.sleep(0.01)
        assert events == [1000]
        with pytest.raises(ConnectionRefusedError, match="403"):
            await RawWebSocket.connect(srv.port, "/deny")
        # the engine's own WebSocket still works next to the app
        ws = await RawWebSocket.connect(srv.port)
        ws.send("engine")
        assert await ws.recv() == "engine"
        await ws.close()
    finally:
        srv.close()
        await srv.wait_closed()


async def test_websocket_garbage_never_crashes(
    server: NativeServer, engine: FakeEngine, caplog: pytest.LogCaptureFixture
) -> None:
    rng = random.Random(1234)
    masked_text = encode_frame(Opcode.TEXT, b"ok", mask=True)
    for i in range(40):
        ws = await RawWebSocket.connect(server.port)
        garbage = rng.randbytes(rng.randint(1, 300))
        if i % 2:
            # a valid frame first, then garbage; the valid one must still be echoed
            ws.send_raw(masked_text)
            assert await ws.recv() == "ok"
        ws.send_raw(garbage)
        try:
            while not isinstance(await ws.recv_event(timeout=0.2), Close):
                pass
            ws.writer.close()
        except TimeoutError:  # an unfinished frame: the server is still waiting for it
            ws.writer.transport.abort()
    for _ in range(100):
        if len(engine.closed) == 40:
            break
        await asyncio.sleep(0.01)
    assert len(engine.closed) == 40
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("upgrade", [False, True])
async def test_oversized_headers_get_431(
    server: NativeServer, engine: FakeEngine, upgrade: bool
) -> None:
    extra = "".join(f"X-Filler-{i}: {'v' * 100}\r\n" for i in range(200))
    if upgrade:
        extra += (
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        )
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(get("/engine.io/", extra=extra))
    status, headers, _ = await read_response(reader)
    assert status == 431 and headers["connection"] == "close"
    assert await asyncio.wait_for(reader.read(), scaled(5)) == b""
    writer.close()
    assert engine.requests == []


async def test_no_header_injection(engine: FakeEngine) -> None:
    def evil(request: object, body: bytes | None, responder: Responder) -> None:
        responder.respond(200, [("X-Echo", "a\r\nX-Injected: 1")], b"ok")

    engine.handle_request = evil  # type: ignore[method-assign]
    srv = await serve(engine, "127.0.0.1", 0)
    try:
        [(status, headers, body)] = await http_exchange(srv.port, get("/engine.io/"))
        assert status == 200 and body == b"ok"
        assert "x-injected" not in headers
        assert headers["x-echo"] == "aX-Injected: 1"
    finally:
        srv.close()
        await srv.wait_closed()


@pytest.mark.parametrize("chunked", [False, True])
async def test_413_does_not_wait_for_the_whole_body(
    server: NativeServer, engine: FakeEngine, chunked: bool
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    if chunked:
        writer.write(
            b"POST /engine.io/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"%x\r\n" % 1200
            + b"z" * 1200
            + b"\r\n"
        )
    else:
        writer.write(b"POST /engine.io/ HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\nabc")
    status, headers, body = await read_response(reader)  # the rest is never sent
    assert status == 413 and body == b"too big" and headers["connection"] == "close"
    writer.close()


async def test_factory_attach_and_existing_socket(engine: FakeEngine) -> None:
    native = NativeServer(engine)
    loop = asyncio.get_running_loop()
    native.attach(await loop.create_server(native, "127.0.0.1", 0))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    other = NativeServer(engine)
    await other.listen(sock=sock)
    try:
        for srv in (native, other):
            [(status, _, body)] = await http_exchange(srv.port, get("/engine.io/?f=1"))
            assert status == 200 and json.loads(body)["query"] == {"f": "1"}
    finally:
        for srv in (native, other):
            srv.close()
            await srv.wait_closed()
    with pytest.raises(RuntimeError):
        _ = NativeServer(engine).port


async def test_upgrade_pipelined_behind_a_pending_poll(
    server: NativeServer, engine: FakeEngine
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(
        get("/engine.io/?wait=1")
        + b"GET /engine.io/?transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        + encode_frame(Opcode.TEXT, b"after", mask=True)
    )
    for _ in range(100):
        if engine.pending:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    assert len(engine.requests) == 1  # the upgrade waits for the poll's answer
    engine.pending[0].respond(200, [], b"6")
    status, _, body = await read_response(reader)
    assert (status, body) == (200, b"6")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), scaled(5))
    assert head.startswith(b"HTTP/1.1 101 ")
    assert await asyncio.wait_for(reader.readexactly(7), scaled(5)) == b"\x81\x05after"
    writer.close()


async def test_stalled_body_is_cut_by_the_idle_timer(engine: FakeEngine) -> None:
    srv = NativeServer(engine, idle_timeout=0.2)
    await srv.listen("127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(b"POST /engine.io/ HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        assert await asyncio.wait_for(reader.read(), scaled(5)) == b""
        writer.close()
        assert engine.requests == []
    finally:
        srv.close()
        await srv.wait_closed()


async def test_413_lets_the_client_finish_sending(server: NativeServer) -> None:
    body = b"4" + b"x" * 300_000
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(post("/engine.io/", body))
    await writer.drain()  # the whole body goes out: no reset while we send
    status, headers, answer = await read_response(reader)
    assert (status, answer) == (413, b"too big") and headers["connection"] == "close"
    assert await asyncio.wait_for(reader.read(), scaled(5)) == b""  # then a clean close
    writer.close()


@contextlib.contextmanager
def cyclic_gc_off() -> Iterator[Callable[[], int]]:
    """Collect, then keep the cyclic GC off; yields a count of the live connections."""
    from aiosocketio.frontends.native.server import NativeHttpConnection

    def alive() -> int:
        return sum(1 for o in gc.get_objects() if type(o) is NativeHttpConnection)

    gc.collect()
    gc.disable()
    try:
        yield alive
    finally:
        gc.enable()


async def test_upgraded_http_connection_is_freed_without_the_cyclic_gc(
    server: NativeServer, engine: FakeEngine
) -> None:
    with cyclic_gc_off() as alive:
        ws = await RawWebSocket.connect(server.port)
        ws.send("x")
        assert await ws.recv() == "x"
        assert alive() == 0  # the HTTP/1.1 protocol object and its parser are gone
        ws.writer.transport.abort()
        await asyncio.wait_for(engine.close_event.wait(), scaled(5))


async def test_closed_http_connection_is_freed_without_the_cyclic_gc(
    server: NativeServer,
) -> None:
    with cyclic_gc_off() as alive:
        [(status, _, _)] = await http_exchange(server.port, get("/engine.io/?a=1"))
        assert status == 200
        for _ in range(20):
            if not server.connections:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0)
        assert alive() == 0


def test_encoded_response_heads_are_cached_and_framed_per_response() -> None:
    from aiosocketio.frontends.native.responses import encode_response

    headers = [("Content-Type", "text/plain"), ("Content-Length", "99"), ("X-A", "b\r\nc")]
    first = encode_response(200, headers, b"abc", True)
    second = encode_response(200, list(headers), b"hello", False)
    assert first == (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-A: bc\r\n"
        b"Content-Length: 3\r\nConnection: keep-alive\r\n\r\nabc"
    )
    assert second == (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-A: bc\r\n"
        b"Content-Length: 5\r\nConnection: close\r\n\r\nhello"
    )
    assert encode_response(404, headers, b"", True).startswith(b"HTTP/1.1 404 Not Found\r\n")
