"""``ShardedRedisAdapter``: Redis 7 sharded pub/sub, compatible with ``createShardedAdapter``.

It speaks socket.io-adapter's cluster message model (:class:`ClusterAdapter`, types 1-13)
over SPUBLISH/SSUBSCRIBE, like @socket.io/redis-adapter 8.3's ``createShardedAdapter``;
the channels, the subscription modes and the encoding are in
:mod:`aiosocketio.protocol.cluster.sharded`. This module is the pump: it subscribes (to
a room's channel while the server has the room, in the dynamic modes), publishes and
feeds what arrives to the adapter.

Given a ``redis.asyncio.cluster.RedisCluster`` client, it runs on a Redis Cluster: each
channel is published and subscribed on the master that owns its slot, and followed when
the slot moves or a replica takes over (:mod:`aiosocketio.adapters.redis_cluster`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from aiosocketio.adapters.cluster import ClusterAdapter
from aiosocketio.adapters.interface import NamespaceLike
from aiosocketio.adapters.redis_cluster import AnyRedis
from aiosocketio.adapters.redis_link import RedisLink
from aiosocketio.exceptions import AdapterError, RemoteProtocolError
from aiosocketio.protocol.cluster.sharded import (
    SubscriptionMode,
    encode_message,
    message_channel,
)
from aiosocketio.protocol.cluster.wire import decode_message
from aiosocketio.runtime.tasks import spawn

__all__ = ["ShardedRedisAdapter", "create_sharded_redis_adapter"]

logger = logging.getLogger("aiosocketio.adapters.redis")


class ShardedRedisAdapter(ClusterAdapter):
    """A cluster adapter on Redis 7 sharded pub/sub (Node's ``createShardedAdapter``).

    Args:
        nsp: the namespace.
        pub: the Redis client used to publish (a ``RedisCluster`` for a Redis Cluster).
        sub: the Redis client that gives the subscriber connection (default: ``pub``).
        channel_prefix: the channel prefix (default ``"socket.io"``).
        subscription_mode: ``"static"``, ``"dynamic"`` (default) or ``"dynamic-private"``.
        requests_timeout: seconds to wait for the other servers' answers.
    """

    def __init__(
        self,
        nsp: NamespaceLike,
        pub: AnyRedis,
        sub: AnyRedis | None = None,
        *,
        channel_prefix: str = "socket.io",
        subscription_mode: SubscriptionMode = "dynamic",
        requests_timeout: float = 5.0,
    ) -> None:
        super().__init__(nsp, requests_timeout=requests_timeout)
        if subscription_mode not in ("static", "dynamic", "dynamic-private"):
            raise ValueError(f"unknown subscription mode {subscription_mode!r}")
        self.subscription_mode: SubscriptionMode = subscription_mode
        self.channel = f"{channel_prefix}#{nsp.name}#"
        self.response_channel = f"{self.channel}{self.uid}#"
        owner = nsp.server  # the namespaces of one server share connections
        self.link = RedisLink.acquire(owner, pub, sub if sub is not None else pub)
        self._dynamic: set[str] = set()
        self._started = False
        if subscription_mode != "static":
            self.on("create-room", self._on_create_room)
            self.on("delete-room", self._on_delete_room)

    @classmethod
    def factory(
        cls, pub: AnyRedis, sub: AnyRedis | None = None, **options: Any
    ) -> Callable[[NamespaceLike], ShardedRedisAdapter]:
        """A ``Server(adapter=...)`` factory (Node's ``createShardedAdapter``)."""

        def make(nsp: NamespaceLike) -> ShardedRedisAdapter:
            return cls(nsp, pub, sub, **options)

        return make

    # -- life cycle ---------------------------------------------------------------------

    async def init(self) -> None:
        """Subscribe to the main and response channels (and existing rooms' channels)."""
        if self._started:
            return
        self._started = True
        channels = [self.channel, self.response_channel]
        dynamic = [self.dynamic_channel(r) for r in self.rooms if self._separate(r)]
        self._dynamic.update(dynamic)
        try:
            await self.link.subscribe(self._on_redis_message, shard_channels=channels + dynamic)
        except AdapterError:
            if not self.link.closed:
                raise
            # closed while starting (the server shut down): nothing left to do

    async def close(self) -> None:
        """Fail the pending requests and unsubscribe."""
        await super().close()
        if self._started:
            channels = [self.channel, self.response_channel, *self._dynamic]
            self._dynamic.clear()
            await self.link.unsubscribe(self._on_redis_message, shard_channels=channels)
        await self.link.release()

    async def server_count(self) -> int:
        """``PUBSUB SHARDNUMSUB <prefix>#<nsp>#``."""
        return await self.link.numsub(self.channel, sharded=True)

    # -- dynamic subscriptions ----------------------------------------------------------

    def dynamic_channel(self, room: str) -> str:
        """The channel of one room in the dynamic modes."""
        return f"{self.channel}{room}#"

    def _separate(self, room: str) -> bool:
        if self.subscription_mode == "dynamic-private":
            return True
        return self.subscription_mode == "dynamic" and room not in self.sids

    def _on_create_room(self, room: str) -> None:
        if self._started and self._separate(room):
            channel = self.dynamic_channel(room)
            self._dynamic.add(channel)
            spawn(
                self.link.subscribe(self._on_redis_message, shard_channels=[channel], wait=False),
                "a cluster operation",
            )

    def _on_delete_room(self, room: str) -> None:
        channel = self.dynamic_channel(room)
        if self._started and channel in self._dynamic:
            self._dynamic.discard(channel)
            spawn(
                self.link.unsubscribe(self._on_redis_message, shard_channels=[channel]),
                "a cluster operation",
            )

    # -- transport ----------------------------------------------------------------------

    @staticmethod
    def encode(message: dict[str, Any]) -> bytes:
        """JSON, or msgpack when a message type that may carry binary does."""
        return encode_message(message)

    def do_publish(self, message: dict[str, Any]) -> None:
        """SPUBLISH on the main channel, or on a room's channel in the dynamic modes."""
        channel = message_channel(message, self.channel, self.subscription_mode)
        self.link.publish(channel, encode_message(message), sharded=True)

    def do_publish_response(self, requester_uid: str, response: dict[str, Any]) -> None:
        """SPUBLISH on the requester's response channel."""
        self.link.publish(f"{self.channel}{requester_uid}#", encode_message(response), sharded=True)

    def _on_redis_message(self, channel: str, data: bytes) -> None:
        try:
            message = decode_message(data)
        except RemoteProtocolError as exc:
            logger.warning("ignoring a malformed message on %s: %s", channel, exc)
            return
        if channel == self.response_channel:
            self.on_response(message)
        else:
            self.on_message(message)


def create_sharded_redis_adapter(
    pub: AnyRedis, sub: AnyRedis | None = None, **options: Any
) -> Callable[[NamespaceLike], ShardedRedisAdapter]:
    """Node's ``createShardedAdapter(pubClient, subClient, opts)``."""
    return ShardedRedisAdapter.factory(pub, sub, **options)
