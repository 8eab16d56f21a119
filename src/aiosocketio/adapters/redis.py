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

The protocol (channels, frames, requests and their bookkeeping) is
:class:`~aiosocketio.protocol.cluster.classic.ClassicSession` (sans-I/O); this adapter is
its pump. Theory of operation: the adapters of one server share a
:class:`~aiosocketio.adapters.redis_link.RedisLink`: one subscriber connection (our own RESP
reader, resubscribed after a reconnect; redis-py's ``PubSub`` for TLS and other exotic
connections) whose channels are routed to their adapter, and one ordered publish queue
(drained by one task, a batch per round trip, so a burst of broadcasts keeps its order). A
malformed message is logged and skipped; a request whose answers do not all arrive within
``requests_timeout`` fails with :class:`~aiosocketio.exceptions.AdapterTimeout` (an
:class:`~aiosocketio.exceptions.AdapterError` and an ``AckTimeout``). Given a
``RedisCluster`` client it runs on a Redis Cluster, which forwards PUBLISH to every node.

Example::

    import redis.asyncio as redis
    from aiosocketio import Server
    from aiosocketio.adapters.redis import RedisAdapter

    sio = Server(adapter=RedisAdapter.factory(redis.Redis.from_url("redis://localhost")))
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiosocketio.adapters.base import Adapter
from aiosocketio.adapters.interface import (
    AckCallback,
    BroadcastOptions,
    NamespaceLike,
    ServerSideAck,
    SocketLike,
)
from aiosocketio.adapters.pump import (
    MALFORMED,
    AckHandle,
    SessionTimer,
    Waiter,
    details_of,
    fail,
    from_wire,
    loop_time,
    new_waiter,
    once,
    options_from_wire,
    resolve,
    wire_options,
    wire_packet,
    with_remote_sockets,
)
from aiosocketio.adapters.redis_cluster import AnyRedis, client_from_url
from aiosocketio.adapters.redis_link import RedisLink
from aiosocketio.exceptions import AdapterError, AdapterTimeout, SocketIOError
from aiosocketio.protocol.cluster.classic import ClassicSession
from aiosocketio.protocol.cluster.events import (
    AckReceived,
    AllRoomsRequested,
    BroadcastRequested,
    ClientCountReceived,
    DisconnectRequested,
    Event,
    FetchRequested,
    JoinRequested,
    LeaveRequested,
    RequestCompleted,
    RequestTimedOut,
    ServerSideEmitRequested,
    SocketRoomRequested,
    SocketsRequested,
)
from aiosocketio.protocol.cluster.requests import PendingRequest
from aiosocketio.protocol.cluster.wire import RequestType
from aiosocketio.protocol.socketio.packets import Packet
from aiosocketio.runtime.tasks import spawn

__all__ = ["RedisAdapter", "create_adapter", "create_redis_adapter"]

logger = logging.getLogger("aiosocketio.adapters.redis")


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

    Attributes:
        session: the sans-I/O protocol state (channels, pending requests).
        uid: this server's id in the cluster (6 characters).
        link: the Redis connections, shared by the namespaces of the server.
    """

    def __init__(
        self,
        nsp: NamespaceLike,
        pub: AnyRedis,
        sub: AnyRedis | None = None,
        *,
        key: str = "socket.io",
        requests_timeout: float = 5.0,
        publish_on_specific_response_channel: bool = False,
    ) -> None:
        super().__init__(nsp)
        self.session: ClassicSession[Waiter, AckHandle] = ClassicSession(
            nsp.name,
            key=key,
            requests_timeout=requests_timeout,
            publish_on_specific_response_channel=publish_on_specific_response_channel,
        )
        session = self.session
        self.uid = session.uid
        self.channel = session.channel
        self.request_channel = session.request_channel
        self.response_channel = session.response_channel
        self.specific_response_channel = session.specific_response_channel
        # the namespaces of one server share the connections
        self.link = RedisLink.acquire(nsp.server, pub, sub if sub is not None else pub)
        self._timer = SessionTimer(session.next_deadline, self._on_timer)
        self._init_task: asyncio.Future[None] | None = None
        self._owned: _OwnedClient | None = None

    @classmethod
    def factory(
        cls, pub: AnyRedis, sub: AnyRedis | None = None, **options: Any
    ) -> Callable[[NamespaceLike], RedisAdapter]:
        """A ``Server(adapter=...)`` factory: one adapter per namespace (Node's createAdapter)."""

        def make(nsp: NamespaceLike) -> RedisAdapter:
            return cls(nsp, pub, sub, **options)

        return make

    @property
    def requests_timeout(self) -> float:
        """Seconds to wait for the other servers' answers."""
        return self.session.requests_timeout

    @requests_timeout.setter
    def requests_timeout(self, seconds: float) -> None:
        self.session.requests_timeout = seconds

    # -- life cycle ---------------------------------------------------------------------

    async def init(self) -> None:
        """Subscribe to the broadcast pattern and the request/response channels."""
        if self._init_task is None:
            self._init_task = asyncio.ensure_future(
                self.link.subscribe(
                    self._on_redis_message,
                    channels=self.session.channels,
                    patterns=self.session.patterns,
                )
            )
        try:
            await asyncio.shield(self._init_task)
        except AdapterError:
            if not self.link.closed:
                raise
            # closed while starting (the server shut down): nothing left to do

    async def close(self) -> None:
        """Unsubscribe and fail the pending requests."""
        for request in self.session.close():
            fail(request.waiter, AdapterError("the adapter was closed"))
        self._timer.cancel()
        if self._init_task is not None:
            await self.link.unsubscribe(
                self._on_redis_message,
                channels=self.session.channels,
                patterns=self.session.patterns,
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
            self._handle(self.session.receive(channel, data, self.rooms))
        except MALFORMED as exc:
            logger.warning("ignoring a malformed message on %s: %s", channel, exc)

    def _on_timer(self, now: float) -> None:
        self._handle(self.session.handle_timer(now))

    def _publish(self, outgoing: tuple[str, bytes]) -> None:
        self.link.publish(*outgoing)

    def _handle(self, events: list[Event]) -> None:
        session = self.session
        for event in events:
            if isinstance(event, BroadcastRequested):
                self._on_broadcast(event)
            elif isinstance(event, RequestCompleted):
                resolve(event.request.waiter, event.request.responses)
            elif isinstance(event, RequestTimedOut):
                request = event.request
                fail(request.waiter, AdapterTimeout(event.message, request.responses))
            elif isinstance(event, ClientCountReceived):
                event.handle.client_count_callback(event.count)
            elif isinstance(event, AckReceived):
                event.handle.ack([event.arg])
            elif isinstance(event, JoinRequested):
                Adapter.add_sockets(self, options_from_wire(event.opts), event.rooms)
            elif isinstance(event, LeaveRequested):
                Adapter.del_sockets(self, options_from_wire(event.opts), event.rooms)
            elif isinstance(event, DisconnectRequested):
                Adapter.disconnect_sockets(self, options_from_wire(event.opts), event.close)
            elif isinstance(event, SocketRoomRequested):
                self._on_socket_room(event)
            elif isinstance(event, SocketsRequested):
                spawn(self._answer_sockets(event), "a cluster operation")
            elif isinstance(event, AllRoomsRequested):
                rooms = list(self.rooms)
                self._publish(session.all_rooms_response(event.requester, event.request_id, rooms))
            elif isinstance(event, FetchRequested):
                spawn(self._answer_fetch(event), "a cluster operation")
            elif isinstance(event, ServerSideEmitRequested):
                self._on_server_side_emit(event)

    def _on_broadcast(self, event: BroadcastRequested) -> None:
        packet, opts = from_wire(event, self.nsp.name)
        request_id = event.request_id
        if request_id is None:
            Adapter.broadcast(self, packet, opts)
            return
        requester = event.sender
        session = self.session

        def client_count(count: int) -> None:
            self._publish(session.client_count_response(requester, request_id, count))

        def ack(args: Any) -> None:
            arg = args[0] if isinstance(args, list) and args else None
            self._publish(session.ack_response(requester, request_id, arg))

        Adapter.broadcast_with_ack(self, packet, opts, client_count, ack)

    def _on_socket_room(self, event: SocketRoomRequested) -> None:
        socket = self.nsp.sockets.get(event.sid)
        if socket is None:
            return
        if event.action == RequestType.REMOTE_JOIN:
            socket.join(event.room)
        elif event.action == RequestType.REMOTE_LEAVE:
            socket.leave(event.room)
        else:
            socket.disconnect(event.close)
        self._publish(self.session.done_response(event.requester, event.request_id))

    async def _answer_sockets(self, event: SocketsRequested) -> None:
        sids = await Adapter.sockets(self, event.rooms)
        self._publish(self.session.sockets_response(event.requester, event.request_id, list(sids)))

    async def _answer_fetch(self, event: FetchRequested) -> None:
        local = await Adapter.fetch_sockets(self, options_from_wire(event.opts))
        details = [details_of(socket) for socket in local]
        try:
            answer = self.session.fetch_response(event.requester, event.request_id, details)
        except Exception as exc:
            logger.warning("cannot encode the fetch_sockets answer: %s", exc)
            return
        self._publish(answer)

    def _on_server_side_emit(self, event: ServerSideEmitRequested) -> None:
        request_id = event.request_id
        if request_id is None:
            self.nsp.deliver_server_side_emit(event.args, None)
            return
        session = self.session

        def respond(arg: Any) -> None:
            self._publish(session.server_side_emit_response(request_id, arg))

        self.nsp.deliver_server_side_emit(event.args, once(respond))

    # -- requests -----------------------------------------------------------------------

    async def _ask(
        self, request: PendingRequest[Waiter], channel: str, data: bytes, kind: str
    ) -> list[Any]:
        """Publish a request the session registered and wait for its answers (timed in
        the server's stats as ``adapter_request/<kind>``)."""
        started = loop_time()
        self._timer.arm()
        try:
            self.link.publish(channel, data)
            answers = await request.waiter
        except SocketIOError:
            self._timed_request(kind, started, True)
            raise
        self._timed_request(kind, started, False)
        return answers

    # -- outgoing -----------------------------------------------------------------------

    def broadcast(self, packet: Packet, opts: BroadcastOptions) -> None:
        """Broadcast locally and, unless ``local``, to every other server."""
        if not opts.flags.local:
            channel, data = self.session.broadcast(
                wire_packet(packet, self.nsp.name), wire_options(opts)
            )
            self.link.publish(channel, data)
        super().broadcast(packet, opts)

    def broadcast_with_ack(
        self,
        packet: Packet,
        opts: BroadcastOptions,
        client_count_callback: Callable[[int], None],
        ack: AckCallback,
    ) -> None:
        """Broadcast with acks across the cluster: counts and answers come back by Redis."""
        if not opts.flags.local:
            outgoing = self.session.broadcast_with_ack(
                wire_packet(packet, self.nsp.name),
                wire_options(opts),
                AckHandle(client_count_callback, ack),
                loop_time(),
                opts.flags.timeout,
            )
            self._timer.arm()
            self._publish(outgoing)
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
        request, channel, data = self.session.fetch_sockets(
            list(opts.rooms),
            list(opts.except_),
            count - 1,
            new_waiter(),
            loop_time(),
            opts.flags.timeout,
        )
        remote = await self._ask(request, channel, data, "fetch_sockets")
        return with_remote_sockets(self.nsp, local, remote)

    async def all_rooms(self) -> set[str]:
        """Every room of every server.

        Raises:
            AdapterError: some server did not answer within ``requests_timeout``.
        """
        rooms = set(self.rooms)
        count = await self.server_count()
        if count <= 1:
            return rooms
        request, channel, data = self.session.all_rooms(count - 1, new_waiter(), loop_time())
        remote = await self._ask(request, channel, data, "all_rooms")
        rooms.update(r for r in remote if isinstance(r, str))
        return rooms

    def _rooms_request(self, kind: RequestType, opts: BroadcastOptions, **extra: Any) -> None:
        rooms, except_ = list(opts.rooms), list(opts.except_)
        self._publish(self.session.rooms_request(kind, rooms, except_, **extra))

    def add_sockets(self, opts: BroadcastOptions, rooms: Any) -> None:
        """Make the matching sockets of every server join ``rooms``."""
        rooms = list(rooms)
        if not opts.flags.local:
            self._rooms_request(RequestType.REMOTE_JOIN, opts, rooms=rooms)
        super().add_sockets(opts, rooms)

    def del_sockets(self, opts: BroadcastOptions, rooms: Any) -> None:
        """Make the matching sockets of every server leave ``rooms``."""
        rooms = list(rooms)
        if not opts.flags.local:
            self._rooms_request(RequestType.REMOTE_LEAVE, opts, rooms=rooms)
        super().del_sockets(opts, rooms)

    def disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        """Disconnect the matching sockets of every server."""
        if not opts.flags.local:
            self._rooms_request(RequestType.REMOTE_DISCONNECT, opts, close=close)
        super().disconnect_sockets(opts, close)

    def server_side_emit(
        self, args: list[Any], ack: ServerSideAck | None = None, timeout: float | None = None
    ) -> None:
        """Send ``[event, *args]`` to the other servers; ``ack(error, responses)`` if given.

        With an ack, ``error`` is an :class:`~aiosocketio.exceptions.AdapterTimeout` when
        some server did not answer in time (``responses`` then holds the answers that did
        arrive).
        """
        if ack is None:
            self._publish(self.session.server_side_emit(args))
            return
        spawn(self._server_side_emit_with_ack(args, ack, timeout), "a cluster operation")

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
        try:
            request, channel, data = self.session.server_side_emit_with_ack(
                args, expected, new_waiter(), loop_time(), timeout
            )
            responses = request.responses
            await self._ask(request, channel, data, "server_side_emit")
        except SocketIOError as exc:  # a timeout, or arguments that cannot be sent
            ack(exc, responses)
            return
        ack(None, responses)


def create_redis_adapter(
    pub: AnyRedis, sub: AnyRedis | None = None, **options: Any
) -> Callable[[NamespaceLike], RedisAdapter]:
    """Node's ``createAdapter(pubClient, subClient, opts)``: a factory for ``Server(adapter=)``."""
    return RedisAdapter.factory(pub, sub, **options)


class _OwnedClient:
    """A client that ``create_adapter(url)`` made: closed with the last adapter using it."""

    __slots__ = ("client", "users")

    def __init__(self, client: AnyRedis) -> None:
        self.client = client
        self.users = 0

    async def release(self) -> None:
        self.users -= 1
        if self.users == 0:
            await self.client.aclose()


def create_adapter(
    redis: str | AnyRedis, sub: AnyRedis | None = None, **options: Any
) -> Callable[[NamespaceLike], RedisAdapter]:
    """A ``Server(adapter=...)`` factory from a Redis URL or client (used by ``--redis URL``).

    A client made from a URL belongs to the adapters: the last one closed closes it.

    Args:
        redis: ``"redis://host:port/db"`` or
            ``"redis+cluster://host:port,host:port"`` (a Redis Cluster), or a
            ``redis.asyncio.Redis`` or ``redis.asyncio.cluster.RedisCluster`` client.
        sub: the client for the subscriber connection (default: the same as ``redis``).
        **options: :class:`RedisAdapter` options (``key``, ``requests_timeout``...).
    """
    if not isinstance(redis, str):
        return RedisAdapter.factory(redis, sub, **options)
    owned = _OwnedClient(client_from_url(redis))

    def make(nsp: NamespaceLike) -> RedisAdapter:
        adapter = RedisAdapter(nsp, owned.client, sub, **options)
        adapter._owned = owned
        owned.users += 1
        return adapter

    return make
