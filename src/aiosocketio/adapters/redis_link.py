"""The Redis plumbing shared by the Redis adapters: one subscriber, one ordered publisher.

Theory of operation: a :class:`RedisLink` holds one subscriber connection (a redis-py
``PubSub``) and one publish queue. The reader task hands every message to a callback; when
the connection is lost it logs a warning, reconnects with a capped backoff, subscribes to
every channel, pattern and sharded channel again, and logs that it did. The writer task
drains the queue in order, a batch per pipeline round trip, so a burst of broadcasts costs
one round trip and keeps its order. A publish that fails (Redis down) is logged and
dropped, as Node does.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.connection import Connection as _TCPConnection
from redis.asyncio.connection import UnixDomainSocketConnection as _UnixConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from aiosocketio.adapters.resp import RespError, RespParser, encode_command
from aiosocketio.exceptions import AdapterError, RemoteProtocolError

__all__ = ["MessageHandler", "RedisLink", "uid2"]

logger = logging.getLogger("aiosocketio.adapters.redis")

_UID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

MessageHandler = Callable[[str, bytes], None]

REPLY_TIMEOUT = 10.0
"""Seconds to wait for Redis to answer a command on our own connections."""

_PING = encode_command("PING")

MAX_QUEUE = 100_000
"""Messages kept for Redis while it cannot be reached; older ones are dropped first."""


def uid2(length: int = 6) -> str:
    """A random id like Node's ``uid2(length)``."""
    return "".join(secrets.choice(_UID_ALPHABET) for _ in range(length))


# --------------------------------------------------------------------------- Redis plumbing


class _AuthError(ConnectionError):
    """Redis refused the credentials (retried: they may be fixed on the server)."""


class RedisLink:
    """One subscriber connection and one ordered publish queue, with reconnection.

    Args:
        pub: the client used to publish (and for ``PUBSUB NUMSUB``).
        sub: the client whose connection pool gives the subscriber connection.
        on_message: called as ``on_message(channel, data)`` for every message received.
    """

    __slots__ = (
        "_backoff",
        "_channels",
        "_closed",
        "_dropped",
        "_failing",
        "_last_warning",
        "_lost",
        "_on_message",
        "_patterns",
        "_pub_conn",
        "_pub_params",
        "_pubsub",
        "_queue",
        "_raw_writer",
        "_reader",
        "_ready",
        "_sending",
        "_shard_channels",
        "_wakeup",
        "_writer",
        "health_interval",
        "pub",
        "sub",
    )

    def __init__(
        self, pub: aioredis.Redis, sub: aioredis.Redis, on_message: MessageHandler
    ) -> None:
        self.pub = pub
        self.sub = sub
        self._on_message = on_message
        self.health_interval = 15.0  # seconds of silence before the subscriber pings Redis
        self._channels: set[str] = set()
        self._patterns: set[str] = set()
        self._shard_channels: set[str] = set()
        self._pubsub: Any = None
        self._raw_writer: asyncio.StreamWriter | None = None
        self._pub_params = self._raw_params(pub)
        self._pub_conn: tuple[asyncio.StreamReader, asyncio.StreamWriter, RespParser] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._queue: collections.deque[tuple[str, bytes, bool]] = collections.deque()
        self._wakeup = asyncio.Event()
        self._ready = asyncio.Event()
        self._closed = False
        self._lost = False
        self._sending = False
        self._dropped = 0
        self._failing = False
        self._last_warning = 0.0
        self._backoff = 0.05

    # -- subscriptions ------------------------------------------------------------------

    async def start(
        self,
        channels: list[str] | None = None,
        patterns: list[str] | None = None,
        shard_channels: list[str] | None = None,
        timeout: float = 10.0,
    ) -> None:
        """Subscribe and start the reader and writer tasks; wait for the subscription.

        Raises:
            AdapterError: not subscribed within ``timeout`` seconds (the reader keeps
                trying in the background).
        """
        self._channels.update(channels or ())
        self._patterns.update(patterns or ())
        self._shard_channels.update(shard_channels or ())
        if self._writer is None:
            self._writer = asyncio.ensure_future(self._write_loop())
        if self._reader is None:
            self._reader = asyncio.ensure_future(self._read_loop())
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            raise AdapterError("could not subscribe to Redis") from None
        if self._closed:
            raise AdapterError("the adapter was closed")

    # The subscriber connection has two implementations. For a plain TCP or Unix socket
    # connection it is our own: a socket and the small RESP parser of
    # :mod:`aiosocketio.adapters.resp`, several times faster than redis-py's PubSub on the
    # receive path. For anything else (TLS, credential providers...) it is redis-py's PubSub.

    def _raw_params(self, client: aioredis.Redis | None = None) -> dict[str, Any] | None:
        pool = getattr(self.sub if client is None else client, "connection_pool", None)
        if pool is None:
            return None
        kwargs = dict(getattr(pool, "connection_kwargs", {}))
        if kwargs.get("credential_provider") is not None:
            return None
        cls = pool.connection_class
        params: dict[str, Any] = {
            "username": kwargs.get("username"),
            "password": kwargs.get("password"),
            "timeout": kwargs.get("socket_connect_timeout") or 5.0,
        }
        if cls is _TCPConnection:
            params["host"] = kwargs.get("host") or "localhost"
            params["port"] = int(kwargs.get("port") or 6379)
            return params
        if cls is _UnixConnection and kwargs.get("path"):
            params["path"] = kwargs["path"]
            return params
        return None

    async def _read_loop(self) -> None:
        raw = self._raw_params()
        while not self._closed:
            try:
                if raw is not None:
                    await self._raw_session(raw)
                else:
                    await self._pubsub_session()
                raise ConnectionResetError("the subscriber connection was closed")
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, RuntimeError, RemoteProtocolError) as exc:
                if self._closed:
                    return
                if not self._lost:
                    logger.warning("lost the Redis subscription (%s); reconnecting", exc)
                self._lost = True
                await asyncio.sleep(self._backoff)
                self._backoff = min(self._backoff * 2, 1.0)

    def _subscribed(self) -> None:
        if self._lost:
            logger.warning("reconnected to Redis and resubscribed")
            self._lost = False
        self._backoff = 0.05
        self._ready.set()

    def _dispatch(self, channel: bytes | str, data: bytes | str) -> None:
        if isinstance(channel, bytes):
            channel = channel.decode("utf-8", "replace")
        if isinstance(data, str):
            data = data.encode()
        try:
            self._on_message(channel, data)
        except Exception:
            logger.exception("error while handling a message on %s", channel)

    # -- our own subscriber connection ---------------------------------------------------

    async def _raw_session(self, params: dict[str, Any]) -> None:
        reader, writer = await self._raw_connect(params)
        parser = RespParser()
        try:
            commands = []
            if self._channels:
                commands.append(encode_command("SUBSCRIBE", *self._channels))
            if self._patterns:
                commands.append(encode_command("PSUBSCRIBE", *self._patterns))
            commands += [encode_command("SSUBSCRIBE", c) for c in self._shard_channels]
            expected = len(self._channels) + len(self._patterns) + len(self._shard_channels)
            confirmed = 0
            writer.write(b"".join(commands))
            self._raw_writer = writer
            if expected == 0:
                self._subscribed()
            on_message = self._dispatch
            pinged = False
            while True:
                # a connection that went quiet is pinged; one that stays quiet is dead
                try:
                    data = await asyncio.wait_for(reader.read(1 << 16), self.health_interval)
                except TimeoutError:
                    if pinged:
                        raise ConnectionResetError("Redis did not answer a PING") from None
                    writer.write(_PING)
                    pinged = True
                    continue
                pinged = False
                if not data:
                    return
                for reply in parser.feed(data):
                    if not isinstance(reply, list) or not reply:
                        if isinstance(reply, RespError):
                            logger.warning("Redis refused a subscription: %s", reply)
                        continue
                    kind = reply[0]
                    if kind == b"message" or kind == b"smessage":
                        if len(reply) == 3:
                            on_message(reply[1], reply[2])
                    elif kind == b"pmessage":
                        if len(reply) == 4:
                            on_message(reply[2], reply[3])
                    elif kind in (b"subscribe", b"psubscribe", b"ssubscribe"):
                        confirmed += 1
                        if confirmed == expected:
                            self._subscribed()
        finally:
            self._raw_writer = None
            writer.close()
            try:
                await writer.wait_closed()
            except (OSError, RuntimeError):
                pass

    @staticmethod
    async def _raw_reply(reader: asyncio.StreamReader, parser: RespParser) -> Any:
        while True:
            data = await asyncio.wait_for(reader.read(1 << 16), REPLY_TIMEOUT)
            if not data:
                raise ConnectionResetError("Redis closed the connection")
            replies = parser.feed(data)
            if replies:
                return replies[0]

    # -- redis-py's PubSub ---------------------------------------------------------------

    async def _pubsub_session(self) -> None:
        pubsub = self.sub.pubsub()
        try:
            if self._channels:
                await pubsub.subscribe(*self._channels)
            if self._patterns:
                await pubsub.psubscribe(*self._patterns)
            if self._shard_channels:
                await pubsub.ssubscribe(*self._shard_channels)
            self._pubsub = pubsub
            self._subscribed()
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
                if message is None:
                    continue
                if message.get("type") in ("message", "pmessage", "smessage"):
                    channel, data = message.get("channel"), message.get("data")
                    if isinstance(channel, (bytes, str)) and isinstance(data, (bytes, str)):
                        self._dispatch(channel, data)
        finally:
            self._pubsub = None
            await _quiet_close(pubsub)

    async def _command(self, name: str, channel: str) -> None:
        try:
            if self._raw_writer is not None:
                self._raw_writer.write(encode_command(name, channel))
            elif self._pubsub is not None:
                await getattr(self._pubsub, name.lower())(channel)
        except (RedisError, OSError, RuntimeError) as exc:
            logger.debug("%s %s failed (%s); done again on reconnect", name, channel, exc)

    async def ssubscribe(self, channel: str) -> None:
        """Add a sharded channel (``SSUBSCRIBE``)."""
        if channel in self._shard_channels:
            return
        self._shard_channels.add(channel)
        await self._command("SSUBSCRIBE", channel)

    async def sunsubscribe(self, channel: str) -> None:
        """Remove a sharded channel (``SUNSUBSCRIBE``)."""
        if channel not in self._shard_channels:
            return
        self._shard_channels.discard(channel)
        await self._command("SUNSUBSCRIBE", channel)

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
                    await self._retry_once(functools.partial(self._send, batch))
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
            reader, writer = await self._raw_connect(params)
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

    async def _raw_connect(
        self, params: dict[str, Any]
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Open (and authenticate) a connection of our own to Redis."""
        if "path" in params:
            connect = asyncio.open_unix_connection(params["path"])
        else:
            connect = asyncio.open_connection(params["host"], params["port"])
        reader, writer = await asyncio.wait_for(connect, params["timeout"])
        if params["password"]:
            auth = [params["username"]] if params["username"] else []
            writer.write(encode_command("AUTH", *auth, params["password"]))
            try:
                reply = await self._raw_reply(reader, RespParser())
            except BaseException:
                writer.close()
                raise
            if isinstance(reply, RespError):
                writer.close()
                raise _AuthError(f"AUTH failed: {reply}")
        return reader, writer

    @staticmethod
    async def _retry_once(call: Callable[[], Awaitable[Any]]) -> Any:
        """Run ``call``; once more if it failed on a connection that Redis closed.

        After a Redis restart the pooled connections are stale: the first command on each
        fails although Redis is back.
        """
        try:
            return await call()
        except (OSError, RedisConnectionError):
            return await call()

    async def flush(self) -> None:
        """Wait until every queued message was handed to Redis (or given up)."""
        while self._queue or self._sending:
            await asyncio.sleep(0.001)

    async def numsub(self, channel: str, *, sharded: bool = False) -> int:
        """``PUBSUB NUMSUB`` (or ``SHARDNUMSUB``) of ``channel``.

        Raises:
            AdapterError: Redis cannot be reached.
        """
        try:
            if sharded:
                result = await self._retry_once(lambda: self.pub.pubsub_shardnumsub(channel))
            else:
                result = await self._retry_once(lambda: self.pub.pubsub_numsub(channel))
        except (RedisError, OSError) as exc:
            raise AdapterError(f"cannot count the servers: {exc}") from exc
        return int(result[0][1]) if result else 0

    async def close(self) -> None:
        """Unsubscribe, drain the publish queue (briefly) and stop the tasks."""
        self._closed = True
        self._ready.set()  # whoever waits in start() gives up
        if self._writer is not None:
            try:
                await asyncio.wait_for(self.flush(), 1)
            except TimeoutError:
                pass
        for task in (self._reader, self._writer):
            if task is not None:
                task.cancel()
                try:
                    await task
                except (asyncio.CancelledError, Exception):
                    pass
        self._reader = self._writer = None
        if self._pub_conn is not None:
            self._pub_conn[1].close()
            self._pub_conn = None
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            await _quiet_close(pubsub)


async def _quiet_close(pubsub: Any) -> None:
    try:
        await pubsub.aclose()
    except Exception:
        pass
