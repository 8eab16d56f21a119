"""``aiosocketio.admin.instrument``: its options, its login, its modes, and bad commands.

The real dashboard runs in tests/browser/test_admin_ui.py; here the admin namespace is
driven by aiosocketio's client, the way the dashboard's socket.io-client drives it.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import bcrypt
import pytest

from aiosocketio import ConnectError, Server, client_socket
from aiosocketio.admin import Instrumentation, RedisStore, instrument
from aiosocketio.admin.stats import CounterDeltas, js_date
from aiosocketio.frontends.stats import LimitStats
from tests.support.node import run_node
from tests.support.timeouts import scaled

PASSWORD_HASH = bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode()
AUTH = {"type": "basic", "username": "admin", "password": PASSWORD_HASH}


class Dashboard:
    """An admin-namespace client that records what it receives."""

    def __init__(self, url: str, auth: dict[str, Any]) -> None:
        self.socket = client_socket(url + "/admin", auth=auth, reconnection=False, force_new=True)
        self.events: list[tuple[str, tuple[Any, ...]]] = []
        self._new = asyncio.Event()

        @self.socket.on_any
        def record(event: str, *args: Any) -> None:
            self.events.append((event, args))
            self._new.set()

    def named(self, event: str) -> list[tuple[Any, ...]]:
        return [args for name, args in self.events if name == event]

    async def wait_for(self, event: str, *prefix: Any, timeout: float = 5.0) -> tuple[Any, ...]:
        """The last ``event`` received whose arguments start with ``prefix``."""

        async def wait() -> tuple[Any, ...]:
            while True:
                found = [a for a in self.named(event) if a[: len(prefix)] == prefix]
                if found:
                    return found[-1]
                self._new.clear()
                await self._new.wait()

        return await asyncio.wait_for(wait(), scaled(timeout))


@pytest.fixture
async def io() -> AsyncIterator[Server]:
    server = Server()
    yield server
    await server.close()


async def listen(io: Server) -> str:
    await io.listen(0, "127.0.0.1")
    return f"http://127.0.0.1:{io.port}"


def test_auth_must_be_given_and_valid() -> None:
    io = Server()
    with pytest.raises(ValueError, match="must be specified"):
        instrument(io)
    with pytest.raises(ValueError, match="valid bcrypt hash"):
        instrument(io, auth={"type": "basic", "username": "a", "password": "plain"})
    with pytest.raises(ValueError, match="invalid `auth` option"):
        instrument(io, auth={"type": "token"})
    with pytest.raises(ValueError, match="mode"):
        instrument(io, auth=False, mode="debug")  # type: ignore[arg-type]


async def test_nothing_is_hooked_without_instrument(io: Server) -> None:
    url = await listen(io)
    user = client_socket(url, force_new=True)
    await user.connect()
    socket = next(iter(io.sockets.sockets.values()))
    assert not io.engine.has_listeners("connection")
    adapter: Any = io.sockets.adapter
    assert not adapter.has_listeners("join-room")
    assert not socket.has_listeners("disconnect")
    assert socket._any is None and socket._any_outgoing is None
    assert not socket.conn.has_listeners("packet")
    assert "_admin" not in socket.data
    assert not io.counters.detailed  # the hot paths test this attribute, nothing more
    assert io.counters.packets_in == io.counters.connections_opened == 0
    user.disconnect()


async def test_no_listener_per_connection(io: Server) -> None:
    """The aggregated events are read from the server's counters: the engine and its
    connections get no listener (in production mode; development mode follows each
    socket's upgrade for its ``socket_updated``)."""
    tool = instrument(io, auth=False, mode="production")
    assert io.counters.detailed
    url = await listen(io)
    user = client_socket(url, force_new=True)
    await user.connect()
    conn = next(iter(io.sockets.sockets.values())).conn
    assert not io.engine.has_listeners("connection")
    for event in ("packet", "packet_create", "close", "upgrade"):
        assert not conn.has_listeners(event)
    assert not conn.session.record_packets and not conn.session.record_created
    assert io.counters.connections_opened == 1 and io.counters.packets_in == 1  # CONNECT
    user.disconnect()
    tool.close()


def test_without_a_loop_the_first_connection_starts_the_stats() -> None:
    io = Server()
    tool = instrument(io, auth=False)
    assert io.engine.has_listeners("connection")
    tool.close()
    assert not io.engine.has_listeners("connection")


async def test_login_session_and_refusals(io: Server) -> None:
    tool = instrument(io, auth=AUTH)
    url = await listen(io)
    for bad in ({"username": "admin", "password": "nope"}, {"username": "x", "password": "pw"}):
        with pytest.raises(ConnectError) as refused:
            await Dashboard(url, bad).socket.connect()
        assert refused.value.message == "invalid credentials"
    with pytest.raises(ConnectError):
        await Dashboard(url, {"sessionId": "0123456789abcdef"}).socket.connect()

    first = Dashboard(url, {"username": "admin", "password": "pw"})
    await first.socket.connect()
    (session_id,) = await first.wait_for("session")
    # the dashboard reconnects with its session id instead of the password
    again = Dashboard(url, {"sessionId": session_id})
    await again.socket.connect()
    (config,) = await again.wait_for("config")
    assert config["supportedFeatures"] == [
        "EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT",
        "AGGREGATED_EVENTS", "ALL_EVENTS",
    ]  # fmt: skip
    assert not again.named("session")
    first.socket.disconnect()
    again.socket.disconnect()
    tool.close()


async def test_development_mode_reports_sockets_rooms_and_events(io: Server) -> None:
    tool = instrument(io, auth=False, server_id="here")

    @io.on("connection")
    def on_connection(socket: Any) -> None:
        socket.data["user"] = "u1"  # after socket_connected: a socket_updated follows

    url = await listen(io)
    dashboard = Dashboard(url, {})
    await dashboard.socket.connect()
    (sockets,) = await dashboard.wait_for("all_sockets")
    assert [(s["nsp"], s["id"]) for s in sockets] == [("/admin", dashboard.socket.id)]

    user = client_socket(url, transports=["polling"], force_new=True)
    await user.connect()
    (shown, when) = await dashboard.wait_for("socket_connected", timeout=5)
    assert [a[0]["id"] for a in dashboard.named("socket_connected")][-1] == user.id
    assert shown["id"] == user.id and shown["nsp"] == "/"
    assert shown["transport"] == "polling" and len(shown["clientId"]) == 12
    assert shown["handshake"]["address"] == "127.0.0.1" and "auth" not in shown["handshake"]
    assert when.endswith("Z")

    async def user_updated() -> list[Any]:
        while True:
            updates = [a[0] for a in dashboard.named("socket_updated") if a[0]["id"] == user.id]
            if updates:
                return updates
            await asyncio.sleep(0.02)

    updates = await asyncio.wait_for(user_updated(), scaled(5))
    assert updates == [{"id": user.id, "nsp": "/", "data": {"user": "u1"}}]
    assert io.sockets.sockets[str(user.id)].data["_admin"]["transport"] == "polling"

    user.emit("hello", 1, {"a": 2})
    nsp, sid, args, _ = await dashboard.wait_for("event_received")
    assert (nsp, sid, args) == ("/", user.id, ["hello", 1, {"a": 2}])

    # the dashboard's commands, narrowed to one socket
    server_socket = io.sockets.sockets[str(user.id)]
    dashboard.socket.emit("join", "/", "vip", user.id)
    await dashboard.wait_for("room_joined", "/", "vip", user.id)
    assert "vip" in server_socket.rooms
    dashboard.socket.emit("leave", "/", "vip", user.id)
    await dashboard.wait_for("room_left", "/", "vip", user.id)
    assert "vip" not in server_socket.rooms

    # the next stats, sent after all of the above (every 2 s)
    earlier = [args[0] for args in dashboard.named("server_stats")]
    dashboard.events = [e for e in dashboard.events if e[0] != "server_stats"]
    stats = (await dashboard.wait_for("server_stats"))[0]
    assert stats["serverId"] == "here"
    assert stats["clientsCount"] == 2 and stats["pollingClientsCount"] == 1
    assert {"name": "/", "socketsCount": 1} in stats["namespaces"]
    kinds = {e["type"] for one in [*earlier, stats] for e in one["aggregatedEvents"]}
    assert {"rawConnection", "packetsIn", "bytesIn", "packetsOut", "bytesOut"} <= kinds
    connected = sum(
        e["count"]
        for one in [*earlier, stats]
        for e in one["aggregatedEvents"]
        if e["type"] == "rawConnection"
    )
    assert connected == io.counters.connections_opened == 2  # the dashboard, the user

    dashboard.socket.emit("_disconnect", "/", False, user.id)
    _, _, reason, _ = await dashboard.wait_for("socket_disconnected", "/", user.id)
    assert reason == "server namespace disconnect"
    dashboard.socket.disconnect()
    user.disconnect()
    tool.close()


async def test_production_mode_and_read_only(io: Server) -> None:
    tool = instrument(io, auth=False, mode="production", read_only=True)
    url = await listen(io)
    dashboard = Dashboard(url, {})
    await dashboard.socket.connect()
    (config,) = await dashboard.wait_for("config")
    assert config["supportedFeatures"] == ["AGGREGATED_EVENTS"]
    user = client_socket(url, force_new=True)
    await user.connect()
    dashboard.socket.emit("join", "/", "vip", user.id)
    dashboard.socket.emit("_disconnect", "/", True)
    stats = (await dashboard.wait_for("server_stats", timeout=6))[0]
    assert stats["clientsCount"] == 2
    assert "vip" not in io.sockets.sockets[str(user.id)].rooms  # read-only: ignored
    assert user.connected
    names = {name for name, _ in dashboard.events}
    assert not names & {"all_sockets", "socket_connected", "room_joined", "event_received"}
    dashboard.socket.disconnect()
    user.disconnect()
    tool.close()


async def test_malformed_commands_are_ignored(io: Server) -> None:
    tool = instrument(io, auth=False)
    url = await listen(io)
    dashboard = Dashboard(url, {})
    await dashboard.socket.connect()
    await dashboard.wait_for("config")
    user = client_socket(url, force_new=True)
    await user.connect()
    for event, args in [
        ("join", ()), ("join", (42, "r")), ("join", ("/nope", "r")), ("join", ("/", ["r"])),
        ("leave", (None,)), ("_disconnect", ()), ("_disconnect", ("/unknown", True)),
        ("emit", ()), ("emit", ("/", None, "connect")), ("emit", ("/", 3, 4)),
    ]:  # fmt: skip
        dashboard.socket.emit(event, *args)
    assert "/nope" not in io._nsps and "/unknown" not in io._nsps  # never created
    # still connected, and a good command still works
    dashboard.socket.emit("join", "/", "ok", user.id)
    await dashboard.wait_for("room_joined", "/", "ok")
    assert "ok" in io.sockets.sockets[str(user.id)].rooms
    assert dashboard.socket.connected and user.connected
    dashboard.socket.disconnect()
    user.disconnect()
    tool.close()


def test_the_stats_shapes() -> None:
    assert js_date(0) == "1970-01-01T00:00:00.000Z"
    assert js_date(1.5) == "1970-01-01T00:00:01.500Z"
    counters = LimitStats()
    counters.connections_opened = 5  # before the admin: not reported
    counters.add("connection_closed/ping timeout")
    deltas = CounterDeltas(counters)
    assert deltas.take() == []
    counters.connections_opened += 2
    counters.packets_in += 3
    counters.bytes_in += 30
    counters.add("connection_closed/transport close")
    counters.add("sio_parse_error")  # not a dashboard figure
    values = deltas.take(now=1234.5)
    assert values == [
        {"timestamp": 1234000, "type": "rawConnection", "count": 2},
        {"timestamp": 1234000, "type": "packetsIn", "count": 3},
        {"timestamp": 1234000, "type": "bytesIn", "count": 30},
        {
            "timestamp": 1234000,
            "type": "rawDisconnection",
            "count": 1,
            "subType": "transport close",
        },
    ]
    assert deltas.take() == []  # the differences since the previous take
    counters.add("connection_closed/ping timeout")
    counters.packets_out += 1
    assert [(v["type"], v.get("subType"), v["count"]) for v in deltas.take()] == [
        ("packetsOut", None, 1),
        ("rawDisconnection", "ping timeout", 1),
    ]
    assert isinstance(Instrumentation, type)


async def test_a_hash_made_by_nodes_bcryptjs_logs_in(io: Server) -> None:
    """The password hash of a Node deployment (bcryptjs, ``$2a$``) works unchanged."""
    result = (await run_node("bcryptjs_hash.js", "from node", "5")).check()
    node_hash = result.lines[0]["hash"]
    assert node_hash.startswith("$2a$05$")
    tool = instrument(io, auth={"type": "basic", "username": "ops", "password": node_hash})
    url = await listen(io)
    with pytest.raises(ConnectError):
        await Dashboard(url, {"username": "ops", "password": "from python"}).socket.connect()
    dashboard = Dashboard(url, {"username": "ops", "password": "from node"})
    await dashboard.socket.connect()
    await dashboard.wait_for("config")
    dashboard.socket.disconnect()
    tool.close()


async def test_a_redis_store_shares_the_sessions_between_servers() -> None:
    """Logged in on one server, the dashboard's session id opens the other one."""
    import redis.asyncio as redis

    client = redis.Redis.from_url("redis://127.0.0.1:6379")
    prefix = f"admin-test-{secrets.token_hex(4)}"
    first, second = Server(), Server()
    tools = [
        instrument(io, auth=AUTH, store=RedisStore(client, prefix=prefix)) for io in (first, second)
    ]
    session_id = ""
    try:
        url_a, url_b = await listen(first), await listen(second)
        login = Dashboard(url_a, {"username": "admin", "password": "pw"})
        await login.socket.connect()
        (session_id,) = await login.wait_for("session")
        key = f"{prefix}#{session_id}"
        for _ in range(100):  # the key is written in the background
            if await client.exists(key):
                break
            await asyncio.sleep(0.02)
        assert await client.get(key) == b"true"
        assert 0 < await client.ttl(key) <= 86400
        again = Dashboard(url_b, {"sessionId": session_id})
        await again.socket.connect()
        await again.wait_for("config")
        with pytest.raises(ConnectError):
            await Dashboard(url_b, {"sessionId": "f" * 16}).socket.connect()
        login.socket.disconnect()
        again.socket.disconnect()
    finally:
        for tool in tools:
            tool.close()
        await first.close()
        await second.close()
        await client.delete(f"{prefix}#{session_id}")
        await client.aclose()
