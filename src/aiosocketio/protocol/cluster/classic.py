"""The classic @socket.io/redis-adapter 8.3 protocol (PUBLISH/PSUBSCRIBE, types 0-9), sans-I/O.

Channels, for a namespace ``nsp`` (with its leading ``/``) and ``key`` (default
``"socket.io"``):

* ``<key>#<nsp>#`` and ``<key>#<nsp>#<room>#``: broadcasts, msgpack
  ``[uid, {type, data, nsp}, {rooms, except, flags}]``, received through the pattern
  ``<key>#<nsp>#*``. The room suffix is used when exactly one room is targeted; a server
  that does not have the room skips the message unread.
* ``<key>-request#<nsp>#``: requests (:class:`~aiosocketio.protocol.cluster.wire.RequestType`),
  JSON; a broadcast with acks is msgpack (its packet may carry binary).
* ``<key>-response#<nsp>#`` and ``<key>-response#<nsp>#<uid>#``: responses, JSON; an
  acknowledgement is msgpack.

A :class:`ClassicSession` is one server's side for one namespace. Its sending methods
return ``(channel, bytes)`` to publish, registering the requests they start with the
caller's waiter (until ``now + timeout``); :meth:`ClassicSession.receive` turns what
arrives on a channel into :mod:`~aiosocketio.protocol.cluster.events` and raises only
:class:`~aiosocketio.exceptions.RemoteProtocolError`. The caller arms one timer for
:meth:`ClassicSession.next_deadline` and calls :meth:`ClassicSession.handle_timer`.
"""

from __future__ import annotations

from collections.abc import Callable, Container
from typing import Any, Generic, TypeVar

from aiosocketio.exceptions import RemoteProtocolError
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
from aiosocketio.protocol.cluster.requests import PendingRequest, RequestTable
from aiosocketio.protocol.cluster.session import DEFAULT_ACK_TIMEOUT
from aiosocketio.protocol.cluster.shapes import (
    SocketDetails,
    decode_rooms,
    packet_from_wire,
    read_options,
)
from aiosocketio.protocol.cluster.wire import (
    RequestType,
    decode_message,
    dumps_json,
    pack,
    uid2,
    unpack,
)

__all__ = ["ClassicSession"]

W = TypeVar("W")
H = TypeVar("H")

Outgoing = tuple[str, bytes]
"""A message to publish: ``(channel, bytes)``."""

# plain ints for the messages (an enum's ``.value`` is a Python-level property)
_BROADCAST = int(RequestType.BROADCAST)
_BROADCAST_ACK = int(RequestType.BROADCAST_ACK)
_BROADCAST_CLIENT_COUNT = int(RequestType.BROADCAST_CLIENT_COUNT)
_SERVER_SIDE_EMIT = int(RequestType.SERVER_SIDE_EMIT)

# a tuple, not a set: a junk ``type`` may be unhashable (``in`` compares with ==)
_PER_ROOM = (RequestType.REMOTE_JOIN, RequestType.REMOTE_LEAVE, RequestType.REMOTE_DISCONNECT)


class ClassicSession(Generic[W, H]):
    """One server's side of the classic Redis adapter protocol, for one namespace.

    Args:
        nsp: the namespace name.
        key: the channel prefix (Node's ``key``).
        requests_timeout: seconds to wait for the other servers' answers (Node: 5000 ms).
        publish_on_specific_response_channel: answer on ``<key>-response#<nsp>#<uid>#``
            instead of the shared response channel.
        uid: this server's id (default: 6 random characters, as Node's ``uid2(6)``).
        new_id: makes request ids (default: ``uid2(6)``).

    Attributes:
        uid: this server's id.
        channel: the broadcast channel prefix ``<key>#<nsp>#``.
        request_channel: ``<key>-request#<nsp>#``.
        response_channel: ``<key>-response#<nsp>#``.
        specific_response_channel: ``<key>-response#<nsp>#<uid>#``.
        requests: the pending requests and broadcasts with acks.
    """

    def __init__(
        self,
        nsp: str,
        *,
        key: str = "socket.io",
        requests_timeout: float = 5.0,
        publish_on_specific_response_channel: bool = False,
        uid: str | None = None,
        new_id: Callable[[], str] = uid2,
    ) -> None:
        self.nsp = nsp
        self.uid = uid if uid is not None else uid2(6)
        self.requests_timeout = requests_timeout
        self.publish_on_specific_response_channel = publish_on_specific_response_channel
        self.channel = f"{key}#{nsp}#"
        self.request_channel = f"{key}-request#{nsp}#"
        self.response_channel = f"{key}-response#{nsp}#"
        self.specific_response_channel = f"{self.response_channel}{self.uid}#"
        self.requests: RequestTable[W, H] = RequestTable()
        self._new_id = new_id
        # a broadcast we published starts with these bytes: [uid, ... as a fixarray of 3
        self._own_prefix = pack([self.uid, None, None])[:-2]

    @property
    def channels(self) -> list[str]:
        """The channels to subscribe to."""
        return [self.request_channel, self.response_channel, self.specific_response_channel]

    @property
    def patterns(self) -> list[str]:
        """The patterns to subscribe to (every broadcast channel of the namespace)."""
        return [self.channel + "*"]

    # -- sending ---------------------------------------------------------------------------

    def broadcast(self, packet: dict[str, Any], opts: dict[str, Any]) -> Outgoing:
        """A broadcast: on the room's channel when ``opts`` targets exactly one room."""
        channel = self.channel
        rooms = opts["rooms"]
        if len(rooms) == 1:
            channel += rooms[0] + "#"
        return channel, pack([self.uid, packet, opts])

    def broadcast_with_ack(
        self,
        packet: dict[str, Any],
        opts: dict[str, Any],
        handle: H,
        now: float,
        timeout: float | None,
    ) -> Outgoing:
        """A BROADCAST request; the counts and acks go to ``handle`` until ``timeout``
        (default 5) seconds have passed."""
        request_id = self._new_id()
        body = {
            "uid": self.uid,
            "requestId": request_id,
            "type": _BROADCAST,
            "packet": packet,
            "opts": opts,
        }
        wait = timeout if timeout is not None else DEFAULT_ACK_TIMEOUT
        self.requests.expect_acks(request_id, handle, now + wait)
        return self.request_channel, pack(body)

    def _request(
        self,
        kind: RequestType,
        expected: int,
        body: dict[str, Any],
        waiter: W,
        now: float,
        timeout: float | None,
        what: str,
    ) -> tuple[PendingRequest[W], str, bytes]:
        request_id = self._new_id()
        # encoded first: a payload that cannot be sent fails here, before anything waits
        data = dumps_json({"uid": self.uid, "requestId": request_id, **body})
        deadline = now + (timeout or self.requests_timeout)
        request = self.requests.start(request_id, kind, expected, waiter, deadline, what)
        return request, self.request_channel, data

    def fetch_sockets(
        self,
        rooms: list[str],
        except_: list[str],
        expected: int,
        waiter: W,
        now: float,
        timeout: float | None = None,
    ) -> tuple[PendingRequest[W], str, bytes]:
        """REMOTE_FETCH, waiting for ``expected`` answers.

        Raises:
            LocalProtocolError: the request cannot be encoded (nothing is registered).
        """
        kind = RequestType.REMOTE_FETCH
        body = {"type": int(kind), "opts": {"rooms": rooms, "except": except_}}
        return self._request(kind, expected, body, waiter, now, timeout, "fetchSockets")

    def all_rooms(
        self, expected: int, waiter: W, now: float
    ) -> tuple[PendingRequest[W], str, bytes]:
        """ALL_ROOMS, waiting for ``expected`` answers."""
        kind = RequestType.ALL_ROOMS
        return self._request(kind, expected, {"type": int(kind)}, waiter, now, None, "allRooms")

    def server_side_emit(self, args: list[Any]) -> Outgoing:
        """SERVER_SIDE_EMIT without an ack.

        Raises:
            LocalProtocolError: ``args`` cannot be encoded as JSON.
        """
        body = {"uid": self.uid, "type": _SERVER_SIDE_EMIT, "data": args}
        return self.request_channel, dumps_json(body)

    def server_side_emit_with_ack(
        self,
        args: list[Any],
        expected: int,
        waiter: W,
        now: float,
        timeout: float | None = None,
    ) -> tuple[PendingRequest[W], str, bytes]:
        """SERVER_SIDE_EMIT, waiting for ``expected`` answers.

        Raises:
            LocalProtocolError: ``args`` cannot be encoded (nothing is registered).
        """
        kind = RequestType.SERVER_SIDE_EMIT
        body = {"type": int(kind), "data": args}
        return self._request(kind, expected, body, waiter, now, timeout, "serverSideEmit")

    def rooms_request(
        self, kind: RequestType, targets: list[str], excluded: list[str], **extra: Any
    ) -> Outgoing:
        """REMOTE_JOIN / REMOTE_LEAVE (``rooms=``) or REMOTE_DISCONNECT (``close=``) for the
        sockets in ``targets`` (all if empty) and not in ``excluded``."""
        body = {
            "uid": self.uid,
            "type": int(kind),
            "opts": {"rooms": targets, "except": excluded},
            **extra,
        }
        return self.request_channel, dumps_json(body)

    # -- answering -------------------------------------------------------------------------

    def _answer_channel(self, requester: Any) -> str:
        if self.publish_on_specific_response_channel:
            return f"{self.response_channel}{requester}#"
        return self.response_channel

    def sockets_response(self, requester: Any, request_id: Any, sids: list[str]) -> Outgoing:
        """The answer to SOCKETS: the ids of the local sockets."""
        body = {"requestId": request_id, "sockets": sids}
        return self._answer_channel(requester), dumps_json(body)

    def all_rooms_response(self, requester: Any, request_id: Any, rooms: list[str]) -> Outgoing:
        """The answer to ALL_ROOMS: the local rooms."""
        body = {"requestId": request_id, "rooms": rooms}
        return self._answer_channel(requester), dumps_json(body)

    def done_response(self, requester: Any, request_id: Any) -> Outgoing:
        """The bare answer to a per-socket REMOTE_JOIN, REMOTE_LEAVE or REMOTE_DISCONNECT."""
        return self._answer_channel(requester), dumps_json({"requestId": request_id})

    def fetch_response(
        self, requester: Any, request_id: Any, sockets: list[SocketDetails]
    ) -> Outgoing:
        """The answer to REMOTE_FETCH: the details of the local sockets.

        Like Node's ``JSON.stringify``, a ``bytes`` in ``socket.data`` becomes
        ``{"type": "Buffer", "data": [...]}``.

        Raises:
            LocalProtocolError: the details cannot be encoded.
        """
        body = {"requestId": request_id, "sockets": sockets}
        return self._answer_channel(requester), dumps_json(body, buffers=True)

    def server_side_emit_response(self, request_id: Any, arg: Any) -> Outgoing:
        """The answer to SERVER_SIDE_EMIT (Node always answers on the shared channel).

        Raises:
            LocalProtocolError: ``arg`` cannot be encoded as JSON.
        """
        body = {"type": _SERVER_SIDE_EMIT, "requestId": request_id, "data": arg}
        return self.response_channel, dumps_json(body)

    def client_count_response(self, requester: Any, request_id: Any, count: int) -> Outgoing:
        """BROADCAST_CLIENT_COUNT: the recipients of the requester's broadcast here."""
        body = {
            "type": _BROADCAST_CLIENT_COUNT,
            "requestId": request_id,
            "clientCount": count,
        }
        return self._answer_channel(requester), dumps_json(body)

    def ack_response(self, requester: Any, request_id: Any, arg: Any) -> Outgoing:
        """BROADCAST_ACK (msgpack): one local client's acknowledgement."""
        body = {"type": _BROADCAST_ACK, "requestId": request_id, "packet": arg}
        return self._answer_channel(requester), pack(body)

    # -- receiving -------------------------------------------------------------------------

    def receive(self, channel: str, data: bytes, rooms: Container[str]) -> list[Event]:
        """Take a message that arrived on ``channel``; return what to do.

        ``rooms`` are the local rooms: a broadcast to a room this server does not have is
        skipped unread.

        Raises:
            RemoteProtocolError: the message cannot be used (log it and go on).
        """
        if channel.startswith(self.response_channel):
            return self._receive_response(data)
        if channel == self.request_channel:
            return self._receive_request(data)
        if channel.startswith(self.channel):
            return self._receive_broadcast(channel, data, rooms)
        return []

    def _receive_broadcast(self, channel: str, data: bytes, rooms: Container[str]) -> list[Event]:
        room = channel[len(self.channel) : -1]
        if room and room not in rooms:
            return []
        if data.startswith(self._own_prefix):
            return []  # our own broadcast, back through the pattern subscription
        message = unpack(data)
        if not isinstance(message, list) or len(message) < 3:
            raise RemoteProtocolError("a broadcast is [uid, packet, opts]")
        uid, raw_packet, raw_opts = message[0], message[1], message[2]
        if uid == self.uid:
            return []
        if not isinstance(raw_packet, dict):
            raise RemoteProtocolError("packet is not a map")
        if raw_packet.get("nsp", "/") != self.nsp:
            return []
        kind, args = packet_from_wire(raw_packet)
        return [BroadcastRequested(kind, args, read_options(raw_opts), uid)]

    def _receive_request(self, data: bytes) -> list[Event]:
        request = decode_message(data)
        if not isinstance(request, dict):
            raise RemoteProtocolError("a request is a map")
        kind = request.get("type")
        request_id = request.get("requestId")
        requester = request.get("uid")
        mine = self.requests.get(request_id) is not None
        if kind == RequestType.SOCKETS:
            if mine:
                return []
            return [SocketsRequested(decode_rooms(request.get("rooms")), requester, request_id)]
        if kind == RequestType.ALL_ROOMS:
            return [] if mine else [AllRoomsRequested(requester, request_id)]
        if kind in _PER_ROOM:
            if requester == self.uid:
                return []  # applied locally when it was sent
            return [self._rooms_request(kind, request)]
        if kind == RequestType.REMOTE_FETCH:
            if mine:
                return []
            return [FetchRequested(read_options(request.get("opts")), requester, request_id)]
        if kind == RequestType.SERVER_SIDE_EMIT:
            if requester == self.uid:
                return []
            args = request.get("data")
            if not isinstance(args, list) or not args:
                raise RemoteProtocolError("server-side emit without arguments")
            return [ServerSideEmitRequested(args, requester, request_id)]
        if kind == RequestType.BROADCAST:
            if self.requests.ack_handle(request_id) is not None:
                return []
            ptype, args = packet_from_wire(request.get("packet"))
            opts = read_options(request.get("opts"))
            opts["flags"] = {}  # the local part of a broadcast with acks has no flags
            return [BroadcastRequested(ptype, args, opts, requester, request_id)]
        return []  # a type this version does not know

    def _rooms_request(self, kind: int, request: dict[str, Any]) -> Event:
        raw_opts = request.get("opts")
        if raw_opts is not None:
            opts = read_options(raw_opts)
            if kind == RequestType.REMOTE_JOIN:
                return JoinRequested(opts, decode_rooms(request.get("rooms")))
            if kind == RequestType.REMOTE_LEAVE:
                return LeaveRequested(opts, decode_rooms(request.get("rooms")))
            return DisconnectRequested(opts, bool(request.get("close")))
        # the older per-socket form: {sid, room | close, requestId}
        return SocketRoomRequested(
            kind,
            request.get("sid"),
            str(request.get("room")),
            bool(request.get("close")),
            request.get("uid"),
            request.get("requestId"),
        )

    def _receive_response(self, data: bytes) -> list[Event]:
        response = decode_message(data)
        if not isinstance(response, dict):
            raise RemoteProtocolError("a response is a map")
        request_id = response.get("requestId")
        if not isinstance(request_id, str):
            return []
        handle = self.requests.ack_handle(request_id)
        if handle is not None:
            kind = response.get("type")
            if kind == RequestType.BROADCAST_CLIENT_COUNT:
                count = response.get("clientCount")
                if isinstance(count, int):
                    return [ClientCountReceived(handle, count)]
            elif kind == RequestType.BROADCAST_ACK:
                return [AckReceived(handle, response.get("packet"))]
            return []
        request = self.requests.get(request_id)
        if request is None:
            return []
        if request.kind == RequestType.SERVER_SIDE_EMIT:
            items = [response.get("data")]
        else:
            found = response.get("rooms" if request.kind == RequestType.ALL_ROOMS else "sockets")
            if not isinstance(found, list):
                return []
            items = found
        done = self.requests.answer(request, None, items)
        return [] if done is None else [RequestCompleted(done)]

    # -- time and closing ------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timer` has something to do (None: nothing is waiting)."""
        return self.requests.next_deadline()

    def handle_timer(self, now: float) -> list[Event]:
        """Time out the requests whose deadline passed."""
        return [
            RequestTimedOut(request, _timeout_message(request))
            for request in self.requests.expire(now)
        ]

    def close(self) -> list[PendingRequest[W]]:
        """The pending requests, out of the table (the caller fails them)."""
        return self.requests.take_all()


def _timeout_message(request: PendingRequest[Any]) -> str:
    return (
        f"timeout reached while waiting for {request.what} response "
        f"({request.received} of {request.expected} servers answered)"
    )
