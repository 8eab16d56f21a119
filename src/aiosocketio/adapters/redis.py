"""``RedisAdapter``: the classic @socket.io/redis-adapter 8.3 protocol (PUBLISH/PSUBSCRIBE).

Python and Node servers that use the same Redis and the same ``key`` form one cluster:
broadcasts, rooms, ``fetch_sockets``, ``server_side_emit`` and broadcasts with acks cross
between them. The bytes are the npm package's (see :mod:`aiosocketio.protocol.cluster.wire`).

Channels, for a namespace ``nsp`` (with its leading ``/``) and ``key`` (default
``"socket.io"``):

* ``<key>#<nsp>#`` and ``<key>#<nsp>#<room>#``: broadcasts, msgpack
  ``[uid, {type, data, nsp}, {rooms, except, flags}]``; subscribed with a pattern
  ``<key>#<nsp>#*``. The room suffix is used when exactly one room is targeted.
* ``<key>-request#<nsp>#``: requests (JSON; a broadcast with acks is msgpack).
* ``<key>-response#<nsp>#`` and ``<key>-response#<nsp>#<uid>#``: responses.

Theory of operation: the adapters of one server share a
:class:`~aiosocketio.adapters.redis_link.RedisLink`: one subscriber connection (our own RESP
reader, resubscribed after a reconnect; redis-py's ``PubSub`` for TLS and other exotic
connections) whose channels are routed to their adapter, and one ordered publish queue
(drained by one task, a batch per round trip, so a burst of broadcasts keeps its order). A
malformed message is logged and skipped; a request whose answers do not all arrive within
``requests_timeout`` fails with :class:`~aiosocketio.exceptions.AdapterTimeout` (an
:class:`~aiosocketio.exceptions.AdapterError` and an ``AckTimeout``).

Example::

    import redis.asyncio as redis
    from aiosocketio import Server
    from aiosocketio.adapters.redis import RedisAdapter

    sio = Server(adapter=RedisAdapter.factory(redis.Redis.from_url("redis://localhost")))
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis

from aiosocketio.adapters.base import Adapter
from aiosocketio.adapters.cluster import (
    MALFORMED as _MALFORMED,
)
from aiosocketio.adapters.cluster import (
    PendingAck,
    PendingRequest,
    deliver_server_side_emit,
    expire_ack_later,
    options_from_wire,
    options_to_wire,
    packet_from_wire,
    packet_to_wire,
    settle,
    socket_details,
    spawn,
    track_request,
    with_remote_sockets,
)
from aiosocketio.adapters.interface import (
    BroadcastOptions,
    NamespaceLike,
    ServerSideAck,
    SocketLike,
)
from aiosocketio.adapters.redis_link import RedisLink, uid2
from aiosocketio.exceptions import AdapterError, RemoteProtocolError, SocketIOError
from aiosocketio.protocol.cluster.shapes import decode_rooms
from aiosocketio.protocol.cluster.wire import (
    RequestType,
    decode_message,
    dumps_json,
    pack,
    unpack,
)
from aiosocketio.protocol.socketio.packets import Packet

__all__ = ["RedisAdapter", "create_adapter", "create_redis_adapter"]

logger = logging.getLogger("aiosocketio.adapters.redis")


# --------------------------------------------------------------------------- the adapter


class RedisAdapter(Adapter):
    """A cluster adapter on Redis PUBLISH/PSUBSCRIBE, compatible with @socket.io/redis-adapter.

    Args:
        nsp: the namespace.
        pub: the Redis client used to publish.
        sub: the Redis client that gives the subscriber connection (default: ``pub``).
        key: the channel prefix (Node's ``key``, default ``"socket.io"``).
        requests_timeout: seconds to wait for the other servers' answers (Node: 5000 ms).
        publish_on_specific_response_channel: answer on ``<key>-response#<nsp>#<uid>#``
            instead of the shared response channel.
    """

    def __init__(
        self,
        nsp: NamespaceLike,
        pub: aioredis.Redis,
        sub: aioredis.Redis | None = None,
        *,
        key: str = "socket.io",
        requests_timeout: float = 5.0,
        publish_on_specific_response_channel: bool = False,
    ) -> None:
        super().__init__(nsp)
        self.uid = uid2(6)
        # a broadcast we published starts with these bytes: [uid, ... as a fixarray of 3
        self._own_prefix = pack([self.uid, None, None])[:-2]
        self.requests_timeout = requests_timeout
        self.publish_on_specific_response_channel = publish_on_specific_response_channel
        name = nsp.name
        self.channel = f"{key}#{name}#"
        self.request_channel = f"{key}-request#{name}#"
        self.response_channel = f"{key}-response#{name}#"
        self.specific_response_channel = f"{self.response_channel}{self.uid}#"
        # the namespaces of one server share the connections
        owner = nsp.server
        self.link = RedisLink.acquire(owner, pub, sub if sub is not None else pub)
        self._requests: dict[str, PendingRequest] = {}
        self._ack_requests: dict[str, PendingAck] = {}
        self._init_task: asyncio.Future[None] | None = None
        self._owned: _OwnedClient | None = None

    @classmethod
    def factory(
        cls, pub: aioredis.Redis, sub: aioredis.Redis | None = None, **options: Any
    ) -> Callable[[NamespaceLike], RedisAdapter]:
        """A ``Server(adapter=...)`` factory: one adapter per namespace (Node's createAdapter)."""

        def make(nsp: NamespaceLike) -> RedisAdapter:
            return cls(nsp, pub, sub, **options)

        return make

    # -- life cycle ---------------------------------------------------------------------

    async def init(self) -> None:
        """Subscribe to the broadcast pattern and the request/response channels."""
        if self._init_task is None:
            self._init_task = asyncio.ensure_future(
                self.link.subscribe(
                    self._on_redis_message,
                    channels=self._subscribed_channels(),
                    patterns=[self.channel + "*"],
                )
            )
        try:
            await asyncio.shield(self._init_task)
        except AdapterError:
            if not self.link.closed:
                raise
            # closed while starting (the server shut down): nothing left to do

    def _subscribed_channels(self) -> list[str]:
        return [self.request_channel, self.response_channel, self.specific_response_channel]

    async def close(self) -> None:
        """Unsubscribe and fail the pending requests."""
        for request in list(self._requests.values()):
            settle(request, AdapterError("the adapter was closed"))
        self._requests.clear()
        self._ack_requests.clear()
        if self._init_task is not None:
            await self.link.unsubscribe(
                self._on_redis_message,
                channels=self._subscribed_channels(),
                patterns=[self.channel + "*"],
            )
        await self.link.release()
        owned, self._owned = self._owned, None
        if owned is not None:
            await owned.release()

    async def server_count(self) -> int:
        """``PUBSUB NUMSUB <key>-request#<nsp>#``: the servers subscribed to this namespace."""
        return await self.link.numsub(self.request_channel)

    # -- incoming -----------------------------------------------------------------------

    def _on_redis_message(self, channel: str, data: bytes) -> None:
        try:
            if channel.startswith(self.response_channel):
                self._on_response(data)
            elif channel == self.request_channel:
                self._on_request(data)
            elif channel.startswith(self.channel):
                self._on_broadcast(channel, data)
        except _MALFORMED as exc:
            logger.warning("ignoring a malformed message on %s: %s", channel, exc)

    def _on_broadcast(self, channel: str, data: bytes) -> None:
        room = channel[len(self.channel) : -1]
        if room and room not in self.rooms:
            return
        if data.startswith(self._own_prefix):
            return  # our own broadcast, back through the pattern subscription
        message = unpack(data)
        if not isinstance(message, list) or len(message) < 3:
            raise RemoteProtocolError("a broadcast is [uid, packet, opts]")
        uid, raw_packet, raw_opts = message[0], message[1], message[2]
        if uid == self.uid:
            return
        if not isinstance(raw_packet, dict):
            raise RemoteProtocolError("packet is not a map")
        if raw_packet.get("nsp", "/") != self.nsp.name:
            return
        packet = packet_from_wire(raw_packet, self.nsp.name)
        super().broadcast(packet, options_from_wire(raw_opts))

    def _on_request(self, data: bytes) -> None:
        request = decode_message(data)
        if not isinstance(request, dict):
            raise RemoteProtocolError("a request is a map")
        kind = request.get("type")
        request_id = request.get("requestId")
        if kind == RequestType.SOCKETS:
            if request_id in self._requests:
                return
            self._spawn(self._answer_sockets(request))
        elif kind == RequestType.ALL_ROOMS:
            if request_id in self._requests:
                return
            self._respond(request, dumps_json({"requestId": request_id, "rooms": list(self.rooms)}))
        elif kind in (
            RequestType.REMOTE_JOIN,
            RequestType.REMOTE_LEAVE,
            RequestType.REMOTE_DISCONNECT,
        ):
            if request.get("uid") == self.uid:
                return  # applied locally when it was sent
            self._apply_remote(kind, request)
        elif kind == RequestType.REMOTE_FETCH:
            if request_id in self._requests:
                return
            opts = options_from_wire(request.get("opts"))
            self._spawn(self._answer_fetch(request, opts))
        elif kind == RequestType.SERVER_SIDE_EMIT:
            if request.get("uid") == self.uid:
                return
            self._on_server_side_emit(request)
        elif kind == RequestType.BROADCAST:
            if request_id in self._ack_requests:
                return
            self._on_broadcast_with_ack(request)
        else:
            logger.debug("ignoring request of unknown type %r", kind)

    def _apply_remote(self, kind: int, request: dict[str, Any]) -> None:
        raw_opts = request.get("opts")
        if raw_opts is not None:
            opts = options_from_wire(raw_opts)
            if kind == RequestType.REMOTE_JOIN:
                super().add_sockets(opts, decode_rooms(request.get("rooms")))
            elif kind == RequestType.REMOTE_LEAVE:
                super().del_sockets(opts, decode_rooms(request.get("rooms")))
            else:
                super().disconnect_sockets(opts, bool(request.get("close")))
            return
        # the older per-socket form: {sid, room | close, requestId}
        socket = self.nsp.sockets.get(request.get("sid"))  # type: ignore[arg-type]
        if socket is None:
            return
        if kind == RequestType.REMOTE_JOIN:
            socket.join(str(request.get("room")))
        elif kind == RequestType.REMOTE_LEAVE:
            socket.leave(str(request.get("room")))
        else:
            socket.disconnect(bool(request.get("close")))
        self._respond(request, dumps_json({"requestId": request.get("requestId")}))

    async def _answer_sockets(self, request: dict[str, Any]) -> None:
        sids = await super().sockets(decode_rooms(request.get("rooms")))
        payload = {"requestId": request.get("requestId"), "sockets": list(sids)}
        self._respond(request, dumps_json(payload))

    async def _answer_fetch(self, request: dict[str, Any], opts: BroadcastOptions) -> None:
        local = await super().fetch_sockets(opts)
        sockets = [socket_details(s) for s in local]
        payload = {"requestId": request.get("requestId"), "sockets": sockets}
        try:
            # like Node's JSON.stringify: a Buffer in socket.data becomes {type, data}
            body = dumps_json(payload, buffers=True)
        except Exception as exc:
            logger.warning("cannot encode the fetch_sockets answer: %s", exc)
            return
        self._respond(request, body)

    def _on_server_side_emit(self, request: dict[str, Any]) -> None:
        request_id = request.get("requestId")

        def respond(arg: Any) -> None:
            body = {
                "type": RequestType.SERVER_SIDE_EMIT.value,
                "requestId": request_id,
                "data": arg,
            }
            # Node always answers a server-side emit on the shared response channel
            self.link.publish(self.response_channel, dumps_json(body))

        deliver_server_side_emit(self.nsp, request.get("data"), request_id, respond)

    def _on_broadcast_with_ack(self, request: dict[str, Any]) -> None:
        request_id = request.get("requestId")
        packet = packet_from_wire(request.get("packet"), self.nsp.name)
        opts = options_from_wire(request.get("opts"))
        opts = BroadcastOptions(rooms=opts.rooms, except_=opts.except_)

        def client_count(count: int) -> None:
            body = {
                "type": RequestType.BROADCAST_CLIENT_COUNT.value,
                "requestId": request_id,
                "clientCount": count,
            }
            self._respond(request, dumps_json(body))

        def ack(args: Any) -> None:
            arg = args[0] if isinstance(args, list) and args else None
            body = {"type": RequestType.BROADCAST_ACK.value, "requestId": request_id, "packet": arg}
            self._respond(request, pack(body))

        super().broadcast_with_ack(packet, opts, client_count, ack)

    def _respond(self, request: dict[str, Any], body: bytes) -> None:
        channel = self.response_channel
        if self.publish_on_specific_response_channel:
            channel = f"{self.response_channel}{request.get('uid')}#"
        self.link.publish(channel, body)

    def _on_response(self, data: bytes) -> None:
        response = decode_message(data)
        if not isinstance(response, dict):
            raise RemoteProtocolError("a response is a map")
        request_id = response.get("requestId")
        if not isinstance(request_id, str):
            return
        ack_request = self._ack_requests.get(request_id)
        if ack_request is not None:
            kind = response.get("type")
            if kind == RequestType.BROADCAST_CLIENT_COUNT:
                count = response.get("clientCount")
                if isinstance(count, int):
                    ack_request.client_count_callback(count)
            elif kind == RequestType.BROADCAST_ACK:
                ack_request.ack([response.get("packet")])
            return
        request = self._requests.get(request_id)
        if request is None:
            return
        if request.kind in (RequestType.SOCKETS, RequestType.REMOTE_FETCH, RequestType.ALL_ROOMS):
            field = "rooms" if request.kind == RequestType.ALL_ROOMS else "sockets"
            items = response.get(field)
            if not isinstance(items, list):
                return
            request.received += 1
            request.responses.extend(items)
        elif request.kind == RequestType.SERVER_SIDE_EMIT:
            request.received += 1
            request.responses.append(response.get("data"))
        if request.received >= request.expected:
            self._finish(request_id, request)

    # -- request bookkeeping ------------------------------------------------------------

    def _spawn(self, coro: Awaitable[None]) -> None:
        spawn(coro)

    def _finish(self, request_id: str, request: PendingRequest) -> None:
        self._requests.pop(request_id, None)
        settle(request, None)

    async def _request(
        self,
        kind: RequestType,
        expected: int,
        body: dict[str, Any],
        responses: list[Any],
        what: str,
        timeout: float | None = None,
    ) -> list[Any]:
        request_id = uid2(6)
        # encode first: a payload that cannot be sent fails here, before anything waits
        data = dumps_json({"uid": self.uid, "requestId": request_id, **body})
        request = PendingRequest(kind, expected, responses)
        track_request(
            self._requests,
            request_id,
            request,
            timeout or self.requests_timeout,
            lambda r: (
                f"timeout reached while waiting for {what} response "
                f"({r.received} of {r.expected} servers answered)"
            ),
        )
        self.link.publish(self.request_channel, data)
        return await request.future

    # -- outgoing -----------------------------------------------------------------------

    def broadcast(self, packet: Packet, opts: BroadcastOptions) -> None:
        """Broadcast locally and, unless ``local``, to every other server."""
        if not opts.flags.local:
            message = [self.uid, packet_to_wire(packet, self.nsp.name), options_to_wire(opts)]
            channel = self.channel
            if len(opts.rooms) == 1:
                channel += next(iter(opts.rooms)) + "#"
            self.link.publish(channel, pack(message))
        super().broadcast(packet, opts)

    def broadcast_with_ack(
        self,
        packet: Packet,
        opts: BroadcastOptions,
        client_count_callback: Callable[[int], None],
        ack: Callable[[list[Any]], None],
    ) -> None:
        """Broadcast with acks across the cluster: counts and answers come back by Redis."""
        if not opts.flags.local:
            request_id = uid2(6)
            request = {
                "uid": self.uid,
                "requestId": request_id,
                "type": RequestType.BROADCAST.value,
                "packet": packet_to_wire(packet, self.nsp.name),
                "opts": options_to_wire(opts),
            }
            self._ack_requests[request_id] = PendingAck(client_count_callback, ack)
            self.link.publish(self.request_channel, pack(request))
            expire_ack_later(self._ack_requests, request_id, opts)
        super().broadcast_with_ack(packet, opts, client_count_callback, ack)

    async def fetch_sockets(self, opts: BroadcastOptions) -> list[SocketLike]:
        """The matching sockets of every server (``RemoteSocket`` for the other servers').

        Raises:
            AdapterError: some server did not answer within ``requests_timeout``.
        """
        local = await super().fetch_sockets(opts)
        if opts.flags.local:
            return local
        count = await self.server_count()
        if count <= 1:
            return local
        body = {
            "type": RequestType.REMOTE_FETCH.value,
            "opts": {"rooms": list(opts.rooms), "except": list(opts.except_)},
        }
        remote = await self._request(
            RequestType.REMOTE_FETCH, count - 1, body, [], "fetchSockets", opts.flags.timeout
        )
        return with_remote_sockets(self, local, remote)

    async def all_rooms(self) -> set[str]:
        """Every room of every server.

        Raises:
            AdapterError: some server did not answer within ``requests_timeout``.
        """
        rooms = set(self.rooms)
        count = await self.server_count()
        if count <= 1:
            return rooms
        body = {"type": RequestType.ALL_ROOMS.value}
        remote = await self._request(RequestType.ALL_ROOMS, count - 1, body, [], "allRooms")
        rooms.update(r for r in remote if isinstance(r, str))
        return rooms

    def _publish_opts_request(
        self, kind: RequestType, opts: BroadcastOptions, **extra: Any
    ) -> None:
        body = {
            "uid": self.uid,
            "type": kind.value,
            "opts": {"rooms": list(opts.rooms), "except": list(opts.except_)},
            **extra,
        }
        self.link.publish(self.request_channel, dumps_json(body))

    def add_sockets(self, opts: BroadcastOptions, rooms: Any) -> None:
        """Make the matching sockets of every server join ``rooms``."""
        rooms = list(rooms)
        if not opts.flags.local:
            self._publish_opts_request(RequestType.REMOTE_JOIN, opts, rooms=rooms)
        super().add_sockets(opts, rooms)

    def del_sockets(self, opts: BroadcastOptions, rooms: Any) -> None:
        """Make the matching sockets of every server leave ``rooms``."""
        rooms = list(rooms)
        if not opts.flags.local:
            self._publish_opts_request(RequestType.REMOTE_LEAVE, opts, rooms=rooms)
        super().del_sockets(opts, rooms)

    def disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        """Disconnect the matching sockets of every server."""
        if not opts.flags.local:
            self._publish_opts_request(RequestType.REMOTE_DISCONNECT, opts, close=close)
        super().disconnect_sockets(opts, close)

    def server_side_emit(
        self, args: list[Any], ack: ServerSideAck | None = None, timeout: float | None = None
    ) -> None:
        """Send ``[event, *args]`` to the other servers; ``ack(error, responses)`` if given.

        With an ack, ``error`` is an :class:`AdapterError` when some server did not answer
        in time (``responses`` then holds the answers that did arrive).
        """
        if ack is None:
            body = {"uid": self.uid, "type": RequestType.SERVER_SIDE_EMIT.value, "data": args}
            self.link.publish(self.request_channel, dumps_json(body))
            return
        self._spawn(self._server_side_emit_with_ack(args, ack, timeout))

    async def _server_side_emit_with_ack(
        self, args: list[Any], ack: ServerSideAck, timeout: float | None
    ) -> None:
        try:
            expected = await self.server_count() - 1
        except AdapterError as exc:
            ack(exc, [])
            return
        if expected <= 0:
            ack(None, [])
            return
        responses: list[Any] = []
        body = {"type": RequestType.SERVER_SIDE_EMIT.value, "data": args}
        try:
            await self._request(
                RequestType.SERVER_SIDE_EMIT, expected, body, responses, "serverSideEmit", timeout
            )
        except SocketIOError as exc:  # a timeout, or arguments that cannot be sent
            ack(exc, responses)
            return
        ack(None, responses)


def create_redis_adapter(
    pub: aioredis.Redis, sub: aioredis.Redis | None = None, **options: Any
) -> Callable[[NamespaceLike], RedisAdapter]:
    """Node's ``createAdapter(pubClient, subClient, opts)``: a factory for ``Server(adapter=)``."""
    return RedisAdapter.factory(pub, sub, **options)


class _OwnedClient:
    """A client that ``create_adapter(url)`` made: closed with the last adapter using it."""

    __slots__ = ("client", "users")

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client
        self.users = 0

    async def release(self) -> None:
        self.users -= 1
        if self.users == 0:
            await self.client.aclose()


def create_adapter(
    redis: str | aioredis.Redis, sub: aioredis.Redis | None = None, **options: Any
) -> Callable[[NamespaceLike], RedisAdapter]:
    """A ``Server(adapter=...)`` factory from a Redis URL or client (used by ``--redis URL``).

    A client made from a URL belongs to the adapters: the last one closed closes it.

    Args:
        redis: ``"redis://host:port/db"``, or a ``redis.asyncio.Redis`` client.
        sub: the client for the subscriber connection (default: the same as ``redis``).
        **options: :class:`RedisAdapter` options (``key``, ``requests_timeout``...).
    """
    if not isinstance(redis, str):
        return RedisAdapter.factory(redis, sub, **options)
    owned = _OwnedClient(aioredis.Redis.from_url(redis))

    def make(nsp: NamespaceLike) -> RedisAdapter:
        adapter = RedisAdapter(nsp, owned.client, sub, **options)
        adapter._owned = owned
        owned.users += 1
        return adapter

    return make
