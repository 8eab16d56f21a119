"""Byte for byte: what an aiosocketio server publishes is what Node's adapters publish.

The same operations are made on a Node socket.io 4.8 server (@socket.io/redis-adapter 8.3)
and on an aiosocketio server of the same cluster; a raw subscriber captures the first
message each one publishes. The random parts (server uid, request id) have the same length
on both sides, so after replacing them by a placeholder the bytes must be identical.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from aiosocketio import Server
from aiosocketio.protocol.cluster.wire import decode_message, unpack
from tests.cluster.harness import adapter_factory, start_py_node
from tests.cluster.support import (
    REDIS_URL,
    Capture,
    eventually_async,
    start_node_server,
    unique_key,
)

pytestmark = pytest.mark.cluster

PyOp = Callable[[Server], Awaitable[Any]]
PAYLOAD = {"a": None, "f": 1.5, "l": [True, False], "s": "é" * 40}


async def _emit(server: Server) -> None:
    server.emit("ev", 1, "two", b"\x01\x02\x03", PAYLOAD)


async def _room(server: Server) -> None:
    server.to("room1").emit("ev", 1)


async def _rooms_except(server: Server) -> None:
    server.to(["r1", "r2"]).except_("r3").emit("ev")


async def _volatile(server: Server) -> None:
    server.volatile.emit("ev", "v")


async def _compress(server: Server) -> None:
    server.compress(False).emit("ev")


async def _join(server: Server) -> None:
    server.in_("r1").sockets_join(["x"]) if hasattr(server, "in_") else server.to(
        "r1"
    ).sockets_join(["x"])


async def _leave(server: Server) -> None:
    server.to("r1").except_("r2").sockets_leave(["x"])


async def _disconnect(server: Server) -> None:
    server.to("r9").disconnect_sockets(True)


async def _fetch(server: Server) -> None:
    await server.to("r1").fetch_sockets()


async def _sse(server: Server) -> None:
    server.server_side_emit("sse", 1, "a")


async def _sse_ack(server: Server) -> None:
    await server.server_side_emit_with_ack("sse", 2)


async def _emit_ack(server: Server) -> None:
    await server.timeout(1).emit_with_ack("ev", 3)


OPS: list[tuple[str, dict[str, Any], PyOp]] = [
    ("emit", {"event": "ev", "args": [1, "two", b"\x01\x02\x03", PAYLOAD]}, _emit),
    ("emit", {"event": "ev", "args": [1], "rooms": ["room1"]}, _room),
    ("emit", {"event": "ev", "args": [], "rooms": ["r1", "r2"], "except": ["r3"]}, _rooms_except),
    ("emit", {"event": "ev", "args": ["v"], "volatile": True}, _volatile),
    ("emit", {"event": "ev", "args": [], "compress": False}, _compress),
    ("socketsJoin", {"rooms": ["r1"], "join": ["x"]}, _join),
    ("socketsLeave", {"rooms": ["r1"], "except": ["r2"], "leave": ["x"]}, _leave),
    ("disconnectSockets", {"rooms": ["r9"], "close": True}, _disconnect),
    ("fetchSockets", {"rooms": ["r1"]}, _fetch),
    ("serverSideEmit", {"event": "sse", "args": [1, "a"]}, _sse),
    ("serverSideEmitWithAck", {"event": "sse", "args": [2]}, _sse_ack),
    ("emitWithAck", {"event": "ev", "args": [3], "timeout": 1000}, _emit_ack),
]  # fmt: skip


def _random_parts(data: bytes) -> list[str]:
    """The uid and request id inside a message (classic or cluster format)."""
    message = unpack(data) if data[:1] not in (b"{",) else decode_message(data)
    if isinstance(message, list):
        return [message[0]]
    out = [message.get("uid")]
    out.append(message.get("requestId"))
    inner = message.get("data")
    if isinstance(inner, dict):
        out.append(inner.get("requestId"))
    return [p for p in out if isinstance(p, str)]


def normalize(channel: str, data: bytes, uid: str) -> tuple[str, bytes]:
    for part in _random_parts(data):
        data = data.replace(part.encode(), b"#" * len(part))
    return channel.replace(uid, "#" * len(uid)), data


def canonical(data: bytes) -> Any:
    """The decoded message with every ``rooms``/``except`` list sorted."""

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: sorted(v) if k in ("rooms", "except") and isinstance(v, list) else walk(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return walk(decode_message(data))


@pytest.mark.parametrize("mode", ["classic", "sharded"])
async def test_published_bytes_match_node(mode: str) -> None:
    key = unique_key()
    client = aioredis.Redis.from_url(REDIS_URL)
    py = await start_py_node("py1", adapter_factory(mode, client, key, requests_timeout=0.5))
    node, _port = await start_node_server(key, mode)
    capture = Capture(client)
    pending: list[asyncio.Future[Any]] = []
    try:
        if mode == "sharded":
            await capture.start(None, [f"{key}#/#", f"{key}#/#room1#"])
        else:
            await capture.start(f"{key}*", [])
        py_adapter: Any = py.server.sockets.adapter
        # a sharded subscriber counts as a server: the capture is one
        await eventually_async(
            py_adapter.server_count, lambda n: n == (2 if mode == "classic" else 3)
        )
        node_uid: str = await node.call("uid")
        for cmd, fields, py_op in OPS:
            # nobody waits for the answers: only the first message matters here
            from_node = await capture.first_after(
                lambda c=cmd, f=fields: node.call(c, nowait=True, **f)  # type: ignore[misc]
            )

            async def run_py(op: PyOp = py_op) -> None:
                pending.append(asyncio.ensure_future(op(py.server)))

            from_py = await capture.first_after(run_py)
            expected = normalize(*from_node, node_uid)
            got = normalize(*from_py, py_adapter.uid)
            if len(fields.get("rooms", ())) > 1:
                # our rooms are a set: same bytes up to the order of the room names
                assert got[0] == expected[0]
                assert len(got[1]) == len(expected[1])
                assert canonical(got[1]) == canonical(expected[1]), (cmd, fields)
            else:
                assert got == expected, (cmd, fields, from_node, from_py)
    finally:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await capture.stop()
        await py.server.close()
        await node.stop()
        await client.aclose()
