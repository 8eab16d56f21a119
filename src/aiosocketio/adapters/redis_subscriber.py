"""The subscriber connection of a Redis link, resubscribed after every reconnection.

Theory of operation: a :class:`Subscriber` holds the subscriptions of every namespace of a
server (channels, patterns, sharded channels), each routed to the handler that subscribed
to it, and one reader task. When the connection is lost it logs a warning, reconnects with
a capped backoff, subscribes to everything again and logs that it did. The connection is
our own (:mod:`~aiosocketio.adapters.redis_connection`: a socket and the RESP codec, with a
watchdog for half-open connections) when the client's settings allow it, redis-py's
``PubSub`` otherwise.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from aiosocketio.adapters.redis_connection import (
    Watchdog,
    connection_params,
    open_connection,
    quiet_close,
)
from aiosocketio.exceptions import AdapterError, RemoteProtocolError
from aiosocketio.protocol.resp import RespError, RespParser, encode_command
from aiosocketio.runtime.tasks import TaskRegistry

__all__ = ["MessageHandler", "Subscriber"]

logger = logging.getLogger("aiosocketio.adapters.redis")

MessageHandler = Callable[[str, bytes], None]
"""``handler(channel, data)``: receives the messages of the channels it subscribed to."""


class Subscriber:
    """One subscriber connection for many handlers, with reconnection.

    Args:
        sub: the client whose connection settings give the subscriber connection.
        tasks: where the reader task runs (the link's registry).

    Attributes:
        channels: the handler of each subscribed channel.
        patterns: the handler of each subscribed pattern.
        shard_channels: the handler of each subscribed sharded channel.
        health_interval: seconds of silence before the connection is pinged.
    """

    __slots__ = (
        "_backoff",
        "_closed",
        "_confirmations",
        "_lost",
        "_pubsub",
        "_raw_writer",
        "_reader",
        "_ready",
        "_tasks",
        "channels",
        "health_interval",
        "patterns",
        "shard_channels",
        "sub",
    )

    def __init__(self, sub: aioredis.Redis, tasks: TaskRegistry) -> None:
        self.sub = sub
        self.health_interval = 15.0
        self.channels: dict[str, MessageHandler] = {}
        self.patterns: dict[str, MessageHandler] = {}
        self.shard_channels: dict[str, MessageHandler] = {}
        self._tasks = tasks
        self._confirmations: dict[str, list[asyncio.Future[None]]] = {}
        self._pubsub: Any = None
        self._raw_writer: asyncio.StreamWriter | None = None
        self._reader: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._lost = False
        self._backoff = 0.05
        self._closed = False

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
                in the background), or the subscriber was closed.
        """
        commands: list[tuple[str, list[str]]] = []
        for command, names, table in (
            ("SUBSCRIBE", channels, self.channels),
            ("PSUBSCRIBE", patterns, self.patterns),
            ("SSUBSCRIBE", shard_channels, self.shard_channels),
        ):
            new = [name for name in names if name not in table]
            for name in names:
                table[name] = handler
            if new:
                commands.append((command, new))
        if self._reader is None:
            self._reader = self._tasks.spawn(self._read_loop(), "the Redis subscriber")
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
            ("UNSUBSCRIBE", channels, self.channels),
            ("PUNSUBSCRIBE", patterns, self.patterns),
            ("SUNSUBSCRIBE", shard_channels, self.shard_channels),
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

    async def _read_loop(self) -> None:
        raw = connection_params(self.sub)
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
        reader, writer = await open_connection(params)
        parser = RespParser()
        watchdog: Watchdog | None = None
        try:
            commands: list[tuple[str, list[str]]] = [
                (command, list(table))
                for command, table in (
                    ("SUBSCRIBE", self.channels),
                    ("PSUBSCRIBE", self.patterns),
                    ("SSUBSCRIBE", self.shard_channels),
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
            channels, patterns, shards = self.channels, self.patterns, self.shard_channels
            watchdog = Watchdog(writer, self.health_interval)
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

    # -- redis-py's PubSub ---------------------------------------------------------------

    async def _pubsub_session(self) -> None:
        pubsub = self.sub.pubsub()
        try:
            if self.channels:
                await pubsub.subscribe(*self.channels)
            if self.patterns:
                await pubsub.psubscribe(*self.patterns)
            for channel in self.shard_channels:
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
                    self._dispatch(self.channels, channel, channel, data)
                elif kind == "smessage":
                    self._dispatch(self.shard_channels, channel, channel, data)
                elif kind == "pmessage":
                    pattern = message.get("pattern")
                    if isinstance(pattern, (bytes, str)):
                        self._dispatch(self.patterns, pattern, channel, data)
        finally:
            self._pubsub = None
            await quiet_close(pubsub)

    def stop_waiting(self) -> None:
        """The link is closing: whoever waits for a subscription stops waiting."""
        self._closed = True
        self._ready.set()
        for futures in self._confirmations.values():
            for future in futures:
                if not future.done():
                    future.set_result(None)
        self._confirmations.clear()

    async def close(self) -> None:
        """Stop the reader and close the connection."""
        self.stop_waiting()
        task, self._reader = self._reader, None
        # cancel until it is done: a cancellation can be lost in a race (see Watchdog)
        while task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task], timeout=0.5)
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            await quiet_close(pubsub)
