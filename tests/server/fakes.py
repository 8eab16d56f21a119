"""A fake Engine.IO connection for fast unit tests of the Socket.IO server layer.

``FakeConn`` records what the server writes and lets a test inject client messages and
closes; ``connect_client`` performs the namespace handshake through it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiosocketio.engine.http import HttpRequest
from aiosocketio.protocol.prepared import PreparedMessage
from aiosocketio.protocol.socketio.packets import Decoder, Encoder, Packet, PacketType
from aiosocketio.server import Server

_counter = 0


class FakeTransport:
    def __init__(self, name: str) -> None:
        self.name = name


class FakeConn:
    """Stands for ``aiosocketio.engine.engine.EngineSocket``."""

    def __init__(
        self,
        *,
        headers: dict[str, str] | None = None,
        query_string: str = "EIO=4&transport=websocket",
        secure: bool = False,
        transport: str = "websocket",
        encoder: Any = None,
        decoder_factory: Any = None,
    ) -> None:
        global _counter
        _counter += 1
        self.id = f"engine-{_counter:013d}"[:20]
        self.request = HttpRequest(
            method="GET",
            path="/socket.io/",
            query_string=query_string,
            headers=headers if headers is not None else {"host": "localhost"},
            remote_address="10.1.2.3",
            remote_port=5555,
            secure=secure,
        )
        self.protocol = 4
        self.transport = FakeTransport(transport)
        self.once_handlers: dict[str, list[Any]] = {}
        self.upgraded = False
        self.ready_state = "open"
        self.on_message: Any = None
        self.on_close_hook: Any = None
        self.prepared: list[PreparedMessage] = []
        self.volatile_flags: list[bool] = []
        self.closed_by_server = False
        self._decoder_factory = decoder_factory or Decoder
        self._encoder = encoder or Encoder()
        self._seen = 0

    @property
    def remote_address(self) -> str:
        return self.request.remote_address

    def write_prepared(self, msg: PreparedMessage, *, volatile: bool = False) -> None:
        assert self.ready_state == "open", "write after close"
        self.prepared.append(msg)
        self.volatile_flags.append(volatile)

    def send(self, data: str | bytes, *, volatile: bool = False, compress: bool = True) -> None:
        self.write_prepared(PreparedMessage((data,)), volatile=volatile)

    def close(self, discard: bool = False) -> None:
        if self.ready_state != "open":
            return
        self.ready_state = "closed"
        self.closed_by_server = True
        if self.on_close_hook is not None:
            self.on_close_hook("forced close", None)

    def once(self, event: str, handler: Any) -> None:
        self.once_handlers.setdefault(event, []).append(handler)

    # -- test helpers -----------------------------------------------------------------------

    @property
    def raw(self) -> list[str | bytes]:
        """Every Engine.IO message payload written so far."""
        return [part for msg in self.prepared for part in msg.parts]

    def packets(self) -> list[Packet]:
        """Every Socket.IO packet written so far, decoded."""
        decoder = self._decoder_factory()
        out: list[Packet] = []
        for part in self.raw:
            packet = decoder.receive(part)
            if packet is not None:
                out.append(packet)
        return out

    def new_packets(self) -> list[Packet]:
        """The packets written since the last call."""
        packets = self.packets()
        fresh = packets[self._seen :]
        self._seen = len(packets)
        return fresh

    def drain(self) -> None:
        """The client fetched the buffered packets (a long-polling GET was answered)."""
        for handler in self.once_handlers.pop("drain", []):
            handler()

    def inject(self, packet: Packet) -> None:
        """Deliver ``packet`` as if the client had sent it."""
        for part in self._encoder.encode(packet):
            self.inject_raw(part)

    def inject_raw(self, data: str | bytes) -> None:
        assert self.on_message is not None
        self.on_message(data)

    def client_close(self, reason: str = "transport close", description: Any = None) -> None:
        """The connection went away (as the engine reports it)."""
        if self.ready_state != "open":
            return
        self.ready_state = "closed"
        if self.on_close_hook is not None:
            self.on_close_hook(reason, description)


async def settle(rounds: int = 5) -> None:
    """Let spawned tasks (async handlers, middlewares) run."""
    for _ in range(rounds):
        await asyncio.sleep(0)


async def open_conn(server: Server, conn: FakeConn | None = None) -> FakeConn:
    conn = conn or FakeConn()
    server._on_connection(conn)  # type: ignore[arg-type]
    return conn


async def connect_client(
    server: Server,
    nsp: str = "/",
    auth: dict[str, Any] | None = None,
    conn: FakeConn | None = None,
) -> tuple[FakeConn, Packet]:
    """Open a connection (or reuse ``conn``), CONNECT to ``nsp``, return the answer."""
    if conn is None:
        conn = await open_conn(server)
    conn.new_packets()
    conn.inject(Packet(PacketType.CONNECT, nsp, auth))
    await settle()
    answers = [p for p in conn.new_packets() if p.nsp == nsp]
    assert answers, f"no answer to CONNECT {nsp}"
    return conn, answers[0]


def event(nsp: str, *data: Any, id: int | None = None) -> Packet:
    """An EVENT packet from the client."""
    return Packet(PacketType.EVENT, nsp, list(data), id)
