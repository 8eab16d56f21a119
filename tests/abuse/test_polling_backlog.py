"""Issue 12, medium 5: a polling client that never polls is bounded, on both front ends.

The attacker opens a polling session, joins the main namespace and POSTs ``echo`` events
(about 0.8 MB of incompressible text per POST) whose acks it never fetches, so that they
pile up in its outbox. Beside it, the official client echoes every 20 ms over WebSocket
(``tests/interop/js/backlog_healthy_client.js``) and measures its longest wait for an ack;
the server runs in its own process, whose RSS is sampled meanwhile.

* Never polling: the session is closed with ``transport error`` / ``send buffer full`` once
  its outbox passes 16 times ``max_send_buffer``; the memory it held is bounded.
* A backlog just under that bound, then fetched: it comes in pieces (no answer carries
  more than ``POLL_PIECE`` bytes), compressed a step at a time, every ack in order, and
  the healthy client does not notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from aiosocketio.protocol.engineio.packets import decode_payload
from aiosocketio.protocol.engineio.session import POLL_PIECE
from tests.support.http_fakes import read_response
from tests.support.node import NodeProcess
from tests.support.servers import ServerProcess, python_server_argv, start_server
from tests.support.timeouts import scaled

pytestmark = pytest.mark.interop

APP = Path(__file__).resolve().parent / "polling_backlog_app.py"
RSS_LIMIT_MB = 100
GAP_LIMIT_MS = 100
PACKETS_PER_POST = 100
TEXT_SIZE = 8000  # characters of each echoed string (hex of random bytes)


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.fixture(params=["native", "asgi"])
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    proc = start_server(python_server_argv(APP, "--frontend", request.param))
    try:
        yield proc
    finally:
        proc.stop()


class Sampler:
    """The server's peak RSS while it runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.baseline = rss_mb(pid)
        self.peak = self.baseline
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            self.peak = max(self.peak, rss_mb(self.pid))
            await asyncio.sleep(0.02)

    async def stop(self) -> float:
        """Stop sampling; the growth over the baseline, in MB."""
        self.peak = max(self.peak, rss_mb(self.pid))
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        return self.peak - self.baseline


@contextlib.asynccontextmanager
async def healthy_client(port: int) -> AsyncIterator[NodeProcess]:
    node = await NodeProcess.start("backlog_healthy_client.js", f"http://127.0.0.1:{port}")
    try:
        await node.wait_for("connected", timeout=15)
        await asyncio.sleep(0.3)  # warm up
        node.send("reset")
        await node.wait_for("reset")
        yield node
    finally:
        with contextlib.suppress(Exception):
            node.send("exit")
        await node.stop()


async def healthy_report(node: NodeProcess) -> dict[str, Any]:
    node.send("report")
    report: dict[str, Any] = (await node.wait_for("report"))["report"]
    assert report["connected"], report
    assert report["acks"] > 0, report
    return report


class Attacker:
    """A polling client on one keep-alive connection that POSTs and GETs by hand."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.sid = ""
        self.next_id = 0

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(cls, port: int) -> AsyncIterator[Attacker]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        attacker = cls(reader, writer)
        try:
            status, _, body = await attacker.request("GET", "")
            assert status == 200, body
            attacker.sid = json.loads(body[1:])["sid"]
            assert await attacker.post(b"40") == 200
            yield attacker
        finally:
            writer.close()

    async def request(self, method: str, query: str, body: bytes = b"") -> tuple[int, Any, bytes]:
        target = f"/socket.io/?EIO=4&transport=polling{query}"
        head = f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: gzip\r\n"
        if method == "POST":
            head += f"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        status, headers, data = await read_response(self.reader, timeout=10)
        if headers.get("content-encoding") == "gzip":
            data = gzip.decompress(data)
        return status, headers, data

    async def post(self, body: bytes) -> int:
        return (await self.request("POST", f"&sid={self.sid}", body))[0]

    async def post_echoes(self) -> int:
        """One POST of ``PACKETS_PER_POST`` acked echo events; its status."""
        packets = []
        for _ in range(PACKETS_PER_POST):
            self.next_id += 1
            text = os.urandom(TEXT_SIZE // 2).hex()
            packets.append(f'42{self.next_id}["echo","{text}"]')
        return await self.post("\x1e".join(packets).encode())

    async def get(self) -> tuple[int, bytes]:
        status, _, body = await self.request("GET", f"&sid={self.sid}")
        return status, body


def closes(server: ServerProcess) -> list[tuple[str, str | None]]:
    """The Engine.IO closes the server printed."""
    out = []
    for line in server.stdout_lines:
        if line.startswith("{"):
            obj = json.loads(line)
            if "close" in obj:
                out.append((obj["close"], obj["description"]))
    return out


async def test_a_polling_client_that_never_polls_is_closed(server: ServerProcess) -> None:
    async with healthy_client(server.port) as node:
        sampler = Sampler(server.proc.pid)
        async with Attacker.connect(server.port) as attacker:
            posts = 0
            status = 200
            while status == 200:
                status = await attacker.post_echoes()
                posts += 1
                assert posts < 60, "never closed"  # 60 POSTs: 48 MB of acks
            # ~16 MiB (16 times max_send_buffer) was queued when it closed
            assert 15 <= posts <= 25, posts
            assert status == 400
            assert (await attacker.get())[0] == 400  # the session is gone
        growth = await sampler.stop()
        report = await healthy_report(node)
    await asyncio.sleep(0.2)
    assert ("transport error", "send buffer full") in closes(server)
    assert growth < RSS_LIMIT_MB, growth
    assert report["maxGap"] < GAP_LIMIT_MS, report


async def test_a_large_backlog_is_fetched_in_pieces(server: ServerProcess) -> None:
    async with healthy_client(server.port) as node:
        sampler = Sampler(server.proc.pid)
        async with Attacker.connect(server.port) as attacker:
            for _ in range(12):  # about 10 MB of acks, under the 16 MiB bound
                assert await attacker.post_echoes() == 200
            ids: list[int] = []
            answers = 0
            loop = asyncio.get_running_loop()
            deadline = loop.time() + scaled(30)
            while len(ids) < attacker.next_id:
                assert loop.time() < deadline, (len(ids), answers)
                status, body = await attacker.get()
                assert status == 200, body
                assert len(body) <= POLL_PIECE
                answers += 1
                for packet in decode_payload(body.decode()):
                    data = packet.data
                    if isinstance(data, str) and data.startswith("3"):
                        ids.append(int(data[1 : data.index("[")]))
            assert ids == list(range(1, attacker.next_id + 1))
            assert answers >= 10
        growth = await sampler.stop()
        report = await healthy_report(node)
    assert closes(server) == [] or all(c[1] != "send buffer full" for c in closes(server))
    assert growth < RSS_LIMIT_MB, growth
    assert report["maxGap"] < GAP_LIMIT_MS, report
