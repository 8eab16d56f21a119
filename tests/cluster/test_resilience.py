"""Resilience: a Redis restart, servers that never answer, malformed messages."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.connection import Connection as RedisConnection

from aiosocketio import Server
from aiosocketio.adapters import BroadcastOptions, redis_link
from aiosocketio.adapters.redis import RedisAdapter
from aiosocketio.adapters.sharded import ShardedRedisAdapter
from aiosocketio.exceptions import AckTimeout, AdapterError, AdapterTimeout, LocalProtocolError
from aiosocketio.protocol.cluster.wire import pack
from tests.cluster.harness import Cluster, PyNode, adapter_factory, lonely_node, start_py_node
from tests.cluster.support import (
    REDIS_URL,
    ClientFleet,
    RedisServer,
    eventually_async,
    free_port,
    own_redis,
    unique_key,
)
from tests.cluster.test_mixed import check_broadcasts_after_restart, expect_exactly

pytestmark = pytest.mark.cluster


@pytest.mark.parametrize("mode", ["classic", "sharded"])
async def test_broadcasts_after_a_redis_restart_arrive(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="aiosocketio.adapters")
    async with own_redis() as redis_server:
        cluster = await Cluster.start(mode, unique_key(), redis_server.url)
        try:
            await cluster.connect_clients()
            cluster.py[0].server.emit("before", 1)
            await expect_exactly(cluster, "before", {"a", "b", "c"}, [1])

            await redis_server.stop()
            await asyncio.sleep(0.3)
            await redis_server.start()

            # every server subscribes again (the count is what Redis sees)
            for py in cluster.py:
                adapter = py.server.sockets.adapter
                await eventually_async(adapter.server_count, lambda n: n == 3, timeout=10)
            await eventually_async(
                lambda: cluster.node.call("serverCount"), lambda n: n == 3, timeout=10
            )
            assert "lost the Redis subscription" in caplog.text
            assert "reconnected to Redis and resubscribed" in caplog.text

            await check_broadcasts_after_restart(cluster)
        finally:
            await cluster.stop()


@pytest.fixture(params=["classic", "sharded"])
async def lonely(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, str, PyNode]]:
    """One aiosocketio server, plus a silent subscriber that counts as a dead server."""
    mode: str = request.param
    key = unique_key()
    async with lonely_node(mode, key, requests_timeout=0.3) as node:
        yield mode, key, node


@pytest.mark.parametrize("mode", ["classic", "sharded", "streams"])
async def test_requests_to_a_dead_server_time_out(mode: str) -> None:
    async with lonely_node(mode, unique_key(), requests_timeout=0.3) as node:
        await _dead_server_checks(node)


async def _dead_server_checks(node: PyNode) -> None:
    server = node.server
    assert await server.sockets.adapter.server_count() == 2
    with pytest.raises(AdapterError, match="timeout reached") as info:
        await server.fetch_sockets()
    assert isinstance(info.value, AckTimeout)
    with pytest.raises(AdapterTimeout) as info2:
        await server.server_side_emit_with_ack("sse", 1)
    assert info2.value.responses == []
    # local operations do not wait for anyone
    assert await server.local.fetch_sockets() == []
    # arguments that cannot be sent fail at once, they do not wait for the timeout
    with pytest.raises(LocalProtocolError):
        await asyncio.wait_for(server.server_side_emit_with_ack("sse", object()), 0.2)
    with pytest.raises(LocalProtocolError):
        server.server_side_emit("sse", object())


async def test_malformed_messages_are_logged_and_skipped(
    lonely: tuple[str, str, PyNode], caplog: pytest.LogCaptureFixture
) -> None:
    mode, key, node = lonely
    caplog.set_level(logging.WARNING, logger="aiosocketio.adapters")
    fleet = await ClientFleet.launch()
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await fleet.connect("a", node.url, auth={"name": "a", "rooms": ["r"]})
        junk: list[bytes] = [
            b"",
            b"\xc1",
            b"{not json",
            b"[1,2]",
            pack([1, 2]),
            pack(["uid", "packet", {}]),
            pack(["uid", {"type": 2, "data": "not a list", "nsp": "/"}, {}]),
            pack({"type": 7, "requestId": "x", "packet": 5}),
            b'{"type":3,"data":{"packet":{"type":2,"data":7},"opts":{}},"uid":"u","nsp":"/"}',
            b'{"type":8,"data":{"requestId":"zz","sockets":"nope"},"uid":"u","nsp":"/"}',
            b'{"type":0,"requestId":"q","rooms":5}',
            b'{"type":4,"opts":{"rooms":[]},"uid":"u"}'[:-2],
        ]
        for data in junk:
            if mode == "sharded":
                await client.spublish(f"{key}#/#", data)
            else:
                for channel in (f"{key}#/#", f"{key}-request#/#", f"{key}-response#/#"):
                    await client.publish(channel, data)
        node.server.emit("still-alive", 1)
        await fleet.wait_received("a", "still-alive")
        assert "ignoring a malformed" in caplog.text
        assert fleet.disconnected("a") == []
    finally:
        await fleet.stop()
        await client.aclose()


async def test_publishing_while_redis_is_down_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="aiosocketio.adapters")
    async with own_redis() as redis_server:
        client = aioredis.Redis.from_url(redis_server.url)
        node = await start_py_node("py1", adapter_factory("classic", client, unique_key()))
        adapter = node.server.sockets.adapter
        assert isinstance(adapter, RedisAdapter)
        try:
            await redis_server.stop()
            node.server.emit("lost", 1)
            await eventually_async(
                lambda: asyncio.sleep(0.01), lambda _: "could not publish" in caplog.text
            )
            with pytest.raises(AdapterError):
                await adapter.server_count()
            node.server.emit("lost", 2)
            await redis_server.start()
            await eventually_async(adapter.server_count, lambda n: n == 1, timeout=10)
            node.server.emit("found", 3)
            await eventually_async(
                lambda: asyncio.sleep(0.01),
                lambda _: "publishing to Redis again" in caplog.text,
            )
            # the first failure is logged, the next ones are not, for a while
            assert caplog.text.count("could not publish") == 1
        finally:
            await node.server.close()
            await client.aclose()


async def test_the_publish_queue_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redis_link, "MAX_QUEUE", 10)
    client = aioredis.Redis.from_url(REDIS_URL)
    link = redis_link.RedisLink(client, client)
    try:
        for i in range(15):  # nothing drains the queue: no writer task was started
            link.publish("ch", b"%d" % i)
        assert len(link._queue) == 10
        assert link._dropped == 5
        assert link._queue[0] == ("ch", b"5", False)
    finally:
        await link.close()
        await client.aclose()


def test_unknown_subscription_mode_is_refused() -> None:
    class FakeNsp:
        name = "/"

    with pytest.raises(ValueError, match="subscription mode"):
        ShardedRedisAdapter(
            FakeNsp(),  # type: ignore[arg-type]
            aioredis.Redis(),
            subscription_mode="bogus",  # type: ignore[arg-type]
        )
    assert BroadcastOptions().rooms == frozenset()
    assert RedisServer().url.startswith("redis://127.0.0.1:")


class _CustomConnection(RedisConnection):
    """Any connection class but redis-py's own plain one: the adapters use redis-py's PubSub."""


@pytest.mark.parametrize("mode", ["classic", "sharded"])
async def test_redis_py_pubsub_backend_also_survives_a_restart(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="aiosocketio.adapters")
    async with own_redis() as redis_server:
        pool = aioredis.ConnectionPool(
            connection_class=_CustomConnection, host="127.0.0.1", port=redis_server.port
        )
        client = aioredis.Redis(connection_pool=pool)
        factory = adapter_factory(mode, client, unique_key())
        py1, py2 = await start_py_node("py1", factory), await start_py_node("py2", factory)
        adapter: Any = py1.server.sockets.adapter
        assert adapter.link._raw_params() is None
        fleet = await ClientFleet.launch()
        try:
            await fleet.connect("b", py2.url, auth={"name": "b", "rooms": ["rb"]})
            await eventually_async(adapter.server_count, lambda n: n == 2)
            await asyncio.sleep(0.05)
            py1.server.to("rb").emit("before", 1)
            assert await fleet.wait_received("b", "before") == [[1]]

            await redis_server.stop()
            await asyncio.sleep(0.2)
            await redis_server.start()
            await eventually_async(adapter.server_count, lambda n: n == 2, timeout=10)
            await eventually_async(
                py2.server.sockets.adapter.server_count, lambda n: n == 2, timeout=10
            )
            await asyncio.sleep(0.1)
            py1.server.to("rb").emit("after", 2)
            assert await fleet.wait_received("b", "after") == [[2]]
            assert "reconnected to Redis and resubscribed" in caplog.text
        finally:
            await fleet.stop()
            await py1.server.close()
            await py2.server.close()
            await client.aclose()
            await pool.disconnect()  # a pool given to Redis() is not closed by it


@pytest.mark.parametrize("transport", ["tcp-with-password", "unix-socket"])
async def test_own_connections_authenticate_and_use_unix_sockets(
    transport: str, tmp_path: Path
) -> None:
    socket_path = str(tmp_path / "redis.sock")
    if transport == "unix-socket":
        server_ctx = own_redis("--unixsocket", socket_path, "--unixsocketperm", "700")
    else:
        server_ctx = own_redis(password="s3cret")
    async with server_ctx as redis_server:
        if transport == "unix-socket":
            client = aioredis.Redis(unix_socket_path=socket_path)
        else:
            client = aioredis.Redis.from_url(redis_server.url)
        factory = adapter_factory("classic", client, unique_key())
        py1, py2 = await start_py_node("py1", factory), await start_py_node("py2", factory)
        adapter: Any = py1.server.sockets.adapter
        assert adapter.link._raw_params() is not None
        fleet = await ClientFleet.launch()
        try:
            await fleet.connect("b", py2.url, auth={"name": "b", "rooms": ["rb"]})
            await eventually_async(adapter.server_count, lambda n: n == 2)
            py1.server.to("rb").emit("hello", 1)
            assert await fleet.wait_received("b", "hello") == [[1]]
        finally:
            await fleet.stop()
            await py1.server.close()
            await py2.server.close()
            await client.aclose()


async def test_a_wrong_password_is_an_adapter_error() -> None:
    async with own_redis(password="right") as redis_server:
        client = aioredis.Redis.from_url(f"redis://:wrong@127.0.0.1:{redis_server.port}")
        server = Server(adapter=adapter_factory("classic", client, unique_key()))
        adapter: Any = server.sockets.adapter
        try:
            with pytest.raises(AdapterError):
                await adapter.link.subscribe(lambda c, d: None, channels=["x"], timeout=0.5)
        finally:
            await server.close()
            await client.aclose()


class FreezableProxy:
    """A TCP proxy to Redis whose current connections can be frozen (a half-open link)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.frozen: set[asyncio.StreamWriter] = set()
        self.writers: set[asyncio.StreamWriter] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self.writers |= {writer, up_writer}
        for src, dst, owner in ((reader, up_writer, writer), (up_reader, writer, writer)):
            task = asyncio.ensure_future(self._pump(src, dst, owner))
            self.tasks.add(task)

    async def _pump(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, owner: asyncio.StreamWriter
    ) -> None:
        while data := await src.read(65536):
            if owner not in self.frozen:
                dst.write(data)

    def freeze(self) -> None:
        self.frozen |= self.writers

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for writer in self.writers:
            writer.close()
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


async def test_a_silent_connection_is_detected_by_ping(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="aiosocketio.adapters")
    proxy = FreezableProxy(6379)
    await proxy.start()
    key = unique_key()
    direct = aioredis.Redis.from_url(REDIS_URL)
    proxied = aioredis.Redis(host="127.0.0.1", port=proxy.port)
    py1 = await start_py_node("py1", adapter_factory("classic", proxied, key))
    py2 = await start_py_node("py2", adapter_factory("classic", direct, key))
    adapter: Any = py1.server.sockets.adapter
    adapter.link.health_interval = 0.2
    fleet = await ClientFleet.launch()
    try:
        await fleet.connect("a", py1.url, auth={"name": "a", "rooms": ["ra"]})
        await eventually_async(py2.server.sockets.adapter.server_count, lambda n: n == 2)
        py2.server.to("ra").emit("before", 1)
        assert await fleet.wait_received("a", "before") == [[1]]

        proxy.freeze()  # py1's subscriber connection is open but nothing goes through
        await eventually_async(
            lambda: asyncio.sleep(0.02),
            lambda _: "reconnected to Redis and resubscribed" in caplog.text,
            timeout=5,
        )
        assert "Redis did not answer a PING" in caplog.text
        py2.server.to("ra").emit("after", 2)
        assert await fleet.wait_received("a", "after") == [[2]]
    finally:
        await fleet.stop()
        await py1.server.close()
        await py2.server.close()
        await proxy.stop()
        await direct.aclose()
        await proxied.aclose()


@pytest.mark.parametrize("mode", ["classic", "sharded"])
async def test_closing_while_redis_is_unreachable_is_quiet(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = aioredis.Redis(host="127.0.0.1", port=free_port())  # nothing listens there
    server = Server(adapter=adapter_factory(mode, client, unique_key()))  # starts init
    adapter: Any = server.sockets.adapter
    starting = asyncio.ensure_future(adapter.init())
    await asyncio.sleep(0.1)
    await server.close()
    await asyncio.wait_for(starting, 2)  # returns: no error for a server that shut down
    await asyncio.sleep(0.05)
    assert adapter.link.closed
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    await client.aclose()
