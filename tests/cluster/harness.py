"""A mixed cluster for the tests: aiosocketio servers and one Node server on one Redis."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from aiosocketio import Server
from aiosocketio.adapters import Adapter
from aiosocketio.adapters.redis import RedisAdapter
from aiosocketio.adapters.redis_cluster import AnyRedis, client_from_url
from aiosocketio.adapters.sharded import ShardedRedisAdapter
from aiosocketio.adapters.streams import RedisStreamsAdapter
from aiosocketio.server.broadcast import RemoteSocket
from aiosocketio.server.namespace import Namespace
from aiosocketio.server.socket import Socket
from tests.cluster.support import (
    REDIS_URL,
    ClientFleet,
    NodeDriver,
    eventually_async,
    start_node_server,
)


def adapter_factory(
    mode: str, client: AnyRedis, key: str, **opts: Any
) -> Callable[[Namespace], Adapter]:
    if mode == "sharded":
        return ShardedRedisAdapter.factory(client, channel_prefix=key, **opts)
    if mode == "streams":
        assert isinstance(client, aioredis.Redis)  # the streams adapter: one Redis
        return RedisStreamsAdapter.factory(client, stream_name=key, channel_prefix=key, **opts)
    return RedisAdapter.factory(client, key=key, **opts)


@dataclass
class PyNode:
    """One aiosocketio server of the cluster and what it saw."""

    name: str
    server: Server
    server_side_events: list[list[Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"


async def start_py_node(
    name: str, factory: Callable[[Namespace], Adapter], **server_opts: Any
) -> PyNode:
    server = Server(adapter=factory, ping_interval=2, ping_timeout=2, **server_opts)
    node = PyNode(name, server)

    @server.on("connection")
    def on_connection(socket: Socket) -> None:
        auth = socket.handshake.auth or {}
        socket.data = {"name": auth.get("name"), "server": name}
        rooms = auth.get("rooms")
        if isinstance(rooms, list):
            socket.join(rooms)

    def on_sse(*args: Any) -> dict[str, Any]:
        node.server_side_events.append(list(args))
        return {"from": name, "got": list(args)}

    server.on("sse", on_sse)
    await server.listen(0, "127.0.0.1")
    return node


@contextlib.asynccontextmanager
async def lonely_node(mode: str, key: str, **opts: Any) -> AsyncIterator[PyNode]:
    """One aiosocketio server on ``key``, plus a silent subscriber that counts as a dead server.

    ``opts`` go to the adapter (``requests_timeout``...).
    """
    client = aioredis.Redis.from_url(REDIS_URL)
    node = await start_py_node("py1", adapter_factory(mode, client, key, **opts))
    silent = client.pubsub()
    if mode == "sharded":
        await silent.ssubscribe(f"{key}#/#")
    elif mode == "streams":
        await silent.subscribe(f"{key}#/#")
    else:
        await silent.subscribe(f"{key}-request#/#")
    try:
        yield node
    finally:
        await silent.aclose()
        await node.server.close()
        if mode == "streams":  # the stream (and any session) outlive the server
            keys = [k async for k in client.scan_iter(match=f"{key}*")]
            if keys:
                await client.delete(*keys)
        await client.aclose()


def describe(sockets: Iterable[Socket | RemoteSocket]) -> dict[str, dict[str, Any]]:
    """fetch_sockets results, by client name: data, auth and rooms (own id room removed)."""
    out: dict[str, dict[str, Any]] = {}
    for s in sockets:
        data = s.data or {}
        rooms = set(s.rooms) - {s.id}
        out[str(data.get("name"))] = {
            "server": data.get("server"),
            "auth": dict(s.handshake.auth),
            "rooms": sorted(rooms),
            "id": s.id,
            "remote": isinstance(s, RemoteSocket),
        }
    return out


@dataclass
class Cluster:
    """Two aiosocketio servers, one Node server, one client on each."""

    mode: str
    key: str
    client: Any  # AnyRedis (a Redis or a RedisCluster); the Postgres cluster: the asyncpg pool
    py: list[PyNode]
    node: NodeDriver
    node_port: int
    fleet: ClientFleet
    sids: dict[str, str] = field(default_factory=dict)

    @classmethod
    async def start(
        cls,
        mode: str,
        key: str,
        redis_url: str = REDIS_URL,
        node_cfg: dict[str, Any] | None = None,
        server_opts: dict[str, Any] | None = None,
        **adapter_opts: Any,
    ) -> Cluster:
        client = client_from_url(redis_url)  # redis+cluster:// for a Redis Cluster
        factory = adapter_factory(mode, client, key, **adapter_opts)
        extra = server_opts or {}
        py = [
            await start_py_node("py1", factory, **extra),
            await start_py_node("py2", factory, **extra),
        ]
        node, port = await start_node_server(key, mode, redis_url, **(node_cfg or {}))
        fleet = await ClientFleet.launch()
        cluster = cls(mode, key, client, py, node, port, fleet)
        for srv in py:
            await eventually_async(srv.server.sockets.adapter.server_count, lambda n: n == 3)
        await eventually_async(lambda: node.call("serverCount"), lambda n: n == 3)
        return cluster

    async def connect_clients(self) -> None:
        """a -> py1 (rooms ra, common), b -> py2 (rb, common), c -> node (rc, common)."""
        urls = {"a": self.py[0].url, "b": self.py[1].url, "c": f"http://127.0.0.1:{self.node_port}"}
        for name, url in urls.items():
            self.sids[name] = await self.fleet.connect(
                name, url, auth={"name": name, "rooms": [f"r{name}", "common"]}
            )
        # the dynamic subscriptions of the sharded adapter are made as rooms appear
        await asyncio.sleep(0.1)

    async def stop(self) -> None:
        await self.fleet.stop()
        for srv in self.py:
            await srv.server.close()
        try:
            await self.node.call("close", wait=3)
        except AssertionError:
            pass
        await self.node.stop()
        await self.client.aclose()
