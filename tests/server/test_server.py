"""Server construction and running: options, parser, serve(), close()."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from aiosocketio import Server, Socket
from aiosocketio.protocol.socketio import msgpack_parser
from aiosocketio.protocol.socketio.packets import PacketType
from tests.server.fakes import FakeConn, connect_client, event, settle


def test_engine_options_pass_through() -> None:
    io = Server(
        ping_interval=1.5,
        ping_timeout=2,
        max_http_buffer_size=1e5,
        transports=["websocket"],
        cors={"origin": "*"},
        path="/custom",
    )
    opts = io.engine.options
    assert opts.ping_interval == 1.5 and opts.ping_timeout == 2
    assert opts.max_http_buffer_size == 100_000 and opts.transports == ("websocket",)
    assert opts.path == "/custom/" and opts.cors is not None
    assert io.connect_timeout == 45.0 and io.cleanup_empty_child_namespaces is False
    with pytest.raises(TypeError):
        Server(no_such_option=1)
    with pytest.raises(TypeError):
        Server(serve_client=True, client_dist=1)  # type: ignore[arg-type]


async def test_msgpack_parser() -> None:
    io = Server(parser=msgpack_parser)

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        socket.on("echo", lambda x: x)

    conn = FakeConn(
        encoder=msgpack_parser.MsgpackEncoder(), decoder_factory=msgpack_parser.MsgpackDecoder
    )
    io._on_connection(conn)  # type: ignore[arg-type]
    conn, answer = await connect_client(io, conn=conn)
    assert answer.type == PacketType.CONNECT
    conn.inject(event("/", "echo", {"b": b"\x01"}, id=3))
    await settle()
    ack = conn.new_packets()[-1]
    assert ack.id == 3 and ack.data == [{"b": b"\x01"}]
    assert all(isinstance(part, bytes) for part in conn.raw)


async def test_serve_runs_until_close() -> None:
    io = Server()
    task = asyncio.ensure_future(io.serve(0, "127.0.0.1"))
    for _ in range(100):
        if io._http is not None:
            break
        await asyncio.sleep(0.01)
    port = io.port
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.close()
    await io.close()
    await asyncio.wait_for(task, 5)
    with pytest.raises(RuntimeError):
        _ = io.port


async def test_serve_cancelled_closes() -> None:
    io = Server()
    disconnected: list[str] = []
    task = asyncio.ensure_future(io.serve(0, "127.0.0.1"))
    for _ in range(100):
        if io._http is not None:
            break
        await asyncio.sleep(0.01)
    io.on("connection", lambda s: s.on("disconnect", disconnected.append))
    await connect_client(io)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert disconnected == ["server shutting down"]
    assert io._http is None


async def test_close_sends_disconnect_first() -> None:
    io = Server()
    conn, _ = await connect_client(io)
    io.of("/b")
    await connect_client(io, "/b", conn=conn)
    await io.close()
    kinds: list[Any] = [(p.type, p.nsp) for p in conn.new_packets()]
    assert (PacketType.DISCONNECT, "/") in kinds and (PacketType.DISCONNECT, "/b") in kinds
    assert io.sockets.sockets == {} and io.of("/b").sockets == {}


async def test_switching_adapters_keeps_rooms() -> None:
    from aiosocketio.adapters import Adapter, MemoryAdapter
    from aiosocketio.server import Namespace

    class Tagged(MemoryAdapter):
        pass

    def tagged(nsp: Namespace) -> Adapter:
        return Tagged(nsp)

    io = Server()
    assert io.adapter() is MemoryAdapter
    conn, answer = await connect_client(io)
    socket = io.sockets.sockets[answer.data["sid"]]
    socket.join("r")
    old = io.sockets.adapter
    assert io.adapter(tagged) is io
    assert isinstance(io.sockets.adapter, Tagged) and io.sockets.adapter is not old
    assert socket.rooms == {socket.id, "r"} and socket.adapter is io.sockets.adapter
    io.to("r").emit("still-here")
    assert conn.new_packets()[-1].data == ["still-here"]
    assert isinstance(io.of("/new").adapter, Tagged)


async def test_bind_to_another_engine() -> None:
    from aiosocketio.engine.engine import Engine

    io = Server()
    old = io.engine
    engine = Engine(path="/other/")
    assert io.bind(engine) is io
    assert io.engine is engine and old.on_connection is None
    assert io.engine_options.path == "/other/"
    await io.listen(0, "127.0.0.1")
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", io.port)
        writer.write(b"GET /other/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200")
        writer.close()
        assert engine.clients_count == 1
    finally:
        await io.close()


def test_adapters_of_namespaces_made_before_the_loop_are_initialised_later() -> None:
    from aiosocketio.adapters import Adapter, MemoryAdapter
    from aiosocketio.server import Namespace

    inits: list[str] = []

    class Recording(MemoryAdapter):
        async def init(self) -> None:
            inits.append(self.nsp.name)

    def factory(nsp: Namespace) -> Adapter:
        return Recording(nsp)

    io = Server(adapter=factory)
    io.of("/early")
    io.of(re.compile(r"^/dyn-\d+$"))
    assert inits == []

    async def first_connection() -> None:
        await connect_client(io)
        await settle()
        io.of("/late")
        await connect_client(io, "/dyn-1")
        await settle()

    asyncio.run(first_connection())
    assert inits[:2] == ["/", "/early"] and "/late" in inits and "/dyn-1" in inits


async def test_custom_json_codec() -> None:
    import json as std_json

    class StdCodec:
        def __init__(self) -> None:
            self.dumped = 0

        def dumps(self, obj: Any) -> str:
            self.dumped += 1
            return std_json.dumps(obj, separators=(",", ":"))

        def loads(self, data: str | bytes) -> Any:
            return std_json.loads(data)

    codec = StdCodec()
    io = Server(json=codec)
    io.on("connection", lambda s: s.on("echo", lambda x: x))
    conn, answer = await connect_client(io)
    assert answer.type == PacketType.CONNECT
    conn.inject(event("/", "echo", {"k": [1, 2]}, id=1))
    await settle()
    assert conn.raw[-1] == '31[{"k":[1,2]}]'
    assert codec.dumped >= 2


def test_switching_adapters_before_the_loop_initialises_each_adapter_once() -> None:
    from aiosocketio.adapters import Adapter, MemoryAdapter
    from aiosocketio.server import Namespace

    inits: list[Adapter] = []
    closes: list[Adapter] = []

    class Counting(MemoryAdapter):
        async def init(self) -> None:
            inits.append(self)

        async def close(self) -> None:
            closes.append(self)

    def factory(nsp: Namespace) -> Adapter:
        return Counting(nsp)

    io = Server(adapter=factory)
    first = io.sockets.adapter
    io.adapter(factory)
    second = io.sockets.adapter

    async def run() -> None:
        await io.listen(0, "127.0.0.1")
        await io.close()

    asyncio.run(run())
    assert inits == [second] and first not in closes and second in closes


def test_namespaces_is_a_read_only_view_of_the_namespaces() -> None:
    io = Server()
    chat = io.of("/chat")
    assert dict(io.namespaces) == {"/": io.sockets, "/chat": chat}
    with pytest.raises(TypeError):
        io.namespaces["/x"] = chat  # type: ignore[index]
