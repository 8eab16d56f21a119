"""ClusterAdapter and ClusterAdapterWithHeartbeat over an in-memory bus (no Redis)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aiosocketio import Server
from aiosocketio.adapters.cluster import ClusterAdapter, ClusterAdapterWithHeartbeat
from aiosocketio.adapters.sharded import ShardedRedisAdapter
from aiosocketio.protocol.cluster.wire import decode_message
from aiosocketio.server.namespace import Namespace
from tests.cluster.support import eventually, eventually_async, junk_messages


class Bus:
    """Delivers every published message to the other members, one loop turn later."""

    def __init__(self, heartbeat: bool = True, **opts: Any) -> None:
        self.members: list[ClusterAdapter] = []
        self.heartbeat = heartbeat
        self.opts = opts
        self.sent: list[dict[str, Any]] = []

    def factory(self, nsp: Namespace) -> ClusterAdapter:
        bus = self
        base: type[ClusterAdapter] = (
            ClusterAdapterWithHeartbeat if self.heartbeat else ClusterAdapter
        )

        class Member(base):  # type: ignore[valid-type,misc]
            def do_publish(self, message: dict[str, Any]) -> None:
                if self not in bus.members:
                    return  # cut off the bus: silent
                bus.sent.append(message)
                wire = ShardedRedisAdapter.encode(message)
                loop = asyncio.get_running_loop()
                for member in list(bus.members):
                    if member is not self:
                        loop.call_soon(member.on_message, decode_message(wire))

            def do_publish_response(self, requester_uid: str, response: dict[str, Any]) -> None:
                wire = ShardedRedisAdapter.encode(response)
                loop = asyncio.get_running_loop()
                for member in list(bus.members):
                    if member.uid == requester_uid:
                        loop.call_soon(member.on_response, decode_message(wire))

            async def server_count(self) -> int:
                if bus.heartbeat:
                    count: int = await super().server_count()
                    return count
                return len(bus.members)

        adapter = Member(nsp, **self.opts)
        self.members.append(adapter)
        return adapter


def make_server(bus: Bus, name: str, seen: list[Any]) -> Server:
    server = Server(adapter=bus.factory)

    def on_sse(*args: Any) -> str:
        seen.append((name, list(args)))
        return f"{name} got {args[0]}"

    server.on("sse", on_sse)
    return server


async def test_heartbeats_count_servers_and_forget_silent_ones() -> None:
    bus = Bus(heartbeat_interval=0.05, heartbeat_timeout=0.3, requests_timeout=2)
    seen: list[Any] = []
    s1, s2, s3 = (make_server(bus, f"s{i}", seen) for i in (1, 2, 3))
    a1, a2, a3 = bus.members
    try:
        for adapter in (a1, a2, a3):
            await eventually_async(adapter.server_count, lambda n: n == 3)

        responses = await s1.server_side_emit_with_ack("sse", 1)
        assert sorted(responses) == ["s2 got 1", "s3 got 1"]
        assert await s1.fetch_sockets() == []

        # an adapter that closes says so
        await s3.close()
        bus.members.remove(a3)
        await eventually_async(a1.server_count, lambda n: n == 2)

        # a server that goes silent is forgotten; what waited for it completes
        bus.members.remove(a2)
        assert isinstance(a1, ClusterAdapterWithHeartbeat)
        pending = asyncio.ensure_future(s1.server_side_emit_with_ack("sse", 2))
        await asyncio.sleep(0.05)
        assert not pending.done()
        assert await asyncio.wait_for(pending, 3) == []
        assert await a1.server_count() == 1
        # heartbeats kept flowing while nothing else was said
        assert any(m["type"] == 2 for m in bus.sent)
    finally:
        for server in (s1, s2):
            await server.close()


async def test_emitter_messages_do_not_count_as_a_server() -> None:
    bus = Bus(heartbeat_interval=10, heartbeat_timeout=20)
    seen: list[Any] = []
    s1 = make_server(bus, "s1", seen)
    adapter = s1.sockets.adapter
    try:
        await asyncio.sleep(0)
        adapter_any: Any = adapter
        adapter_any.on_message(
            {"type": 9, "uid": "emitter", "nsp": "/", "data": {"packet": ["sse", "e"]}}
        )
        adapter_any.on_message({"type": 2, "uid": "peer", "nsp": "/"})
        adapter_any.on_message({"type": 2, "uid": "x", "nsp": "/other"})
        adapter_any.on_message("junk")
        adapter_any.on_response({"type": 8, "data": "junk"})
        assert seen == [("s1", ["e"])]
        assert await adapter.server_count() == 2
        adapter_any.on_message({"type": 13, "uid": "peer", "nsp": "/"})
        assert await adapter.server_count() == 1
    finally:
        await s1.close()


async def test_plain_cluster_adapter_counts_answers() -> None:
    bus = Bus(heartbeat=False, requests_timeout=0.3)
    seen: list[Any] = []
    s1, s2 = make_server(bus, "s1", seen), make_server(bus, "s2", seen)
    try:
        assert await s1.server_side_emit_with_ack("sse", "x") == ["s2 got x"]
        s1.server_side_emit("sse", "no-ack")
        await eventually(lambda: ("s2", ["no-ack"]) in seen)
        assert await s2.fetch_sockets() == []
        s1.sockets_join("room")  # nobody is connected: nothing to do, nothing breaks
        s1.to("r").sockets_leave("room")
        s1.to("r").disconnect_sockets(True)
        s1.emit("hello", b"\x00")
        assert [m["type"] for m in bus.sent[-4:]] == [4, 5, 6, 3]
        assert await s1.timeout(0.2).emit_with_ack("ask") == []
    finally:
        await s1.close()
        await s2.close()


async def test_junk_messages_never_escape_the_adapter(caplog: pytest.LogCaptureFixture) -> None:
    bus = Bus(heartbeat_interval=0.1, heartbeat_timeout=0.3, requests_timeout=0.2)
    seen: list[Any] = []
    s1, s2 = make_server(bus, "s1", seen), make_server(bus, "s2", seen)
    loop = asyncio.get_running_loop()
    errors: list[Any] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    try:
        adapter: Any = bus.members[0]
        for message in junk_messages(seed=6, count=600):
            adapter.on_message(message)
            adapter.on_response(message)
        await asyncio.sleep(0.1)
        assert errors == []
        # the junk senders counted as servers for a while, then were forgotten
        await eventually_async(adapter.server_count, lambda n: n == 2, timeout=3)
        # still a working cluster
        assert await s1.server_side_emit_with_ack("sse", "ok") == ["s2 got ok"]
    finally:
        loop.set_exception_handler(None)
        await s1.close()
        await s2.close()
