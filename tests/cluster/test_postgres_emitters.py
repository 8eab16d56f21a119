"""The Postgres emitters: @socket.io/postgres-emitter drives the aiosocketio servers, and
``PostgresEmitter`` drives them and the Node server, all in one cluster."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from aiosocketio.adapters.postgres_emitter import PostgresEmitter
from aiosocketio.exceptions import LocalProtocolError
from tests.cluster.postgres_harness import PostgresCluster
from tests.cluster.support import eventually, unique_key
from tests.cluster.test_emitters import NpmEmitter, drive
from tests.cluster.test_mixed import expect_exactly

pytestmark = [pytest.mark.cluster, pytest.mark.postgres]


@pytest.fixture
async def cluster(postgres_dsn: str) -> AsyncIterator[PostgresCluster]:
    c = await PostgresCluster.launch(postgres_dsn, unique_key(), requests_timeout=3)
    try:
        await c.connect_clients()
        yield c
    finally:
        await c.stop()


class PyPostgresEmitter:
    """aiosocketio's PostgresEmitter."""

    name = "py"

    def __init__(self, cluster: PostgresCluster) -> None:
        self.emitter = PostgresEmitter(cluster.client, channel_prefix=cluster.key)

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


async def drive_python_servers(cluster: PostgresCluster, emitter: NpmEmitter) -> None:
    """@socket.io/postgres-emitter 0.1.1 drives the aiosocketio servers.

    Its messages carry no ``nsp``, and Node's @socket.io/postgres-adapter 0.5 routes by
    ``nsp``, so the Node server ignores them (client "c" gets nothing: Node's own pair does
    not work together); our adapter takes the namespace from the channel.
    """
    payload = ["x", 2, b"\xff\x00", {"deep": [b"\x01"]}]
    await emitter.emit("npm:all", *payload)
    await expect_exactly(cluster, "npm:all", {"a", "b"}, payload)
    await emitter.emit("npm:rb", 1, rooms=["rb"])
    await emitter.emit("npm:two", rooms=["ra", "rc"])
    await emitter.emit("npm:except", except_=["ra"])
    await expect_exactly(cluster, "npm:rb", {"b"}, [1])
    await expect_exactly(cluster, "npm:two", {"a"})
    await expect_exactly(cluster, "npm:except", {"b"})
    big = "y" * 9000  # through the attachment table
    await emitter.emit("npm:big", big)
    await expect_exactly(cluster, "npm:big", {"a", "b"}, [big])

    room = "npm-room"
    await emitter.sockets_join(["ra", "rb"], room)
    # Node's emitter sends each call on its own pooled connection without waiting, so the
    # join and the next emit may commit (and be delivered) in either order: wait for it
    for py in cluster.py:
        adapter = py.server.sockets.adapter
        await eventually(lambda adapter=adapter: room in adapter.rooms)  # type: ignore[misc]
    await emitter.emit("npm:joined", rooms=[room])
    await expect_exactly(cluster, "npm:joined", {"a", "b"})
    await emitter.sockets_leave([], room)
    for py in cluster.py:
        adapter = py.server.sockets.adapter
        await eventually(lambda adapter=adapter: room not in adapter.rooms)  # type: ignore[misc]

    await emitter.server_side_emit("npm", 3)
    for py in cluster.py:
        events = py.server_side_events
        await eventually(lambda events=events: ["npm", 3] in events)  # type: ignore[misc]


async def test_both_emitters_drive_the_whole_cluster(cluster: PostgresCluster) -> None:
    """@socket.io/postgres-emitter (in the Node process) and ours: broadcasts with binary
    (through the attachment table), rooms, exceptions, joins, leaves, server-side emits."""
    await drive_python_servers(cluster, NpmEmitter(cluster))
    await drive(cluster, PyPostgresEmitter(cluster))

    big = "x" * 9000
    await PyPostgresEmitter(cluster).emit("big", big)
    await expect_exactly(cluster, "big", {"a", "b", "c"}, [big])

    await NpmEmitter(cluster).disconnect_sockets(["ra"], False)
    await eventually(lambda: cluster.fleet.disconnected("a") == ["io server disconnect"])
    await PyPostgresEmitter(cluster).disconnect_sockets(["rb", "rc"], True)
    await eventually(lambda: bool(cluster.fleet.disconnected("b")))
    await eventually(lambda: bool(cluster.fleet.disconnected("c")))


async def test_the_emitter_refuses_what_node_refuses() -> None:
    emitter = PostgresEmitter(object(), "admin")
    assert emitter.nsp == "/admin"
    assert emitter.of("chat").nsp == "/chat"
    with pytest.raises(LocalProtocolError, match="reserved"):
        await emitter.emit("connect")
    with pytest.raises(LocalProtocolError, match="Acknowledgements"):
        await emitter.server_side_emit("x", lambda: None)
    with pytest.raises(ValueError, match="table name"):
        PostgresEmitter(object(), table_name="a b")
