"""The emitters: @socket.io/redis-emitter drives the aiosocketio servers, and
``RedisEmitter`` drives them and the Node server, all in one cluster."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

import pytest

from aiosocketio.adapters.emitter import RedisEmitter
from tests.cluster.harness import Cluster
from tests.cluster.support import eventually, eventually_async, unique_key
from tests.cluster.test_mixed import expect_exactly

pytestmark = pytest.mark.cluster


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    c = await Cluster.start("classic", unique_key())
    try:
        await c.connect_clients()
        yield c
    finally:
        await c.stop()


class NpmEmitter:
    """@socket.io/redis-emitter, inside the Node server's process."""

    name = "npm"

    def __init__(self, cluster: Cluster) -> None:
        self.node = cluster.node

    async def emit(self, event: str, *args: Any, rooms: list[str] | None = None, **kw: Any) -> None:
        fields: dict[str, Any] = {"rooms": rooms or [], "except": kw.get("except_", [])}
        await self.node.call("emitter", action="emit", event=event, args=list(args), **fields)

    async def sockets_join(self, rooms: list[str], join: str) -> None:
        await self.node.call("emitter", action="socketsJoin", rooms=rooms, join=join)

    async def sockets_leave(self, rooms: list[str], leave: str) -> None:
        await self.node.call("emitter", action="socketsLeave", rooms=rooms, leave=leave)

    async def disconnect_sockets(self, rooms: list[str], close: bool) -> None:
        await self.node.call("emitter", action="disconnectSockets", rooms=rooms, close=close)

    async def server_side_emit(self, *args: Any) -> None:
        await self.node.call("emitter", action="serverSideEmit", event="sse", args=list(args))


class PyEmitter:
    """aiosocketio's RedisEmitter."""

    name = "py"

    def __init__(self, cluster: Cluster) -> None:
        self.emitter = RedisEmitter(cluster.client, key=cluster.key)

    async def emit(self, event: str, *args: Any, rooms: list[str] | None = None, **kw: Any) -> None:
        await self.emitter.to(rooms or []).except_(kw.get("except_", [])).emit(event, *args)

    async def sockets_join(self, rooms: list[str], join: str) -> None:
        await self.emitter.to(rooms).sockets_join(join)

    async def sockets_leave(self, rooms: list[str], leave: str) -> None:
        await self.emitter.to(rooms).sockets_leave(leave)

    async def disconnect_sockets(self, rooms: list[str], close: bool) -> None:
        await self.emitter.to(rooms).disconnect_sockets(close)

    async def server_side_emit(self, *args: Any) -> None:
        await self.emitter.server_side_emit("sse", *args)


class Emitting(Protocol):
    """What :func:`drive` needs of an emitter (npm's or ours, on Redis or Postgres)."""

    name: str

    async def emit(
        self, event: str, *args: Any, rooms: list[str] | None = None, **kw: Any
    ) -> None: ...

    async def sockets_join(self, rooms: list[str], join: str) -> None: ...

    async def sockets_leave(self, rooms: list[str], leave: str) -> None: ...

    async def server_side_emit(self, *args: Any) -> None: ...


async def drive(cluster: Cluster, emitter: Emitting) -> None:
    e = emitter.name
    payload = ["x", 2, b"\xff\x00", {"deep": [b"\x01"]}]
    await emitter.emit(f"{e}:all", *payload)
    await expect_exactly(cluster, f"{e}:all", {"a", "b", "c"}, payload)
    await emitter.emit(f"{e}:rb", 1, rooms=["rb"])
    await emitter.emit(f"{e}:two", rooms=["ra", "rc"])
    await emitter.emit(f"{e}:except", except_=["ra"])
    await expect_exactly(cluster, f"{e}:rb", {"b"}, [1])
    await expect_exactly(cluster, f"{e}:two", {"a", "c"})
    await expect_exactly(cluster, f"{e}:except", {"b", "c"})

    room = f"{e}-room"
    await emitter.sockets_join(["ra", "rc"], room)
    await emitter.emit(f"{e}:joined", rooms=[room])
    await expect_exactly(cluster, f"{e}:joined", {"a", "c"})
    py1 = cluster.py[0].server.sockets.adapter
    assert room in py1.rooms
    await emitter.sockets_leave([], room)
    await eventually(lambda: room not in py1.rooms)

    def node_has_left(rooms: dict[str, Any]) -> bool:
        return room not in rooms

    await eventually_async(lambda: cluster.node.call("localRooms"), node_has_left)

    await emitter.server_side_emit(e, 3)
    for py in cluster.py:
        events = py.server_side_events
        await eventually(lambda events=events: [e, 3] in events)  # type: ignore[misc]

    def is_sse(event: dict[str, Any]) -> bool:
        return event.get("event") == "serverSideEmit" and event["args"] == [e, 3]

    await cluster.node.wait_event(is_sse)


async def test_both_emitters_drive_the_whole_cluster(cluster: Cluster) -> None:
    await drive(cluster, NpmEmitter(cluster))
    await drive(cluster, PyEmitter(cluster))

    await NpmEmitter(cluster).disconnect_sockets(["ra"], False)
    await eventually(lambda: cluster.fleet.disconnected("a") == ["io server disconnect"])
    await PyEmitter(cluster).disconnect_sockets(["rb", "rc"], True)
    await eventually(lambda: bool(cluster.fleet.disconnected("b")))
    await eventually(lambda: bool(cluster.fleet.disconnected("c")))
