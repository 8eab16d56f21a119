"""The Redis plumbing shared by the Redis adapters: one subscriber, one ordered publisher.

Theory of operation: a :class:`RedisLink` holds one subscriber connection
(:class:`~aiosocketio.adapters.redis_subscriber.Subscriber`: every namespace's channels,
routed to their handlers, resubscribed after a reconnection) and one publish queue, for
all the namespaces of one server. The writer task drains the queue in order, a batch per
pipeline round trip, so a burst of broadcasts costs one round trip and keeps its order. A
publish that fails (Redis down) is logged and dropped, as Node does; while Redis cannot be
reached the queue is bounded.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
from collections.abc import Iterable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError

from aiosocketio.adapters.redis_cluster import AnyRedis, ClusterNodes, is_cluster
from aiosocketio.adapters.redis_cluster_subscriber import ClusterSubscriber
from aiosocketio.adapters.redis_connection import (
    REPLY_TIMEOUT,
    connection_params,
    open_connection,
    retry_once,
)
from aiosocketio.adapters.redis_subscriber import MessageHandler, Subscriber
from aiosocketio.adapters.shared_link import SharedLink
from aiosocketio.exceptions import AdapterError
from aiosocketio.protocol.resp import RespError, RespParser, encode_command
from aiosocketio.runtime.tasks import TaskRegistry

__all__ = ["MAX_QUEUE", "MessageHandler", "RedisLink"]

logger = logging.getLogger("aiosocketio.adapters.redis")

MAX_QUEUE = 100_000
"""Messages kept for Redis while it cannot be reached; older ones are dropped first."""


class RedisLink(SharedLink):
    """One subscriber connection and one ordered publish queue, with reconnection.

    The namespaces of one server share a link (:meth:`acquire`/:meth:`release`): its
    subscriber connection carries every namespace's channels, each routed to the handler
    that subscribed to it, so a server with many namespaces still holds two connections.

    On a Redis Cluster (both clients are ``RedisCluster``), messages are published on the
    node their channel belongs to and the subscriptions are held where they live
    (:mod:`~aiosocketio.adapters.redis_cluster`).

    Args:
        pub: the client used to publish (and for ``PUBSUB NUMSUB``).
        sub: the client whose connection settings give the subscriber connection.

    Attributes:
        subscriber: the subscriber connection and its subscriptions.
    """

    __slots__ = (
        "_cluster",
        "_dropped",
        "_failing",
        "_last_warning",
        "_pub_conn",
        "_pub_params",
        "_queue",
        "_sending",
        "_tasks",
        "_wakeup",
        "_writer",
        "pub",
        "sub",
        "subscriber",
    )

    def __init__(self, pub: AnyRedis, sub: AnyRedis) -> None:
        super().__init__()
        self.pub = pub
        self.sub = sub
        self._tasks = TaskRegistry("the Redis link")
        self.subscriber: Subscriber | ClusterSubscriber
        self._cluster: ClusterNodes | None = None
        self._pub_params: dict[str, Any] | None = None
        if is_cluster(pub) or is_cluster(sub):
            if not (isinstance(pub, RedisCluster) and isinstance(sub, RedisCluster)):
                raise ValueError("publish and subscribe through the same kind of Redis")
            self._cluster = ClusterNodes.for_client(pub)
            self.subscriber = ClusterSubscriber(ClusterNodes.for_client(sub), self._tasks)
        else:
            assert isinstance(pub, aioredis.Redis) and isinstance(sub, aioredis.Redis)
            self.subscriber = Subscriber(sub, self._tasks)
            self._pub_params = connection_params(pub)
        self._pub_conn: tuple[asyncio.StreamReader, asyncio.StreamWriter, RespParser] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._queue: collections.deque[tuple[str, bytes, bool]] = collections.deque()
        self._wakeup = asyncio.Event()
        self._sending = False
        self._dropped = 0
        self._failing = False
        self._last_warning = 0.0

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    @property
    def health_interval(self) -> float:
        """Seconds of silence before the subscriber connection is pinged (15)."""
        return self.subscriber.health_interval

    @health_interval.setter
    def health_interval(self, value: float) -> None:
        self.subscriber.health_interval = value

    def _raw_params(self) -> dict[str, Any] | None:
        """How the subscriber connects on its own (None: through redis-py's PubSub)."""
        if isinstance(self.sub, RedisCluster):
            return None
        return connection_params(self.sub)

    # -- sharing ------------------------------------------------------------------------

    @classmethod
    def acquire(cls, owner: object, pub: AnyRedis, sub: AnyRedis) -> RedisLink:
        """The link of ``owner`` (a server) for this pair of clients; :meth:`release` it."""
        return cls._share((id(owner), id(pub), id(sub)), lambda: cls(pub, sub))

    # -- subscriptions ------------------------------------------------------------------

    async def subscribe(
        self,
        handler: MessageHandler,
        *,
        channels: Iterable[str] = (),
        patterns: Iterable[str] = (),
        shard_channels: Iterable[str] = (),
        timeout: float = 10.0,
        wait: bool = True,
    ) -> None:
        """Route these channels to ``handler`` and subscribe to them (the writer starts too).

        With ``wait``, return once Redis confirmed the subscriptions.

        Raises:
            AdapterError: not subscribed within ``timeout`` seconds (the link keeps trying
                in the background), or the link was closed.
        """
        if self._writer is None:
            self._writer = self._tasks.spawn(self._write_loop(), "the Redis publisher")
        await self.subscriber.subscribe(
            handler,
            channels=channels,
            patterns=patterns,
            shard_channels=shard_channels,
            timeout=timeout,
            wait=wait,
        )

    async def unsubscribe(
        self,
        handler: MessageHandler,
        *,
        channels: Iterable[str] = (),
        patterns: Iterable[str] = (),
        shard_channels: Iterable[str] = (),
    ) -> None:
        """Stop routing these channels to ``handler`` and unsubscribe from them.

        A channel that another handler took over in the meantime is left alone.
        """
        await self.subscriber.unsubscribe(
            handler, channels=channels, patterns=patterns, shard_channels=shard_channels
        )

    # -- publishing ---------------------------------------------------------------------

    def publish(self, channel: str, data: bytes, *, sharded: bool = False) -> None:
        """Queue a message; messages are published in order, in pipelined batches.

        While Redis cannot be reached the queue is bounded (``MAX_QUEUE``): the oldest
        messages are dropped first, as a broadcast to a dead cluster would be.
        """
        queue = self._queue
        if len(queue) >= MAX_QUEUE:
            queue.popleft()
            self._dropped += 1
        queue.append((channel, data, sharded))
        self._wakeup.set()

    async def _write_loop(self) -> None:
        queue = self._queue
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while queue:
                batch = [queue.popleft() for _ in range(min(len(queue), 512))]
                self._sending = True
                try:
                    await retry_once(functools.partial(self._send, batch))
                except asyncio.CancelledError:
                    raise
                except (RedisError, OSError) as exc:
                    self._dropped += len(batch)
                    self._publish_failed(exc)
                else:
                    if self._failing:
                        logger.warning(
                            "publishing to Redis again (%d message(s) were lost)", self._dropped
                        )
                        self._failing = False
                        self._dropped = 0
                finally:
                    self._sending = False

    def _publish_failed(self, exc: BaseException) -> None:
        """Log the first failure, then at most once every 10 seconds."""
        now = asyncio.get_running_loop().time()
        if not self._failing or now - self._last_warning >= 10:
            logger.warning(
                "could not publish to Redis (%s); %d message(s) lost so far", exc, self._dropped
            )
            self._last_warning = now
        self._failing = True

    async def _send(self, batch: list[tuple[str, bytes, bool]]) -> None:
        if self._cluster is not None:
            await self._cluster.publish(batch)
            return
        if self._pub_params is not None:
            await self._raw_send(batch)
            return
        if len(batch) == 1:
            channel, data, sharded = batch[0]
            if sharded:
                await self.pub.spublish(channel, data)
            else:
                await self.pub.publish(channel, data)
            return
        pipe = self.pub.pipeline(transaction=False)
        for channel, data, sharded in batch:
            if sharded:
                pipe.spublish(channel, data)
            else:
                pipe.publish(channel, data)
        await pipe.execute()

    async def _raw_send(self, batch: list[tuple[str, bytes, bool]]) -> None:
        """Publish on our own connection: one write, then one integer reply per message."""
        params = self._pub_params
        assert params is not None
        if self._pub_conn is None:
            reader, writer = await open_connection(params)
            self._pub_conn = (reader, writer, RespParser())
        reader, writer, parser = self._pub_conn
        try:
            writer.write(
                b"".join(
                    encode_command("SPUBLISH" if sharded else "PUBLISH", channel, data)
                    for channel, data, sharded in batch
                )
            )
            pending = len(batch)
            while pending:
                data = await asyncio.wait_for(reader.read(1 << 16), REPLY_TIMEOUT)
                if not data:
                    raise ConnectionResetError("Redis closed the connection")
                for reply in parser.feed(data):
                    pending -= 1
                    if isinstance(reply, RespError):
                        logger.warning("Redis refused a message: %s", reply)
        except BaseException:
            self._pub_conn = None
            writer.close()
            raise

    async def flush(self) -> None:
        """Wait until every queued message was handed to Redis (or given up)."""
        while self._queue or self._sending:
            await asyncio.sleep(0.001)

    async def numsub(self, channel: str, *, sharded: bool = False) -> int:
        """``PUBSUB NUMSUB`` (or ``SHARDNUMSUB``) of ``channel``.

        Raises:
            AdapterError: Redis cannot be reached.
        """
        if self._cluster is not None:
            try:
                return await self._cluster.numsub(channel, sharded=sharded)
            except (OSError, RedisError) as exc:
                raise AdapterError(f"cannot count the servers: {exc}") from exc
        try:
            if sharded:
                result = await retry_once(lambda: self.pub.pubsub_shardnumsub(channel))
            else:
                result = await retry_once(lambda: self.pub.pubsub_numsub(channel))
        except (RedisError, OSError) as exc:
            raise AdapterError(f"cannot count the servers: {exc}") from exc
        return int(result[0][1]) if result else 0

    async def close(self) -> None:
        """Unsubscribe, drain the publish queue (briefly) and stop the tasks."""
        self._closed = True
        self.subscriber.stop_waiting()  # whoever waits in subscribe() gives up
        if self._writer is not None:
            try:
                await asyncio.wait_for(self.flush(), 1)
            except TimeoutError:
                pass
        task, self._writer = self._writer, None
        # cancel until it is done: a cancellation can be lost in a race (see Watchdog)
        while task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task], timeout=0.5)
        await self.subscriber.close()
        if self._cluster is not None:
            await self._cluster.close()
        if self._pub_conn is not None:
            self._pub_conn[1].close()
            self._pub_conn = None
