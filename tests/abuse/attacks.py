"""The attacks of issue 12, each one unauthenticated connection on loopback.

Each takes the server's port and a duration, and returns an
:class:`~tests.abuse.harness.Outcome`: the HTTP status or the WebSocket close code the
server answered with, whether it closed the connection, and how many bytes it took.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable

from tests.abuse.harness import Attack, Outcome
from tests.support.timeouts import scaled

__all__ = ["attacks", "close_code_in", "connect_socketio", "masked", "read_all", "ws_connect"]

WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="


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
