"""The Redis adapters and the emitter on a Redis Cluster of three masters.

A mixed cluster (two aiosocketio servers, one Node socket.io 4.8 server on
@socket.io/redis-adapter 8.3 with the `redis` package's ``createCluster``) runs every
cross-server operation from both sides, on the sharded adapter (SPUBLISH/SSUBSCRIBE on the
node owning each channel's slot) and on the classic one (PUBLISH, which the cluster
forwards to every node). The sharded adapters follow a slot that moves to another master.
"""

from __future__ import annotations

import asyncio
import random
import re
import string
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from aiosocketio.adapters.emitter import RedisEmitter
from aiosocketio.adapters.redis_cluster import ClusterNodes, client_from_url, cluster_client
from aiosocketio.adapters.redis_cluster_subscriber import ClusterSubscriber
from aiosocketio.adapters.redis_link import RedisLink
from aiosocketio.adapters.sharded import ShardedRedisAdapter
from aiosocketio.protocol.redis_cluster import SLOTS, SlotMap, key_slot
from tests.browser.server_process import CLIProcess
from tests.cluster.harness import Cluster, start_py_node
from tests.cluster.redis_cluster import RedisClusterProcs, redis_cluster
from tests.cluster.support import ClientFleet, eventually, eventually_async, unique_key
from tests.cluster.test_mixed import VARIANTS, expect_exactly, run_mixed_scenario
from tests.support.timeouts import scaled
from tests.test_cli import _http, app_dir, polling_connect, run_cli

__all__ = ["app_dir"]  # a fixture of tests/test_cli.py, used here too

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def rcluster() -> Iterator[RedisClusterProcs]:
    with redis_cluster(masters=3) as procs:
        yield procs


async def start_cluster(rcluster: RedisClusterProcs, variant: str, key: str) -> Cluster:
    mode, py_opts, node_cfg = VARIANTS[variant]
    cluster = await Cluster.start(
        mode,
        key,
        redis_url=rcluster.url,
        node_cfg={**node_cfg, "cluster": rcluster.node_urls},
        requests_timeout=3,
        **py_opts,
    )
    try:
        await cluster.connect_clients()
    except BaseException:
        await cluster.stop()
        raise
    return cluster


@pytest.fixture(params=["classic", "sharded-dynamic", "sharded-static", "sharded-dynamic-private"])
async def mixed(
    request: pytest.FixtureRequest, rcluster: RedisClusterProcs
) -> AsyncIterator[Cluster]:
    cluster = await start_cluster(rcluster, request.param, spread_key(rcluster))
    try:
        yield cluster
    finally:
        await cluster.stop()


MIXED_ROOMS = ("ra", "rb", "rc", "common")


def spread_key(rcluster: RedisClusterProcs) -> str:
    """A fresh key whose namespace and room channels are owned by more than one master.

    Channel slots follow the (random) key, so with a key drawn at random all five channels
    land on one of three masters one time in 81; the sharded test must see them spread.
    """
    while True:
        key = unique_key()
        names = [f"{key}#/#"] + [f"{key}#/#{room}#" for room in MIXED_ROOMS]
        if len({rcluster.owner(key_slot(name)) for name in names}) > 1:
            return key


def shard_subscribers(rcluster: RedisClusterProcs, channel: str) -> dict[int, int]:
    """``PUBSUB SHARDNUMSUB channel`` on each master, by port."""
    out: dict[int, int] = {}
    for port in rcluster.master_ports():
        reply = rcluster.command(port, "PUBSUB", "SHARDNUMSUB", channel)
        out[port] = int(reply[1])
    return out


def test_key_slots_match_redis(rcluster: RedisClusterProcs) -> None:
    rng = random.Random(16)
    alphabet = string.ascii_letters + "#/{}.-é"
    names = ["socket.io#/#", "{a}b", "a{}b{c}", "x{{y}}"]
    names += [
        "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 30))) for _ in range(300)
    ]
    for name in names:
        assert key_slot(name) == rcluster.command(rcluster.ports[0], "CLUSTER", "KEYSLOT", name)


async def test_mixed_cluster_on_redis_cluster(
    mixed: Cluster, rcluster: RedisClusterProcs, request: pytest.FixtureRequest
) -> None:
    variant = request.node.callspec.params["mixed"]
    if mixed.mode == "sharded":
        # the three servers hold the namespace's channel on the master that owns its slot
        channel = f"{mixed.key}#/#"
        owner = rcluster.owner(key_slot(channel))
        counts = shard_subscribers(rcluster, channel)
        assert counts[owner] == 3
        assert sum(counts.values()) == 3
        # every channel (rooms' and response channels too) is held by its slot's owner
        held: dict[str, int] = {}
        for port in rcluster.master_ports():
            for name in rcluster.command(port, "PUBSUB", "SHARDCHANNELS", f"{mixed.key}#*"):
                held[name.decode()] = port
        assert all(rcluster.owner(key_slot(name)) == port for name, port in held.items())
        if VARIANTS[variant][1].get("subscription_mode", "dynamic") != "static":
            assert {f"{mixed.key}#/#{room}#" for room in MIXED_ROOMS} <= set(held)
            # spread_key put these channels' slots on several masters: each is held there
            assert len(set(held.values())) > 1
    await run_mixed_scenario(mixed)


async def test_emitters_on_redis_cluster(rcluster: RedisClusterProcs) -> None:
    """Our RedisEmitter on a RedisCluster client, and Node's Emitter on createCluster."""
    key = unique_key()
    cluster = await start_cluster(rcluster, "classic", key)
    client = cluster_client(rcluster.url)
    try:
        emitter = RedisEmitter(client, key=key)
        await emitter.emit("py-emitter", 1, b"\x00")
        await expect_exactly(cluster, "py-emitter", {"a", "b", "c"}, [1, b"\x00"])
        await emitter.to("rb").emit("py-emitter-room", 2)
        await expect_exactly(cluster, "py-emitter-room", {"b"}, [2])
        await emitter.in_("rc").sockets_join("joined-by-emitter")
        await eventually_async(
            cluster.py[0].server.fetch_sockets,
            lambda sockets: any("joined-by-emitter" in s.rooms for s in sockets),
            what="emitter sockets_join",
        )
        await cluster.node.call("emitter", action="emit", event="node-emitter", args=[3])
        await expect_exactly(cluster, "node-emitter", {"a", "b", "c"}, [3])
        await cluster.node.call("emitter", action="emit", event="node-room", rooms=["ra"], args=[])
        await expect_exactly(cluster, "node-room", {"a"}, [])
    finally:
        await client.aclose()
        await cluster.stop()


async def test_sharded_adapter_follows_a_moving_slot(rcluster: RedisClusterProcs) -> None:
    key = unique_key()
    cluster = await start_cluster(rcluster, "sharded-dynamic", key)
    try:
        channel = f"{key}#/#"
        slot = key_slot(channel)
        source = rcluster.owner(slot)
        target = next(p for p in rcluster.master_ports() if p != source)
        assert shard_subscribers(rcluster, channel)[source] == 3

        await asyncio.to_thread(rcluster.move_slot, slot, target)

        # Redis dropped every subscription on the old owner (sunsubscribe); our two servers
        # subscribe again on the new one. The Node server does not: node-redis 4.7.0's
        # cluster listens for a "server-sunsubscribe" event that its client never emits (it
        # emits "sharded-channel-moved"), so its main channel stays unsubscribed.
        expected = {p: (2 if p == target else 0) for p in rcluster.master_ports()}

        async def counts() -> dict[int, int]:
            return shard_subscribers(rcluster, channel)

        await eventually_async(
            counts, lambda c: c == expected, timeout=10, what="resubscribed on the new owner"
        )
        # (what the Node server's client "c" receives is left to node-redis)
        cluster.py[0].server.emit("after-move-py", 1)
        # Node's SPUBLISH follows the slot too (MOVED) and reaches our servers
        await cluster.node.call("emit", event="after-move-node", args=[2])
        for name in ("a", "b"):
            assert await cluster.fleet.wait_received(name, "after-move-py") == [[1]]
            assert await cluster.fleet.wait_received(name, "after-move-node") == [[2]]
        cluster.py[1].server.to("ra").emit("after-move-room", 3)
        await expect_exactly(cluster, "after-move-room", {"a"}, [3])
        # requests between our servers still go out and come back
        py1, py2 = (node.server for node in cluster.py)
        sockets = await py2.fetch_sockets()
        assert sorted(s.data["name"] for s in sockets) == ["a", "b"]
        py1.server_side_emit("sse", "moved")
        await eventually(lambda: ["moved"] in cluster.py[1].server_side_events)
        assert isinstance(py1.sockets.adapter, ShardedRedisAdapter)
    finally:
        await cluster.stop()


async def test_cli_run_on_a_redis_cluster(app_dir: Path, rcluster: RedisClusterProcs) -> None:
    """``aiosocketio run --redis redis+cluster://...``: two processes share a broadcast."""
    for adapter in ("sharded", "pubsub"):
        key = unique_key()
        procs: list[CLIProcess] = []
        try:
            for _ in range(2):
                proc = await CLIProcess.start(
                    "run", "cli_test_app:sio", "--port", "0", "--app-dir", str(app_dir),
                    "--redis", rcluster.url, "--redis-key", key, "--redis-adapter", adapter,
                    "--shutdown-grace", "1",  # the raw polling sessions are left behind
                )  # fmt: skip
                procs.append(proc)
            ports = []
            for proc in procs:
                match = re.search(r":(\d+) ", await proc.wait_for_output("serving"))
                assert match is not None
                ports.append(int(match.group(1)))
            alice = await polling_connect(ports[0])
            bob = await polling_connect(ports[1])
            bob_poll = asyncio.ensure_future(asyncio.to_thread(_http, ports[1], "GET", bob))
            await asyncio.sleep(0.2)
            shout = '42["shout","across the Redis Cluster"]'
            assert await asyncio.to_thread(_http, ports[0], "POST", alice, shout) == (200, "ok")
            heard = (200, '42["heard","across the Redis Cluster"]')
            assert await asyncio.wait_for(bob_poll, scaled(10)) == heard
        finally:
            codes = [await proc.stop() for proc in procs]
        assert codes == [0, 0], "\n".join(proc.text for proc in procs)
        assert all("Traceback" not in proc.text for proc in procs)


@pytest.mark.parametrize(
    ("url", "code", "message"),
    [
        ("redis+cluster://127.0.0.1:1", 1, "--redis: cannot reach Redis at"),
        ("redis+cluster://127.0.0.1:x", 2, "--redis: invalid port"),
    ],
)
def test_cli_bad_cluster_url_is_a_clean_error(url: str, code: int, message: str) -> None:
    result = run_cli("demo", "--port", "0", "--redis", url)
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


async def test_a_stale_slot_map_is_corrected_by_moved(rcluster: RedisClusterProcs) -> None:
    """Publisher and subscriber both start with a map that sends every slot to one wrong
    master: the MOVED replies route them to the owners, and the messages arrive."""
    client = cluster_client(rcluster.url)
    link = RedisLink(client, client)
    channels = [f"{unique_key()}#{n}#" for n in range(12)]
    owners = {rcluster.owner(key_slot(c)) for c in channels}
    assert len(owners) > 1
    wrong = ("127.0.0.1", rcluster.master_ports()[0])
    assert link._cluster is not None and isinstance(link.subscriber, ClusterSubscriber)
    for nodes in (link._cluster, link.subscriber._nodes):
        nodes.slots = SlotMap([(0, SLOTS - 1, wrong)])
    got: list[tuple[str, bytes]] = []
    try:
        await link.subscribe(lambda c, d: got.append((c, d)), shard_channels=channels)
        assert shard_subscribers_of(rcluster, channels) == dict.fromkeys(channels, 1)
        for nodes in (link._cluster, link.subscriber._nodes):
            nodes.slots = SlotMap([(0, SLOTS - 1, wrong)])
        for n, channel in enumerate(channels):
            link.publish(channel, b"%d" % n, sharded=True)
        await eventually(lambda: len(got) == len(channels), what="every message")
        assert sorted(got) == sorted((c, b"%d" % n) for n, c in enumerate(channels))
    finally:
        await link.close()
        await client.aclose()


def shard_subscribers_of(rcluster: RedisClusterProcs, channels: list[str]) -> dict[str, int]:
    """How many subscribers each channel has on the master that owns it."""
    out = {}
    for channel in channels:
        reply = rcluster.command(
            rcluster.owner(key_slot(channel)), "PUBSUB", "SHARDNUMSUB", channel
        )
        out[channel] = int(reply[1])
    return out


async def test_a_cluster_with_a_password() -> None:
    """``redis+cluster://:password@...``: our connections authenticate to every node."""
    with redis_cluster(masters=3, password="s3cret") as procs:
        key = unique_key()
        client = client_from_url(procs.url)
        wrong = cluster_client(procs.url.replace("s3cret", "wrong"))
        factory = ShardedRedisAdapter.factory(client, channel_prefix=key)
        nodes = [await start_py_node(name, factory) for name in ("py1", "py2")]
        fleet = await ClientFleet.launch()
        try:
            await fleet.connect("b", nodes[1].url)
            for node in nodes:
                await eventually_async(node.server.sockets.adapter.server_count, lambda n: n == 2)
            nodes[0].server.emit("with-auth", 1)
            assert await fleet.wait_received("b", "with-auth") == [[1]]
            with pytest.raises(ConnectionError, match="AUTH failed"):
                await ClusterNodes.for_client(wrong).refresh()
        finally:
            await fleet.stop()
            for node in nodes:
                await node.server.close()
            await client.aclose()
            await wrong.aclose()
