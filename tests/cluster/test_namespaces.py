"""Namespaces stay apart across the cluster: a broadcast in /chat reaches /chat only."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from aiosocketio.adapters.emitter import RedisEmitter
from tests.cluster.harness import adapter_factory, start_py_node
from tests.cluster.support import (
    REDIS_URL,
    ClientFleet,
    eventually_async,
    start_node_server,
    unique_key,
)

pytestmark = pytest.mark.cluster


@pytest.mark.parametrize("mode", ["classic", "sharded"])
async def test_namespaces_are_separate_across_servers(mode: str) -> None:
    key = unique_key()
    client = aioredis.Redis.from_url(REDIS_URL)
    py = await start_py_node("py1", adapter_factory(mode, client, key))
    chat = py.server.of("/chat")
    node, port = await start_node_server(key, mode, nsps=["/", "/chat"])
    fleet = await ClientFleet.launch()
    try:
        await fleet.connect("py-chat", py.url, nsp="/chat")
        await fleet.connect("py-main", py.url)
        await fleet.connect("node-chat", f"http://127.0.0.1:{port}", nsp="/chat")
        await fleet.connect("node-main", f"http://127.0.0.1:{port}")
        await eventually_async(chat.adapter.server_count, lambda n: n == 2)

        chat.emit("from-py", 1)
        await node.call("emit", nsp="/chat", event="from-node", args=[2])
        if mode == "classic":
            await RedisEmitter(client, key=key).of("chat").emit("from-emitter", 3)
        for name in ("py-chat", "node-chat"):
            assert await fleet.wait_received(name, "from-py") == [[1]]
            assert await fleet.wait_received(name, "from-node") == [[2]]
            if mode == "classic":
                assert await fleet.wait_received(name, "from-emitter") == [[3]]
        await asyncio.sleep(0.05)
        for name in ("py-main", "node-main"):
            assert fleet.received(name, "from-py") == []
            assert fleet.received(name, "from-node") == []
            assert fleet.received(name, "from-emitter") == []

        fetched = await chat.fetch_sockets()
        assert len(fetched) == 2
        main = await py.server.fetch_sockets()
        assert len(main) == 2
        assert {s.id for s in fetched}.isdisjoint({s.id for s in main})
    finally:
        await fleet.stop()
        await py.server.close()
        await node.stop()
        await client.aclose()
