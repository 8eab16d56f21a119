"""A master of the Redis Cluster crashes under a stream of broadcasts.

Three masters and three replicas, ``cluster-node-timeout`` 2000 ms. Two aiosocketio servers
on the sharded (or the classic) adapter; a client of the second one receives a numbered
broadcast that the first one sends every 50 ms. A master is killed (SIGKILL): the one that
owns the namespace's channel, another one, or the one holding the classic subscriptions.
The test records which broadcasts were lost, when a replica took over, and how long after
the kill the first broadcast arrived again; it asserts that service came back within a
bound and that nothing is lost once it did (nor at all when the channel's master lives),
and prints the figures (``pytest -s``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

import aiosocketio
from aiosocketio.adapters.redis import RedisAdapter
from aiosocketio.adapters.redis_cluster import cluster_client
from aiosocketio.adapters.sharded import ShardedRedisAdapter
from aiosocketio.protocol.redis_cluster import key_slot
from tests.cluster.harness import start_py_node
from tests.cluster.redis_cluster import RedisClusterProcs, redis_cluster
from tests.cluster.support import (
    ClientFleet,
    NodeDriver,
    eventually,
    eventually_async,
    start_node_server,
    unique_key,
)
from tests.support.timeouts import scaled

pytestmark = pytest.mark.cluster

PERIOD = 0.05
"""Seconds between two broadcasts."""

SERVICE_BOUND = 15.0
"""Seconds within which broadcasts must arrive again after the kill (scaled): the node
timeout (2 s), the election, and our resubscription, with room for a loaded machine."""


@pytest.fixture(scope="module")
def rcluster6() -> Iterator[RedisClusterProcs]:
    with redis_cluster(masters=3, replicas=1, node_timeout_ms=2000) as procs:
        yield procs


@pytest.mark.parametrize("mode", ["sharded", "sharded-other-master", "classic"])
async def test_a_master_crashes(rcluster6: RedisClusterProcs, mode: str) -> None:
    """``sharded``: the master of the namespace's channel dies; ``sharded-other-master``:
    another one does (nothing may be lost); ``classic``: the master our classic
    subscriptions are on dies."""
    key = unique_key()
    client = cluster_client(rcluster6.url)
    if mode.startswith("sharded"):
        factory: Any = ShardedRedisAdapter.factory(client, channel_prefix=key)
        owner = rcluster6.owner(key_slot(f"{key}#/#"))
        victim = owner
        if mode == "sharded-other-master":
            victim = next(p for p in rcluster6.master_ports() if p != owner)
    else:
        factory = RedisAdapter.factory(client, key=key)
        victim = -1  # the master our subscriber connection uses: found below
    py1 = await start_py_node("py1", factory)
    py2 = await start_py_node("py2", factory)
    received: dict[int, float] = {}
    socket = aiosocketio.client_socket(py2.url, force_new=True, transports=["websocket"])

    @socket.on("tick")
    def on_tick(n: int) -> None:
        received.setdefault(n, time.monotonic())

    sent: dict[int, float] = {}
    ticking = True

    async def tick() -> None:
        n = 0
        while ticking:
            sent[n] = time.monotonic()
            py1.server.emit("tick", n)
            n += 1
            await asyncio.sleep(PERIOD)

    ticker: asyncio.Task[None] | None = None
    # with the sharded adapter, a Node server on createShardedAdapter (the `redis` package's
    # createCluster) watches too: what its client receives is recorded, not asserted
    node: NodeDriver | None = None
    fleet: ClientFleet | None = None
    try:
        await socket.connect()
        servers = 2
        if mode == "sharded":
            node, node_port = await start_node_server(
                key, "sharded", rcluster6.url, cluster=rcluster6.node_urls
            )
            fleet = await ClientFleet.launch()
            await fleet.connect("c", f"http://127.0.0.1:{node_port}")
            servers = 3
        for py in (py1, py2):
            await eventually_async(py.server.sockets.adapter.server_count, lambda n: n == servers)
        if mode == "classic":
            victim = await classic_subscriber_node(rcluster6, f"{key}-request#/#")
        ticker = asyncio.ensure_future(tick())
        await eventually(lambda: len(received) >= 20, what="ticks before the kill")

        killed_at = time.monotonic()
        rcluster6.kill(victim)
        promoted = asyncio.ensure_future(asyncio.to_thread(wait_promoted, rcluster6, victim))

        def after_kill() -> list[float]:
            return [t for n, t in list(received.items()) if sent[n] > killed_at]

        await eventually(
            lambda: bool(after_kill()), timeout=SERVICE_BOUND, what="a broadcast after the kill"
        )
        back = min(after_kill())
        promoted_at = await asyncio.wait_for(promoted, scaled(SERVICE_BOUND))
        # then 2 more seconds of broadcasts, all of which must arrive
        await asyncio.sleep(2)
        ticking = False
        await ticker
        last = max(sent)
        await eventually(lambda: last in received, what="the last tick")
    finally:
        ticking = False
        if ticker is not None and not ticker.done():
            ticker.cancel()
        socket.disconnect()
        node_got = sorted(a[0] for a in fleet.received("c", "tick")) if fleet else []
        if fleet is not None:
            await fleet.stop()
        if node is not None:
            await node.stop()
        await py1.server.close()
        await py2.server.close()
        await client.aclose()
        await asyncio.to_thread(rcluster6.restart_killed)

    lost = sorted(n for n in sent if n not in received)
    lost_after_back = [n for n in lost if sent[n] > back]
    service_back = back - killed_at
    window = (
        f" (sent from {sent[lost[0]] - killed_at:+.2f} s to {sent[lost[-1]] - killed_at:+.2f} s)"
        if lost
        else ""
    )
    print(
        f"\n[{mode}] master :{victim} killed: a replica took its slots after "
        f"{promoted_at - killed_at:.2f} s, the first broadcast arrived after "
        f"{service_back:.2f} s; {len(lost)} of {len(sent)} broadcasts lost{window}"
    )
    if mode == "sharded":
        node_after = [n for n in node_got if sent[n] > killed_at]
        node_back = ""
        if node_after:
            node_back = f" (from the one sent at {sent[node_after[0]] - killed_at:+.2f} s)"
        print(
            f"[{mode}] the Node server's client received {len(node_after)} of the "
            f"{sum(1 for t in sent.values() if t > killed_at)} broadcasts sent after the kill"
            f"{node_back}"
        )
    assert service_back < scaled(SERVICE_BOUND)
    assert lost_after_back == []
    if mode == "sharded-other-master":
        assert lost == []
    # what is lost is what was sent while the channel's master was down
    assert all(sent[n] >= killed_at - 1 for n in lost)


def wait_promoted(rcluster: RedisClusterProcs, victim: int) -> float:
    """When a live node's slot map stopped naming ``victim`` (a replica took over)."""
    deadline = time.monotonic() + scaled(SERVICE_BOUND)
    while time.monotonic() < deadline:
        try:
            if victim not in rcluster.master_ports():
                return time.monotonic()
        except (OSError, redis.RedisError):
            pass
        time.sleep(0.02)
    raise AssertionError(f"no replica took over from :{victim}")


async def classic_subscriber_node(rcluster: RedisClusterProcs, channel: str) -> int:
    """The master on which the servers' classic subscriptions are (PUBSUB NUMSUB > 0)."""
    for port in rcluster.master_ports():
        reply = rcluster.command(port, "PUBSUB", "NUMSUB", channel)
        if int(reply[1]) > 0:
            return port
    raise AssertionError("no master holds the classic subscriptions")
