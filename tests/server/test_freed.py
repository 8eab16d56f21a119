"""A disconnected client's objects are freed by reference counting (no cyclic GC needed).

With 15,000 live connections the cyclic GC is expensive, so per-connection objects must
not form cycles that outlive the connection: handler closures that capture the socket are
the usual culprit.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

from aiosocketio import Server, Socket, connect
from aiosocketio.engine.socket import EngineSocket
from aiosocketio.server.multiplexer import Multiplexer
from tests.support.timeouts import scaled


def _live(*types: type) -> int:
    """How many objects of these (slotted, weakref-less) types are alive."""
    return sum(1 for obj in gc.get_objects() if type(obj) in types)


@pytest.fixture
def no_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_a_disconnected_socket_is_freed_without_the_gc(no_gc: None, transport: str) -> None:
    io = Server()
    refs: list[weakref.ref[Any]] = []
    joined = asyncio.Event()

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        refs.append(weakref.ref(socket))

        @socket.on("hello")
        def hello(name: str) -> str:
            socket.join(name)  # a closure that holds the socket: a cycle unless dropped
            return f"hi {name}"

        socket.on("disconnect", lambda reason: socket.leave("x"))
        joined.set()

    await io.listen(0, "127.0.0.1")
    try:
        client = await connect(f"http://127.0.0.1:{io.port}", transports=[transport])
        await asyncio.wait_for(joined.wait(), scaled(5))
        assert await client.emit_with_ack("hello", "ann") == "hi ann"
        client.disconnect()
        deadline = asyncio.get_running_loop().time() + scaled(5)
        while any(ref() is not None for ref in refs) or _live(Multiplexer, EngineSocket):
            assert asyncio.get_running_loop().time() < deadline, (
                [r() for r in refs],
                _live(Multiplexer, EngineSocket),
            )
            await asyncio.sleep(0.02)
    finally:
        await io.close()
