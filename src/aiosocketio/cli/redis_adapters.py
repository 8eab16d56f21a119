"""``--redis``: the Redis adapters the command can attach, and their clients.

``aiosocketio.adapters.*`` and redis-py are imported lazily, so the ``redis`` extra is
needed only when the option is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import Callable
from typing import Any

from aiosocketio.cli.errors import CLIError

__all__ = [
    "REDIS_ADAPTERS",
    "attach_redis",
    "check_redis",
    "close_redis_clients",
    "redis_adapter_factory",
]


#: The Redis clients opened by :func:`redis_adapter_factory`; closed when serving stops.
_redis_clients: list[Any] = []


#: --redis-adapter: module, class, and the option that takes --redis-key.
_REDIS_ADAPTERS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "pubsub": ("aiosocketio.adapters.redis", "RedisAdapter", ("key",)),
    "sharded": ("aiosocketio.adapters.sharded", "ShardedRedisAdapter", ("channel_prefix",)),
    "streams": (
        "aiosocketio.adapters.streams",
        "RedisStreamsAdapter",
        ("stream_name", "channel_prefix"),
    ),
}
REDIS_ADAPTERS = tuple(_REDIS_ADAPTERS)

#: A Redis Cluster: ``redis+cluster://[user:password@]host:port,host:port`` (the seeds).
_CLUSTER_PREFIX = "redis+cluster://"


def redis_adapter_factory(
    url: str, *, kind: str = "pubsub", key: str | None = None, **options: Any
) -> Callable[[Any], Any]:
    """A ``Server(adapter=...)`` factory for a Redis adapter connected to ``url``.

    ``kind`` is one of :data:`REDIS_ADAPTERS` (``pubsub``: :class:`RedisAdapter`,
    ``sharded``: :class:`ShardedRedisAdapter`, ``streams``: :class:`RedisStreamsAdapter`);
    ``key`` is the channel prefix (and the stream's name); ``options`` go to the adapter.
    ``url`` is ``redis://...`` for one Redis or ``redis+cluster://host:port,host:port`` for
    a Redis Cluster (the pubsub and sharded adapters).

    ``aiosocketio.adapters.redis`` (and redis-py) are imported lazily, so the ``redis``
    extra is needed only when this is called. The client connects on first use; the
    command closes it after the server.

    Raises:
        CLIError: The Redis adapter (or the redis package) is not available, or the URL
            is not a Redis URL.
    """
    if kind not in _REDIS_ADAPTERS:
        raise CLIError(f"--redis-adapter: choose from {', '.join(REDIS_ADAPTERS)}, not {kind!r}")
    module_name, class_name, key_options = _REDIS_ADAPTERS[kind]
    if kind == "streams" and url.startswith(_CLUSTER_PREFIX):
        raise CLIError("--redis-adapter streams does not support a Redis Cluster yet")
    try:
        adapters = importlib.import_module(module_name)
        clusters = importlib.import_module("aiosocketio.adapters.redis_cluster")
    except ImportError as exc:
        raise CLIError(
            f"--redis needs the Redis adapter ({module_name}) and the 'redis' "
            f"package (pip install 'aiosocketio[redis]'): {exc}"
        ) from exc
    try:
        client = clusters.client_from_url(url)
    except ValueError as exc:
        raise CLIError(f"--redis: {exc}") from exc
    _redis_clients.append(client)
    if key is not None:
        options.update(dict.fromkeys(key_options, key))
    factory: Callable[[Any], Any] = getattr(adapters, class_name).factory(client, **options)
    return factory


def attach_redis(server: Any, url: str, key: str = "socket.io", kind: str = "pubsub") -> None:
    """Switch an existing ``server`` to the Redis adapter connected to ``url``.

    This needs ``server.adapter(factory)`` (Node's ``io.adapter()``); a server built by
    your own code can instead take ``Server(adapter=redis_adapter_factory(url))``.

    Raises:
        CLIError: The adapter is not available or the server cannot switch adapters.
    """
    set_adapter = getattr(server, "adapter", None)
    if not callable(set_adapter):
        raise CLIError(
            "--redis: this Server cannot switch adapters once built (it has no "
            "server.adapter(factory)); build it with Server(adapter=...) instead"
        )
    set_adapter(redis_adapter_factory(url, kind=kind, key=key))


async def check_redis(url: str, timeout: float = 5.0) -> None:
    """Make sure a Redis server answers PING at ``url`` (before building on it).

    Raises:
        CLIError: The URL is invalid (exit status 2) or nothing answers (exit status 1).
    """
    try:
        clusters = importlib.import_module("aiosocketio.adapters.redis_cluster")
    except ImportError as exc:
        raise CLIError(
            f"--redis needs the 'redis' package (pip install 'aiosocketio[redis]'): {exc}"
        ) from exc
    try:
        client = clusters.client_from_url(url)
    except ValueError as exc:
        raise CLIError(f"--redis: {exc}") from exc
    try:
        await asyncio.wait_for(client.ping(), timeout)
    except Exception as exc:
        raise CLIError(f"--redis: cannot reach Redis at {url}: {exc}", 1) from exc
    finally:
        with contextlib.suppress(Exception):
            await client.aclose()


async def close_redis_clients() -> None:
    """Close the clients opened by :func:`redis_adapter_factory` (serving stopped)."""
    while _redis_clients:
        client = _redis_clients.pop()
        with contextlib.suppress(Exception):
            await client.aclose()
