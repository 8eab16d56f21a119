"""python-socketio's ``AsyncClient`` against our server, the way its users write it.

python-socketio's users are the largest group who would switch to aiosocketio, and
many keep their clients: the Server must serve that client as it serves Node's. Each
test runs on the built-in server and the ASGI app (under uvicorn), over polling only,
WebSocket only, and polling upgraded to WebSocket: connect with auth (and a refusal with
its data), an emit on connection, emits both ways, acks both ways, binary in both.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from typing import Any

import pytest
import socketio  # python-socketio

from aiosocketio import ConnectionRefused, Server, Socket
from tests.server.test_interop import running
from tests.support.timeouts import scaled

pytestmark = [
    pytest.mark.interop,
    # python-engineio never reads its POST responses and closes its aiohttp session at
    # disconnect; uvicorn writes a response's headers and body separately, so the close
    # POST's connection may still wait for its body then, and aiohttp warns when it is
    # collected. The client's own leak (Node's server writes both at once, as ours does):
    # each test collects it before it ends.
    pytest.mark.filterwarnings("ignore:Unclosed connection:ResourceWarning"),
]
# Node's server (socket.io 4.8) reports "transport close" when python-socketio
# disconnects, on every transport: the client sends DISCONNECT and the Engine.IO close
# together, and Node handles the namespace packet a tick later. Ours reports "client
# namespace disconnect" when it reads both (polling) and "transport close" when the
# client closes the WebSocket before its write loop sends them.
LEAVING = ("client namespace disconnect", "transport close")

TRANSPORTS = {
    "polling": ["polling"],
    "websocket": ["websocket"],
    "upgrade": ["polling", "websocket"],
}


class App:
    """Our server, and what it observed."""

    def __init__(self) -> None:
        self.io = Server()
        self.events: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()

        @self.io.use
        def check_token(socket: Socket) -> None:
            token = (socket.handshake.auth or {}).get("token")
            if token != "secret":
                raise ConnectionRefused("not authorized", {"token": token})

        @self.io.on("connection")
        def on_connection(socket: Socket) -> None:
            socket.emit("welcome", socket.handshake.auth, b"\x00\x01")
            self.events.put_nowait(("connection", socket.id))

            @socket.on("echo")
            def echo(*args: Any) -> Any:
                return args  # a tuple: several ack arguments

            @socket.on("binary")
            def binary(data: bytes) -> Any:
                return {"got": data, "reversed": data[::-1]}

            @socket.on("tell")
            def tell(value: Any) -> None:
                self.events.put_nowait(("tell", value))

            @socket.on("ask")
            async def ask(question: str) -> None:
                answer = await socket.timeout(5).emit_with_ack("question", question, b"\xff")
                socket.emit("answer", answer)

            @socket.on("transport")
            def transport() -> str:
                return str(socket.conn.transport.name)

            @socket.on("disconnect")
            def on_disconnect(reason: str, *details: Any) -> None:
                self.events.put_nowait(("disconnect", reason))

    async def next(self, kind: str) -> tuple[Any, ...]:
        while True:
            event = await asyncio.wait_for(self.events.get(), scaled(5))
            if event[0] == kind:
                return event


@pytest.fixture(params=["native", "asgi"])
async def served(request: pytest.FixtureRequest) -> AsyncIterator[tuple[App, str]]:
    app = App()
    async with running(app.io, request.param) as port:
        yield app, f"http://127.0.0.1:{port}"


@pytest.fixture(params=sorted(TRANSPORTS))
def transports(request: pytest.FixtureRequest) -> list[str]:
    return TRANSPORTS[request.param]


async def _wait_for_transport(client: socketio.AsyncClient, name: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + scaled(5)
    while await client.call("transport", timeout=scaled(5)) != name:
        assert loop.time() < deadline, f"still not on {name}"
        await asyncio.sleep(0.05)


async def test_a_refused_connection_carries_the_middleware_data(
    served: tuple[App, str], transports: list[str]
) -> None:
    _, url = served
    client = socketio.AsyncClient(reconnection=False)
    errors: asyncio.Queue[Any] = asyncio.Queue()
    client.on("connect_error", errors.put_nowait)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(url, auth={"token": "wrong"}, transports=transports, wait_timeout=5)
    error = await asyncio.wait_for(errors.get(), scaled(5))
    assert error == {"message": "not authorized", "data": {"token": "wrong"}}
    await client.disconnect()
    del client
    gc.collect()


async def test_events_acks_and_binary_both_ways(
    served: tuple[App, str], transports: list[str]
) -> None:
    app, url = served
    client = socketio.AsyncClient(reconnection=False)
    received: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
    client.on("welcome", lambda *args: received.put_nowait(("welcome", *args)))
    client.on("answer", lambda answer: received.put_nowait(("answer", answer)))
    client.on("question", lambda text, data: (text.upper(), data[::-1]))  # the ack

    await client.connect(url, auth={"token": "secret"}, transports=transports, wait_timeout=5)
    try:
        (_, sid) = await app.next("connection")
        assert client.get_sid() == sid
        # the emit from the connection handler, with its binary, is not missed
        welcome = await asyncio.wait_for(received.get(), scaled(5))
        assert welcome == ("welcome", {"token": "secret"}, b"\x00\x01")
        await _wait_for_transport(client, transports[-1])
        assert client.transport() == transports[-1]

        # client -> server: emits, acks (one and several values), binary
        await client.emit("tell", {"n": 1, "blob": b"\x07\x08"})
        assert await app.next("tell") == ("tell", {"n": 1, "blob": b"\x07\x08"})
        assert await client.call("echo", "one", timeout=scaled(5)) == "one"
        assert await client.call("echo", (1, "a", None), timeout=scaled(5)) == (1, "a", None)
        assert await client.call("binary", b"\x00\x01\x02", timeout=scaled(5)) == {
            "got": b"\x00\x01\x02",
            "reversed": b"\x02\x01\x00",
        }
        acked: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
        await client.emit("echo", ("x", b"\x09"), callback=lambda *a: acked.set_result(a))
        assert await asyncio.wait_for(acked, scaled(5)) == ("x", b"\x09")

        # server -> client: an emit_with_ack answered by the client's handler, binary in it
        await client.emit("ask", "ready?")
        answer = await asyncio.wait_for(received.get(), scaled(5))
        assert answer == ("answer", ["READY?", b"\xff"])
    finally:
        await client.disconnect()
    (_, reason) = await app.next("disconnect")
    assert reason in LEAVING
    del client
    gc.collect()
