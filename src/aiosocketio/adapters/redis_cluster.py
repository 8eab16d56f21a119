"""Our own connections to a Redis Cluster: the slot map, publishing, counting subscribers.

A Redis adapter given a ``redis.asyncio.cluster.RedisCluster`` client (or the CLI given a
``redis+cluster://`` URL) talks to the cluster through :class:`ClusterNodes`: it reads the
slot map (``CLUSTER SLOTS``) from whichever node answers, keeps one connection per master
it publishes to, and routes each message:

* ``SPUBLISH`` goes to the master that owns the channel's slot
  (:func:`~aiosocketio.protocol.redis_cluster.key_slot`); a ``MOVED`` reply (the slot
  moved) refreshes the map and sends the message again, an ``ASK`` reply (the slot is
  being migrated) sends it to the importing node after ``ASKING``;
* ``PUBLISH`` goes to any master: a Redis Cluster forwards it to every node.

``PUBSUB NUMSUB``/``SHARDNUMSUB`` are summed over the masters, as @socket.io/redis-adapter
does. When a node cannot be reached the map is read again (after a failover it names the
promoted replica); a message that still cannot be delivered is lost, as a publish to a dead
Redis is. The subscriber side is
:class:`~aiosocketio.adapters.redis_cluster_subscriber.ClusterSubscriber`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import unquote, urlsplit

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import Connection as _TCPConnection

from aiosocketio.adapters.redis_connection import REPLY_TIMEOUT, open_connection, read_reply
from aiosocketio.exceptions import AdapterError, RemoteProtocolError
from aiosocketio.protocol.redis_cluster import Address, SlotMap, parse_redirect
from aiosocketio.protocol.resp import RespError, RespParser, encode_command

__all__ = [
    "CLUSTER_SCHEME",
    "AnyRedis",
    "ClusterNodes",
    "client_from_url",
    "cluster_client",
    "cluster_params",
    "is_cluster",
]

logger = logging.getLogger("aiosocketio.adapters.redis")

CLUSTER_SCHEME = "redis+cluster"
"""The URL scheme of a Redis Cluster: ``redis+cluster://[user:password@]host:port,host:port``."""

AnyRedis = aioredis.Redis | RedisCluster
"""A Redis client the Redis adapters take: one Redis, or a Redis Cluster."""

Message = tuple[str, bytes, bool]
"""``(channel, data, sharded)``: one message to publish."""

_ATTEMPTS = 3


def is_cluster(client: Any) -> bool:
    """Whether ``client`` is a redis-py Redis Cluster client."""
    return isinstance(client, RedisCluster)


def cluster_client(url: str, **kwargs: Any) -> RedisCluster:
    """A ``RedisCluster`` client for ``redis+cluster://[user:password@]host:port,host:port``.

    The nodes listed are the seeds: any one that answers gives the whole cluster's map.
    ``kwargs`` go to ``RedisCluster``.

    Raises:
        ValueError: Not such a URL.
    """
    parts = urlsplit(url)
    if parts.scheme != CLUSTER_SCHEME:
        raise ValueError(f"not a {CLUSTER_SCHEME}:// URL: {url!r}")
    credentials, _, hosts = parts.netloc.rpartition("@")
    user, _, password = credentials.partition(":")
    nodes: list[ClusterNode] = []
    for item in hosts.split(","):
        host, sep, port = item.strip().rpartition(":")
        if not sep:
            host, port = port, "6379"
        try:
            number = int(port)
        except ValueError:
            raise ValueError(f"invalid port in {url!r}: {port!r}") from None
        nodes.append(ClusterNode(host.strip("[]") or "127.0.0.1", number))
    if user:
        kwargs.setdefault("username", unquote(user))
    if password:
        kwargs.setdefault("password", unquote(password))
    return RedisCluster(startup_nodes=nodes, **kwargs)


def client_from_url(url: str) -> AnyRedis:
    """A client for ``redis://...`` (one Redis) or ``redis+cluster://...`` (a Redis Cluster).

    Raises:
        ValueError: Not a Redis URL.
    """
    if url.startswith(CLUSTER_SCHEME + "://"):
        return cluster_client(url)
    return aioredis.Redis.from_url(url)


def cluster_params(client: RedisCluster) -> dict[str, Any]:
    """The seeds and credentials of a cluster client, for our own connections.

    Raises:
        AdapterError: The client needs what our connections do not do (TLS, a credential
            provider).
    """
    kwargs = dict(getattr(client, "connection_kwargs", {}))
    if kwargs.get("credential_provider") is not None or kwargs.get(
        "connection_class", _TCPConnection
    ) not in (_TCPConnection, None):
        raise AdapterError(
            "the Redis adapters support a Redis Cluster over plain TCP with a user name "
            "and password (TLS and credential providers are not supported yet)"
        )
    seeds: list[Address] = [(node.host, int(node.port)) for node in client.startup_nodes]
    return {
        "seeds": seeds,
        "username": kwargs.get("username"),
        "password": kwargs.get("password"),
        "timeout": kwargs.get("socket_connect_timeout") or 5.0,
    }


class _NodeConnection:
    """One command connection to one node; one round trip at a time."""

    __slots__ = ("lock", "stream")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.stream: tuple[asyncio.StreamReader, asyncio.StreamWriter, RespParser] | None = None

    def close(self) -> None:
        if self.stream is not None:
            self.stream[1].close()
            self.stream = None


class ClusterNodes:
    """The slot map of a Redis Cluster and one command connection per node.

    Args:
        params: from :func:`cluster_params`.

    Attributes:
        slots: the last slot map read (empty until :meth:`refresh`).
    """

    __slots__ = ("_classic", "_conns", "_params", "_refreshing", "slots")

    def __init__(self, params: dict[str, Any]) -> None:
        self._params = params
        self.slots = SlotMap()
        self._conns: dict[Address, _NodeConnection] = {}
        self._refreshing: asyncio.Future[SlotMap] | None = None
        self._classic = 0

    @classmethod
    def for_client(cls, client: RedisCluster) -> ClusterNodes:
        """The nodes of a redis-py cluster client (its seeds and credentials)."""
        return cls(cluster_params(client))

    def params_for(self, address: Address) -> dict[str, Any]:
        """How :func:`~aiosocketio.adapters.redis_connection.open_connection` reaches a node."""
        params = self._params
        return {
            "host": address[0],
            "port": address[1],
            "username": params["username"],
            "password": params["password"],
            "timeout": params["timeout"],
        }

    # -- the slot map -------------------------------------------------------------------

    async def refresh(self) -> SlotMap:
        """Read the slot map again from any node that answers (concurrent calls share one).

        Raises:
            ConnectionError: No node answered.
        """
        task = self._refreshing
        if task is None or task.done():
            task = self._refreshing = asyncio.ensure_future(self._read_map())
            # a caller cancelled while waiting must not leave the error unretrieved
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return await asyncio.shield(task)

    async def _read_map(self) -> SlotMap:
        candidates: list[Address] = []
        for master in self.slots.masters:
            candidates += [master, *self.slots.replicas.get(master, [])]
        candidates += self._params["seeds"]
        errors: list[str] = []
        for address in dict.fromkeys(candidates):
            try:
                reader, writer = await open_connection(self.params_for(address))
            except (OSError, TimeoutError) as exc:
                errors.append(f"{address[0]}:{address[1]}: {exc or type(exc).__name__}")
                continue
            try:
                writer.write(encode_command("CLUSTER", "SLOTS"))
                reply = await read_reply(reader, RespParser())
                if isinstance(reply, RespError):
                    raise RemoteProtocolError(reply)
                slot_map = SlotMap.from_slots_reply(reply, address[0])
            except (OSError, TimeoutError, RemoteProtocolError) as exc:
                errors.append(f"{address[0]}:{address[1]}: {exc or type(exc).__name__}")
                continue
            finally:
                writer.close()
            if slot_map.masters:
                self.slots = slot_map
                return slot_map
        raise ConnectionError(f"no node of the Redis Cluster answered ({'; '.join(errors)})")

    async def ready(self) -> SlotMap:
        """The slot map, read first if it never was."""
        if not self.slots.masters:
            return await self.refresh()
        return self.slots

    def classic_node(self) -> Address:
        """The master that PUBLISH and the classic subscriptions use (any would do)."""
        masters = self.slots.masters
        return masters[self._classic % len(masters)]

    def classic_failed(self) -> None:
        """The classic node failed: use the next master."""
        self._classic += 1

    # -- round trips --------------------------------------------------------------------

    async def round_trip(self, address: Address, commands: list[bytes]) -> list[Any]:
        """Send ``commands`` to one node in one write; their replies, in order.

        Raises:
            OSError: The node cannot be reached or closed the connection.
            TimeoutError: It did not answer within ``REPLY_TIMEOUT``.
        """
        conn = self._conns.get(address)
        if conn is None:
            conn = self._conns[address] = _NodeConnection()
        async with conn.lock:
            if conn.stream is None:
                reader, writer = await open_connection(self.params_for(address))
                conn.stream = (reader, writer, RespParser())
            reader, writer, parser = conn.stream
            try:
                writer.write(b"".join(commands))
                replies: list[Any] = []
                while len(replies) < len(commands):
                    data = await asyncio.wait_for(reader.read(1 << 16), REPLY_TIMEOUT)
                    if not data:
                        raise ConnectionResetError("Redis closed the connection")
                    replies += parser.feed(data)
            except BaseException:
                conn.close()
                raise
            return replies

    async def publish(self, batch: list[Message]) -> None:
        """Publish a batch, each message on the node its channel belongs to.

        Raises:
            ConnectionError: Some messages could not be published (the others were).
        """
        await self.ready()
        pending: list[tuple[Message, Address | None]] = [(m, None) for m in batch]
        for attempt in range(_ATTEMPTS):
            groups: dict[Address, list[tuple[Message, Address | None]]] = {}
            for item in pending:
                (channel, _data, sharded), asking = item
                if asking is not None:
                    address: Address | None = asking
                elif sharded:
                    address = self.slots.owner_of(channel)
                else:
                    address = self.classic_node()
                if address is None:  # a slot nobody serves (yet): read the map again
                    address = self.classic_node()
                groups.setdefault(address, []).append(item)
            results = await asyncio.gather(
                *(self._publish_on(address, items) for address, items in groups.items()),
                return_exceptions=True,
            )
            retry: list[tuple[Message, Address | None]] = []
            for (address, items), result in zip(groups.items(), results, strict=True):
                if isinstance(result, BaseException):
                    if not isinstance(result, (OSError, TimeoutError)):
                        raise result
                    if address == self.classic_node():
                        self.classic_failed()
                    retry += [(message, None) for message, _ in items]
                else:
                    retry += result
            if not retry:
                return
            pending = retry
            if attempt + 1 < _ATTEMPTS:
                try:
                    await self.refresh()
                except ConnectionError:
                    break
        raise ConnectionError(f"{len(pending)} message(s) could not be published")

    async def _publish_on(
        self, address: Address, items: list[tuple[Message, Address | None]]
    ) -> list[tuple[Message, Address | None]]:
        """Publish on one node; what must be sent again (redirected), with where to."""
        commands: list[bytes] = []
        for (channel, data, sharded), asking in items:
            if asking is not None:
                commands.append(encode_command("ASKING"))
            commands.append(encode_command("SPUBLISH" if sharded else "PUBLISH", channel, data))
        replies = iter(await self.round_trip(address, commands))
        retry: list[tuple[Message, Address | None]] = []
        for message, asking in items:
            if asking is not None:
                next(replies)  # ASKING's +OK
            reply = next(replies)
            if not isinstance(reply, RespError):
                continue
            redirect = parse_redirect(reply)
            if redirect is None:
                logger.warning("Redis refused a message: %s", reply)
            elif redirect.ask:
                retry.append((message, redirect.address))
            else:
                self.slots.move(redirect.slot, redirect.address)
                retry.append((message, None))
        return retry

    async def numsub(self, channel: str, *, sharded: bool = False) -> int:
        """``PUBSUB NUMSUB`` (or ``SHARDNUMSUB``) of ``channel``, summed over the masters.

        Raises:
            ConnectionError: A master cannot be reached, even after reading the map again.
        """
        command = encode_command("PUBSUB", "SHARDNUMSUB" if sharded else "NUMSUB", channel)
        for attempt in range(2):
            masters = (await self.ready()).masters
            try:
                replies = await asyncio.gather(*(self.round_trip(m, [command]) for m in masters))
            except (OSError, TimeoutError) as exc:
                if attempt:
                    raise ConnectionError(str(exc) or type(exc).__name__) from exc
                await self.refresh()
                continue
            total = 0
            for (reply,) in replies:
                if isinstance(reply, list) and len(reply) == 2 and isinstance(reply[1], int):
                    total += reply[1]
            return total
        return 0  # not reached

    async def close(self) -> None:
        """Close the command connections."""
        conns, self._conns = self._conns, {}
        for conn in conns.values():
            conn.close()
        task, self._refreshing = self._refreshing, None
        if task is not None and not task.done():
            task.cancel()
