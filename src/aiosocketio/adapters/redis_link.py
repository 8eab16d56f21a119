"""The Redis plumbing shared by the Redis adapters: one subscriber, one ordered publisher.

Theory of operation: a :class:`RedisLink` holds one subscriber connection and one publish
queue, for all the namespaces of one server. The reader task hands every message to the
handler of its channel (or pattern); when
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
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.connection import Connection as _TCPConnection
from redis.asyncio.connection import UnixDomainSocketConnection as _UnixConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from aiosocketio.adapters.shared_link import SharedLink
from aiosocketio.exceptions import AdapterError, RemoteProtocolError
from aiosocketio.protocol.resp import RespError, RespParser, encode_command

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


class _Watchdog:
    """Pings a connection that went quiet; aborts it if it stays quiet (a half-open link).

    A timer rather than ``asyncio.wait_for`` around each read: before Python 3.12,
    ``wait_for`` may swallow a cancellation that races with the data it waits for.
    """

    __slots__ = ("_handle", "_interval", "_loop", "_quiet", "_writer", "fired")

    def __init__(self, writer: asyncio.StreamWriter, interval: float) -> None:
        self._writer = writer
        self._interval = interval
        self._loop = asyncio.get_running_loop()
        self._quiet = 0
        self.fired = False
        self._handle = self._loop.call_later(interval, self._check)

    def activity(self) -> None:
        self._quiet = 0

    def _check(self) -> None:
        self._quiet += 1
        if self._quiet == 1:
            self._writer.write(_PING)
        elif self._quiet >= 2:
            self.fired = True
            self._writer.transport.abort()
            return
        self._handle = self._loop.call_later(self._interval, self._check)

    def stop(self) -> None:
        self._handle.cancel()


class _AuthError(ConnectionError):
    """Redis refused the credentials (retried: they may be fixed on the server)."""


class RedisLink(SharedLink):
    """One subscriber connection and one ordered publish queue, with reconnection.

    The namespaces of one server share a link (:meth:`acquire`/:meth:`release`): its
    subscriber connection carries every namespace's channels, each routed to the handler
    that subscribed to it, so a server with many namespaces still holds two connections.

    Args:
        pub: the client used to publish (and for ``PUBSUB NUMSUB``).
        sub: the client whose connection settings give the subscriber connection.
    """

    __slots__ = (
        "_backoff",
        "_channels",
        "_confirmations",
        "_dropped",
        "_failing",
        "_last_warning",
        "_lost",
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

    def __init__(self, pub: aioredis.Redis, sub: aioredis.Redis) -> None:
        super().__init__()
        self.pub = pub
        self.sub = sub
        self.health_interval = 15.0  # seconds of silence before the subscriber pings Redis
        self._channels: dict[str, MessageHandler] = {}
        self._patterns: dict[str, MessageHandler] = {}
        self._shard_channels: dict[str, MessageHandler] = {}
        self._confirmations: dict[str, list[asyncio.Future[None]]] = {}
        self._pubsub: Any = None
        self._raw_writer: asyncio.StreamWriter | None = None
        self._pub_params = self._raw_params(pub)
        self._pub_conn: tuple[asyncio.StreamReader, asyncio.StreamWriter, RespParser] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._queue: collections.deque[tuple[str, bytes, bool]] = collections.deque()
        self._wakeup = asyncio.Event()
        self._ready = asyncio.Event()
        self._lost = False
        self._sending = False
        self._dropped = 0
        self._failing = False
        self._last_warning = 0.0
        self._backoff = 0.05

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    # -- sharing ------------------------------------------------------------------------

    @classmethod
    def acquire(cls, owner: object, pub: aioredis.Redis, sub: aioredis.Redis) -> RedisLink:
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
        """Route these channels to ``handler`` and subscribe to them.

        With ``wait``, return once Redis confirmed the subscriptions.

        Raises:
            AdapterError: not subscribed within ``timeout`` seconds (the link keeps trying
                in the background), or the link was closed.
        """
        commands: list[tuple[str, list[str]]] = []
        for command, names, table in (
            ("SUBSCRIBE", channels, self._channels),
            ("PSUBSCRIBE", patterns, self._patterns),
            ("SSUBSCRIBE", shard_channels, self._shard_channels),
        ):
            new = [name for name in names if name not in table]
            for name in names:
                table[name] = handler
            if new:
                commands.append((command, new))
        if self._writer is None:
            self._writer = asyncio.ensure_future(self._write_loop())
        if self._reader is None:
            self._reader = asyncio.ensure_future(self._read_loop())
        waiters: list[asyncio.Future[None]] = []
        if self._raw_writer is not None:
            loop = asyncio.get_running_loop()
            for _command, names in commands:
                for name in names:
                    future: asyncio.Future[None] = loop.create_future()
                    self._confirmations.setdefault(name, []).append(future)
                    waiters.append(future)
            self._send_commands(commands)
        elif self._pubsub is not None:
            await self._pubsub_commands(commands)
        if not wait:
            return
        try:
            if waiters:
                await asyncio.wait_for(asyncio.gather(*waiters), timeout)
            else:
                await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            raise AdapterError("could not subscribe to Redis") from None
        if self._closed:
            raise AdapterError("the adapter was closed")

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
        commands: list[tuple[str, list[str]]] = []
        for command, names, table in (
            ("UNSUBSCRIBE", channels, self._channels),
            ("PUNSUBSCRIBE", patterns, self._patterns),
            ("SUNSUBSCRIBE", shard_channels, self._shard_channels),
        ):
            gone = [name for name in names if name in table and table[name] == handler]
            for name in gone:
                del table[name]
            if gone:
                commands.append((command, gone))
        if self._raw_writer is not None:
            self._send_commands(commands)
        elif self._pubsub is not None:
            await self._pubsub_commands(commands)

    def _send_commands(self, commands: list[tuple[str, list[str]]]) -> None:
        assert self._raw_writer is not None
        out: list[bytes] = []
        for command, names in commands:
            if command.startswith("S"):  # sharded: one channel per command (one slot each)
                out += [encode_command(command, name) for name in names]
            else:
                out.append(encode_command(command, *names))
        self._raw_writer.write(b"".join(out))

    async def _pubsub_commands(self, commands: list[tuple[str, list[str]]]) -> None:
        try:
            for command, names in commands:
                await getattr(self._pubsub, command.lower())(*names)
        except (RedisError, OSError, RuntimeError) as exc:
            logger.debug("%s failed (%s); done again on reconnect", commands, exc)

    # The subscriber connection has two implementations. For a plain TCP or Unix socket
    # connection it is our own: a socket and the small RESP parser of
    # :mod:`aiosocketio.protocol.resp`, several times faster than redis-py's PubSub on the
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
                self._ready.clear()
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

    def _dispatch(
        self,
        table: dict[str, MessageHandler],
        key: bytes | str,
        channel: bytes | str,
        data: bytes | str,
    ) -> None:
        if isinstance(key, bytes):
            key = key.decode("utf-8", "replace")
        if isinstance(channel, bytes):
            channel = channel.decode("utf-8", "replace")
        if isinstance(data, str):
            data = data.encode()
        handler = table.get(key)
        if handler is None:
            return
        try:
            handler(channel, data)
        except Exception:
            logger.exception("error while handling a message on %s", channel)

    # -- our own subscriber connection ---------------------------------------------------

    async def _raw_session(self, params: dict[str, Any]) -> None:
        reader, writer = await self._raw_connect(params)
        parser = RespParser()
        watchdog: _Watchdog | None = None
        try:
            commands: list[tuple[str, list[str]]] = [
                (command, list(table))
                for command, table in (
                    ("SUBSCRIBE", self._channels),
                    ("PSUBSCRIBE", self._patterns),
                    ("SSUBSCRIBE", self._shard_channels),
                )
                if table
            ]
            expected = sum(len(names) for _, names in commands)
            confirmed = 0
            self._raw_writer = writer
            self._send_commands(commands)
            if expected == 0:
                self._subscribed()
            dispatch = self._dispatch
            channels, patterns, shards = self._channels, self._patterns, self._shard_channels
            watchdog = _Watchdog(writer, self.health_interval)
            while True:
                try:
                    data = await reader.read(1 << 16)
                finally:
                    watchdog.activity()
                if not data:
                    if watchdog.fired:
                        raise ConnectionResetError("Redis did not answer a PING")
                    return
                for reply in parser.feed(data):
                    if not isinstance(reply, list) or not reply:
                        if isinstance(reply, RespError):
                            logger.warning("Redis refused a subscription: %s", reply)
                        continue
                    kind = reply[0]
                    if kind == b"message":
                        if len(reply) == 3:
                            dispatch(channels, reply[1], reply[1], reply[2])
                    elif kind == b"smessage":
                        if len(reply) == 3:
                            dispatch(shards, reply[1], reply[1], reply[2])
                    elif kind == b"pmessage":
                        if len(reply) == 4:
                            dispatch(patterns, reply[1], reply[2], reply[3])
                    elif kind in (b"subscribe", b"psubscribe", b"ssubscribe") and len(reply) > 1:
                        name = reply[1]
                        if isinstance(name, bytes):
                            for future in self._confirmations.pop(name.decode(), ()):
                                if not future.done():
                                    future.set_result(None)
                        confirmed += 1
                        if confirmed == expected:
                            self._subscribed()
        finally:
            if watchdog is not None:
                watchdog.stop()
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
            for channel in self._shard_channels:
                await pubsub.ssubscribe(channel)
            self._pubsub = pubsub
            self._subscribed()
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
                if message is None:
                    continue
                kind = message.get("type")
                channel, data = message.get("channel"), message.get("data")
                if not isinstance(channel, (bytes, str)) or not isinstance(data, (bytes, str)):
                    continue
                if kind == "message":
                    self._dispatch(self._channels, channel, channel, data)
                elif kind == "smessage":
                    self._dispatch(self._shard_channels, channel, channel, data)
                elif kind == "pmessage":
                    pattern = message.get("pattern")
                    if isinstance(pattern, (bytes, str)):
                        self._dispatch(self._patterns, pattern, channel, data)
        finally:
            self._pubsub = None
            await _quiet_close(pubsub)

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
        self._ready.set()  # whoever waits in subscribe() gives up
        for futures in self._confirmations.values():
            for future in futures:
                if not future.done():
                    future.set_result(None)
        self._confirmations.clear()
        if self._writer is not None:
            try:
                await asyncio.wait_for(self.flush(), 1)
            except TimeoutError:
                pass
        for task in (self._reader, self._writer):
            # cancel until it is done: a cancellation can be lost in a race (see _Watchdog)
            while task is not None and not task.done():
                task.cancel()
                await asyncio.wait([task], timeout=0.5)
            if task is not None and not task.cancelled():
                task.exception()  # retrieved: nothing to report at shutdown
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
