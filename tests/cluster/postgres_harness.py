"""A mixed cluster on Postgres: aiosocketio servers and a Node server on
@socket.io/postgres-adapter, in the test session's database (``postgres_dsn``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from aiosocketio.adapters.postgres import PostgresAdapter
from tests.cluster.harness import Cluster, start_py_node
from tests.cluster.support import ClientFleet, eventually, eventually_async, start_node_server


async def open_pool(dsn: str, size: int = 10) -> Any:
    """An asyncpg pool on the test database."""
    return await asyncpg.create_pool(dsn, min_size=1, max_size=size)


@dataclass
class PostgresCluster(Cluster):
    """Two aiosocketio servers and one Node server on one Postgres database."""

    @classmethod
    async def launch(
        cls,
        dsn: str,
        key: str,
        node_cfg: dict[str, Any] | None = None,
        py_count: int = 2,
        **adapter_opts: Any,
    ) -> PostgresCluster:
        """Start the servers (channel prefix ``key``) and wait until they all know each other."""
        pool = await open_pool(dsn)
        factory = PostgresAdapter.factory(pool, channel_prefix=key, **adapter_opts)
        py = [await start_py_node(f"py{i + 1}", factory) for i in range(py_count)]
        cfg = {"postgres": dsn, **(node_cfg or {})}
        node, port = await start_node_server(key, "postgres", **cfg)
        fleet = await ClientFleet.launch()
        cluster = cls("postgres", key, pool, py, node, port, fleet)
        total = py_count + 1
        for srv in py:
            await eventually_async(srv.server.sockets.adapter.server_count, lambda n: n == total)
        await eventually_async(lambda: node.call("serverCount"), lambda n: n == total)
        return cluster

    async def stop(self) -> None:
        await self.fleet.stop()
        for srv in self.py:
            await srv.server.close()
        try:
            await self.node.call("close", wait=3)
        except AssertionError:
            pass
        await self.node.stop()
        await self.client.close()


class Notifications:
    """A raw listener on one channel: every notification's payload, in order."""

    def __init__(self, conn: Any, channel: str) -> None:
        self.conn = conn
        self.channel = channel
        self.payloads: list[str] = []

    @classmethod
    async def listen(cls, dsn: str, channel: str) -> Notifications:
        conn = await asyncpg.connect(dsn)
        capture = cls(conn, channel)
        await conn.add_listener(channel, capture._on)
        return capture

    def _on(self, _conn: Any, _pid: int, _channel: str, payload: object) -> None:
        self.payloads.append(str(payload))

    async def wait_for(self, check: Callable[[str], bool], what: str = "") -> str:
        found: list[str] = []

        def match() -> bool:
            found[:] = [p for p in self.payloads if check(p)]
            return bool(found)

        await eventually(match, what=what or "a notification")
        return found[0]

    async def close(self) -> None:
        await self.conn.close()


async def notify(dsn: str, channel: str, *payloads: str) -> None:
    """Send raw notifications (as any client could)."""
    conn = await asyncpg.connect(dsn)
    try:
        for payload in payloads:
            await conn.execute("SELECT pg_notify($1, $2)", channel, payload)
            await asyncio.sleep(0)
    finally:
        await conn.close()
