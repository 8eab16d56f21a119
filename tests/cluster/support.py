"""Helpers for the cluster tests: unique channel prefixes, Redis, own redis-server processes."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import redis.asyncio as aioredis

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
    if isinstance(value, dict):
        if set(value) == {"$bin"}:
            return bytes.fromhex(value["$bin"])
        return {k: revive(v) for k, v in value.items()}
    if isinstance(value, list):
        return [revive(v) for v in value]
    return value


class RedisServer:
    """A redis-server of our own on a free loopback port, that a test may stop and restart."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

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
async def own_redis() -> AsyncIterator[RedisServer]:
    server = RedisServer()
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
