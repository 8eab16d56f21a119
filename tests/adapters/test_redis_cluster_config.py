"""How a Redis Cluster is configured: ``redis+cluster://`` URLs, RedisCluster clients.

No Redis is needed here; tests/cluster/test_redis_cluster.py runs the adapters on a real
cluster.
"""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster

from aiosocketio import Server
from aiosocketio.adapters.redis import create_adapter
from aiosocketio.adapters.redis_cluster import (
    client_from_url,
    cluster_client,
    cluster_params,
    is_cluster,
)
from aiosocketio.adapters.redis_link import RedisLink
from aiosocketio.adapters.sharded import ShardedRedisAdapter
from aiosocketio.exceptions import AdapterError


def test_cluster_urls() -> None:
    client = cluster_client("redis+cluster://user:p%40ss@10.0.0.1:7000,10.0.0.2:7001,[::1]:7002")
    params = cluster_params(client)
    assert params["seeds"] == [("10.0.0.1", 7000), ("10.0.0.2", 7001), ("::1", 7002)]
    assert (params["username"], params["password"]) == ("user", "p@ss")
    assert cluster_params(cluster_client("redis+cluster://h"))["seeds"] == [("h", 6379)]
    with pytest.raises(ValueError, match="invalid port"):
        cluster_client("redis+cluster://h:port")
    with pytest.raises(ValueError, match="redis\\+cluster"):
        cluster_client("redis://h:1")


def test_client_from_url_picks_the_kind() -> None:
    assert is_cluster(client_from_url("redis+cluster://127.0.0.1:7000"))
    single = client_from_url("redis://127.0.0.1:6379")
    assert isinstance(single, aioredis.Redis) and not is_cluster(single)


def test_a_redis_py_cluster_client_gives_its_seeds() -> None:
    client = RedisCluster(startup_nodes=[ClusterNode("10.1.1.1", 7000)], password="pw")
    params = cluster_params(client)
    assert params["seeds"] == [("10.1.1.1", 7000)]
    assert params["password"] == "pw"


def test_tls_on_a_cluster_is_refused_cleanly() -> None:
    with pytest.raises(AdapterError, match="TLS"):
        cluster_params(RedisCluster.from_url("rediss://10.0.0.1:7000"))


async def test_pub_and_sub_must_be_the_same_kind() -> None:
    cluster = cluster_client("redis+cluster://127.0.0.1:7000")
    single = aioredis.Redis()
    with pytest.raises(ValueError, match="same kind"):
        RedisLink(cluster, single)
    await single.aclose()


async def test_a_server_on_an_unreachable_cluster_closes_cleanly() -> None:
    """The adapters start (the subscriber keeps trying) and close without errors."""
    for factory in (
        ShardedRedisAdapter.factory(cluster_client("redis+cluster://127.0.0.1:1")),
        create_adapter("redis+cluster://127.0.0.1:1"),
    ):
        server = Server(adapter=factory)
        await server.close()
