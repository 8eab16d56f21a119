"""The Redis Streams adapter with Node's @socket.io/redis-streams-adapter 0.3 on one stream.

Each test uses a stream (and channel prefix, and session key prefix) of its own on the
machine's Redis, deleted at the end.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from aiosocketio.adapters.streams import RedisStreamsAdapter
from aiosocketio.protocol.cluster.streams import decode_entry, stream_name_for
from aiosocketio.protocol.cluster.wire import pack, unpack
from tests.cluster.harness import Cluster, PyNode, adapter_factory, start_py_node
from tests.cluster.support import (
    REDIS_URL,
    Capture,
    ClientFleet,
    eventually,
    eventually_async,
    own_redis,
    start_node_server,
    unique_key,
)
from tests.cluster.test_golden import normalize
from tests.cluster.test_mixed import (
    NodeOrigin,
    PyOrigin,
    check_broadcasts,
    check_broadcasts_after_restart,
    check_rooms_and_fetch,
    check_server_side,
    expect_exactly,
)

pytestmark = pytest.mark.cluster


async def _forget(key: str) -> None:
    """Delete the test's stream and session keys."""
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [k async for k in client.scan_iter(match=f"{key}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@contextlib.asynccontextmanager
async def streams_cluster(recovery: bool) -> AsyncIterator[Cluster]:
    """Two aiosocketio servers and a Node one on a stream of their own (with recovery)."""
    key = unique_key()
    node_cfg: dict[str, Any] = {"sessionKeyPrefix": f"{key}:session:"}
    server_opts: dict[str, Any] = {}
    if recovery:
        node_cfg["recovery"] = 60_000
        server_opts["connection_state_recovery"] = {"max_disconnection_duration": 60}
    c = await Cluster.start(
        "streams",
        key,
        node_cfg=node_cfg,
        server_opts=server_opts,
        requests_timeout=3,
        session_key_prefix=f"{key}:session:",
    )
    try:
        yield c
    finally:
        await c.stop()
        await _forget(key)


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    async with streams_cluster(recovery=False) as c:
        yield c


@pytest.fixture
async def recovering() -> AsyncIterator[Cluster]:
    async with streams_cluster(recovery=True) as c:
        yield c


async def test_mixed_cluster_on_one_stream(cluster: Cluster) -> None:
    """Every operation, from a Python server and from the Node server, seen on all three."""
    await cluster.connect_clients()
    py1 = PyOrigin(cluster.py[0])
    node = NodeOrigin(cluster.node)
    for origin, home in ((py1, "a"), (node, "c")):
        await check_broadcasts(cluster, origin, home)
        await check_rooms_and_fetch(cluster, origin)
        await check_server_side(cluster, origin)
    for py in cluster.py:
        assert await py.server.sockets.adapter.server_count() == 3
    assert await cluster.node.call("serverCount") == 3

    await py1.disconnect_sockets(["rc"], False)
    await eventually(lambda: cluster.fleet.disconnected("c") == ["io server disconnect"])
    await node.disconnect_sockets(["ra"], True)
    await eventually(lambda: cluster.fleet.disconnected("a") == ["io server disconnect"])
    assert cluster.fleet.disconnected("b") == []


async def test_recovery_across_python_and_node_servers(recovering: Cluster) -> None:
    """A session made on one server is recovered on another, Python or Node, with the
    broadcasts it missed (and only those), in order, each with its offset."""
    cluster = recovering
    fleet = cluster.fleet
    py1, py2 = cluster.py
    node = NodeOrigin(cluster.node)
    urls = {"py1": py1.url, "py2": py2.url, "node": f"http://127.0.0.1:{cluster.node_port}"}
    redis = cluster.client
    sessions = f"{cluster.key}:session:"

    async def stream_length() -> int:
        return int(await redis.xlen(cluster.key))

    async def dropped() -> None:
        """Drop the client's transport; wait until its server stored the session."""
        await fleet.call("drop", name="x")
        await eventually_async(
            lambda: redis.keys(sessions + "*"), lambda keys: len(keys) == 1, what="session"
        )

    async def missed(emits: list[tuple[Any, str, list[Any], dict[str, Any]]]) -> None:
        """Broadcast while the client is away, each once the previous one is in the stream
        (the servers append concurrently: the stream's order is the order of the replay)."""
        for origin, event, args, target in emits:
            before = await stream_length()
            await origin.emit(event, args, **target)
            target_length = before + 1
            await eventually_async(stream_length, target_length.__eq__, what=event)

    def received() -> list[tuple[str, list[Any], str]]:
        """(event, args, offset): socket.io-client hands the offset to the listeners."""
        out = []
        for e in fleet.events:
            if e.get("client") == "x" and "event" in e:
                *args, offset = e["args"]
                assert re.fullmatch(r"[0-9]+-[0-9]+", offset), e
                out.append((e["event"], args, offset))
        return out

    first = await fleet.connect("x", urls["py1"], auth={"name": "x", "rooms": ["rx"]})
    PyOrigin(py2).server.emit("m0", 0)
    await fleet.wait_received("x", "m0")

    # 1. made on py1, recovered on py2
    await dropped()
    await missed(
        [
            (PyOrigin(py1), "m1", [1], {}),
            (node, "m2", [2, b"\x00\xff"], {"rooms": ["rx"]}),
            (PyOrigin(py2), "skip1", [], {"rooms": ["elsewhere"]}),
            (PyOrigin(py1), "skip2", [], {"except_": ["rx"]}),
            (PyOrigin(py2), "m3", [{"n": 3}], {"rooms": ["rx", "elsewhere"]}),
        ]
    )
    again = await fleet.call("reconnect", name="x", url=urls["py2"])
    assert again == {"sid": first, "recovered": True}
    await fleet.wait_received("x", "m3")

    # 2. made on py2, recovered on Node
    await dropped()
    await missed([(node, "m4", [4], {}), (PyOrigin(py1), "m5", [5], {"rooms": ["rx"]})])
    again = await fleet.call("reconnect", name="x", url=urls["node"])
    assert again == {"sid": first, "recovered": True}
    await fleet.wait_received("x", "m5")

    # 3. made on Node, recovered on py1
    await dropped()
    await missed([(PyOrigin(py2), "m6", [6], {}), (node, "m7", [7], {"rooms": ["rx"]})])
    again = await fleet.call("reconnect", name="x", url=urls["py1"])
    assert again == {"sid": first, "recovered": True}
    await fleet.wait_received("x", "m7")

    # still recoverable: the rooms came back with the session
    PyOrigin(py2).server.to("rx").emit("m8", 8)
    await fleet.wait_received("x", "m8")
    await asyncio.sleep(0.05)
    got = received()
    assert [(event, args) for event, args, _ in got] == [
        ("m0", [0]),
        ("m1", [1]),
        ("m2", [2, b"\x00\xff"]),
        ("m3", [{"n": 3}]),
        ("m4", [4]),
        ("m5", [5]),
        ("m6", [6]),
        ("m7", [7]),
        ("m8", [8]),
    ]
    offsets = [tuple(map(int, offset.split("-"))) for _, _, offset in got]
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)


async def test_unknown_session_or_offset_is_not_recovered(recovering: Cluster) -> None:
    cluster = recovering
    adapter = cluster.py[0].server.sockets.adapter
    assert isinstance(adapter, RedisStreamsAdapter)
    assert await adapter.restore_session("nobody", "0-1") is None
    assert await adapter.restore_session("nobody", "not-an-offset") is None
    adapter.persist_session({"sid": "s" * 20, "pid": "p1", "rooms": ["r"], "data": {"a": 1}})
    await adapter.stream_link.flush()
    # the offset is no longer (or never was) in the stream: no recovery, the key is gone
    assert await adapter.restore_session("p1", "1-1") is None
    assert await cluster.client.exists(f"{cluster.key}:session:p1") == 0


async def test_malformed_entries_are_skipped(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="aiosocketio.adapters")
    key = unique_key()
    client = aioredis.Redis.from_url(REDIS_URL)
    factory = adapter_factory("streams", client, key)
    py1 = await start_py_node("py1", factory)
    py2 = await start_py_node("py2", factory)
    got: list[Any] = []
    try:
        py2.server.on("sse", lambda *args: got.append(list(args)))
        junk: list[dict[str, Any]] = [
            {"uid": "x", "nsp": "/", "type": "3", "data": "{not json"},
            {"uid": "x", "nsp": "/", "type": "3", "data": "%%%not base64%%%"},
            {"uid": "x", "nsp": "/", "type": "3", "data": base64.b64encode(b"\xc1").decode()},
            {"uid": "x", "nsp": "/", "type": "three"},
            {"uid": "x", "nsp": "/", "type": "3", "data": '{"packet":7}'},
            {"uid": "x", "nsp": "/", "type": "4", "data": '{"opts":[],"rooms":5}'},
            {"nsp": "/", "type": "3"},
            {"uid": "x", "type": "3"},
            {"uid": "x", "nsp": "/nowhere", "type": "3", "data": "{}"},
            {"uid": "x", "nsp": "/", "type": "99", "data": "{}"},
            {"uid": b"\xff\xfe", "nsp": "/", "type": "3"},
        ]
        for fields in junk:
            await client.xadd(key, fields)  # type: ignore[arg-type]
        await client.publish(f"{key}#/#", b"\xc1 not msgpack")
        await client.publish(f"{key}#/#", pack({"type": 9, "uid": "x", "nsp": "/", "data": 1}))
        # what comes after the junk still arrives
        py1.server.server_side_emit("sse", "after")
        py1.server.emit("after", 1)
        await eventually(lambda: got == [["after"]], what="server-side emit after the junk")
        assert await client.xlen(key) == len(junk) + 1
        await eventually(
            lambda: sum("malformed" in r.getMessage() for r in caplog.records) >= 6,
            what="warnings",
        )
        adapter = py2.server.sockets.adapter
        assert isinstance(adapter, RedisStreamsAdapter)
        assert adapter.stream_link._reader is not None
        assert not adapter.stream_link._reader.done()
    finally:
        await py1.server.close()
        await py2.server.close()
        await client.aclose()
        await _forget(key)


async def _async(fn: Any, *args: Any) -> None:
    fn(*args)


async def _sse_ack(server: Any) -> None:
    await server.server_side_emit_with_ack("sse", 2)


def _normalize(fields: dict[bytes, bytes], uid: str) -> dict[str, Any]:
    out = {k.decode(): v.decode().replace(uid, "#" * len(uid)) for k, v in fields.items()}
    return out


async def test_stream_entries_match_node() -> None:
    """XRANGE what Node wrote and what we wrote for the same calls: the same fields."""
    key = unique_key()
    client = aioredis.Redis.from_url(REDIS_URL)
    py: PyNode = await start_py_node("py1", adapter_factory("streams", client, key))
    node, _port = await start_node_server(key, "streams")
    payload = {"a": None, "f": 1.5, "l": [True, False], "s": "é" * 40, "big": 2**40}
    server = py.server
    ops: list[tuple[str, dict[str, Any], Any]] = [
        (
            "emit",
            {"event": "ev", "args": [1, "two", b"\x01\x02\x03", payload]},
            lambda: server.emit("ev", 1, "two", b"\x01\x02\x03", payload),
        ),
        (
            "emit",
            {"event": "ev", "args": [1, payload], "rooms": ["room1"]},
            lambda: server.to("room1").emit("ev", 1, payload),
        ),
        (
            "emit",
            {"event": "ev", "args": [], "rooms": ["r1"], "except": ["r3"]},
            lambda: server.to("r1").except_("r3").emit("ev"),
        ),
        (
            "emit",
            {"event": "ev", "args": ["v"], "volatile": True},
            lambda: server.volatile.emit("ev", "v"),
        ),
        (
            "emit",
            {"event": "ev", "args": [], "compress": False},
            lambda: server.compress(False).emit("ev"),
        ),
        (
            "socketsJoin",
            {"rooms": ["r1"], "join": ["x"]},
            lambda: server.to("r1").sockets_join(["x"]),
        ),
        (
            "socketsLeave",
            {"rooms": ["r1"], "except": ["r2"], "leave": "x"},
            lambda: server.to("r1").except_("r2").sockets_leave("x"),
        ),
        (
            "disconnectSockets",
            {"rooms": ["r9"], "close": True},
            lambda: server.to("r9").disconnect_sockets(True),
        ),
    ]
    ephemeral: list[tuple[str, dict[str, Any], Any]] = [
        (
            "serverSideEmit",
            {"event": "sse", "args": [1, "a", b"\x07"]},
            lambda: _async(server.server_side_emit, "sse", 1, "a", b"\x07"),
        ),
        ("serverSideEmitWithAck", {"event": "sse", "args": [2]}, lambda: _sse_ack(server)),
        ("fetchSockets", {"rooms": ["r1"]}, lambda: server.to("r1").fetch_sockets()),
        (
            "emitWithAck",
            {"event": "ev", "args": [3], "timeout": 1000},
            lambda: server.timeout(1).emit_with_ack("ev", 3),
        ),
    ]
    capture = Capture(client)
    pending: list[asyncio.Future[Any]] = []
    try:
        adapter = server.sockets.adapter
        assert isinstance(adapter, RedisStreamsAdapter)
        node_uid: str = await node.call("uid")
        await eventually_async(adapter.server_count, lambda n: n == 2)

        async def last_entry_after(action: Any) -> dict[bytes, bytes]:
            before = int(await client.xlen(key))
            await action()
            await eventually_async(lambda: client.xlen(key), lambda n: n == before + 1, what="XADD")
            entries: Any = await client.xrevrange(key, "+", "-", count=1)
            fields: dict[bytes, bytes] = entries[0][1]
            return fields

        for cmd, fields, py_op in ops:

            async def on_node(c: str = cmd, f: dict[str, Any] = fields) -> None:
                await node.call(c, **f)

            async def on_py(op: Any = py_op) -> None:
                op()

            from_node = await last_entry_after(on_node)
            from_py = await last_entry_after(on_py)
            assert list(from_py) == [b"uid", b"nsp", b"type", b"data"]
            assert _normalize(from_py, adapter.uid) == _normalize(from_node, node_uid), cmd
            decoded = decode_entry(from_py)
            assert decoded["uid"] == adapter.uid
        # the binary broadcast is base64 of msgpack; the others are JSON
        first: Any = await client.xrange(key, "-", "+", count=1)
        assert not first[0][1][b"data"].startswith(b"{")
        assert (
            unpack(base64.b64decode(first[0][1][b"data"]))["packet"]["data"][3] == b"\x01\x02\x03"
        )

        # the ephemeral messages go by pub/sub, msgpack-encoded whole
        await capture.start(f"{key}#*", [])
        for cmd, fields, py_call in ephemeral:
            from_node_msg = await capture.first_after(
                lambda c=cmd, f=fields: node.call(c, nowait=True, **f)  # type: ignore[misc]
            )

            async def run_py(call: Any = py_call) -> None:
                pending.append(asyncio.ensure_future(call()))

            from_py_msg = await capture.first_after(run_py)
            assert normalize(*from_py_msg, adapter.uid) == normalize(*from_node_msg, node_uid), cmd
    finally:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await capture.stop()
        await py.server.close()
        await node.call("close", wait=3)
        await node.stop()
        await client.aclose()
        await _forget(key)


def test_stream_names_follow_node() -> None:
    assert stream_name_for("/", "socket.io", 1) == "socket.io"
    # Node: hashCode("/") % 3 == 47 % 3; a negative hash keeps its sign, as in JavaScript
    assert stream_name_for("/", "s", 3) == "s-2"
    assert stream_name_for("/admin-namespace-with-a-long-name", "s", 3) == "s--1"
    assert stream_name_for("/admin-namespace-with-a-long-name", "s", 4) == "s-0"  # -0


async def test_reading_goes_on_after_a_redis_restart(caplog: pytest.LogCaptureFixture) -> None:
    """Redis restarts (empty: the stream is recreated): every reader reads it again."""
    caplog.set_level(logging.WARNING, logger="aiosocketio.adapters")
    async with own_redis() as redis_server:
        cluster = await Cluster.start("streams", unique_key(), redis_server.url)
        try:
            await cluster.connect_clients()
            cluster.py[0].server.emit("before", 1)
            await expect_exactly(cluster, "before", {"a", "b", "c"}, [1])

            await redis_server.stop()
            await eventually(lambda: "lost the Redis stream" in caplog.text, what="lost")
            await redis_server.start()

            for py in cluster.py:
                adapter = py.server.sockets.adapter
                await eventually_async(adapter.server_count, lambda n: n == 3, timeout=10)
            await eventually_async(
                lambda: cluster.node.call("serverCount"), lambda n: n == 3, timeout=10
            )
            await eventually(
                lambda: "reading the Redis stream" in caplog.text, timeout=10, what="resumed"
            )
            await check_broadcasts_after_restart(cluster)
        finally:
            await cluster.stop()


async def test_namespaces_share_one_reader() -> None:
    """One reader (and writer) per server and stream, for every namespace; each entry goes
    to the adapter of its namespace; closing the server stops the reader."""
    key = unique_key()
    client = aioredis.Redis.from_url(REDIS_URL)
    factory = adapter_factory("streams", client, key)
    py1 = await start_py_node("py1", factory)
    py2 = await start_py_node("py2", factory)
    fleet = await ClientFleet.launch()
    try:
        admins = [py.server.of("/admin") for py in (py1, py2)]
        root = py1.server.sockets.adapter
        admin = admins[0].adapter
        assert isinstance(root, RedisStreamsAdapter) and isinstance(admin, RedisStreamsAdapter)
        assert root.stream_link is admin.stream_link
        await eventually_async(admin.server_count, lambda n: n == 2)
        await fleet.connect("adm", py2.url, nsp="/admin")
        await fleet.connect("root", py2.url)
        admins[0].emit("to-admin", 1)
        py1.server.emit("to-root", 2)
        await fleet.wait_received("adm", "to-admin")
        await fleet.wait_received("root", "to-root")
        assert fleet.received("adm", "to-root") == []
        assert fleet.received("root", "to-admin") == []
        reader = root.stream_link._reader
        assert reader is not None
        await py1.server.close()
        assert reader.done()
    finally:
        await fleet.stop()
        await py1.server.close()
        await py2.server.close()
        await client.aclose()
        await _forget(key)
