"""``RedisStreamsAdapter``: one Redis stream, compatible with @socket.io/redis-streams-adapter 0.3.

It speaks socket.io-adapter's cluster message model (:class:`ClusterAdapter`, types 1-13)
the way the npm package does, so Python and Node servers can share one stream:

* **The stream** (``stream_name``, default ``"socket.io"``) carries what must reach every
  server in order: BROADCAST (without acks), SOCKETS_JOIN, SOCKETS_LEAVE and
  DISCONNECT_SOCKETS. ``XADD <stream> MAXLEN ~ <max_len> * uid <uid> nsp <nsp> type <n>
  [data <data>]``, where ``type`` is the decimal string of the message type and ``data`` is
  the message's ``data`` as compact JSON, or, when a type that may carry binary does, as
  base64 of its msgpack. A reader tells them apart by the first character (``{``).
* **Pub/sub** carries the rest (the "ephemeral" messages), msgpack-encoded whole: a
  broadcast with acks, FETCH_SOCKETS and SERVER_SIDE_EMIT on ``<channel_prefix>#<nsp>#``,
  and every response on ``<channel_prefix>#<nsp>#<uid>#`` (the requester's channel).
  ``server_count`` is ``PUBSUB NUMSUB <channel_prefix>#<nsp>#``.

Connection state recovery: an entry id of the stream is the offset that a broadcast
carries to the clients. A session is ``SET <session_key_prefix><pid> base64(msgpack({sid,
pid, rooms, data})) PX <max_disconnection_duration in ms>``. Restoring it takes the key
(``MULTI GET DEL``), checks that the offset is still in the stream (``XRANGE id id``) and
reads the BROADCAST entries after it, keeping those that target the session's rooms.

Theory of operation: the protocol is
:class:`~aiosocketio.protocol.cluster.session.ClusterSession` (as for every
:class:`ClusterAdapter`) and the entries' encoding
:mod:`aiosocketio.protocol.cluster.streams`; this adapter is the pump. The adapters of one
server that use the same client and stream share a
:class:`~aiosocketio.adapters.stream_link.StreamLink` (one stream reader, one ordered
writer). A broadcast is delivered to the local clients once its ``XADD`` answered, with
the entry id as its offset, so the local order is the stream's order (Node awaits it the
same way).

Example::

    import redis.asyncio as redis
    from aiosocketio import Server
    from aiosocketio.adapters.streams import RedisStreamsAdapter

    client = redis.Redis.from_url("redis://localhost:6379")
    sio = Server(
        adapter=RedisStreamsAdapter.factory(client),
        connection_state_recovery={"max_disconnection_duration": 120},
    )
"""

from __future__ import annotations

import binascii
import dataclasses
import logging
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from aiosocketio.adapters.base import Adapter
from aiosocketio.adapters.cluster import ClusterAdapter
from aiosocketio.adapters.interface import BroadcastOptions, NamespaceLike
from aiosocketio.adapters.pump import MALFORMED
from aiosocketio.adapters.redis_link import RedisLink
from aiosocketio.adapters.stream_link import StreamLink, WriteCallback
from aiosocketio.exceptions import AdapterError, LocalProtocolError, RemoteProtocolError
from aiosocketio.protocol.cluster.streams import (
    RESTORE_BATCH,
    RESTORE_MAX_READS,
    encode_entry,
    encode_session,
    entry_text,
    is_ephemeral,
    is_offset,
    missed_broadcast,
    next_offset,
    read_session,
    stream_name_for,
    xadd_command,
)
from aiosocketio.protocol.cluster.wire import pack, unpack
from aiosocketio.protocol.socketio.packets import Packet, PacketType

__all__ = ["RedisStreamsAdapter", "create_streams_adapter"]

logger = logging.getLogger("aiosocketio.adapters.streams")


class RedisStreamsAdapter(ClusterAdapter):
    """A cluster adapter on one Redis stream (Node's @socket.io/redis-streams-adapter 0.3).

    It supports connection state recovery across the cluster: with
    ``Server(connection_state_recovery=...)``, a client that reconnects to any server of the
    cluster (Python or Node) gets the broadcasts it missed.

    Args:
        nsp: the namespace.
        client: the Redis client (commands, pub/sub, and the stream reader's connection).
        stream_name: the stream (or the prefix of the streams, with ``stream_count``).
        stream_count: streams to spread the namespaces over (by a hash of their name).
        channel_prefix: the prefix of the pub/sub channels.
        use_sharded_pubsub: SPUBLISH/SSUBSCRIBE (Redis 7) instead of PUBLISH/SUBSCRIBE.
        max_len: the stream's approximate maximum length (``MAXLEN ~``).
        read_count: entries per ``XREAD``.
        block_time: seconds an ``XREAD`` blocks (Node: ``blockTimeInMs``).
        session_key_prefix: the prefix of the session keys.
        only_plaintext: never look for binary data (always JSON in the stream).
        requests_timeout: seconds to wait for the other servers' answers.
    """

    def __init__(
        self,
        nsp: NamespaceLike,
        client: aioredis.Redis,
        *,
        stream_name: str = "socket.io",
        stream_count: int = 1,
        channel_prefix: str = "socket.io",
        use_sharded_pubsub: bool = False,
        max_len: int = 10_000,
        read_count: int = 100,
        block_time: float = 5.0,
        session_key_prefix: str = "sio:session:",
        only_plaintext: bool = False,
        requests_timeout: float = 5.0,
    ) -> None:
        super().__init__(nsp, requests_timeout=requests_timeout)
        self.client = client
        self.stream = stream_name_for(nsp.name, stream_name, stream_count)
        self.channel = f"{channel_prefix}#{nsp.name}#"
        self.response_channel = f"{self.channel}{self.uid}#"
        self.sharded = use_sharded_pubsub
        self.max_len = max_len
        self.session_key_prefix = session_key_prefix
        self.only_plaintext = only_plaintext
        owner = nsp.server  # the namespaces of one server share connections
        self.link = RedisLink.acquire(owner, client, client)
        self.stream_link = StreamLink.acquire(
            owner, client, self.stream, read_count=read_count, block_time=block_time
        )
        self.stream_link.adapters[nsp.name] = self
        self._recovery = nsp.server.connection_state_recovery
        self._started = False
        self._closed = False

    @classmethod
    def factory(
        cls, client: aioredis.Redis, **options: Any
    ) -> Callable[[NamespaceLike], RedisStreamsAdapter]:
        """A ``Server(adapter=...)`` factory (Node's ``createAdapter(redisClient, opts)``)."""

        def make(nsp: NamespaceLike) -> RedisStreamsAdapter:
            return cls(nsp, client, **options)

        return make

    # -- life cycle ---------------------------------------------------------------------

    async def init(self) -> None:
        """Subscribe to the namespace's channels and start reading the stream."""
        if self._started:
            return
        self._started = True
        channels = [self.channel, self.response_channel]
        try:
            if self.sharded:
                await self.link.subscribe(self._on_redis_message, shard_channels=channels)
            else:
                await self.link.subscribe(self._on_redis_message, channels=channels)
            await self.stream_link.start()
        except AdapterError:
            if not self.link.closed and not self._closed:
                raise

    async def close(self) -> None:
        """Fail the pending requests, unsubscribe and stop reading (with the last user)."""
        if self._closed:
            return
        self._closed = True
        await super().close()
        if self.stream_link.adapters.get(self.nsp.name) is self:
            del self.stream_link.adapters[self.nsp.name]
        await self.stream_link.release()
        if self._started:
            channels = [self.channel, self.response_channel]
            if self.sharded:
                await self.link.unsubscribe(self._on_redis_message, shard_channels=channels)
            else:
                await self.link.unsubscribe(self._on_redis_message, channels=channels)
        await self.link.release()

    async def server_count(self) -> int:
        """``PUBSUB NUMSUB <channel_prefix>#<nsp>#`` (``SHARDNUMSUB`` when sharded)."""
        return await self.link.numsub(self.channel, sharded=self.sharded)

    # -- transport ----------------------------------------------------------------------

    def do_publish(self, message: dict[str, Any]) -> None:
        """Ephemeral messages by pub/sub, the others into the stream."""
        if is_ephemeral(message):
            self.link.publish(self.channel, pack(message), sharded=self.sharded)
        else:
            self._xadd(message, None)

    def do_publish_response(self, requester_uid: str, response: dict[str, Any]) -> None:
        """msgpack on the requester's channel ``<channel_prefix>#<nsp>#<uid>#``."""
        channel = f"{self.channel}{requester_uid}#"
        self.link.publish(channel, pack(response), sharded=self.sharded)

    def publish_and_then(self, message: dict[str, Any], then: Callable[[str | None], None]) -> None:
        """Append ``message`` to the stream; ``then(entry id)`` once Redis stored it.

        If Redis cannot store it, ``then(None)``: the local part is done all the same.
        """
        if is_ephemeral(message):
            self.do_publish(message)
            then(None)
            return

        def stored(result: Any) -> None:
            if isinstance(result, bytes):
                result = result.decode("ascii")
            then(result if isinstance(result, str) else None)

        self._xadd(message, stored)

    def _xadd(self, message: dict[str, Any], callback: WriteCallback | None) -> None:
        fields = encode_entry(message, only_plaintext=self.only_plaintext)
        self.stream_link.write(xadd_command(self.stream, self.max_len, fields), callback)

    def _on_redis_message(self, channel: str, data: bytes) -> None:
        try:
            message = unpack(data)
        except RemoteProtocolError as exc:
            logger.warning("ignoring a malformed message on %s: %s", channel, exc)
            return
        self.on_message(message)

    def _broadcast_local(self, packet: Packet, opts: BroadcastOptions, offset: str | None) -> None:
        """Deliver locally; with recovery, the entry id is appended as the packet's offset."""
        if (
            offset is not None
            and self._recovery is not None
            and packet.type in (PacketType.EVENT, PacketType.BINARY_EVENT)
            and packet.id is None
            and not opts.flags.volatile
        ):
            packet = dataclasses.replace(packet, data=[*packet.data, offset])
        Adapter.broadcast(self, packet, opts)

    # -- connection state recovery ------------------------------------------------------

    def persist_session(self, session: dict[str, Any]) -> None:
        """``SET <prefix><pid> base64(msgpack(session)) PX <max_disconnection_duration>``."""
        recovery = self._recovery or {}
        duration = float(recovery.get("max_disconnection_duration", 120.0))
        try:
            value = encode_session(session)
        except LocalProtocolError as exc:
            logger.warning("cannot store the session of %s: %s", session.get("sid"), exc)
            return
        key = self.session_key_prefix + str(session["pid"])
        self.stream_link.write(("SET", key, value, "PX", str(max(1, int(duration * 1000)))))

    async def restore_session(self, pid: str, offset: str) -> dict[str, Any] | None:
        """The session ``pid`` and the broadcasts it missed after ``offset``, or None.

        None when the offset is not an entry id, the session is unknown or expired, or the
        offset is no longer in the stream. The session key is deleted (a session is
        restored once). The missed packets each end with their entry id.
        """
        if not is_offset(offset):
            return None
        key = self.session_key_prefix + pid
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.get(key)
            pipe.delete(key)
            raw, _ = await pipe.execute()
            if not raw or not await self.client.xrange(self.stream, offset, offset):
                return None
            session = read_session(raw, pid)
        except (RedisError, OSError) as exc:
            logger.warning("cannot restore session %s: %s", pid, exc)
            return None
        except (RemoteProtocolError, binascii.Error) as exc:
            logger.warning("ignoring the malformed session %s: %s", pid, exc)
            return None
        try:
            missed = await self._missed_packets(offset, session["rooms"])
        except (RedisError, OSError) as exc:
            logger.warning("cannot read the missed packets of session %s: %s", pid, exc)
            return None
        session["missed_packets"] = missed
        return session

    async def _missed_packets(self, offset: str, rooms: list[str]) -> list[list[Any]]:
        missed: list[list[Any]] = []
        name = self.nsp.name
        for _ in range(RESTORE_MAX_READS):
            entries = await self.client.xrange(
                self.stream, next_offset(offset), "+", count=RESTORE_BATCH
            )
            if not entries:
                break
            for entry_id, fields in entries:
                offset = entry_text(entry_id)
                try:
                    data = missed_broadcast(offset, fields, name, rooms)
                except MALFORMED as exc:
                    logger.warning("skipping malformed stream entry %s: %s", offset, exc)
                    continue
                if data is not None:
                    missed.append(data)
        return missed


def create_streams_adapter(
    client: aioredis.Redis, **options: Any
) -> Callable[[NamespaceLike], RedisStreamsAdapter]:
    """Node's ``createAdapter(redisClient, opts)`` of @socket.io/redis-streams-adapter."""
    return RedisStreamsAdapter.factory(client, **options)
