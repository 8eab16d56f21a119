"""RedisAdapter and ShardedRedisAdapter answering a foreign server, message by message.

A raw Redis client plays the other server: it publishes requests in Node's format and
reads the answers, so each request type and each answer's shape is checked directly.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis.asyncio as aioredis

from aiosocketio.adapters import BroadcastOptions
from aiosocketio.adapters.redis import RedisAdapter, create_adapter, create_redis_adapter
from aiosocketio.adapters.redis_link import RedisLink
from aiosocketio.adapters.sharded import ShardedRedisAdapter, create_sharded_redis_adapter
from aiosocketio.exceptions import AdapterError
from aiosocketio.protocol.cluster.wire import decode_message, dumps_json, has_binary, pack
from tests.cluster.harness import PyNode, adapter_factory, lonely_node, start_py_node
from tests.cluster.support import (
    REDIS_URL,
    ClientFleet,
    eventually,
    eventually_async,
    junk_messages,
    unique_key,
)

pytestmark = pytest.mark.cluster


@dataclass
class Setup:
    key: str
    node: PyNode
    fleet: ClientFleet
    sid: str
    redis: aioredis.Redis
    pubsub: Any
    inbox: list[tuple[str, Any]]

    async def answer(self, channel: str, count: int = 1) -> list[Any]:
        def arrived() -> bool:
            return sum(1 for c, _ in self.inbox if c == channel) >= count

        await eventually(arrived, what=f"answer on {channel}")
        out = [m for c, m in self.inbox if c == channel][:count]
        self.inbox[:] = [(c, m) for c, m in self.inbox if c != channel]
        return out


async def _setup(mode: str, channels: list[str], shard: bool, **opts: Any) -> Setup:
    key = unique_key()
    client = aioredis.Redis.from_url(REDIS_URL)
    node = await start_py_node("py1", adapter_factory(mode, client, key, **opts))
    fleet = await ClientFleet.launch()
    sid = await fleet.connect("a", node.url, auth={"name": "a", "rooms": ["r"]})
    pubsub = client.pubsub()
    resolved = [c.replace("KEY", key) for c in channels]
    if shard:
        await pubsub.ssubscribe(*resolved)
    else:
        await pubsub.subscribe(*resolved)
    inbox: list[tuple[str, Any]] = []

    async def read() -> None:
        while True:
            msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
            if msg is not None and msg["type"] in ("message", "smessage"):
                inbox.append((msg["channel"].decode(), decode_message(msg["data"])))

    setup = Setup(key, node, fleet, sid, client, pubsub, inbox)
    setup.pubsub.reader = asyncio.ensure_future(read())
    return setup


async def _teardown(setup: Setup) -> None:
    setup.pubsub.reader.cancel()
    try:
        await setup.pubsub.reader
    except asyncio.CancelledError:
        pass
    await setup.pubsub.aclose()
    await setup.fleet.stop()
    await setup.node.server.close()
    await setup.redis.aclose()


@pytest.fixture(params=[False, True], ids=["shared-channel", "specific-channel"])
async def classic(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Setup, str]]:
    specific: bool = request.param
    setup = await _setup(
        "classic",
        ["KEY-response#/#", "KEY-response#/#other1#"],
        False,
        publish_on_specific_response_channel=specific,
    )
    channel = f"{setup.key}-response#/#" + ("other1#" if specific else "")
    try:
        yield setup, channel
    finally:
        await _teardown(setup)


async def test_classic_answers_every_request_type(classic: tuple[Setup, str]) -> None:
    s, answers = classic
    shared = f"{s.key}-response#/#"
    requests = f"{s.key}-request#/#"
    sid = s.sid
    adapter = s.node.server.sockets.adapter
    assert isinstance(adapter, RedisAdapter)

    def request(body: dict[str, Any]) -> bytes:
        return dumps_json({"uid": "other1", **body})

    await s.redis.publish(requests, request({"requestId": "req001", "type": 0, "rooms": ["r"]}))
    assert await s.answer(answers) == [{"requestId": "req001", "sockets": [sid]}]

    await s.redis.publish(requests, request({"requestId": "req002", "type": 1}))
    (rooms,) = await s.answer(answers)
    assert rooms["requestId"] == "req002"
    assert sorted(rooms["rooms"]) == sorted(["r", sid])

    fetch = {"requestId": "req003", "type": 5, "opts": {"rooms": ["r"], "except": []}}
    await s.redis.publish(requests, request(fetch))
    (fetched,) = await s.answer(answers)
    (entry,) = fetched["sockets"]
    assert entry["id"] == sid
    assert sorted(entry["rooms"]) == sorted(["r", sid])
    assert entry["data"] == {"name": "a", "server": "py1"}
    assert entry["handshake"]["auth"] == {"name": "a", "rooms": ["r"]}
    assert {"headers", "time", "address", "xdomain", "secure", "issued", "url", "query"} <= set(
        entry["handshake"]
    )

    # the older per-socket forms of join, leave and disconnect
    await s.redis.publish(
        requests, request({"requestId": "req004", "type": 2, "sid": sid, "room": "new"})
    )
    assert await s.answer(answers) == [{"requestId": "req004"}]
    assert sid in adapter.rooms["new"]
    await s.redis.publish(
        requests, request({"requestId": "req005", "type": 3, "sid": sid, "room": "new"})
    )
    assert await s.answer(answers) == [{"requestId": "req005"}]
    assert "new" not in adapter.rooms

    # server-side emit with an ack: always answered on the shared response channel
    body = {"requestId": "req006", "type": 6, "data": ["sse", 1]}
    await s.redis.publish(requests, request(body))
    (answer,) = await s.answer(shared)
    assert answer == {"type": 6, "requestId": "req006", "data": {"from": "py1", "got": [1]}}
    # ... and the server's own requests are not delivered to itself
    await s.redis.publish(requests, dumps_json({"uid": adapter.uid, "type": 6, "data": ["sse", 9]}))

    # broadcast with acks (msgpack request): a client count, then each client's answer
    ack_request = {
        "uid": "other1",
        "requestId": "req007",
        "type": 7,
        "packet": {"type": 2, "data": ["ask", 1], "nsp": "/"},
        "opts": {"rooms": [], "except": [], "flags": {"timeout": 2000}},
    }
    await s.redis.publish(requests, pack(ack_request))
    count, ack = await s.answer(answers, 2)
    assert count == {"type": 8, "requestId": "req007", "clientCount": 1}
    assert ack == {"type": 9, "requestId": "req007", "packet": {"client": "a"}}

    await s.redis.publish(requests, request({"type": 99}))
    await s.redis.publish(
        requests, request({"requestId": "req008", "type": 4, "sid": sid, "close": False})
    )
    assert await s.answer(answers) == [{"requestId": "req008"}]
    await eventually(lambda: s.fleet.disconnected("a") == ["io server disconnect"])
    assert [9] not in s.node.server_side_events


@pytest.fixture
async def sharded() -> AsyncIterator[Setup]:
    setup = await _setup("sharded", ["KEY#/#other1other1oth#"], True)
    try:
        yield setup
    finally:
        await _teardown(setup)


async def test_sharded_answers_every_message_type(sharded: Setup) -> None:
    s = sharded
    main = f"{s.key}#/#"
    answers = f"{s.key}#/#other1other1oth#"
    adapter = s.node.server.sockets.adapter
    assert isinstance(adapter, ShardedRedisAdapter)

    def message(kind: int, data: dict[str, Any] | None = None, nsp: str = "/") -> bytes:
        body: dict[str, Any] = {"type": kind, "uid": "other1other1oth", "nsp": nsp}
        if data is not None:
            body["data"] = data
        return dumps_json(body)

    for kind in (1, 2, 13):  # heartbeats and adapter close: nothing to answer
        await s.redis.spublish(main, message(kind))

    fetch = {"opts": {"rooms": ["r"], "except": [], "flags": {}}, "requestId": "f1"}
    await s.redis.spublish(main, message(7, fetch))
    (answer,) = await s.answer(answers)
    assert answer["type"] == 8
    assert answer["uid"] == adapter.uid
    assert answer["nsp"] == "/"
    assert answer["data"]["requestId"] == "f1"
    assert [e["id"] for e in answer["data"]["sockets"]] == [s.sid]

    await s.redis.spublish(main, message(9, {"requestId": "s1", "packet": ["sse", "x"]}))
    (answer,) = await s.answer(answers)
    assert answer["type"] == 10
    assert answer["data"] == {"requestId": "s1", "packet": {"from": "py1", "got": ["x"]}}

    ask = {
        "packet": {"type": 2, "data": ["ask", b"\x01"]},
        "requestId": "b1",
        "opts": {"rooms": ["r"], "except": [], "flags": {"timeout": 1000}},
    }
    await s.redis.spublish(
        main, pack({"type": 3, "data": ask, "uid": "other1other1oth", "nsp": "/"})
    )
    count, ack = await s.answer(answers, 2)
    assert (count["type"], count["data"]) == (11, {"requestId": "b1", "clientCount": 1})
    assert (ack["type"], ack["data"]) == (12, {"requestId": "b1", "packet": {"client": "a"}})
    (args,) = await s.fleet.wait_received("a", "ask")
    assert args == [b"\x01"]

    # another namespace's messages and unknown types are ignored
    await s.redis.spublish(main, message(9, {"packet": ["sse", "other-nsp"]}, nsp="/other"))
    await s.redis.spublish(main, message(42, {}))
    join = {"opts": {"rooms": ["r"], "except": []}, "rooms": ["j"]}
    await s.redis.spublish(main, message(4, join))
    await eventually(lambda: "j" in adapter.rooms)
    await s.redis.spublish(main, message(5, join))
    await eventually(lambda: "j" not in adapter.rooms)
    await s.redis.spublish(
        main, message(6, {"opts": {"rooms": ["r"], "except": []}, "close": True})
    )
    await eventually(lambda: bool(s.fleet.disconnected("a")))
    assert ["other-nsp"] not in s.node.server_side_events


@pytest.mark.parametrize("mode", ["classic", "sharded"])
async def test_close_fails_pending_requests(mode: str) -> None:
    async with lonely_node(mode, unique_key(), requests_timeout=5) as node:
        fetch = asyncio.ensure_future(node.server.fetch_sockets())
        await asyncio.sleep(0.1)
        assert not fetch.done()
        await node.server.sockets.adapter.close()
        with pytest.raises(AdapterError, match="closed"):
            await fetch


def test_factories() -> None:
    class FakeServer:
        connection_state_recovery = None

    class FakeNsp:  # the part of a namespace the adapters read when they are made
        name = "/chat"
        server = FakeServer()

    client = aioredis.Redis()
    nsp: Any = FakeNsp()
    classic = create_redis_adapter(client, key="k", requests_timeout=1)(nsp)
    assert isinstance(classic, RedisAdapter)
    assert classic.channel == "k#/chat#"
    assert classic.request_channel == "k-request#/chat#"
    assert classic.response_channel == "k-response#/chat#"
    assert classic.specific_response_channel == f"k-response#/chat#{classic.uid}#"
    assert re.fullmatch(r"[A-Za-z0-9_-]{6}", classic.uid)
    uids = {create_redis_adapter(client)(nsp).uid for _ in range(50)}
    assert len(uids) == 50
    from_url = create_adapter("redis://127.0.0.1:1")(nsp)
    assert isinstance(from_url, RedisAdapter)
    assert from_url.channel == "socket.io#/chat#"
    sharded = create_sharded_redis_adapter(client, channel_prefix="p")(nsp)
    assert isinstance(sharded, ShardedRedisAdapter)
    assert sharded.channel == "p#/chat#"
    assert sharded.response_channel == f"p#/chat#{sharded.uid}#"
    assert re.fullmatch(r"[0-9a-f]{16}", sharded.uid)
    assert sharded.dynamic_channel("room") == "p#/chat#room#"
    assert BroadcastOptions().flags.local is False


async def test_a_client_made_from_a_url_closes_with_the_last_adapter() -> None:
    node = await start_py_node("py1", create_adapter(REDIS_URL, key=unique_key()))
    chat = node.server.of("/chat").adapter
    main = node.server.sockets.adapter
    assert isinstance(main, RedisAdapter)
    assert isinstance(chat, RedisAdapter)
    owned = main._owned
    assert owned is not None and owned is chat._owned
    assert owned.users == 2
    # the namespaces of one server share their Redis connections
    assert main.link is chat.link
    await eventually_async(main.server_count, lambda n: n == 1)
    await eventually_async(chat.server_count, lambda n: n == 1)
    await node.server.close()
    assert owned.users == 0
    assert main._owned is None
    assert main.link not in RedisLink._shared.values()


async def test_namespaces_share_a_link_and_leave_it_one_by_one() -> None:
    key = unique_key()
    client = aioredis.Redis.from_url(REDIS_URL)
    node = await start_py_node("py1", adapter_factory("sharded", client, key))
    other = await start_py_node("py2", adapter_factory("sharded", client, key))
    fleet = await ClientFleet.launch()
    try:
        chat = node.server.of("/chat")
        main: Any = node.server.sockets.adapter
        assert chat.adapter.link is main.link  # type: ignore[attr-defined]
        assert other.server.sockets.adapter.link is not main.link  # type: ignore[attr-defined]
        await other.server.of("/chat").adapter.init()
        await chat.adapter.init()
        await fleet.connect("a", node.url, nsp="/chat", auth={"rooms": ["room"]})
        await eventually_async(chat.adapter.server_count, lambda n: n == 2)
        # closing /chat's adapter unsubscribes its channels only
        await chat.adapter.close()
        assert main.link._users == 1
        assert not any("/chat" in c for c in main.link.subscriber.shard_channels)
        await eventually_async(main.server_count, lambda n: n == 2)
        await fleet.connect("b", node.url)
        other.server.emit("still", 2)  # "/" still hears the cluster
        assert await fleet.wait_received("b", "still") == [[2]]
    finally:
        await fleet.stop()
        await node.server.close()
        await other.server.close()
        await client.aclose()


@pytest.mark.parametrize("mode", ["classic", "sharded"])
async def test_junk_on_every_channel_is_skipped(mode: str) -> None:
    key = unique_key()
    client = aioredis.Redis.from_url(REDIS_URL)
    node = await start_py_node("py1", adapter_factory(mode, client, key, requests_timeout=0.3))
    loop = asyncio.get_running_loop()
    errors: list[Any] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    adapter: Any = node.server.sockets.adapter
    if mode == "classic":
        channels = [f"{key}#/#", f"{key}#/#r#", f"{key}-request#/#", f"{key}-response#/#"]
    else:
        channels = [f"{key}#/#", adapter.response_channel]
    try:
        for i, message in enumerate(junk_messages(seed=9, count=400)):
            encodings = [pack(message), pack(["uid", message, message])]
            if not has_binary(message):
                encodings.append(dumps_json(message))
            for encoded in encodings:
                adapter._on_redis_message(channels[i % len(channels)], encoded)
        await asyncio.sleep(0.4)
        assert errors == []
        assert await adapter.server_count() == 1
    finally:
        loop.set_exception_handler(None)
        await node.server.close()
        await client.aclose()


@pytest.mark.parametrize("mode", ["classic", "sharded"])
async def test_switching_adapters_keeps_the_subscriptions(mode: str) -> None:
    key = unique_key()
    client = aioredis.Redis.from_url(REDIS_URL)
    py1 = await start_py_node("py1", adapter_factory(mode, client, key))
    py2 = await start_py_node("py2", adapter_factory(mode, client, key))
    fleet = await ClientFleet.launch()
    try:
        await fleet.connect("a", py1.url, auth={"rooms": ["r"]})
        old = py1.server.sockets.adapter
        py1.server.adapter(adapter_factory(mode, client, key))  # the same link is reused
        new = py1.server.sockets.adapter
        assert new is not old
        await new.init()
        await asyncio.sleep(0.1)  # the old adapter closes in the background
        await eventually_async(py2.server.sockets.adapter.server_count, lambda n: n == 2)
        await asyncio.sleep(0.05)
        py2.server.to("r").emit("after-switch", 1)
        assert await fleet.wait_received("a", "after-switch") == [[1]]
    finally:
        await fleet.stop()
        await py1.server.close()
        await py2.server.close()
        await client.aclose()
