"""The client with the msgpack parser, against Node's socket.io 4.8 configured with
socket.io-msgpack-parser 3.0.2 and against aiosocketio's Server with its msgpack parser.

Every scenario runs on polling only, WebSocket only, and polling upgraded to WebSocket.
Without the parser the client cannot talk to such a server (the server refuses the
text CONNECT), which is checked as well.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any, cast

import pytest

from aiosocketio.client import Manager, connect
from aiosocketio.exceptions import ConnectError
from aiosocketio.protocol.socketio import msgpack_parser
from tests.client.conftest import SERVER_KINDS, ServerProcess
from tests.support.timeouts import scaled

pytestmark = [pytest.mark.interop, pytest.mark.usefixtures("settle")]

MSGPACK: dict[str, Any] = {"parser": msgpack_parser}


@pytest.fixture(scope="module")
def msgpack_servers() -> Iterator[dict[str, ServerProcess]]:
    servers: dict[str, ServerProcess] = {}
    yield servers
    for srv in servers.values():
        srv.stop()


@pytest.fixture(params=SERVER_KINDS)
def server(
    request: pytest.FixtureRequest, msgpack_servers: dict[str, ServerProcess]
) -> ServerProcess:
    """A server of this kind that speaks socket.io-msgpack-parser (one per module)."""
    kind: str = request.param
    srv = msgpack_servers.get(kind)
    if srv is None or not srv.alive:
        srv = msgpack_servers[kind] = ServerProcess(kind, env={"MSGPACK": "1"})
    srv.drain()
    return srv


async def test_connect_emit_and_receive(
    server: ServerProcess, transport_opts: dict[str, Any]
) -> None:
    sock = await connect(server.url, **MSGPACK, **transport_opts)
    got: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
    sock.on("echo", lambda *args: got.put_nowait(args))
    try:
        assert isinstance(sock.id, str) and len(sock.id) == 20
        assert (await sock.emit_with_ack("whoami"))["id"] == sock.id
        sock.emit("echo", "world", {"a": 1}, [1, 2], None, 3.5, -7, 2**40)
        assert await asyncio.wait_for(got.get(), scaled(5)) == (
            "world",
            {"a": 1},
            [1, 2],
            None,
            3.5,
            -7,
            2**40,
        )
        sock.emit("record", "msgpack-record")
        line = await server.wait_for("record", "msgpack-record", id=sock.id)
        assert line["nsp"] == "/"
    finally:
        sock.disconnect()


async def test_acks_both_ways(server: ServerProcess, transport_opts: dict[str, Any]) -> None:
    sock = await connect(server.url, **MSGPACK, **transport_opts)
    answers: asyncio.Queue[Any] = asyncio.Queue()
    sock.on("answer", answers.put_nowait)
    sock.on("question", lambda q: {"echo": q} if not isinstance(q, bytes) else q[::-1])
    try:
        assert await sock.emit_with_ack("echo", "a", 1) == ("a", 1)
        assert await sock.emit_with_ack("echo") is None
        sock.emit("ask", "sync?")
        assert await asyncio.wait_for(answers.get(), scaled(5)) == {"echo": "sync?"}
        sock.emit("ask_binary")
        assert await asyncio.wait_for(answers.get(), scaled(5)) == {"bin": [8, 9]}
    finally:
        sock.disconnect()


async def test_binary_both_ways(server: ServerProcess, transport_opts: dict[str, Any]) -> None:
    sock = await connect(server.url, **MSGPACK, **transport_opts)
    try:
        described = await sock.emit_with_ack("describe", b"\x00\x01", "text", bytearray(b"\xff"))
        assert described == [{"bin": [0, 1]}, "text", {"bin": [255]}]
        echoed = await sock.emit_with_ack("echo", {"deep": [b"\x01", {"x": b"\x02"}]}, b"")
        assert echoed == ({"deep": [b"\x01", {"x": b"\x02"}]}, b"")
        assert await sock.emit_with_ack("binary") == {"buf": b"\x01\x02\x03", "list": [b"x", 4]}
        got: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
        sock.once("bin_event", lambda *a: got.set_result(a))
        sock.emit("push_binary", "bin_event")
        assert await asyncio.wait_for(got, scaled(5)) == (b"\x00\xff", {"nested": [b"\x07"]})
    finally:
        sock.disconnect()


async def test_namespaces_auth_and_connect_error(
    server: ServerProcess, transport_opts: dict[str, Any]
) -> None:
    opts = {k: v for k, v in transport_opts.items() if k != "force_new"}
    main = await connect(server.url, force_new=True, **MSGPACK, **opts)
    welcome: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    manager = cast(Manager, main.io)
    admin = manager.socket("/admin", auth={"token": "secret"})
    admin.once("welcome", welcome.set_result)
    chat = manager.socket("/chat")
    try:
        await admin.wait_connected(scaled(5))
        await chat.wait_connected(scaled(5))
        assert main.io is admin.io is chat.io
        assert await asyncio.wait_for(welcome, scaled(5)) == {"token": "secret"}
        assert (await admin.emit_with_ack("whoami"))["auth"] == {"token": "secret"}
        assert await chat.emit_with_ack("echo", b"c") == b"c"
        assert await main.emit_with_ack("echo", "m") == "m"
    finally:
        for s in (main, chat, admin):
            s.disconnect()
    with pytest.raises(ConnectError) as info:
        await connect(server.url + "/admin", auth={"token": "nope"}, **MSGPACK, **transport_opts)
    assert info.value.message == "not authorized"
    assert info.value.data == {"content": "Please retry later", "token": "nope"}
    with pytest.raises(ConnectError, match="Invalid namespace"):
        await connect(server.url + "/nowhere", **MSGPACK, **transport_opts)


async def test_the_default_parser_cannot_connect(server: ServerProcess) -> None:
    sock = await connect(
        server.url, wait=False, force_new=True, reconnection=False, transports=["websocket"]
    )
    try:
        await asyncio.sleep(scaled(1))
        assert not sock.connected
    finally:
        sock.disconnect()


def test_a_parser_without_factories_is_refused() -> None:
    with pytest.raises(TypeError, match="Encoder"):
        Manager("http://127.0.0.1:1", parser=object(), auto_connect=False)
