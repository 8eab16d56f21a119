"""Our own connections to Redis: the subscriber's and the publisher's, on the RESP codec.

For a plain TCP or Unix socket connection the Redis adapters do not go through redis-py:
a socket and the small RESP parser of :mod:`aiosocketio.protocol.resp` are several times
faster on the receive path. :func:`connection_params` says whether a redis-py client's
settings allow it (TLS, credential providers and custom connection classes go through
redis-py), :func:`open_connection` connects and authenticates, and :class:`Watchdog`
notices a half-open connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.connection import Connection as _TCPConnection
from redis.asyncio.connection import UnixDomainSocketConnection as _UnixConnection
from redis.exceptions import ConnectionError as RedisConnectionError

from aiosocketio.protocol.resp import RespError, RespParser, encode_command

__all__ = [
    "REPLY_TIMEOUT",
    "AuthError",
    "Watchdog",
    "connection_params",
    "open_connection",
    "quiet_close",
    "read_reply",
    "retry_once",
]

REPLY_TIMEOUT = 10.0
"""Seconds to wait for Redis to answer a command on our own connections."""

_PING = encode_command("PING")


class Watchdog:
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
        """Something arrived: the connection is alive."""
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
        """Stop watching (the connection is closing)."""
        self._handle.cancel()


class AuthError(ConnectionError):
    """Redis refused the credentials (retried: they may be fixed on the server)."""


def connection_params(client: aioredis.Redis) -> dict[str, Any] | None:
    """How to open our own connection like ``client``'s, or None to use redis-py's."""
    pool = getattr(client, "connection_pool", None)
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


async def read_reply(reader: asyncio.StreamReader, parser: RespParser) -> Any:
    """The next reply on a connection (waiting at most :data:`REPLY_TIMEOUT`)."""
    while True:
        data = await asyncio.wait_for(reader.read(1 << 16), REPLY_TIMEOUT)
        if not data:
            raise ConnectionResetError("Redis closed the connection")
        replies = parser.feed(data)
        if replies:
            return replies[0]


async def open_connection(
    params: dict[str, Any],
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open (and authenticate) a connection of our own to Redis.

    Raises:
        AuthError: Redis refused the credentials.
        OSError: Redis cannot be reached.
    """
    if "path" in params:
        connect = asyncio.open_unix_connection(params["path"])
    else:
        connect = asyncio.open_connection(params["host"], params["port"])
    reader, writer = await asyncio.wait_for(connect, params["timeout"])
    if params["password"]:
        auth = [params["username"]] if params["username"] else []
        writer.write(encode_command("AUTH", *auth, params["password"]))
        try:
            reply = await read_reply(reader, RespParser())
        except BaseException:
            writer.close()
            raise
        if isinstance(reply, RespError):
            writer.close()
            raise AuthError(f"AUTH failed: {reply}")
    return reader, writer


async def retry_once(call: Callable[[], Awaitable[Any]]) -> Any:
    """Run ``call``; once more if it failed on a connection that Redis closed.

    After a Redis restart the pooled connections are stale: the first command on each
    fails although Redis is back.
    """
    try:
        return await call()
    except (OSError, RedisConnectionError):
        return await call()


async def quiet_close(pubsub: Any) -> None:
    """Close a redis-py ``PubSub``, ignoring the errors of a dead connection."""
    try:
        await pubsub.aclose()
    except Exception:
        pass
