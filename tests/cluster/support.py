"""Helpers for the cluster tests: unique channel prefixes, Redis, own redis-server processes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import redis.asyncio as aioredis

from tests.support import node
from tests.support.node import NodeProcess
from tests.support.timeouts import scaled

REDIS_URL = "redis://127.0.0.1:6379"


def unique_key() -> str:
    """A channel prefix no other test run uses."""
    return f"sio-test-{secrets.token_hex(6)}"


def free_port() -> int:
    """A free loopback TCP port, chosen by the OS."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def bin_(data: bytes) -> dict[str, str]:
    """The JSON marker the Node scripts turn into a Buffer."""
    return {"$bin": data.hex()}


def plain(value: Any) -> Any:
    """Python values -> the JSON the Node scripts read (bytes become {"$bin": hex})."""
    if isinstance(value, (bytes, bytearray)):
        return bin_(bytes(value))
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def revive(value: Any) -> Any:
    """The JSON the Node scripts print -> Python values ({"$bin": hex} becomes bytes)."""
    return node.revive(value, bytes.fromhex)


class RedisServer:
    """A redis-server of our own on a free loopback port, that a test may stop and restart."""

    def __init__(self, *extra: str, password: str | None = None) -> None:
        self.port = free_port()
        self.extra = list(extra)
        self.password = password
        if password:
            self.extra += ["--requirepass", password]
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            *self.extra,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        client = aioredis.Redis.from_url(self.url)
        try:
            for _ in range(200):
                try:
                    await client.ping()
                    return
                except (OSError, aioredis.ConnectionError):
                    await asyncio.sleep(0.025)
            raise AssertionError("redis-server did not start")
        finally:
            await client.aclose()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()  # our own process, by PID
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self.proc = None


@contextlib.asynccontextmanager
async def own_redis(*extra: str, password: str | None = None) -> AsyncIterator[RedisServer]:
    server = RedisServer(*extra, password=password)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def eventually(
    check: Callable[[], bool], timeout: float = 5.0, interval: float = 0.02, what: str = ""
) -> None:
    """Wait until ``check()`` is true, or fail after ``timeout`` (scaled)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + scaled(timeout)
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met in {timeout}s: {what}")
        await asyncio.sleep(interval)


async def eventually_async(
    fetch: Callable[[], Awaitable[Any]],
    check: Callable[[Any], bool],
    timeout: float = 5.0,
    what: str = "",
) -> Any:
    """Call ``fetch()`` until ``check(result)`` holds; return that result."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + scaled(timeout)
    while True:
        result = await fetch()
        if check(result):
            return result
        if loop.time() > deadline:
            raise AssertionError(f"condition not met in {timeout}s: {what} (last: {result!r})")
        await asyncio.sleep(0.02)


class Capture:
    """A raw subscriber: every message published on its pattern and shard channels, as
    (channel, bytes)."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.pubsub = client.pubsub()
        self.messages: list[tuple[str, bytes]] = []
        self.task: asyncio.Task[None] | None = None

    async def start(self, pattern: str | None, shard_channels: Sequence[str] = ()) -> None:
        if pattern:
            await self.pubsub.psubscribe(pattern)
        if shard_channels:
            await self.pubsub.ssubscribe(*shard_channels)
        self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            msg = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
            if msg is not None and msg["type"] in ("pmessage", "smessage"):
                self.messages.append((msg["channel"].decode(), msg["data"]))

    async def take(self, count: int) -> list[tuple[str, bytes]]:
        """The next ``count`` messages, in order."""
        await eventually(lambda: len(self.messages) >= count, what=f"{count} messages")
        out, self.messages = self.messages[:count], self.messages[count:]
        return out

    async def first_after(self, action: Callable[[], Awaitable[Any]]) -> tuple[str, bytes]:
        """The first message published after ``action()`` (the answers are let go by)."""
        self.messages.clear()
        await action()
        await eventually(lambda: bool(self.messages), what="a published message")
        first = self.messages[0]
        await asyncio.sleep(0.05)  # let the answers go by
        return first

    async def stop(self) -> None:
        assert self.task is not None
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass
        await self.pubsub.aclose()


class NodeDriver:
    """A Node script driven by JSON commands on stdin (``{"id", "cmd", ...}``)."""

    def __init__(self, proc: NodeProcess) -> None:
        self.proc = proc
        self._next_id = 0
        self._results: dict[int, asyncio.Future[Any]] = {}
        self.events: list[dict[str, Any]] = []
        self._pump = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls, script: str, *args: str) -> NodeDriver:
        return cls(await NodeProcess.start(script, *args))

    async def _read(self) -> None:
        while True:
            line = await self.proc.lines.get()
            if isinstance(line, dict) and "id" in line and line["id"] in self._results:
                future = self._results.pop(line["id"])
                if not future.done():
                    future.set_result(line)
            elif isinstance(line, dict):
                self.events.append(revive(line))

    async def call(self, cmd: str, *, wait: float = 10.0, **fields: Any) -> Any:
        self._next_id += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._results[self._next_id] = future
        self.proc.send(plain({"id": self._next_id, "cmd": cmd, **fields}))
        try:
            line = await asyncio.wait_for(future, scaled(wait))
        except TimeoutError:
            raise AssertionError(f"no answer to {cmd}; stderr:\n{self.proc.stderr}") from None
        if "error" in line:
            raise AssertionError(f"{cmd} failed: {line['error']}")
        return revive(line["result"])

    async def wait_event(
        self, match: Callable[[dict[str, Any]], bool], timeout: float = 5.0, what: str = ""
    ) -> dict[str, Any]:
        found: list[dict[str, Any]] = []

        def check() -> bool:
            found[:] = [e for e in self.events if match(e)]
            return bool(found)

        await eventually(check, timeout, what=what or "node event")
        return found[0]

    async def stop(self) -> None:
        self._pump.cancel()
        try:
            await self._pump
        except asyncio.CancelledError:
            pass
        await self.proc.stop()


class ClientFleet(NodeDriver):
    """socket.io-client 4.8 clients in one Node process (``cluster_clients.js``)."""

    @classmethod
    async def launch(cls) -> ClientFleet:
        fleet = cls(await NodeProcess.start("cluster_clients.js"))
        await fleet.wait_event(lambda e: e.get("ready") is True, 10, "clients ready")
        return fleet

    async def connect(self, name: str, url: str, **fields: Any) -> str:
        result = await self.call("connect", name=name, url=url, **fields)
        sid: str = result["sid"]
        return sid

    def received(self, client: str, event: str) -> list[list[Any]]:
        return [
            e["args"] for e in self.events if e.get("client") == client and e.get("event") == event
        ]

    def disconnected(self, client: str) -> list[str]:
        return [
            e["disconnect"] for e in self.events if e.get("client") == client and "disconnect" in e
        ]

    async def wait_received(
        self, client: str, event: str, count: int = 1, timeout: float = 5.0
    ) -> list[list[Any]]:
        await eventually(
            lambda: len(self.received(client, event)) >= count, timeout, what=f"{client} {event}"
        )
        return self.received(client, event)


async def start_node_server(
    key: str, mode: str = "classic", redis_url: str = REDIS_URL, **cfg: Any
) -> tuple[NodeDriver, int]:
    """Start ``cluster_node_server.js``; returns the driver and its port."""
    config = {"key": key, "mode": mode, "redis": redis_url, **cfg}
    driver = await NodeDriver.start("cluster_node_server.js", json.dumps(config))
    line = await driver.wait_event(lambda e: "port" in e or "fatal" in e, 15, "node port")
    if "fatal" in line:
        await driver.stop()
        raise AssertionError(line["fatal"])
    port: int = line["port"]
    return driver, port


_WORDS = [
    "type", "data", "opts", "rooms", "except", "flags", "requestId", "uid", "nsp", "packet",
    "sockets", "close", "timeout", "clientCount", "sid", "room", "id", "/", "r", "sse",
]  # fmt: skip


def junk_value(rng: random.Random, depth: int = 0) -> Any:
    """A random value shaped like the cluster messages (their keys, small type numbers)."""
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.randrange(-2, 15)
    if kind == 3:
        return rng.choice([1.5, -0.0, 1e300, 2.0])
    if kind == 4:
        return rng.choice(_WORDS)
    if kind == 5:
        return rng.randbytes(rng.randrange(4))
    if kind == 6:
        return [junk_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(_WORDS): junk_value(rng, depth + 1) for _ in range(rng.randrange(6))}


def junk_messages(seed: int, count: int) -> list[Any]:
    """Messages that look like cluster messages: right keys, random values and types."""
    rng = random.Random(seed)
    out: list[Any] = []
    for _ in range(count):
        message = {k: junk_value(rng) for k in rng.sample(_WORDS[:9], rng.randrange(1, 6))}
        message["type"] = rng.randrange(0, 15)
        if rng.random() < 0.7:
            message["nsp"] = "/"
        if rng.random() < 0.5:
            message["data"] = (
                junk_value(rng, 1)
                if rng.random() < 0.3
                else {k: junk_value(rng, 2) for k in rng.sample(_WORDS[:13], rng.randrange(1, 5))}
            )
        out.append(message if rng.random() < 0.9 else junk_value(rng))
    return out
