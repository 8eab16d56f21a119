"""The built-in server's connection limits, against raw clients (issue 12).

Each limit is passed on purpose and the answer checked: 431 for a head that grows past
``max_header_size`` (while it arrives, not once it is complete) or has too many fields,
414 for a long URL, 400 for HTTP/1.1 without ``Host``, 408 for a head or a body that
trickles, 1008 for too many WebSocket fragments or a client that never reads what the
application sends it; reading stops while the client does not read. ``server.stats``
counts each of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import zlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from aiosocketio.frontends.native.http import FEED_SLICE
from aiosocketio.frontends.native.server import NativeServer, serve
from aiosocketio.frontends.stats import (
    HTTP_HEADER_COUNT,
    HTTP_HEADER_SIZE,
    HTTP_HEADERS_TIMEOUT,
    HTTP_NO_HOST,
    HTTP_READ_PAUSED,
    HTTP_REQUEST_TIMEOUT,
    HTTP_URL_TOO_LONG,
    WS_READ_PAUSED,
    WS_WRITE_BUFFER,
    ws_close_kind,
)
from aiosocketio.protocol.websocket import Close, Opcode, encode_frame
from tests.support.http_fakes import FakeEngine, RawWebSocket, get, http_exchange, read_response
from tests.support.timeouts import scaled


@contextlib.asynccontextmanager
async def running(**options: Any) -> AsyncIterator[tuple[NativeServer, FakeEngine]]:
    engine = FakeEngine(**options)
    srv = await serve(engine, "127.0.0.1", 0)
    try:
        yield srv, engine
    finally:
        srv.close()
        await srv.wait_closed()


@contextlib.asynccontextmanager
async def connection(port: int) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        yield reader, writer
    finally:
        writer.transport.abort()  # what we wrote may be stuck: do not wait for it
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.wait_closed(), 1)


@contextlib.asynccontextmanager
async def websocket(port: int, **kwargs: Any) -> AsyncIterator[RawWebSocket]:
    ws = await RawWebSocket.connect(port, **kwargs)
    try:
        yield ws
    finally:
        ws.writer.transport.abort()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.writer.wait_closed(), 1)


async def read_until_closed(reader: asyncio.StreamReader, timeout: float = 5) -> bytes:
    data = b""
    with contextlib.suppress(ConnectionError):
        while chunk := await asyncio.wait_for(reader.read(65536), scaled(timeout)):
            data += chunk
    return data


def status_of(data: bytes) -> int:
    return int(data.split(b" ", 2)[1])


# -- the head ---------------------------------------------------------------------------------


async def test_a_header_that_never_ends_gets_431_while_it_arrives() -> None:
    async with running() as (srv, engine):
        async with connection(srv.port) as (reader, writer):
            writer.write(b"GET /engine.io/?EIO=4 HTTP/1.1\r\nHost: x\r\nX-Long: ")
            sent = 0
            answer = asyncio.ensure_future(read_until_closed(reader))
            while not answer.done() and sent < 1 << 20:
                with contextlib.suppress(ConnectionError):
                    writer.write(b"a" * 1024)  # the head is never completed
                sent += 1024
                await asyncio.sleep(0.002)
            data = await answer
        assert status_of(data) == 431
        assert sent < 256 * 1024  # refused early, not once the head was complete
        assert engine.requests == []
        assert srv.stats[HTTP_HEADER_SIZE] == 1


async def test_a_complete_head_over_the_limit_gets_431() -> None:
    async with running(limits={"max_header_size": 2000}) as (srv, _):
        ok = get("/engine.io/?EIO=4", extra="X-A: " + "a" * 1800 + "\r\n")
        [(status, _, _)] = await http_exchange(srv.port, ok)
        assert status == 200
        big = get("/engine.io/?EIO=4", extra="X-A: " + "a" * 2100 + "\r\n")
        [(status, headers, _)] = await http_exchange(srv.port, big)
        assert status == 431 and headers["connection"] == "close"
        assert srv.stats[HTTP_HEADER_SIZE] == 1


async def test_a_url_over_max_url_size_gets_414() -> None:
    async with running() as (srv, _):
        async with connection(srv.port) as (reader, writer):
            writer.write(b"GET /engine.io/?x=" + b"a" * 9000)  # never finished
            data = await read_until_closed(reader)
        assert status_of(data) == 414
        assert srv.stats[HTTP_URL_TOO_LONG] == 1


async def test_too_many_header_fields_get_431() -> None:
    async with running() as (srv, _):
        fields = "".join(f"X-{i}: v\r\n" for i in range(99))  # 100 with Host
        [(status, _, _)] = await http_exchange(srv.port, get("/engine.io/", extra=fields))
        assert status == 200
        fields += "X-One-More: v\r\n"
        [(status, _, _)] = await http_exchange(srv.port, get("/engine.io/", extra=fields))
        assert status == 431
        assert srv.stats[HTTP_HEADER_COUNT] == 1


async def test_http_1_1_without_host_gets_400_as_in_node() -> None:
    async with running() as (srv, engine):
        [(status, _, _)] = await http_exchange(srv.port, b"GET /engine.io/ HTTP/1.1\r\n\r\n")
        assert status == 400
        assert srv.stats[HTTP_NO_HOST] == 1
        assert engine.requests == []
        # HTTP/1.0 had no Host header
        [(status, _, _)] = await http_exchange(srv.port, b"GET /engine.io/ HTTP/1.0\r\n\r\n")
        assert status == 200
    async with running(limits={"require_host": False}) as (srv, engine):
        [(status, _, _)] = await http_exchange(srv.port, b"GET /engine.io/ HTTP/1.1\r\n\r\n")
        assert status == 200


# -- slow clients -----------------------------------------------------------------------------


async def trickle(port: int, head: bytes, piece: bytes, every: float) -> tuple[bytes, float]:
    """Send ``head``, then ``piece`` every ``every`` seconds until the server answers."""
    async with connection(port) as (reader, writer):
        started = time.monotonic()
        writer.write(head)
        answer = asyncio.ensure_future(read_until_closed(reader, timeout=10))
        while not answer.done():
            with contextlib.suppress(ConnectionError):
                writer.write(piece)
            await asyncio.wait({answer}, timeout=every)
        return answer.result(), time.monotonic() - started


async def test_a_head_that_trickles_gets_408_after_headers_timeout() -> None:
    limits = {"headers_timeout": 0.5, "request_timeout": 5, "idle_timeout": 5}
    async with running(limits=limits) as (srv, _):
        data, took = await trickle(srv.port, b"GET /engine.io/ HTTP/1.1\r\nX-A: ", b"a", 0.05)
        assert status_of(data) == 408
        assert scaled(0.5) <= took < scaled(0.5) * 2 + 0.5
        assert srv.stats[HTTP_HEADERS_TIMEOUT] == 1


async def test_a_body_that_trickles_gets_408_after_request_timeout() -> None:
    limits = {"request_timeout": 0.6, "idle_timeout": 5}
    head = b"POST /engine.io/ HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
    async with running(limits=limits) as (srv, engine):
        data, took = await trickle(srv.port, head, b"4", 0.1)
        assert status_of(data) == 408
        assert took < scaled(0.6) * 2 + 0.5
        assert srv.stats[HTTP_REQUEST_TIMEOUT] == 1
        assert engine.requests == []


# -- back-pressure ----------------------------------------------------------------------------


async def test_reading_stops_while_the_client_does_not_read_its_answers() -> None:
    async with running() as (srv, engine):
        async with connection(srv.port) as (reader, writer):
            burst = get("/engine.io/?EIO=4&pad=" + "p" * 400) * 200
            stalled = False
            for _ in range(2000):  # at most ~200 MB
                writer.write(burst)
                try:
                    await asyncio.wait_for(writer.drain(), 0.5)
                except TimeoutError:
                    stalled = True  # the server stopped reading
                    break
            assert stalled
            assert srv.stats[HTTP_READ_PAUSED] >= 1
            seen = len(engine.requests)
            await asyncio.sleep(0.3)
            assert len(engine.requests) == seen  # nothing more is parsed meanwhile
            # reading the answers lets the server go on
            await read_response(reader)
            for _ in range(20):
                await reader.read(1 << 20)
            await asyncio.sleep(0.1)
            assert len(engine.requests) > seen


async def test_pipelined_long_polls_pause_reading_at_max_pipeline() -> None:
    async with running(limits={"max_pipeline": 8}) as (srv, engine):
        async with connection(srv.port) as (_, writer):
            await pipelined_polls(engine, writer)


async def pipelined_polls(engine: FakeEngine, writer: asyncio.StreamWriter) -> None:
    """40 long-polls in one read: the pipeline limit (8) stops the parsing, then the
    answers let it go on."""
    # 40 requests of 400 bytes: a read bigger than FEED_SLICE, parsed slice by slice
    one = get("/engine.io/?wait=1&pad=" + "p" * (400 - 49))
    assert len(one) == 400
    writer.write(one * 40)
    await asyncio.sleep(0.2)
    first = len(engine.pending)
    assert 8 <= first <= 8 + FEED_SLICE // 400 + 1  # at most a slice past the limit
    for responder in list(engine.pending):
        responder.respond(200, [], b"x")
    await asyncio.sleep(0.2)
    assert len(engine.pending) > first


# -- WebSocket --------------------------------------------------------------------------------


async def test_too_many_fragments_close_with_1008() -> None:
    async with running(limits={"max_fragments": 1000}) as (srv, engine):
        async with websocket(srv.port) as ws:
            ws.send_raw(encode_frame(Opcode.TEXT, b"4", fin=False, mask=True))
            ws.send_raw(encode_frame(Opcode.CONT, b"", fin=False, mask=True) * 2000)
            event = await ws.recv_event()
        assert event == Close(1008, "Too many message fragments")
        await asyncio.sleep(0.05)
        assert engine.closed == [1008]
        assert srv.stats[ws_close_kind(1008)] == 1


async def test_a_client_that_never_reads_is_closed_past_max_write_buffer() -> None:
    async with running(limits={"max_write_buffer": 1 << 20}) as (srv, engine):
        async with websocket(srv.port) as ws:
            ws.send("hello")  # the echo handler appears
            while not engine.handlers:
                await asyncio.sleep(0.01)
            channel = engine.handlers[0].channel
            blob = b"\x00" * 65536
            for _ in range(4000):  # the application sends 256 MB; the client reads nothing
                channel.send_message(blob)
                if srv.stats[WS_WRITE_BUFFER]:
                    break
                await asyncio.sleep(0)
            assert srv.stats[WS_WRITE_BUFFER] == 1
            assert channel.buffered_amount < 2 << 20
            await asyncio.wait_for(engine.close_event.wait(), scaled(2))
            assert engine.closed == [1008]


async def test_a_ping_flood_with_unread_pongs_stops_being_read() -> None:
    async with running() as (srv, _):
        async with websocket(srv.port) as ws:
            pings = encode_frame(Opcode.PING, b"p" * 125, mask=True) * 512
            stalled = False
            for _ in range(5000):  # at most ~330 MB of pings
                ws.send_raw(pings)
                try:
                    await asyncio.wait_for(ws.writer.drain(), 0.5)
                except TimeoutError:
                    stalled = True
                    break
            assert stalled
            assert srv.stats[WS_READ_PAUSED] >= 1
            [conn] = [c for c in srv.connections if hasattr(c, "buffered_amount")]
            assert conn.buffered_amount < 4 << 20  # pongs queued: a read's worth at most


async def test_a_big_compressed_message_does_not_hold_the_loop() -> None:
    engine = FakeEngine(per_message_deflate=True, max_http_buffer_size=10_000_000)
    srv = await serve(engine, "127.0.0.1", 0)
    try:
        async with websocket(srv.port, extensions="permessage-deflate", max_size=20_000_000) as ws:
            await compressed_in_pieces(engine, ws)
    finally:
        srv.close()
        await srv.wait_closed()


async def compressed_in_pieces(engine: FakeEngine, ws: RawWebSocket) -> None:
    """A 10 MB message is compressed in pieces: the loop keeps turning meanwhile, and
    the message sent after it arrives after it."""
    ws.send("hello")
    assert await ws.recv() == "hello"
    channel = engine.handlers[0].channel
    big = "".join(f"line {i} of a big answer\n" for i in range(400_000))  # ~10 MB
    lags: list[float] = []

    async def ticker() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0)
            now = time.perf_counter()
            lags.append(now - last)
            last = now

    tick = asyncio.ensure_future(ticker())
    await asyncio.sleep(0.01)
    lags.clear()
    channel.send_message(big)
    channel.send_message("after")  # waits behind the big one
    assert await ws.recv(timeout=20) == big
    assert await ws.recv() == "after"
    tick.cancel()
    # compressing 10 MB at once takes ~150 ms; in 64 KiB pieces each turn is short
    assert max(lags) < 0.05, max(lags)
    assert len(zlib.compress(big.encode())) < len(big) // 5


@pytest.mark.parametrize("kind", ["shutdown", "close"])
async def test_a_stuck_connection_is_dropped_after_abort_timeout(kind: str) -> None:
    async with running(limits={"abort_timeout": 0.3}) as (srv, engine):
        async with websocket(srv.port) as ws:
            ws.send("hello")
            while not engine.handlers:
                await asyncio.sleep(0.01)
            channel = engine.handlers[0].channel
            for _ in range(200):  # fill the kernel buffers and pause writing
                channel.send_message(b"\x00" * 16384)
                await asyncio.sleep(0)
            started = time.monotonic()
            if kind == "shutdown":
                srv.close()  # the 1001 close cannot be written either
            else:
                channel.close(1000)
            await asyncio.wait_for(engine.close_event.wait(), scaled(3))
            assert time.monotonic() - started < scaled(0.3) + 1
            assert srv.stats[WS_WRITE_BUFFER] == 0  # dropped by the timer, not the bound
