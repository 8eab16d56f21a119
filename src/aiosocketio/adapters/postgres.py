"""``PostgresAdapter``: LISTEN/NOTIFY, compatible with @socket.io/postgres-adapter 0.5.

Python and Node servers can share one cluster: the adapter speaks socket.io-adapter's
cluster protocol with heartbeats (:class:`ClusterAdapterWithHeartbeat`, message types
1-13) on a notification channel per namespace, ``<channel_prefix>#<nsp>``, and puts the
messages that carry binary or are too long for a notification in the attachment table
(the wire: :mod:`aiosocketio.protocol.cluster.postgres`). The servers know each other by
their heartbeats, so ``server_count`` and the requests (``fetch_sockets``,
``server_side_emit`` with acks, broadcasts with acks) count the servers heard from.

The driver is asyncpg: pass an ``asyncpg.Pool``. The adapters of one server share one
:class:`~aiosocketio.adapters.postgres_link.PostgresLink`: one pooled connection held for
LISTEN, and one ordered writer.

Example::

    import asyncpg
    from aiosocketio import Server
    from aiosocketio.adapters.postgres import create_attachment_table, create_postgres_adapter

    pool = await asyncpg.create_pool("postgresql://postgres@127.0.0.1/app")
    await create_attachment_table(pool)
    sio = Server(adapter=create_postgres_adapter(pool))
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from aiosocketio.adapters.cluster import ClusterAdapterWithHeartbeat
from aiosocketio.adapters.interface import NamespaceLike
from aiosocketio.adapters.postgres_link import PostgresLink
from aiosocketio.protocol.cluster.postgres import (
    DEFAULT_CHANNEL_PREFIX,
    DEFAULT_CLEANUP_INTERVAL,
    DEFAULT_PAYLOAD_THRESHOLD,
    DEFAULT_TABLE_NAME,
    channel_for,
    check_table_name,
    create_table_sql,
)

__all__ = ["PostgresAdapter", "create_attachment_table", "create_postgres_adapter"]

logger = logging.getLogger("aiosocketio.adapters.postgres")


class PostgresAdapter(ClusterAdapterWithHeartbeat):
    """A cluster adapter on Postgres LISTEN/NOTIFY (Node's @socket.io/postgres-adapter).

    Args:
        nsp: the namespace.
        pool: an ``asyncpg.Pool`` of at least 2 connections (one is held for LISTEN).
        channel_prefix: the prefix of the notification channels (Node's ``channelPrefix``).
        table_name: the attachment table (``tableName``); it must exist, see
            :func:`create_attachment_table`.
        payload_threshold: bytes of JSON from which a message goes through the table
            (``payloadThreshold``, 8000).
        cleanup_interval: seconds between two deletions of old attachments
            (``cleanupInterval``, 30); 0 turns the cleanup off on this server.
        heartbeat_interval: seconds of silence after which a heartbeat is sent (5).
        heartbeat_timeout: seconds without news after which a server is forgotten (10).
        requests_timeout: seconds to wait for the other servers' answers (5).

    Attributes:
        channel: this namespace's notification channel.
        link: the Postgres connection shared with the server's other namespaces.
    """

    def __init__(
        self,
        nsp: NamespaceLike,
        pool: Any,
        *,
        channel_prefix: str = DEFAULT_CHANNEL_PREFIX,
        table_name: str = DEFAULT_TABLE_NAME,
        payload_threshold: int = DEFAULT_PAYLOAD_THRESHOLD,
        cleanup_interval: float = DEFAULT_CLEANUP_INTERVAL,
        heartbeat_interval: float = 5.0,
        heartbeat_timeout: float = 10.0,
        requests_timeout: float = 5.0,
    ) -> None:
        super().__init__(
            nsp,
            heartbeat_interval=heartbeat_interval,
            heartbeat_timeout=heartbeat_timeout,
            requests_timeout=requests_timeout,
        )
        check_table_name(table_name)
        if payload_threshold < 1:
            raise ValueError("payload_threshold must be at least 1")
        max_size = getattr(pool, "get_max_size", None)
        if callable(max_size) and max_size() < 2:
            # one connection is held for LISTEN: the writer needs another
            raise ValueError("the pool needs at least 2 connections (max_size=2)")
        self.channel = channel_for(channel_prefix, nsp.name)
        self.link = PostgresLink.acquire(
            nsp.server,
            pool,
            channel_prefix=channel_prefix,
            table_name=table_name,
            payload_threshold=payload_threshold,
            cleanup_interval=cleanup_interval,
        )
        self._started = False
        self._released = False

    @classmethod
    def factory(cls, pool: Any, **options: Any) -> Callable[[NamespaceLike], PostgresAdapter]:
        """A ``Server(adapter=...)`` factory (Node's ``createAdapter(pool, opts)``)."""

        def make(nsp: NamespaceLike) -> PostgresAdapter:
            return cls(nsp, pool, **options)

        return make

    async def init(self) -> None:
        """LISTEN on the namespace's channel, then announce this server."""
        if self._started:
            return
        self._started = True
        await self.link.add_namespace(self.nsp.name, self.uid, self.on_message)
        await super().init()

    async def close(self) -> None:
        """Say goodbye (ADAPTER_CLOSE), fail the pending requests, release the link."""
        await super().close()
        if self._released:
            return
        self._released = True
        self.link.remove_namespace(self.nsp.name, self.uid)
        await self.link.release()

    def do_publish(self, message: dict[str, Any]) -> None:
        """NOTIFY on the namespace's channel (through the table if needed)."""
        self.link.publish(message)

    def do_publish_response(self, requester_uid: str, response: dict[str, Any]) -> None:
        """Responses go on the same channel; the requester picks its own by request id."""
        self.link.publish(response)


def create_postgres_adapter(
    pool: Any, **options: Any
) -> Callable[[NamespaceLike], PostgresAdapter]:
    """Node's ``createAdapter(pool, opts)``: see :class:`PostgresAdapter` for ``options``."""
    return PostgresAdapter.factory(pool, **options)


async def create_attachment_table(pool: Any, table_name: str = DEFAULT_TABLE_NAME) -> None:
    """``CREATE TABLE IF NOT EXISTS`` the attachment table, as the Node README shows it.

    ``pool`` is an ``asyncpg.Pool`` (or a connection).
    """
    await pool.execute(create_table_sql(table_name))
