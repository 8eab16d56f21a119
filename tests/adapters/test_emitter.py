"""``RedisEmitter``: byte-identical to @socket.io/redis-emitter, and it drives a Node server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from aiosocketio.adapters.emitter import RedisEmitter
from aiosocketio.exceptions import LocalProtocolError
from aiosocketio.protocol.cluster.wire import unpack
from tests.cluster.support import (
    REDIS_URL,
    Capture,
    ClientFleet,
    eventually,
    eventually_async,
    start_node_server,
    unique_key,
)

pytestmark = pytest.mark.cluster


@pytest.fixture
async def redis_client() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


async def test_emitter_bytes_match_the_npm_package(redis_client: aioredis.Redis) -> None:
    key = unique_key()
    node, _port = await start_node_server(key)
    capture = Capture(redis_client)
    await capture.start(key + "*")
    emitter = RedisEmitter(redis_client, key=key)
    # the same operations, through @socket.io/redis-emitter and through RedisEmitter
    ops: list[tuple[dict[str, Any], Any]] = [
        (
            {"action": "emit", "event": "hello", "args": ["world", 1, 2.5, None, b"\x01\x02"]},
            lambda e: e.emit("hello", "world", 1, 2.5, None, b"\x01\x02"),
        ),
        (
            {"action": "emit", "rooms": ["room1"], "event": "x", "args": [{"a": [1]}]},
            lambda e: e.to("room1").emit("x", {"a": [1]}),
        ),
        (
            {"action": "emit", "rooms": ["r1", "r2"], "except": ["r3"], "event": "y", "args": []},
            lambda e: e.to("r1").to("r2").except_("r3").emit("y"),
        ),
        (
            {"action": "emit", "volatile": True, "event": "v", "args": [1]},
            lambda e: e.volatile.emit("v", 1),
        ),
        (
            {"action": "emit", "nsp": "/admin", "event": "z", "args": ["é"]},
            lambda e: e.of("admin").emit("z", "é"),
        ),
        (
            {"action": "socketsJoin", "rooms": ["a"], "except": ["b"], "join": ["c", "d"]},
            lambda e: e.in_("a").except_("b").sockets_join(["c", "d"]),
        ),
        ({"action": "socketsLeave", "leave": ["c"]}, lambda e: e.sockets_leave("c")),
        (
            {"action": "disconnectSockets", "rooms": ["a"], "close": True},
            lambda e: e.to("a").disconnect_sockets(True),
        ),
        (
            {"action": "serverSideEmit", "event": "sse", "args": [1, "two"]},
            lambda e: e.server_side_emit("sse", 1, "two"),
        ),
    ]
    try:
        for node_op, py_op in ops:
            await node.call("emitter", **node_op)
            (from_node,) = await capture.take(1)
            await py_op(emitter)
            (from_python,) = await capture.take(1)
            assert from_python == from_node, node_op
        # and the broadcast decodes to the documented shape
        await emitter.to("room1").emit("hello", b"\x00")
        ((channel, data),) = await capture.take(1)
        assert channel == f"{key}#/#room1#"
        assert unpack(data) == [
            "emitter",
            {"type": 2, "data": ["hello", b"\x00"], "nsp": "/"},
            {"rooms": ["room1"], "flags": {}, "except": []},
        ]
    finally:
        await capture.stop()
        await node.stop()


async def test_emitter_drives_a_node_server(redis_client: aioredis.Redis) -> None:
    key = unique_key()
    node, port = await start_node_server(key)
    fleet = await ClientFleet.launch()
    url = f"http://127.0.0.1:{port}"
    emitter = RedisEmitter(redis_client, key=key)
    try:
        await fleet.connect("a", url, auth={"name": "a", "rooms": ["r1"]})
        await fleet.connect("b", url, auth={"name": "b", "rooms": ["r2"]})

        await emitter.emit("all", 1, b"\x01\x02", {"k": "v"})
        for name in ("a", "b"):
            (args,) = await fleet.wait_received(name, "all")
            assert args == [1, b"\x01\x02", {"k": "v"}]

        await emitter.to("r1").emit("room", "only a")
        await emitter.except_("r1").emit("except", "only b")
        await emitter.to("r1").to("r2").except_("r2").emit("both-minus", 1)
        await fleet.wait_received("a", "room")
        await fleet.wait_received("b", "except")
        await fleet.wait_received("a", "both-minus")

        await emitter.in_("r2").sockets_join("joined")
        await emitter.to("joined").emit("in-joined")
        await fleet.wait_received("b", "in-joined")

        assert "joined" in await node.call("localRooms")
        await emitter.sockets_leave("joined")
        await eventually_async(lambda: node.call("localRooms"), lambda r: "joined" not in r)

        await emitter.server_side_emit("sse", "from-python", 2)
        event = await node.wait_event(lambda e: e.get("event") == "serverSideEmit")
        assert event["args"] == ["from-python", 2]

        with pytest.raises(LocalProtocolError):
            await emitter.server_side_emit("sse", lambda: None)
        with pytest.raises(LocalProtocolError):
            await emitter.emit("disconnect")
        with pytest.raises(LocalProtocolError):
            await emitter.server_side_emit("connect")

        await emitter.to("r1").disconnect_sockets()
        await eventually(lambda: fleet.disconnected("a") == ["io server disconnect"])
        await emitter.disconnect_sockets(close=True)
        await eventually(lambda: bool(fleet.disconnected("b")))

        assert fleet.received("a", "except") == []
        assert fleet.received("b", "room") == []
        assert fleet.received("b", "both-minus") == []
        assert fleet.received("a", "in-joined") == []
    finally:
        await fleet.stop()
        await node.stop()


def test_emitter_operators_are_immutable() -> None:
    class Fake:
        def publish(self, channel: str, message: bytes | str) -> Any:
            raise AssertionError("not called")

    emitter = RedisEmitter(Fake(), nsp="chat")
    assert emitter.nsp == "/chat"
    base = emitter.to("a")
    more = base.to(["b", "a"]).except_(["c"]).compress(False)
    assert base._rooms == ("a",)
    assert more._rooms == ("a", "b")
    assert more._except == ("c",)
    assert more._flags == {"compress": False}
    assert emitter.volatile._flags == {"volatile": True}
    assert emitter.compress(True)._flags == {"compress": True}
    assert emitter.in_("x")._rooms == ("x",)
    assert emitter.except_("x")._except == ("x",)
