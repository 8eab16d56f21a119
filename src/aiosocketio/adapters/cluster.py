"""The cluster message model of socket.io-adapter's ``ClusterAdapter`` (types 1-13).

Node's ``createShardedAdapter`` (and the other modern adapters) exchange messages
``{type, data, uid, nsp}`` where ``uid`` is 16 hex characters and ``type`` is a
:class:`~aiosocketio.protocol.cluster.wire.MessageType`. :class:`ClusterAdapter` implements the
whole model on top of two transport hooks, exactly like Node's: a subclass provides
:meth:`ClusterAdapter.do_publish` (to every server) and
:meth:`ClusterAdapter.do_publish_response` (to one server), and calls
:meth:`ClusterAdapter.on_message` / :meth:`ClusterAdapter.on_response` with what it receives.

The helpers at the top turn our packets and options into Node's wire shapes; the classic
Redis adapter uses them too.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable
from enum import IntEnum
from typing import Any

from aiosocketio.adapters.base import Adapter
from aiosocketio.adapters.interface import (
    BroadcastFlags,
    BroadcastOptions,
    NamespaceLike,
    ServerSideAck,
    SocketLike,
)
from aiosocketio.exceptions import AdapterError, AdapterTimeout, RemoteProtocolError, SocketIOError
from aiosocketio.protocol.cluster.shapes import (
    decode_flags,
    decode_rooms,
    encode_flags,
    read_details,
)
from aiosocketio.protocol.cluster.wire import (
    EMITTER_UID,
    MessageType,
)
from aiosocketio.protocol.socketio.packets import Packet, PacketType
from aiosocketio.runtime import events

__all__ = [
    "MALFORMED",
    "ClusterAdapter",
    "ClusterAdapterWithHeartbeat",
    "PendingAck",
    "PendingRequest",
    "deliver_server_side_emit",
    "expire_ack_later",
    "make_remote_socket",
    "options_from_wire",
    "options_to_wire",
    "packet_from_wire",
    "packet_to_wire",
    "settle",
    "socket_details",
    "track_request",
    "with_remote_sockets",
]

logger = logging.getLogger("aiosocketio.adapters.cluster")

MALFORMED = (SocketIOError, KeyError, TypeError, ValueError, AttributeError, IndexError)
"""What a message with the wrong shape raises somewhere down the line: logged and skipped."""
_MALFORMED = MALFORMED

# --------------------------------------------------------------------------- wire shapes


def packet_to_wire(packet: Packet, nsp: str | None) -> dict[str, Any]:
    """A Socket.IO packet as Node puts it on the wire: ``{type, data[, nsp][, id]}``.

    Node keeps type 2 (EVENT) for events with binary: the parser picks BINARY_EVENT later.
    The classic Redis adapter writes ``nsp``; the cluster model does not (``nsp=None``).
    """
    kind = int(packet.type)
    if kind == PacketType.BINARY_EVENT:
        kind = int(PacketType.EVENT)
    elif kind == PacketType.BINARY_ACK:
        kind = int(PacketType.ACK)
    out: dict[str, Any] = {"type": kind, "data": packet.data}
    if nsp is not None:
        out["nsp"] = nsp
    if packet.id is not None:
        out["id"] = packet.id
    return out


def packet_from_wire(raw: Any, nsp: str) -> Packet:
    """The inverse of :func:`packet_to_wire`; raises RemoteProtocolError on junk."""
    if not isinstance(raw, dict):
        raise RemoteProtocolError("packet is not a map")
    data = raw.get("data")
    kind = raw.get("type", 2)
    if kind in (2, 5):
        ptype = PacketType.EVENT
    elif kind in (3, 6):
        ptype = PacketType.ACK
    else:
        raise RemoteProtocolError(f"unexpected packet type {kind!r}")
    if not isinstance(data, list) or not data:
        raise RemoteProtocolError("packet data is not a non-empty list")
    return Packet(ptype, nsp, data)


def options_to_wire(opts: BroadcastOptions) -> dict[str, Any]:
    """``{rooms, except, flags}`` as Node writes it."""
    f = opts.flags
    return {
        "rooms": list(opts.rooms),
        "except": list(opts.except_),
        "flags": encode_flags(
            volatile=f.volatile, compress=f.compress, local=f.local, timeout=f.timeout
        ),
    }


def options_from_wire(raw: Any) -> BroadcastOptions:
    """Broadcast options read leniently from the wire (never local)."""
    if not isinstance(raw, dict):
        return BroadcastOptions()
    return BroadcastOptions(
        rooms=frozenset(decode_rooms(raw.get("rooms"))),
        except_=frozenset(decode_rooms(raw.get("except"))),
        flags=BroadcastFlags(**decode_flags(raw.get("flags"))),
    )


def socket_details(socket: SocketLike) -> dict[str, Any]:
    """``{id, handshake, rooms, data}`` of a local socket, as a REMOTE_FETCH answer."""
    handshake: Any = socket.handshake
    if not isinstance(handshake, dict):
        to_dict = getattr(handshake, "to_dict", None)
        if callable(to_dict):
            handshake = to_dict()
        elif dataclasses.is_dataclass(handshake) and not isinstance(handshake, type):
            handshake = dataclasses.asdict(handshake)
        else:
            handshake = dict(getattr(handshake, "__dict__", {}))
    handshake = {k: v for k, v in handshake.items() if k != "session_store"}
    return {
        "id": socket.id,
        "handshake": handshake,
        "rooms": list(socket.rooms),
        "data": getattr(socket, "data", None),
    }


def deliver_server_side_emit(
    nsp: NamespaceLike,
    args: Any,
    request_id: Any = None,
    respond: Callable[[Any], None] | None = None,
) -> None:
    """Hand ``[event, *args]`` from another server to the namespace's listeners.

    With a ``request_id``, the first call of the listeners' ack goes to ``respond(arg)``
    (later calls are ignored, as in Node).

    Raises:
        RemoteProtocolError: ``args`` is not a non-empty list.
    """
    if not isinstance(args, list) or not args:
        raise RemoteProtocolError("server-side emit without arguments")
    if request_id is None or respond is None:
        nsp.deliver_server_side_emit(args, None)
        return
    called = False

    def callback(arg: Any = None, *_: Any) -> None:
        nonlocal called
        if not called:
            called = True
            respond(arg)

    nsp.deliver_server_side_emit(args, callback)


def make_remote_socket(adapter: Adapter, details: Any) -> SocketLike | None:
    """A ``RemoteSocket`` for one entry of a fetch answer (None if malformed)."""
    normalized = read_details(details)
    if normalized is None:
        return None
    return adapter.nsp.remote_socket(normalized)


def with_remote_sockets(
    adapter: Adapter, local: list[SocketLike], remote: Iterable[Any]
) -> list[SocketLike]:
    """``local`` followed by a ``RemoteSocket`` for each well-formed entry of ``remote``."""
    out = list(local)
    for details in remote:
        remote_socket = make_remote_socket(adapter, details)
        if remote_socket is not None:
            out.append(remote_socket)
    return out


def spawn(coro: Awaitable[Any]) -> None:
    """Run ``coro`` in the background (kept alive until it ends); its failure is logged."""
    events.spawn(coro, "a cluster operation")


def random_uid() -> str:
    """Node's ``randomId()``: 8 random bytes as 16 hex characters."""
    return secrets.token_hex(8)


class PendingRequest:
    """A request to the other servers, waiting for their answers (both cluster adapters)."""

    __slots__ = ("expected", "future", "kind", "missing", "received", "responses", "timer")

    def __init__(self, kind: IntEnum, expected: int | set[str], responses: list[Any]) -> None:
        self.kind = kind
        # either a number of answers, or the uids of the servers that must answer
        self.missing = expected if isinstance(expected, set) else None
        self.expected = len(expected) if isinstance(expected, set) else expected
        self.received = 0
        self.responses = responses
        self.future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self.timer: asyncio.TimerHandle | None = None


def settle(request: PendingRequest, exc: Exception | None) -> None:
    """Stop ``request``'s timer and complete it with its responses, or fail it with ``exc``."""
    if request.timer is not None:
        request.timer.cancel()
    if request.future.done():
        return
    if exc is None:
        request.future.set_result(request.responses)
    else:
        request.future.set_exception(exc)


def track_request(
    requests: dict[str, PendingRequest],
    request_id: str,
    request: PendingRequest,
    timeout: float,
    describe: Callable[[PendingRequest], str],
) -> None:
    """Register ``request`` under ``request_id`` and arm its timeout.

    Unless the answers removed it first, after ``timeout`` seconds it is removed and fails
    with ``AdapterTimeout(describe(request), responses)`` (the answers that did arrive).
    """
    requests[request_id] = request

    def on_timeout() -> None:
        if requests.pop(request_id, None) is not None:
            settle(request, AdapterTimeout(describe(request), request.responses))

    request.timer = asyncio.get_running_loop().call_later(timeout, on_timeout)


class PendingAck:
    """A broadcast with acks: where the other servers' counts and answers go."""

    __slots__ = ("ack", "client_count_callback")

    def __init__(
        self, client_count_callback: Callable[[int], None], ack: Callable[[list[Any]], None]
    ) -> None:
        self.client_count_callback = client_count_callback
        self.ack = ack


def expire_ack_later(
    ack_requests: dict[str, PendingAck], request_id: str, opts: BroadcastOptions
) -> None:
    """Forget ``ack_requests[request_id]`` once the broadcast's timeout (default 5 s) is over."""
    timeout = opts.flags.timeout if opts.flags.timeout is not None else 5.0
    asyncio.get_running_loop().call_later(timeout, ack_requests.pop, request_id, None)


class ClusterAdapter(Adapter):
    """socket.io-adapter's ``ClusterAdapter`` in Python (message types 1-13).

    Subclasses implement :meth:`do_publish` and :meth:`do_publish_response` and feed
    incoming messages to :meth:`on_message` / :meth:`on_response`.

    Args:
        nsp: the namespace.
        requests_timeout: seconds to wait for the other servers' answers (Node: 5000 ms).
    """

    def __init__(self, nsp: NamespaceLike, *, requests_timeout: float = 5.0) -> None:
        super().__init__(nsp)
        self.uid = random_uid()
        self.requests_timeout = requests_timeout
        self._requests: dict[str, PendingRequest] = {}
        self._ack_requests: dict[str, PendingAck] = {}

    # -- transport hooks ----------------------------------------------------------------

    def do_publish(self, message: dict[str, Any]) -> None:
        """Send ``message`` to every server of the cluster (subclasses implement it)."""
        raise NotImplementedError

    def do_publish_response(self, requester_uid: str, response: dict[str, Any]) -> None:
        """Send ``response`` to the server ``requester_uid`` (subclasses implement it)."""
        raise NotImplementedError

    def publish(self, message: dict[str, Any]) -> None:
        """Stamp ``uid``/``nsp`` on ``message`` and publish it."""
        message["uid"] = self.uid
        message["nsp"] = self.nsp.name
        self.do_publish(message)

    def publish_and_then(self, message: dict[str, Any], then: Callable[[str | None], None]) -> None:
        """Publish ``message``, then call ``then(offset)`` to do the local part.

        The hook for transports that order the local part after the message was stored
        (Node's ``publishAndReturnOffset``): here ``then(None)`` is called at once, and a
        subclass may call it later, with the offset the message was stored at.
        """
        self.publish(message)
        then(None)

    def publish_response(self, requester_uid: str, response: dict[str, Any]) -> None:
        """Stamp ``uid``/``nsp`` on ``response`` and send it to ``requester_uid``."""
        response["uid"] = self.uid
        response["nsp"] = self.nsp.name
        self.do_publish_response(requester_uid, response)

    async def close(self) -> None:
        """Fail the pending requests."""
        for request in list(self._requests.values()):
            settle(request, AdapterError("the adapter was closed"))
        self._requests.clear()
        self._ack_requests.clear()

    # -- incoming -----------------------------------------------------------------------

    def on_message(self, message: Any, offset: str | None = None) -> None:
        """Handle a message from another server; malformed ones are logged and skipped.

        ``offset`` is where the transport stored the message, if it stores messages.
        """
        try:
            self._on_message(message, offset)
        except _MALFORMED as exc:
            logger.warning("ignoring a malformed cluster message: %s", exc)

    def _on_message(self, message: Any, offset: str | None = None) -> None:
        if not isinstance(message, dict):
            raise RemoteProtocolError("a cluster message is a map")
        if message.get("uid") == self.uid:
            return
        if message.get("nsp") != self.nsp.name:
            return
        kind = message.get("type")
        data = message.get("data")
        if kind in (
            MessageType.INITIAL_HEARTBEAT,
            MessageType.HEARTBEAT,
            MessageType.ADAPTER_CLOSE,
        ):
            return
        if kind in (
            MessageType.BROADCAST_CLIENT_COUNT,
            MessageType.BROADCAST_ACK,
            MessageType.FETCH_SOCKETS_RESPONSE,
            MessageType.SERVER_SIDE_EMIT_RESPONSE,
        ):
            self._on_response(message)
            return
        if not isinstance(data, dict):
            raise RemoteProtocolError("cluster message without data")
        sender = message.get("uid")
        if kind == MessageType.BROADCAST:
            self._on_broadcast(str(sender), data, offset)
        elif kind == MessageType.SOCKETS_JOIN:
            super().add_sockets(
                options_from_wire(data.get("opts")), decode_rooms(data.get("rooms"))
            )
        elif kind == MessageType.SOCKETS_LEAVE:
            super().del_sockets(
                options_from_wire(data.get("opts")), decode_rooms(data.get("rooms"))
            )
        elif kind == MessageType.DISCONNECT_SOCKETS:
            super().disconnect_sockets(options_from_wire(data.get("opts")), bool(data.get("close")))
        elif kind == MessageType.FETCH_SOCKETS:
            spawn(self._answer_fetch(str(sender), data))
        elif kind == MessageType.SERVER_SIDE_EMIT:
            self._on_server_side_emit(str(sender), data)
        else:
            logger.debug("ignoring cluster message of unknown type %r", kind)

    def _on_broadcast(self, sender: str, data: dict[str, Any], offset: str | None = None) -> None:
        packet = packet_from_wire(data.get("packet"), self.nsp.name)
        opts = options_from_wire(data.get("opts"))
        request_id = data.get("requestId")
        if request_id is None:
            self._broadcast_local(packet, opts, offset)
            return

        def client_count(count: int) -> None:
            self.publish_response(
                sender,
                {
                    "type": MessageType.BROADCAST_CLIENT_COUNT.value,
                    "data": {"requestId": request_id, "clientCount": count},
                },
            )

        def ack(args: list[Any]) -> None:
            arg = args[0] if isinstance(args, list) and args else None
            self.publish_response(
                sender,
                {
                    "type": MessageType.BROADCAST_ACK.value,
                    "data": {"requestId": request_id, "packet": arg},
                },
            )

        super().broadcast_with_ack(packet, opts, client_count, ack)

    async def _answer_fetch(self, sender: str, data: dict[str, Any]) -> None:
        opts = options_from_wire(data.get("opts"))
        local = await Adapter.fetch_sockets(self, opts)
        self.publish_response(
            sender,
            {
                "type": MessageType.FETCH_SOCKETS_RESPONSE.value,
                "data": {
                    "requestId": data.get("requestId"),
                    "sockets": [socket_details(s) for s in local],
                },
            },
        )

    def _on_server_side_emit(self, sender: str, data: dict[str, Any]) -> None:
        request_id = data.get("requestId")

        def respond(arg: Any) -> None:
            self.publish_response(
                sender,
                {
                    "type": MessageType.SERVER_SIDE_EMIT_RESPONSE.value,
                    "data": {"requestId": request_id, "packet": arg},
                },
            )

        deliver_server_side_emit(self.nsp, data.get("packet"), request_id, respond)

    def on_response(self, response: Any) -> None:
        """Handle a response addressed to this server; malformed ones are logged."""
        try:
            self._on_response(response)
        except _MALFORMED as exc:
            logger.warning("ignoring a malformed cluster response: %s", exc)

    def _on_response(self, response: Any) -> None:
        if not isinstance(response, dict) or not isinstance(response.get("data"), dict):
            raise RemoteProtocolError("a cluster response is a map with data")
        data = response["data"]
        request_id = data.get("requestId")
        kind = response.get("type")
        if kind == MessageType.BROADCAST_CLIENT_COUNT:
            pending_ack = self._ack_requests.get(request_id)
            count = data.get("clientCount")
            if pending_ack is not None and isinstance(count, int):
                pending_ack.client_count_callback(count)
            return
        if kind == MessageType.BROADCAST_ACK:
            pending_ack = self._ack_requests.get(request_id)
            if pending_ack is not None:
                pending_ack.ack([data.get("packet")])
            return
        request = self._requests.get(request_id)
        if request is None:
            return
        if kind == MessageType.FETCH_SOCKETS_RESPONSE:
            sockets = data.get("sockets")
            if not isinstance(sockets, list):
                raise RemoteProtocolError("fetch answer without sockets")
            request.responses.extend(sockets)
        elif kind == MessageType.SERVER_SIDE_EMIT_RESPONSE:
            request.responses.append(data.get("packet"))
        else:
            return
        request.received += 1
        if request.missing is not None:
            request.missing.discard(str(response.get("uid")))
            done = not request.missing
        else:
            done = request.received >= request.expected
        if done:
            self._requests.pop(request_id, None)
            settle(request, None)

    # -- requests -----------------------------------------------------------------------

    async def _expected_answers(self) -> int | set[str]:
        """Who must answer a request: a number of servers (here), or their uids."""
        return max(await self.server_count() - 1, 0)

    async def _request(
        self,
        kind: MessageType,
        expected: int | set[str],
        data: Callable[[str], dict[str, Any]],
        responses: list[Any],
        timeout: float | None,
    ) -> list[Any]:
        """Publish ``{type: kind, data: data(request_id)}`` and gather ``expected`` answers."""
        request_id = random_uid()
        message = {"type": kind.value, "data": data(request_id)}
        request = PendingRequest(kind, expected, responses)
        track_request(
            self._requests,
            request_id,
            request,
            timeout or self.requests_timeout,
            lambda r: f"timeout reached: only {r.received} responses received out of {r.expected}",
        )
        try:
            self.publish(message)
        except BaseException:
            self._requests.pop(request_id, None)
            settle(request, None)
            raise
        return await request.future

    # -- outgoing -----------------------------------------------------------------------

    def broadcast(self, packet: Packet, opts: BroadcastOptions) -> None:
        """Broadcast locally and, unless ``local``, to every other server."""
        if opts.flags.local:
            super().broadcast(packet, opts)
            return
        message = {
            "type": MessageType.BROADCAST.value,
            "data": {"packet": packet_to_wire(packet, None), "opts": options_to_wire(opts)},
        }
        self.publish_and_then(message, lambda offset: self._broadcast_local(packet, opts, offset))

    def _broadcast_local(self, packet: Packet, opts: BroadcastOptions, offset: str | None) -> None:
        """The local part of a broadcast; ``offset`` is where the message was stored, if it was."""
        Adapter.broadcast(self, packet, opts)

    def broadcast_with_ack(
        self,
        packet: Packet,
        opts: BroadcastOptions,
        client_count_callback: Callable[[int], None],
        ack: Callable[[list[Any]], None],
    ) -> None:
        """Broadcast with acks across the cluster."""
        if not opts.flags.local:
            request_id = random_uid()
            self._ack_requests[request_id] = PendingAck(client_count_callback, ack)
            self.publish(
                {
                    "type": MessageType.BROADCAST.value,
                    "data": {
                        "packet": packet_to_wire(packet, None),
                        "requestId": request_id,
                        "opts": options_to_wire(opts),
                    },
                }
            )
            expire_ack_later(self._ack_requests, request_id, opts)
        super().broadcast_with_ack(packet, opts, client_count_callback, ack)

    def _publish_opts(
        self,
        kind: MessageType,
        opts: BroadcastOptions,
        local: Callable[[], None],
        **data: Any,
    ) -> None:
        """Publish ``{opts, **data}`` (unless ``local``), then apply ``local()``."""
        if opts.flags.local:
            local()
            return
        message = {"type": kind.value, "data": {"opts": options_to_wire(opts), **data}}
        self.publish_and_then(message, lambda _offset: local())

    def add_sockets(self, opts: BroadcastOptions, rooms: Iterable[str]) -> None:
        """Make the matching sockets of every server join ``rooms``."""
        rooms = list(rooms)
        apply = super().add_sockets
        self._publish_opts(MessageType.SOCKETS_JOIN, opts, lambda: apply(opts, rooms), rooms=rooms)

    def del_sockets(self, opts: BroadcastOptions, rooms: Iterable[str]) -> None:
        """Make the matching sockets of every server leave ``rooms``."""
        rooms = list(rooms)
        apply = super().del_sockets
        self._publish_opts(MessageType.SOCKETS_LEAVE, opts, lambda: apply(opts, rooms), rooms=rooms)

    def disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        """Disconnect the matching sockets of every server."""
        apply = super().disconnect_sockets
        self._publish_opts(
            MessageType.DISCONNECT_SOCKETS, opts, lambda: apply(opts, close), close=close
        )

    async def fetch_sockets(self, opts: BroadcastOptions) -> list[SocketLike]:
        """The matching sockets of every server.

        Raises:
            AdapterError: some server did not answer in time.
        """
        local = await super().fetch_sockets(opts)
        if opts.flags.local:
            return local
        expected = await self._expected_answers()
        if not expected:
            return local
        remote = await self._request(
            MessageType.FETCH_SOCKETS,
            expected,
            lambda request_id: {"opts": options_to_wire(opts), "requestId": request_id},
            [],
            opts.flags.timeout,
        )
        return with_remote_sockets(self, local, remote)

    def server_side_emit(
        self, args: list[Any], ack: ServerSideAck | None = None, timeout: float | None = None
    ) -> None:
        """Send ``[event, *args]`` to the other servers; ``ack(error, responses)`` if given."""
        if ack is None:
            self.publish({"type": MessageType.SERVER_SIDE_EMIT.value, "data": {"packet": args}})
            return
        spawn(self._server_side_emit_with_ack(args, ack, timeout))

    async def _server_side_emit_with_ack(
        self, args: list[Any], ack: ServerSideAck, timeout: float | None
    ) -> None:
        try:
            expected = await self._expected_answers()
        except AdapterError as exc:
            ack(exc, [])
            return
        if not expected:
            ack(None, [])
            return
        responses: list[Any] = []
        try:
            await self._request(
                MessageType.SERVER_SIDE_EMIT,
                expected,
                # Node puts the request id first: {requestId, packet}
                lambda request_id: {"requestId": request_id, "packet": args},
                responses,
                timeout,
            )
        except SocketIOError as exc:  # a timeout, or arguments that cannot be sent
            ack(exc, responses)
            return
        ack(None, responses)


class ClusterAdapterWithHeartbeat(ClusterAdapter):
    """socket.io-adapter's ``ClusterAdapterWithHeartbeat``: the servers know each other.

    For transports that cannot count their subscribers: each server announces itself
    (INITIAL_HEARTBEAT, answered by HEARTBEAT), publishes a HEARTBEAT when it has been
    silent for ``heartbeat_interval`` seconds, and says ADAPTER_CLOSE when it closes. A
    server not heard from for ``heartbeat_timeout`` seconds is forgotten, and the requests
    that waited for it complete without its answer. ``server_count`` is 1 + the servers seen.
    """

    def __init__(
        self,
        nsp: NamespaceLike,
        *,
        heartbeat_interval: float = 5.0,
        heartbeat_timeout: float = 10.0,
        requests_timeout: float = 5.0,
    ) -> None:
        super().__init__(nsp, requests_timeout=requests_timeout)
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_timeout = heartbeat_timeout
        self.nodes: dict[str, float] = {}  # uid -> loop time of its last message
        self._heartbeat: asyncio.TimerHandle | None = None
        self._cleanup: asyncio.TimerHandle | None = None
        self._closed = False

    async def init(self) -> None:
        """Announce this server and start looking for silent ones."""
        self.publish({"type": MessageType.INITIAL_HEARTBEAT.value})
        self._schedule_cleanup()

    async def close(self) -> None:
        """Say goodbye, stop the timers and fail the pending requests."""
        if not self._closed:
            self.publish({"type": MessageType.ADAPTER_CLOSE.value})
        self._closed = True
        for handle in (self._heartbeat, self._cleanup):
            if handle is not None:
                handle.cancel()
        await super().close()

    async def server_count(self) -> int:
        """1 + the servers heard from recently."""
        return 1 + len(self.nodes)

    async def _expected_answers(self) -> int | set[str]:
        return set(self.nodes)

    def publish(self, message: dict[str, Any]) -> None:
        """Publish; any message also counts as this server's heartbeat."""
        self._schedule_heartbeat()
        super().publish(message)

    def _schedule_heartbeat(self) -> None:
        if self._closed:
            return
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        loop = asyncio.get_running_loop()
        self._heartbeat = loop.call_later(self.heartbeat_interval, self._send_heartbeat)

    def _send_heartbeat(self) -> None:
        self._heartbeat = None
        if not self._closed:
            self.publish({"type": MessageType.HEARTBEAT.value})

    def _schedule_cleanup(self) -> None:
        loop = asyncio.get_running_loop()
        self._cleanup = loop.call_later(min(1.0, self.heartbeat_timeout / 2), self._check_nodes)

    def _check_nodes(self) -> None:
        if self._closed:
            return
        now = asyncio.get_running_loop().time()
        for uid, seen in list(self.nodes.items()):
            if now - seen > self.heartbeat_timeout:
                logger.info("server %s seems down", uid)
                self.remove_node(uid)
        self._schedule_cleanup()

    def remove_node(self, uid: str) -> None:
        """Forget ``uid``; the requests that only waited for it complete."""
        self.nodes.pop(uid, None)
        for request_id, request in list(self._requests.items()):
            if request.missing is None:
                continue
            request.missing.discard(uid)
            if not request.missing:
                self._requests.pop(request_id, None)
                settle(request, None)

    def _on_message(self, message: Any, offset: str | None = None) -> None:
        if not isinstance(message, dict):
            raise RemoteProtocolError("a cluster message is a map")
        uid = message.get("uid")
        if uid == self.uid:
            return
        if message.get("nsp") != self.nsp.name:
            return
        if isinstance(uid, str) and uid and uid != EMITTER_UID:
            self.nodes[uid] = asyncio.get_running_loop().time()
        kind = message.get("type")
        if kind == MessageType.INITIAL_HEARTBEAT:
            self.publish({"type": MessageType.HEARTBEAT.value})
        elif kind == MessageType.ADAPTER_CLOSE and isinstance(uid, str):
            self.remove_node(uid)
        elif kind != MessageType.HEARTBEAT:
            super()._on_message(message, offset)

    def _on_response(self, response: Any) -> None:
        uid = response.get("uid") if isinstance(response, dict) else None
        if isinstance(uid, str) and uid and uid != EMITTER_UID:
            self.nodes[uid] = asyncio.get_running_loop().time()
        super()._on_response(response)
