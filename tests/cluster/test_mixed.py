"""A mixed cluster: two aiosocketio servers and one Node socket.io 4.8 server on one Redis.

Each operation is made from a Python node and from the Node node, and observed by a
socket.io-client 4.8 connected to each of the three servers. It runs once with the classic
adapter (PUBLISH/PSUBSCRIBE) and once with the sharded one (SPUBLISH/SSUBSCRIBE).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from aiosocketio.adapters.redis import RedisAdapter
from aiosocketio.server.broadcast import RemoteSocket
from tests.cluster.harness import Cluster, PyNode, describe
from tests.cluster.support import NodeDriver, eventually, eventually_async, unique_key

pytestmark = pytest.mark.cluster

CLIENTS = ("a", "b", "c")


class PyOrigin:
    """Operations made from an aiosocketio server."""

    def __init__(self, node: PyNode) -> None:
        self.name = node.name
        self.server = node.server

    async def emit(
        self,
        event: str,
        args: list[Any],
        rooms: list[str] | None = None,
        except_: list[str] | None = None,
        local: bool = False,
    ) -> None:
        op = self.server.to(rooms or [])
        if except_:
            op = op.except_(except_)
        if local:
            op = op.local
        op.emit(event, *args)

    async def emit_with_ack(self, event: str, timeout: float) -> list[Any]:
        result: list[Any] = await self.server.timeout(timeout).emit_with_ack(event)
        return result

    async def sockets_join(self, rooms: list[str], join: str) -> None:
        self.server.to(rooms).sockets_join(join)

    async def sockets_leave(self, rooms: list[str], leave: str) -> None:
        self.server.to(rooms).sockets_leave(leave)

    async def disconnect_sockets(self, rooms: list[str], close: bool) -> None:
        self.server.to(rooms).disconnect_sockets(close)

    async def fetch(self) -> dict[str, dict[str, Any]]:
        return describe(await self.server.fetch_sockets())

    async def remote_emit(self, sid: str, event: str, args: list[Any]) -> None:
        sockets = await self.server.fetch_sockets()
        (target,) = [s for s in sockets if s.id == sid]
        assert isinstance(target, RemoteSocket)
        target.emit(event, *args)

    async def server_side_emit(self, args: list[Any]) -> None:
        self.server.server_side_emit("sse", *args)

    async def server_side_emit_with_ack(self, args: list[Any]) -> list[Any]:
        return await self.server.server_side_emit_with_ack("sse", *args)


class NodeOrigin:
    """The same operations, made from the Node server."""

    name = "node"

    def __init__(self, driver: NodeDriver) -> None:
        self.node = driver

    async def emit(
        self,
        event: str,
        args: list[Any],
        rooms: list[str] | None = None,
        except_: list[str] | None = None,
        local: bool = False,
    ) -> None:
        fields: dict[str, Any] = {
            "event": event,
            "args": args,
            "rooms": rooms or [],
            "except": except_ or [],
        }
        await self.node.call("emit", local=local, **fields)

    async def emit_with_ack(self, event: str, timeout: float) -> list[Any]:
        result: list[Any] = await self.node.call(
            "emitWithAck", event=event, timeout=int(timeout * 1000)
        )
        return result

    async def sockets_join(self, rooms: list[str], join: str) -> None:
        await self.node.call("socketsJoin", rooms=rooms, join=join)

    async def sockets_leave(self, rooms: list[str], leave: str) -> None:
        await self.node.call("socketsLeave", rooms=rooms, leave=leave)

    async def disconnect_sockets(self, rooms: list[str], close: bool) -> None:
        await self.node.call("disconnectSockets", rooms=rooms, close=close)

    async def fetch(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for s in await self.node.call("fetchSockets"):
            data = s["data"] or {}
            out[str(data.get("name"))] = {
                "server": data.get("server"),
                "auth": s["auth"],
                "rooms": sorted(set(s["rooms"]) - {s["id"]}),
                "id": s["id"],
            }
        return out

    async def remote_emit(self, sid: str, event: str, args: list[Any]) -> None:
        assert await self.node.call("remoteEmit", sid=sid, event=event, args=args) == 1

    async def server_side_emit(self, args: list[Any]) -> None:
        await self.node.call("serverSideEmit", event="sse", args=args)

    async def server_side_emit_with_ack(self, args: list[Any]) -> list[Any]:
        result: list[Any] = await self.node.call("serverSideEmitWithAck", event="sse", args=args)
        return result


VARIANTS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    # name: (mode, aiosocketio adapter options, Node adapter options)
    "classic": ("classic", {}, {}),
    "classic-specific-response-channel": (
        "classic",
        {"publish_on_specific_response_channel": True},
        {"specific": True},
    ),
    "sharded-dynamic": ("sharded", {}, {}),
    "sharded-static": (
        "sharded",
        {"subscription_mode": "static"},
        {"subscriptionMode": "static"},
    ),
    "sharded-dynamic-private": (
        "sharded",
        {"subscription_mode": "dynamic-private"},
        {"subscriptionMode": "dynamic-private"},
    ),
}


@pytest.fixture(params=list(VARIANTS))
async def cluster(request: pytest.FixtureRequest) -> AsyncIterator[Cluster]:
    mode, py_opts, node_cfg = VARIANTS[request.param]
    c = await Cluster.start(mode, unique_key(), node_cfg=node_cfg, requests_timeout=3, **py_opts)
    try:
        await c.connect_clients()
        yield c
    finally:
        await c.stop()


async def expect_exactly(
    cluster: Cluster, event: str, clients: set[str], args: list[Any] | None = None
) -> None:
    """``clients`` (and only they) receive ``event`` once."""
    fleet = cluster.fleet
    for name in clients:
        got = await fleet.wait_received(name, event)
        if args is not None:
            assert got == [args], (name, event)
    # a message that should not arrive would come by now: the others have had theirs
    await asyncio.sleep(0.05)
    for name in set(CLIENTS) - clients:
        assert fleet.received(name, event) == [], (name, event)
    for name in clients:
        assert len(fleet.received(name, event)) == 1, (name, event)


async def check_broadcasts_after_restart(cluster: Cluster) -> None:
    """After Redis came back: a broadcast from a Python node and one from the Node node reach
    every client, and a room broadcast only its member ("c", in room "rc")."""
    cluster.py[0].server.emit("after-py", 2)
    await expect_exactly(cluster, "after-py", {"a", "b", "c"}, [2])
    await cluster.node.call("emit", event="after-node", args=[3])
    await expect_exactly(cluster, "after-node", {"a", "b", "c"}, [3])
    cluster.py[1].server.to("rc").emit("after-room", 4)
    await expect_exactly(cluster, "after-room", {"c"}, [4])


async def check_broadcasts(cluster: Cluster, origin: PyOrigin | NodeOrigin, home: str) -> None:
    o = origin.name
    payload = [1, b"\x01\x02", {"x": "é", "n": None, "f": 1.5}]
    await origin.emit(f"{o}:all", payload)
    await expect_exactly(cluster, f"{o}:all", {"a", "b", "c"}, payload)

    await origin.emit(f"{o}:common", ["c"], rooms=["common"])
    await origin.emit(f"{o}:rb", ["b"], rooms=["rb"])
    await origin.emit(f"{o}:ra-rc", [], rooms=["ra", "rc"])
    await origin.emit(f"{o}:except", [], except_=["rb"])
    await origin.emit(f"{o}:room-except", [], rooms=["common"], except_=["ra", "rc"])
    await origin.emit(f"{o}:local", [], local=True)
    await expect_exactly(cluster, f"{o}:common", {"a", "b", "c"}, ["c"])
    await expect_exactly(cluster, f"{o}:rb", {"b"}, ["b"])
    await expect_exactly(cluster, f"{o}:ra-rc", {"a", "c"})
    await expect_exactly(cluster, f"{o}:except", {"a", "c"})
    await expect_exactly(cluster, f"{o}:room-except", {"b"})
    await expect_exactly(cluster, f"{o}:local", {home})


async def check_rooms_and_fetch(cluster: Cluster, origin: PyOrigin | NodeOrigin) -> None:
    o = origin.name
    room = f"{o}-joined"
    described = await origin.fetch()
    assert set(described) == set(CLIENTS)
    for name, server in (("a", "py1"), ("b", "py2"), ("c", "node")):
        entry = described[name]
        assert entry["server"] == server
        assert entry["id"] == cluster.sids[name]
        assert entry["auth"] == {"name": name, "rooms": [f"r{name}", "common"]}
        assert entry["rooms"] == sorted([f"r{name}", "common"])

    await origin.sockets_join(["rb", "rc"], room)
    await eventually_async(
        origin.fetch,
        lambda d: room in d["b"]["rooms"] and room in d["c"]["rooms"],
        what="sockets_join",
    )
    await asyncio.sleep(0.05)  # the sharded adapter subscribes to the new room's channel
    await origin.emit(f"{o}:joined", [], rooms=[room])
    await expect_exactly(cluster, f"{o}:joined", {"b", "c"})

    await origin.sockets_leave(["rc"], room)
    await eventually_async(
        origin.fetch,
        lambda d: room in d["b"]["rooms"] and room not in d["c"]["rooms"],
        what="sockets_leave",
    )
    await origin.sockets_leave([], room)
    await eventually_async(
        origin.fetch, lambda d: all(room not in e["rooms"] for e in d.values()), what="leave all"
    )

    # RemoteSocket.emit: to a client of another server
    target = "c" if o != "node" else "a"
    await origin.remote_emit(cluster.sids[target], f"{o}:direct", ["hi"])
    await expect_exactly(cluster, f"{o}:direct", {target}, ["hi"])


async def check_server_side(cluster: Cluster, origin: PyOrigin | NodeOrigin) -> None:
    o = origin.name
    py_nodes = {n.name: n for n in cluster.py}
    others = {"py1", "py2", "node"} - {o}

    await origin.server_side_emit([o, 1])
    for name in others:
        if name == "node":
            await cluster.node.wait_event(
                lambda e: e.get("event") == "serverSideEmit" and e["args"] == [o, 1]
            )
        else:
            node = py_nodes[name]
            await eventually(lambda n=node: [o, 1] in n.server_side_events)  # type: ignore[misc]

    responses = await origin.server_side_emit_with_ack([o, "ack"])
    assert sorted(r["from"] for r in responses) == sorted(others)
    for r in responses:
        assert r["got"] == [o, "ack"]

    answers = await origin.emit_with_ack(f"{o}:ask", 5)
    assert sorted(a["client"] for a in answers) == ["a", "b", "c"]


async def test_mixed_cluster(cluster: Cluster) -> None:
    await run_mixed_scenario(cluster)


async def run_mixed_scenario(cluster: Cluster) -> None:
    """Every cross-server operation, from a Python node and from the Node node."""
    py1 = PyOrigin(cluster.py[0])
    node = NodeOrigin(cluster.node)
    for origin, home in ((py1, "a"), (node, "c")):
        await check_broadcasts(cluster, origin, home)
        await check_rooms_and_fetch(cluster, origin)
        await check_server_side(cluster, origin)

    if cluster.mode == "classic":
        # ALL_ROOMS: Node's adapter answers it
        adapter = cluster.py[0].server.sockets.adapter
        assert isinstance(adapter, RedisAdapter)
        rooms = await adapter.all_rooms()
        assert {"ra", "rb", "rc", "common", *cluster.sids.values()} <= rooms

    # disconnect_sockets, from each side
    await py1.disconnect_sockets(["rc"], False)
    await eventually(lambda: cluster.fleet.disconnected("c") == ["io server disconnect"])
    await node.disconnect_sockets(["ra"], True)
    await eventually(lambda: cluster.fleet.disconnected("a") == ["io server disconnect"])
    assert cluster.fleet.disconnected("b") == []
