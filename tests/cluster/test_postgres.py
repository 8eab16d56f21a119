"""The Postgres adapter in a mixed cluster: two aiosocketio servers and one Node socket.io 4.8
server on @socket.io/postgres-adapter 0.5, on the machine's Postgres (a database of the
test session's own).

Each operation is made from a Python server and from the Node server, and observed by a
socket.io-client 4.8 connected to each of the three servers.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from aiosocketio.adapters.postgres import PostgresAdapter, create_attachment_table
from aiosocketio.adapters.postgres_emitter import PostgresEmitter
from aiosocketio.protocol.cluster.wire import dumps_json, pack
from tests.cluster.postgres_harness import Notifications, PostgresCluster, notify
from tests.cluster.postgres_server import own_postgres
from tests.cluster.support import eventually, eventually_async, junk_messages, unique_key
from tests.cluster.test_mixed import (
    NodeOrigin,
    PyOrigin,
    check_broadcasts,
    check_broadcasts_after_restart,
    check_rooms_and_fetch,
    check_server_side,
    expect_exactly,
)

pytestmark = [pytest.mark.cluster, pytest.mark.postgres]


@pytest.fixture
async def cluster(postgres_dsn: str) -> AsyncIterator[PostgresCluster]:
    c = await PostgresCluster.launch(postgres_dsn, unique_key(), requests_timeout=3)
    try:
        await c.connect_clients()
        yield c
    finally:
        await c.stop()


async def test_mixed_cluster(cluster: PostgresCluster) -> None:
    py1 = PyOrigin(cluster.py[0])
    node = NodeOrigin(cluster.node)
    for origin, home in ((py1, "a"), (node, "c")):
        await check_broadcasts(cluster, origin, home)
        await check_rooms_and_fetch(cluster, origin)
        await check_server_side(cluster, origin)

    # disconnect_sockets, from each side
    await py1.disconnect_sockets(["rc"], False)
    await eventually(lambda: cluster.fleet.disconnected("c") == ["io server disconnect"])
    await node.disconnect_sockets(["ra"], True)
    await eventually(lambda: cluster.fleet.disconnected("a") == ["io server disconnect"])
    assert cluster.fleet.disconnected("b") == []


async def test_a_burst_arrives_whole_and_in_order(cluster: PostgresCluster) -> None:
    """Notifications go in batches (one transaction each): identical payloads, which one
    transaction would deliver once, and attachments in the middle still all arrive, in order."""
    py1 = cluster.py[0].server
    for i in range(300):
        py1.emit("burst", i)
        if i % 50 == 0:
            py1.emit("burst", "same")
            py1.emit("burst", "same")
        if i == 150:
            py1.emit("burst", b"\x00")  # through the table
    expected: list[Any] = []
    for i in range(300):
        expected.append(i)
        if i % 50 == 0:
            expected += ["same", "same"]
        if i == 150:
            expected.append(b"\x00")
    got = await cluster.fleet.wait_received("b", "burst", len(expected))
    assert [args[0] for args in got] == expected
    # Node's adapter hands a message on while it reads an attachment: the one from the
    # table may come later there, the others keep their order
    got = await cluster.fleet.wait_received("c", "burst", len(expected))
    received = [args[0] for args in got]
    assert [x for x in received if x != b"\x00"] == [x for x in expected if x != b"\x00"]
    assert received.count(b"\x00") == 1


def _header(payload: str) -> dict[str, Any] | None:
    message = json.loads(payload)
    return message if isinstance(message, dict) and "attachmentId" in message else None


async def test_big_and_binary_payloads_go_through_the_attachment_table(
    cluster: PostgresCluster, postgres_dsn: str
) -> None:
    channel = f"{cluster.key}#/"
    capture = await Notifications.listen(postgres_dsn, channel)
    py_uid = cluster.py[0].server.sockets.adapter.uid  # type: ignore[attr-defined]
    node_uid = await cluster.node.call("uid")
    big = "é" * 5000  # 10,000 bytes of UTF-8
    try:
        cluster.py[0].server.emit("big:py", big, {"n": 1})
        await expect_exactly(cluster, "big:py", {"a", "b", "c"}, [big, {"n": 1}])
        await cluster.node.call("emit", event="big:node", args=[big])
        await expect_exactly(cluster, "big:node", {"a", "b", "c"}, [big])
        # any binary, however small, goes through the table too
        cluster.py[1].server.emit("bin:py", b"\x00\x01")
        await expect_exactly(cluster, "bin:py", {"a", "b", "c"}, [b"\x00\x01"])
        await cluster.node.call("emit", event="bin:node", args=[b"\xff"])
        await expect_exactly(cluster, "bin:node", {"a", "b", "c"}, [b"\xff"])

        headers = [h for h in map(_header, capture.payloads) if h is not None]
        by_uid: dict[str, int] = {}
        for h in headers:
            assert set(h) == {"uid", "type", "attachmentId"}, h
            assert h["type"] == 3 and isinstance(h["attachmentId"], str), h
            by_uid[h["uid"]] = by_uid.get(h["uid"], 0) + 1
        assert by_uid.get(py_uid) == 1  # big:py (bin:py came from py2)
        assert by_uid.get(node_uid) == 2  # big:node and bin:node
        rows = await cluster.client.fetchval("SELECT count(*) FROM socket_io_attachments")
        assert rows >= 4

        # a big server-side emit with acks, and big answers to it, both ways
        answers = await cluster.py[0].server.server_side_emit_with_ack("sse", big)
        assert sorted(a["from"] for a in answers) == ["node", "py2"]
        assert all(a["got"] == [big] for a in answers)
        answers = await cluster.node.call("serverSideEmitWithAck", event="sse", args=[big])
        assert sorted(a["from"] for a in answers) == ["py1", "py2"]
        # a fetch whose answers are big (socket data over the threshold)
        for srv in cluster.py:
            for socket in srv.server.sockets.sockets.values():
                socket.data = {**socket.data, "blob": big}
        fetched = await cluster.node.call("fetchSockets")
        assert sorted(s["data"]["name"] for s in fetched) == ["a", "b", "c"]
        assert [s["data"]["blob"] for s in fetched if s["data"]["server"] != "node"] == [big] * 2
    finally:
        await capture.close()


async def test_our_notifications_are_shaped_like_nodes(
    cluster: PostgresCluster, postgres_dsn: str
) -> None:
    """The same broadcast made from each side: the same keys, the same data."""
    capture = await Notifications.listen(postgres_dsn, f"{cluster.key}#/")
    py_uid = cluster.py[0].server.sockets.adapter.uid  # type: ignore[attr-defined]
    node_uid = await cluster.node.call("uid")
    try:
        cluster.py[0].server.to("ra").except_("rb").emit("shape", 1, {"x": [None, 1.5]})
        await cluster.fleet.wait_received("a", "shape", 1)
        except_: dict[str, Any] = {"except": ["rb"]}
        await cluster.node.call(
            "emit", event="shape", rooms=["ra"], args=[1, {"x": [None, 1.5]}], **except_
        )
        await cluster.fleet.wait_received("a", "shape", 2)

        def broadcasts() -> dict[str, dict[str, Any]]:
            messages = [json.loads(p) for p in capture.payloads]
            return {m["uid"]: m for m in messages if m.get("type") == 3}

        await eventually(lambda: len(broadcasts()) == 2)
        ours, theirs = broadcasts()[py_uid], broadcasts()[node_uid]
        assert set(ours) == set(theirs) == {"type", "data", "uid", "nsp"}
        assert ours["nsp"] == theirs["nsp"] == "/"
        assert ours["data"] == theirs["data"]
        assert theirs["data"]["packet"] == {"type": 2, "data": ["shape", 1, {"x": [None, 1.5]}]}
        assert theirs["data"]["opts"]["rooms"] == ["ra"]
        assert theirs["data"]["opts"]["except"] == ["rb"]
    finally:
        await capture.close()


async def test_malformed_notifications_are_logged_and_skipped(
    cluster: PostgresCluster, postgres_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "aiosocketio.adapters")
    channel = f"{cluster.key}#/"
    pool = cluster.client
    garbage_row = await pool.fetchval(
        "INSERT INTO socket_io_attachments (payload) VALUES ($1) RETURNING id", b"\xc1\xc1"
    )
    list_row = await pool.fetchval(
        "INSERT INTO socket_io_attachments (payload) VALUES ($1) RETURNING id", pack([1, 2])
    )
    # messages with the right keys and random values (not DISCONNECT_SOCKETS: a junk one may
    # be a valid order to disconnect every client)
    junk = [
        dumps_json(m, buffers=True).decode()
        for m in junk_messages(14, 200)
        if not (isinstance(m, dict) and m.get("type") == 6)
    ]
    await notify(
        postgres_dsn,
        channel,
        "not json",
        "[1, 2]",
        '"text"',
        "{}",
        '{"attachmentId": "999999999999"}',
        '{"attachmentId": "abc"}',
        '{"attachmentId": -1}',
        f'{{"uid": "x", "type": 3, "attachmentId": "{garbage_row}"}}',
        f'{{"uid": "x", "type": 3, "attachmentId": "{list_row}"}}',
        '{"uid": "x", "nsp": "/", "type": 3, "data": {"packet": 1}}',
        '{"uid": "x", "nsp": "/", "type": 9, "data": {"packet": []}}',
        *junk,
    )
    # the cluster still works, in both directions
    await asyncio.sleep(0.2)
    cluster.py[0].server.emit("still:py", 1)
    await cluster.node.call("emit", event="still:node", args=[2])
    for name in ("a", "b", "c"):
        await cluster.fleet.wait_received(name, "still:py")
        await cluster.fleet.wait_received(name, "still:node")
    assert "malformed notification" in caplog.text
    assert "ignoring attachment" in caplog.text
    assert "Traceback" not in caplog.text
    assert all(not cluster.fleet.disconnected(name) for name in ("a", "b", "c"))


async def test_the_server_list_follows_heartbeats_and_goodbyes(postgres_dsn: str) -> None:
    key = unique_key()
    fast: dict[str, Any] = {"heartbeat_interval": 0.5, "heartbeat_timeout": 1.5}
    node_cfg = {"heartbeatInterval": 500, "heartbeatTimeout": 1500}
    c = await PostgresCluster.launch(postgres_dsn, key, node_cfg=node_cfg, **fast)
    try:
        # silence is not absence: heartbeats keep the servers counted
        await asyncio.sleep(2.5)
        for srv in c.py:
            assert await srv.server.sockets.adapter.server_count() == 3
        assert await c.node.call("serverCount") == 3
        # a closing aiosocketio server says goodbye (ADAPTER_CLOSE): counted out at once
        await c.py[1].server.close()
        await eventually_async(lambda: c.node.call("serverCount"), lambda n: n == 2, 1.0)
        assert await c.py[0].server.sockets.adapter.server_count() == 2
        # a Node server that dies without a word is forgotten after the heartbeat timeout
        await c.node.stop()
        adapter = c.py[0].server.sockets.adapter
        await eventually_async(adapter.server_count, lambda n: n == 1, 5.0)
        # and requests no longer wait for it
        assert await c.py[0].server.server_side_emit_with_ack("sse", 1) == []
    finally:
        await c.fleet.stop()
        for srv in c.py:
            await srv.server.close()
        await c.node.stop()
        await c.client.close()


async def test_old_attachments_are_cleaned_up(postgres_dsn: str) -> None:
    from tests.cluster.postgres_harness import open_pool

    pool = await open_pool(postgres_dsn, 4)
    table = f"att_{unique_key().replace('-', '_')}"
    await create_attachment_table(pool, table)
    c = await PostgresCluster.launch(
        postgres_dsn,
        unique_key(),
        node_cfg={"tableName": table, "cleanupInterval": 60_000},
        table_name=table,
        cleanup_interval=0.5,
    )
    try:
        await c.connect_clients()
        await c.node.call("emit", event="blob", args=[b"\x01"])
        c.py[0].server.emit("blob", b"\x02")
        await c.fleet.wait_received("b", "blob", 2)
        assert await pool.fetchval(f"SELECT count(*) FROM {table}") >= 1
        # rows older than the interval go (on the Python servers' timer)
        await eventually_async(
            lambda: pool.fetchval(f"SELECT count(*) FROM {table}"), lambda n: n == 0, 5.0
        )
    finally:
        await c.stop()
        await pool.execute(f"DROP TABLE {table}")
        await pool.close()


def test_bad_options_are_refused() -> None:
    class Nsp:
        name = "/"
        server = object()

    with pytest.raises(ValueError, match="table name"):
        PostgresAdapter(Nsp(), object(), table_name="x; DROP TABLE y")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="payload_threshold"):
        PostgresAdapter(Nsp(), object(), payload_threshold=0)  # type: ignore[arg-type]

    class TinyPool:
        def get_max_size(self) -> int:
            return 1

    with pytest.raises(ValueError, match="at least 2 connections"):
        PostgresAdapter(Nsp(), TinyPool())  # type: ignore[arg-type]


async def test_the_cluster_survives_a_postgres_restart(caplog: pytest.LogCaptureFixture) -> None:
    """On a Postgres of the test's own: stopped (fast shutdown, every connection cut) and
    started again; every server LISTENs again and publishes again."""
    caplog.set_level(logging.WARNING, "aiosocketio.adapters")
    async with own_postgres() as pg:
        c = await PostgresCluster.launch(pg.dsn, unique_key(), requests_timeout=3)
        try:
            await c.connect_clients()
            c.py[0].server.emit("before", 1)
            await expect_exactly(c, "before", {"a", "b", "c"}, [1])

            await pg.stop()
            await asyncio.sleep(0.5)
            c.py[1].server.emit("lost", 1)  # nowhere to go: logged, dropped
            await pg.start()

            links = [py.server.sockets.adapter.link for py in c.py]  # type: ignore[attr-defined]
            await eventually(lambda: all(link.listening for link in links), 10, what="LISTEN")

            # the Node server's listener comes back too (1 to 3 s): probe until it hears
            async def heard(origin: str, clients: set[str]) -> None:
                n = 0

                def done() -> bool:
                    return all(c.fleet.received(name, f"probe:{origin}") for name in clients)

                loop = asyncio.get_running_loop()
                deadline = loop.time() + 15
                while not done():
                    assert loop.time() < deadline, f"no probe from {origin} to {clients}"
                    n += 1
                    if origin == "py":
                        c.py[0].server.emit("probe:py", n)
                    else:
                        await c.node.call("emit", event="probe:node", args=[n])
                    await asyncio.sleep(0.3)

            await heard("py", {"b", "c"})
            await heard("node", {"a", "b"})
            await check_broadcasts_after_restart(c)
            for py in c.py:
                assert await py.server.sockets.adapter.server_count() == 3
            assert "LISTEN connection was lost" in caplog.text
            assert "could not publish to Postgres" in caplog.text
            assert "publishing to Postgres again" in caplog.text
        finally:
            await c.stop()


async def test_namespaces_are_separate_channels(postgres_dsn: str) -> None:
    """/chat has its own channel (one LISTEN connection carries both); our emitter's
    ``of()`` reaches it too."""
    key = unique_key()
    c = await PostgresCluster.launch(postgres_dsn, key, node_cfg={"nsps": ["/", "/chat"]})
    try:
        chat = c.py[0].server.of("/chat")
        c.py[1].server.of("/chat")
        await eventually_async(chat.adapter.server_count, lambda n: n == 3)
        await c.fleet.connect("py-chat", c.py[1].url, nsp="/chat")
        await c.fleet.connect("py-main", c.py[1].url)
        await c.fleet.connect("node-chat", f"http://127.0.0.1:{c.node_port}", nsp="/chat")
        await c.fleet.connect("node-main", f"http://127.0.0.1:{c.node_port}")

        chat.emit("from-py", 1)
        await c.node.call("emit", nsp="/chat", event="from-node", args=[2])
        await PostgresEmitter(c.client, channel_prefix=key).of("chat").emit("from-emitter", 3)
        for name in ("py-chat", "node-chat"):
            assert await c.fleet.wait_received(name, "from-py") == [[1]]
            assert await c.fleet.wait_received(name, "from-emitter") == [[3]]
        assert await c.fleet.wait_received("py-chat", "from-node") == [[2]]
        await asyncio.sleep(0.05)
        for name in ("py-main", "node-main"):
            for event in ("from-py", "from-node", "from-emitter"):
                assert c.fleet.received(name, event) == []
        assert len(await chat.fetch_sockets()) == 2
        assert len(await c.py[0].server.fetch_sockets()) == 2
        link = c.py[0].server.sockets.adapter.link  # type: ignore[attr-defined]
        assert chat.adapter.link is link  # type: ignore[attr-defined]
    finally:
        await c.stop()
