"""Scripted servers for what a real server will not do (stop pinging, send garbage)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from aiosocketio.protocol.websocket import WebSocketProtocol, accept_key

OPEN_PACKET = "0" + json.dumps(
    {"sid": "fakesid", "upgrades": [], "pingInterval": 100, "pingTimeout": 100, "maxPayload": 1e6}
)


@dataclass
class FakeWebSocketPeer:
    """The server's side of one accepted WebSocket."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    ws: WebSocketProtocol = field(
        default_factory=lambda: WebSocketProtocol("server", max_message_size=1 << 20)
    )
    received: list[str | bytes] = field(default_factory=list)

    def send(self, data: str | bytes) -> None:
        self.writer.write(self.ws.send_message(data))

    pending: list[str | bytes] = field(default_factory=list)

    async def receive(self) -> str | bytes:
        while not self.pending:
            chunk = await self.reader.read(65536)
            if not chunk:
                raise ConnectionError("peer closed")
            self.pending.extend(self.ws.receive_data(chunk))
            out = self.ws.data_to_send()
            if out:
                self.writer.write(out)
            self.ws.events_received()  # pings, pongs, close: not scripted
        data = self.pending.pop(0)
        self.received.append(data)
        return data


Script = Callable[[FakeWebSocketPeer], Awaitable[None]]
ConnectionHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def loopback_server(handle: ConnectionHandler) -> AsyncIterator[int]:
    """A TCP server on an ephemeral loopback port that runs ``handle`` for each connection.

    Yields the port. On exit the handlers still running are cancelled and awaited, and
    every connection's writer is closed before the server waits to be closed.
    """
    tasks: set[asyncio.Task[None]] = set()
    writers: list[asyncio.StreamWriter] = []

    def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        task = asyncio.ensure_future(handle(reader, writer))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port: int = server.sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for writer in writers:
            writer.close()
        await server.wait_closed()


@contextlib.asynccontextmanager
async def fake_websocket_server(script: Script) -> AsyncIterator[int]:
    """Serve WebSocket upgrades on an ephemeral port; run ``script`` for each connection."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        headers = {}
        for line in head.decode("latin-1").split("\r\n")[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        writer.write(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept_key(headers['sec-websocket-key'])}\r\n\r\n"
            ).encode()
        )
        peer = FakeWebSocketPeer(reader, writer)
        peer.send(OPEN_PACKET)
        try:
            await script(peer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async with loopback_server(handle) as port:
        yield port


async def accept_namespace(peer: FakeWebSocketPeer) -> None:
    """Answer the client's CONNECT for "/"."""
    data = await peer.receive()
    assert isinstance(data, str) and data.startswith("40"), data
    peer.send('40{"sid":"socket-id-of-twenty!"}')
