"""The Engine's send buffer on both transports, polling answers in pieces, compression in
steps, and the ``packet_create`` of pings (through the built-in server)."""

from __future__ import annotations

import asyncio
import gzip
import os
import zlib
from collections.abc import Callable

from aiosocketio.engine.answers import COMPRESS_CHUNK, HttpAnswers
from aiosocketio.engine.http import HttpRequest
from aiosocketio.protocol.engineio.options import EngineOptions
from aiosocketio.protocol.engineio.packets import Packet, PacketType, decode_payload
from aiosocketio.protocol.engineio.session import HARD_LIMIT_FACTOR, POLL_PIECE
from aiosocketio.runtime.events import EventEmitter
from tests.engine.harness import Make
from tests.support.http_fakes import RawWebSocket, get

SOFT = 10_000


def poll_target(sid: str) -> str:
    return f"/engine.io/?EIO=4&transport=polling&sid={sid}"


async def test_a_polling_backlog_is_answered_in_pieces(make: Make) -> None:
    h = await make()
    sid, _ = await h.handshake()
    conn = h.conns[0]
    size = 100_000
    count = 3 * POLL_PIECE // size
    for i in range(count):
        conn.send(str(i % 10) * size)
    received: list[Packet] = []
    answers = 0
    while len(received) < count:
        status, _, body = await h.request(get(poll_target(sid), close=True))
        assert status == 200
        assert len(body) <= POLL_PIECE
        received.extend(decode_payload(body.decode()))
        answers += 1
    assert answers >= 3
    assert received == [Packet(PacketType.MESSAGE, str(i % 10) * size) for i in range(count)]
    assert conn.session.buffered_amount == 0


async def test_a_polling_client_that_never_polls_is_closed_at_the_hard_limit(make: Make) -> None:
    h = await make(max_send_buffer=SOFT)
    sid, _ = await h.handshake()
    conn = h.conns[0]
    sent = 0
    while conn.ready_state == "open":
        conn.send("y" * 1000)
        sent += 1
        assert sent < 1000
    # closed once about 16 times the soft limit was queued (data plus a cost per packet)
    assert SOFT * HARD_LIMIT_FACTOR * 0.8 < sent * 1000 <= SOFT * HARD_LIMIT_FACTOR
    assert h.closes == [("transport error", "send buffer full")]
    assert not conn.session.has_outgoing  # the backlog is freed
    status, _, _ = await h.request(get(poll_target(sid), close=True))
    assert status == 400


async def test_over_the_soft_limit_volatile_packets_are_dropped_on_polling(make: Make) -> None:
    h = await make(max_send_buffer=SOFT)
    sid, _ = await h.handshake()
    conn = h.conns[0]
    waiting = asyncio.ensure_future(h.request(get(poll_target(sid), close=True)))
    await asyncio.sleep(0.05)
    assert conn.session.poll_pending
    conn.send("a", volatile=True)  # a GET waits and the buffer is small: sent
    conn.send("b" * SOFT)  # over the soft limit now (answered on the next turn)
    conn.send("c", volatile=True)  # dropped
    conn.send("d")  # not volatile: queued
    _, _, body = await waiting
    assert [p.data for p in decode_payload(body.decode())] == ["a", "b" * SOFT, "d"]
    assert conn.ready_state == "open"


async def test_binary_sends_to_a_websocket_that_never_reads_are_bounded(make: Make) -> None:
    h = await make(max_send_buffer=64 * 1024)
    ws = await RawWebSocket.connect(h.port)
    await ws.recv()
    conn = h.conns[0]
    chunk = b"z" * 100_000
    for _ in range(400):  # 40 MB: far beyond the kernel's socket buffers
        conn.send(chunk)
        if conn.ready_state != "open":
            break
        await asyncio.sleep(0)
    assert h.closes == [("transport error", "send buffer full")]
    ws.writer.close()
    await asyncio.sleep(0.05)


async def test_a_large_answer_is_compressed_in_steps() -> None:
    answers = HttpAnswers(EngineOptions(), EventEmitter())
    request = HttpRequest(
        "GET", "/socket.io/", "", {"accept-encoding": "gzip"}, "127.0.0.1", 1, False
    )
    got: list[tuple[int, list[tuple[str, str]], bytes]] = []

    class Responder:
        on_abort: Callable[[], None] | None = None

        def respond(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            got.append((status, headers, body))

    # 1 MB of text that does not shrink: tens of milliseconds of work, a slice per turn
    payload = "4" + os.urandom(1 << 19).hex()
    turns = 0
    answers.payload(request, Responder(), payload)
    assert got == []  # the first slice only
    while not got:
        await asyncio.sleep(0)
        turns += 1
    assert turns >= 2
    status, headers, body = got[0]
    assert status == 200 and ("content-encoding", "gzip") in headers
    assert gzip.decompress(body) == payload.encode()
    assert body == zlib.compress(payload.encode(), 6, 31)


async def test_a_small_answer_is_compressed_at_once() -> None:
    answers = HttpAnswers(EngineOptions(), EventEmitter())
    request = HttpRequest(
        "GET", "/socket.io/", "", {"accept-encoding": "deflate"}, "127.0.0.1", 1, False
    )
    got: list[bytes] = []

    class Responder:
        on_abort: Callable[[], None] | None = None

        def respond(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            assert ("content-encoding", "deflate") in headers
            got.append(body)

    answers.payload(request, Responder(), "4" + "x" * (COMPRESS_CHUNK - 1))
    assert [zlib.decompress(body) for body in got] == [b"4" + b"x" * (COMPRESS_CHUNK - 1)]


async def test_pings_fire_packet_create_on_both_transports(make: Make) -> None:
    h = await make(ping_interval=0.05, ping_timeout=1)
    created: list[str] = []
    sid, _ = await h.handshake()
    h.conns[0].on("packet_create", lambda p: created.append(f"polling:{int(p.type)}"))
    ws = await RawWebSocket.connect(h.port)
    await ws.recv()
    h.conns[1].on("packet_create", lambda p: created.append(f"websocket:{int(p.type)}"))
    assert await ws.recv() == "2"
    _, _, body = await h.request(get(poll_target(sid), close=True))
    assert body == b"2"
    assert sorted(created) == ["polling:2", "websocket:2"]
    h.conns[0].send("m")
    assert created[-1] == "polling:4"
    await ws.close()
