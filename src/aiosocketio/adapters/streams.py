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

Theory of operation: the adapters of one server that use the same client and stream share
a :class:`StreamLink`: one reader task (``XREAD BLOCK`` on a connection of its own, from
the last id it saw, handing each entry to the adapter of its namespace) and one ordered
writer (``XADD`` and ``SET`` pipelined in batches, their results handed back in order). A
broadcast is delivered to the local clients once its ``XADD`` answered, with the entry id
as its offset, so the local order is the stream's order (Node awaits it the same way).
When Redis goes away the reader logs it, retries with a capped backoff from the last id it
read (from the beginning if the stream was recreated) and logs when it reads again. A
malformed entry is logged and skipped.

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

import asyncio
import base64
import binascii
import collections
import dataclasses
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from aiosocketio.adapters.base import Adapter
from aiosocketio.adapters.cluster import MALFORMED, ClusterAdapter
from aiosocketio.adapters.interface import BroadcastOptions, NamespaceLike
from aiosocketio.adapters.redis_link import RedisLink
from aiosocketio.adapters.shared_link import SharedLink
from aiosocketio.exceptions import AdapterError, LocalProtocolError, RemoteProtocolError
from aiosocketio.protocol.cluster.shapes import decode_rooms
from aiosocketio.protocol.cluster.wire import (
    MessageType,
    dumps_json,
    has_binary,
    loads_json,
    pack,
    unpack,
)
from aiosocketio.protocol.socketio.packets import Packet, PacketType

__all__ = [
    "RedisStreamsAdapter",
    "StreamLink",
    "create_streams_adapter",
    "decode_entry",
    "encode_entry",
    "is_ephemeral",
    "stream_name_for",
]

logger = logging.getLogger("aiosocketio.adapters.streams")

_MAY_CONTAIN_BINARY = frozenset(
    {
        MessageType.BROADCAST,
        MessageType.FETCH_SOCKETS_RESPONSE,
        MessageType.SERVER_SIDE_EMIT,
        MessageType.SERVER_SIDE_EMIT_RESPONSE,
        MessageType.BROADCAST_ACK,
    }
)

_OFFSET = re.compile(r"[0-9]+-[0-9]+")

RESTORE_MAX_READS = 100
"""XRANGE calls at most when restoring a session (Node's bound), of ``RESTORE_BATCH`` each."""
RESTORE_BATCH = 1000

WRITE_BATCH = 256
"""Commands per pipeline round trip of the writer."""

# --------------------------------------------------------------------------- wire (pure)


def is_ephemeral(message: Mapping[str, Any]) -> bool:
    """Whether ``message`` goes by pub/sub rather than the stream (Node's ``isEphemeral``)."""
    kind = message.get("type")
    if kind == MessageType.BROADCAST:
        data = message.get("data")
        return isinstance(data, Mapping) and data.get("requestId") is not None
    return kind in (MessageType.SERVER_SIDE_EMIT, MessageType.FETCH_SOCKETS)


def encode_entry(message: Mapping[str, Any], *, only_plaintext: bool = False) -> dict[str, str]:
    """The fields of the stream entry of ``message``: ``uid``, ``nsp``, ``type`` [, ``data``].

    Raises:
        LocalProtocolError: the data cannot be encoded.
    """
    kind = int(message["type"])
    fields = {"uid": str(message["uid"]), "nsp": str(message["nsp"]), "type": str(kind)}
    data = message.get("data")
    if data is not None:
        if not only_plaintext and kind in _MAY_CONTAIN_BINARY and has_binary(data):
            fields["data"] = base64.b64encode(pack(data)).decode("ascii")
        else:
            fields["data"] = dumps_json(data).decode("utf-8")
    return fields


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, str):
        return value
    raise RemoteProtocolError(f"unexpected stream value {value!r}")


def decode_entry(fields: Mapping[Any, Any]) -> dict[str, Any]:
    """A stream entry's fields (bytes or str) back into a cluster message.

    Raises:
        RemoteProtocolError: a field is missing or cannot be decoded.
    """
    try:
        values = {_text(key): value for key, value in fields.items()}
        uid = _text(values["uid"])
        nsp = _text(values["nsp"])
        kind = int(_text(values["type"]))
    except (KeyError, ValueError, UnicodeDecodeError) as exc:
        raise RemoteProtocolError(f"malformed stream entry: {exc!r}") from exc
    message: dict[str, Any] = {"uid": uid, "nsp": nsp, "type": kind}
    raw = values.get("data")
    if raw:
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        if not isinstance(raw, bytes):
            raise RemoteProtocolError("malformed stream entry data")
        if raw[:1] == b"{":
            message["data"] = loads_json(raw)
        else:
            try:
                message["data"] = unpack(base64.b64decode(raw, validate=True))
            except binascii.Error as exc:
                raise RemoteProtocolError(f"stream entry data is not base64: {exc}") from exc
    return message


def _hash_code(text: str) -> int:
    """Java's ``String.hashCode`` as Node computes it: 32-bit signed, over UTF-16 units."""
    value = 0
    units = text.encode("utf-16-le")
    for i in range(0, len(units), 2):
        value = (value * 31 + int.from_bytes(units[i : i + 2], "little")) & 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def stream_name_for(nsp: str, stream_name: str, stream_count: int) -> str:
    """The stream of namespace ``nsp``: ``stream_name``, or ``<stream_name>-<i>`` for several."""
    if stream_count == 1:
        return stream_name
    code = _hash_code(nsp)
    index = abs(code) % stream_count
    if code < 0:  # JavaScript's % keeps the sign of the dividend
        index = -index
    return f"{stream_name}-{index}"


def _next_offset(offset: str) -> str:
    """The id right after ``offset`` (exclusive XRANGE without Redis 6.2's ``(``)."""
    timestamp, sequence = offset.split("-")
    return f"{timestamp}-{int(sequence) + 1}"


def _id_key(offset: str) -> tuple[int, int]:
    timestamp, _, sequence = offset.partition("-")
    return int(timestamp), int(sequence or 0)


def _should_include(rooms: list[str], opts: Mapping[str, Any]) -> bool:
    """Node's ``shouldIncludePacket`` for a session's rooms and a broadcast's options."""
    targets = decode_rooms(opts.get("rooms"))
    excluded = decode_rooms(opts.get("except"))
    included = not targets or any(room in targets for room in rooms)
    return included and not any(room in excluded for room in rooms)


# --------------------------------------------------------------------------- the stream link

WriteCallback = Callable[[Any], None]


class StreamLink(SharedLink):
    """One stream reader and one ordered writer, shared by a server's namespaces.

    Args:
        client: the Redis client (the reader takes a connection of its own from its pool).
        stream: the stream's name.
        read_count: entries per ``XREAD``.
        block_time: seconds an ``XREAD`` blocks.
    """

    __slots__ = (
        "_backoff",
        "_queue",
        "_reader",
        "_reader_client",
        "_start",
        "_wakeup",
        "_writer",
        "adapters",
        "block_time",
        "client",
        "offset",
        "read_count",
        "stream",
    )

    def __init__(
        self, client: aioredis.Redis, stream: str, *, read_count: int, block_time: float
    ) -> None:
        super().__init__()
        self.client = client
        self.stream = stream
        self.read_count = read_count
        self.block_time = block_time
        self.adapters: dict[str, RedisStreamsAdapter] = {}
        self.offset: str | None = None
        self._queue: collections.deque[tuple[tuple[Any, ...], WriteCallback | None]] = (
            collections.deque()
        )
        self._wakeup = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._reader_client: aioredis.Redis | None = None
        self._start: asyncio.Future[None] | None = None
        self._backoff = 0.05

    @classmethod
    def acquire(
        cls, owner: object, client: aioredis.Redis, stream: str, **options: Any
    ) -> StreamLink:
        """The link of ``owner`` (a server) for ``client`` and ``stream``; :meth:`release` it."""
        return cls._share((id(owner), id(client), stream), lambda: cls(client, stream, **options))

    # -- reading ------------------------------------------------------------------------

    async def start(self) -> None:
        """Start reading (once) after the stream's current last entry.

        Raises:
            AdapterError: Redis cannot be reached.
        """
        if self._start is None:
            self._start = asyncio.ensure_future(self._begin())
        try:
            await asyncio.shield(self._start)
        except AdapterError:
            self._start = None
            raise

    async def _last_id(self) -> str:
        entries = await self.client.xrevrange(self.stream, "+", "-", count=1)
        return _text(entries[0][0]) if entries else "0-0"

    async def _begin(self) -> None:
        # Node starts its XREAD at "$"; the last id read here is the same point without
        # the race between the first XREAD and the first messages.
        try:
            self.offset = await self._last_id()
        except (RedisError, OSError) as exc:
            raise AdapterError(f"cannot read the Redis stream {self.stream}: {exc}") from exc
        self._reader_client = self.client.client()
        self._reader = asyncio.ensure_future(self._read_loop())

    async def _read_loop(self) -> None:
        reader = self._reader_client
        assert reader is not None
        block_ms = max(1, int(self.block_time * 1000))
        lost = False
        while True:
            try:
                if lost:
                    await self._check_offset()
                    logger.warning(
                        "reading the Redis stream %s again from %s", self.stream, self.offset
                    )
                    lost = False
                    self._backoff = 0.05
                reply = await reader.xread(
                    {self.stream: self.offset or "$"}, count=self.read_count, block=block_ms
                )
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                if not lost:
                    logger.warning(
                        "lost the Redis stream %s (%s); will read it again from %s",
                        self.stream,
                        exc,
                        self.offset,
                    )
                lost = True
                await asyncio.sleep(self._backoff)
                self._backoff = min(self._backoff * 2, 1.0)
                continue
            self._handle(reply)

    async def _check_offset(self) -> None:
        """After an outage: a stream that is now behind our offset was recreated."""
        last = await self._last_id()
        if self.offset is not None and _id_key(last) < _id_key(self.offset):
            logger.warning(
                "the Redis stream %s was recreated (last id %s < %s); reading it from the start",
                self.stream,
                last,
                self.offset,
            )
            self.offset = "0-0"

    def _handle(self, reply: Any) -> None:
        if not reply:
            return
        # RESP2: [[stream, [(id, {field: value}), ...]]]; RESP3: {stream: [[(id, fields)]]}
        streams = reply.values() if isinstance(reply, dict) else (item[1] for item in reply)
        for entries in streams:
            if entries and isinstance(entries[0], list) and len(entries) == 1:
                entries = entries[0]
            for entry_id, fields in entries:
                offset = _text(entry_id)
                self.offset = offset
                self.dispatch(offset, fields)

    def dispatch(self, offset: str, fields: Any) -> None:
        """Hand one entry to the adapter of its namespace; a malformed one is logged."""
        if not isinstance(fields, Mapping):
            logger.warning("skipping malformed stream entry %s: no fields", offset)
            return
        nsp = fields.get(b"nsp", fields.get("nsp"))
        if not nsp:
            return  # Node skips entries without a namespace too
        try:
            adapter = self.adapters.get(_text(nsp))
            if adapter is None:
                return
            message = decode_entry(fields)
        except (RemoteProtocolError, UnicodeDecodeError) as exc:
            logger.warning("skipping malformed stream entry %s: %s", offset, exc)
            return
        adapter.on_message(message, offset)

    # -- writing ------------------------------------------------------------------------

    def write(self, command: tuple[Any, ...], callback: WriteCallback | None = None) -> None:
        """Queue a command; ``callback(result)`` gets its reply (an exception on failure).

        Commands are sent in order, in pipelined batches, and the callbacks called in order.
        Once the link is closed, nothing is sent: ``callback`` gets an :class:`AdapterError`.
        """
        if self._closed:
            logger.debug("the stream link is closed: %s not sent", command[0])
            if callback is not None:
                callback(AdapterError("the adapter was closed"))
            return
        self._queue.append((command, callback))
        if self._writer is None:
            self._writer = asyncio.ensure_future(self._write_loop())
        self._wakeup.set()

    async def _write_loop(self) -> None:
        queue = self._queue
        failing = False
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while queue:
                batch = [queue.popleft() for _ in range(min(len(queue), WRITE_BATCH))]
                pipe = self.client.pipeline(transaction=False)
                for command, _ in batch:
                    pipe.execute_command(*command)
                results: list[Any]
                try:
                    results = await pipe.execute(raise_on_error=False)
                except asyncio.CancelledError:
                    raise
                except (RedisError, OSError) as exc:
                    if not failing:
                        logger.warning(
                            "could not write to the Redis stream %s: %s", self.stream, exc
                        )
                    failing = True
                    results = [exc] * len(batch)
                else:
                    if failing:
                        logger.warning("writing to the Redis stream %s again", self.stream)
                    failing = False
                for (_, callback), result in zip(batch, results, strict=True):
                    if callback is None:
                        if isinstance(result, Exception):
                            logger.warning("Redis refused a command: %s", result)
                        continue
                    try:
                        callback(result)
                    except Exception:
                        logger.exception("error in the local part of a cluster operation")

    async def flush(self) -> None:
        """Wait until every queued command was answered (or given up)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def answered(_result: Any) -> None:
            if not done.done():
                done.set_result(None)

        self.write(("PING",), answered)
        await done

    async def close(self) -> None:
        """Send what is queued (briefly), then stop the reader and the writer."""
        if self._writer is not None and self._queue:
            try:
                await asyncio.wait_for(self.flush(), 1)
            except TimeoutError:
                pass
        self._closed = True
        start, self._start = self._start, None
        if start is not None and not start.done():
            start.cancel()
        for task in (self._reader, self._writer):
            while task is not None and not task.done():
                task.cancel()
                await asyncio.wait([task], timeout=0.5)
            if task is not None and not task.cancelled():
                task.exception()
        self._reader = self._writer = None
        reader, self._reader_client = self._reader_client, None
        if reader is not None:
            await reader.aclose()


# --------------------------------------------------------------------------- the adapter


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
        message["uid"] = self.uid
        message["nsp"] = self.nsp.name
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
        command: list[Any] = ["XADD", self.stream, "MAXLEN", "~", str(self.max_len), "*"]
        for key, value in fields.items():
            command += [key, value]
        self.stream_link.write(tuple(command), callback)

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
            value = base64.b64encode(pack(session)).decode("ascii")
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
        if not _OFFSET.fullmatch(offset):
            return None
        key = self.session_key_prefix + pid
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.get(key)
            pipe.delete(key)
            raw, _ = await pipe.execute()
            if not raw or not await self.client.xrange(self.stream, offset, offset):
                return None
            session = unpack(base64.b64decode(raw, validate=True))
        except (RedisError, OSError) as exc:
            logger.warning("cannot restore session %s: %s", pid, exc)
            return None
        except (RemoteProtocolError, binascii.Error) as exc:
            logger.warning("ignoring the malformed session %s: %s", pid, exc)
            return None
        if not isinstance(session, dict) or not isinstance(session.get("sid"), str):
            logger.warning("ignoring the malformed session %s", pid)
            return None
        rooms = sorted(decode_rooms(session.get("rooms")))
        try:
            missed = await self._missed_packets(offset, rooms)
        except (RedisError, OSError) as exc:
            logger.warning("cannot read the missed packets of session %s: %s", pid, exc)
            return None
        session["pid"] = pid
        session["rooms"] = rooms
        session["missed_packets"] = missed
        return session

    async def _missed_packets(self, offset: str, rooms: list[str]) -> list[list[Any]]:
        missed: list[list[Any]] = []
        name = self.nsp.name
        for _ in range(RESTORE_MAX_READS):
            entries = await self.client.xrange(
                self.stream, _next_offset(offset), "+", count=RESTORE_BATCH
            )
            if not entries:
                break
            for entry_id, fields in entries:
                offset = _text(entry_id)
                data = self._replayed(offset, fields, name, rooms)
                if data is not None:
                    missed.append(data)
        return missed

    @staticmethod
    def _replayed(offset: str, fields: Any, nsp: str, rooms: list[str]) -> list[Any] | None:
        """The data of a broadcast entry the session missed (with its offset), or None."""
        try:
            values = {_text(k): v for k, v in fields.items()}
            if _text(values.get("nsp", b"")) != nsp or _text(values.get("type", b"")) != "3":
                return None
            data = decode_entry(fields)["data"]
            packet, opts = data["packet"], data["opts"]
            if data.get("requestId") is not None or (opts.get("flags") or {}).get("volatile"):
                return None
            if packet.get("type", 2) not in (2, 5) or not isinstance(packet["data"], list):
                return None
            if not _should_include(rooms, opts):
                return None
            return [*packet["data"], offset]
        except MALFORMED as exc:
            logger.warning("skipping malformed stream entry %s: %s", offset, exc)
            return None


def create_streams_adapter(
    client: aioredis.Redis, **options: Any
) -> Callable[[NamespaceLike], RedisStreamsAdapter]:
    """Node's ``createAdapter(redisClient, opts)`` of @socket.io/redis-streams-adapter."""
    return RedisStreamsAdapter.factory(client, **options)
