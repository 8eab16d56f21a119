"""socket.io-adapter's ``ClusterAdapter`` protocol (message types 1-13), sans-I/O.

Node's modern adapters (``createShardedAdapter``, the streams adapter...) exchange
messages ``{type, data, uid, nsp}``: ``uid`` is the sending server's 16 hex characters,
``type`` a :class:`~aiosocketio.protocol.cluster.wire.MessageType`. A
:class:`ClusterSession` is one server's side of that conversation for one namespace:

* **Sending.** A method per operation (:meth:`ClusterSession.broadcast`,
  :meth:`ClusterSession.fetch_sockets`...) returns the message to publish to every server,
  stamped with ``uid`` and ``nsp``; a method per answer (:meth:`ClusterSession.fetch_response`...)
  returns ``(requester uid, response)``. The caller encodes and publishes them (how is up
  to its transport). Requests are registered in the session's
  :class:`~aiosocketio.protocol.cluster.requests.RequestTable` with the caller's waiter.
* **Receiving.** :meth:`ClusterSession.receive_message` and
  :meth:`ClusterSession.receive_response` take a decoded message and return
  :mod:`~aiosocketio.protocol.cluster.events`: what to do locally, and which requests
  completed. A message that cannot be used raises
  :class:`~aiosocketio.exceptions.RemoteProtocolError`; nothing else escapes.
* **Time.** Every method that sets a deadline takes ``now`` (the caller's clock). The
  caller arms one timer for :meth:`ClusterSession.next_deadline` and calls
  :meth:`ClusterSession.handle_timer` when it is due.

With a :class:`Heartbeat` (Node's ``ClusterAdapterWithHeartbeat``, for transports that
cannot count their subscribers) the servers know each other: a server announces itself
(INITIAL_HEARTBEAT, answered by HEARTBEAT), publishes a HEARTBEAT when it has been silent
for ``interval`` seconds and says ADAPTER_CLOSE when it closes. A server not heard from for
``timeout`` seconds is forgotten, and the requests that waited for it complete without its
answer. Without one, the caller counts the servers itself (``expected`` answers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aiosocketio.exceptions import RemoteProtocolError
from aiosocketio.protocol.cluster.events import (
    AckReceived,
    BroadcastRequested,
    ClientCountReceived,
    DisconnectRequested,
    Event,
    FetchRequested,
    HeartbeatDue,
    JoinRequested,
    LeaveRequested,
    RequestCompleted,
    RequestTimedOut,
    ServerAnnounced,
    ServerGone,
    ServerSideEmitRequested,
)
from aiosocketio.protocol.cluster.requests import PendingRequest, RequestTable
from aiosocketio.protocol.cluster.shapes import (
    SocketDetails,
    decode_rooms,
    packet_from_wire,
    read_options,
)
from aiosocketio.protocol.cluster.wire import EMITTER_UID, MessageType, random_id

__all__ = ["ClusterSession", "Heartbeat"]

W = TypeVar("W")
H = TypeVar("H")

# tuples, not sets: a junk ``type`` may be unhashable (``in`` compares with ==)
_RESPONSES = (
    MessageType.BROADCAST_CLIENT_COUNT,
    MessageType.BROADCAST_ACK,
    MessageType.FETCH_SOCKETS_RESPONSE,
    MessageType.SERVER_SIDE_EMIT_RESPONSE,
)
_SILENT = (MessageType.INITIAL_HEARTBEAT, MessageType.HEARTBEAT, MessageType.ADAPTER_CLOSE)

# plain ints for the messages (an enum's ``.value`` is a Python-level property)
_ADAPTER_CLOSE = int(MessageType.ADAPTER_CLOSE)
_BROADCAST = int(MessageType.BROADCAST)
_DISCONNECT_SOCKETS = int(MessageType.DISCONNECT_SOCKETS)
_FETCH_SOCKETS = int(MessageType.FETCH_SOCKETS)
_HEARTBEAT = int(MessageType.HEARTBEAT)
_INITIAL_HEARTBEAT = int(MessageType.INITIAL_HEARTBEAT)
_SERVER_SIDE_EMIT = int(MessageType.SERVER_SIDE_EMIT)
_SOCKETS_JOIN = int(MessageType.SOCKETS_JOIN)
_SOCKETS_LEAVE = int(MessageType.SOCKETS_LEAVE)

DEFAULT_ACK_TIMEOUT = 5.0
"""Seconds a broadcast with acks waits for other servers' acks when it has no timeout."""


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """The heartbeat settings of Node's ``ClusterAdapterWithHeartbeat`` (seconds)."""

    interval: float = 5.0
    timeout: float = 10.0

    @property
    def check_every(self) -> float:
        """How often silent servers are looked for."""
        return min(1.0, self.timeout / 2)


class ClusterSession(Generic[W, H]):
    """One server's side of the cluster protocol, for one namespace.

    Args:
        nsp: the namespace name.
        requests_timeout: seconds to wait for the other servers' answers (Node: 5000 ms).
        heartbeat: the heartbeat settings, or None when the transport counts the servers.
        uid: this server's id (default: 16 random hex characters, as Node's).
        new_id: makes request ids (default: 16 random hex characters).

    Attributes:
        uid: this server's id.
        nsp: the namespace name.
        requests: the pending requests and broadcasts with acks.
        nodes: with a heartbeat, the other servers heard from, by uid: when, last.
    """

    def __init__(
        self,
        nsp: str,
        *,
        requests_timeout: float = 5.0,
        heartbeat: Heartbeat | None = None,
        uid: str | None = None,
        new_id: Callable[[], str] = random_id,
    ) -> None:
        self.nsp = nsp
        self.uid = uid if uid is not None else random_id()
        self.requests_timeout = requests_timeout
        self.heartbeat = heartbeat
        self.requests: RequestTable[W, H] = RequestTable()
        self.nodes: dict[str, float] = {}
        self.closed = False
        self._new_id = new_id
        self._heartbeat_at: float | None = None
        self._check_at: float | None = None

    # -- sending ---------------------------------------------------------------------------

    def _stamp(self, message: dict[str, Any], now: float) -> dict[str, Any]:
        """``uid`` and ``nsp`` on a message to every server; it is also a heartbeat."""
        message["uid"] = self.uid
        message["nsp"] = self.nsp
        if self.heartbeat is not None and not self.closed:
            self._heartbeat_at = now + self.heartbeat.interval
        return message

    def start(self, now: float) -> dict[str, Any] | None:
        """With a heartbeat: the INITIAL_HEARTBEAT to publish; the search for silent servers
        starts."""
        if self.heartbeat is None:
            return None
        self._check_at = now + self.heartbeat.check_every
        return self._stamp({"type": _INITIAL_HEARTBEAT}, now)

    def heartbeat_message(self, now: float) -> dict[str, Any]:
        """A HEARTBEAT (after :class:`HeartbeatDue` or :class:`ServerAnnounced`)."""
        return self._stamp({"type": _HEARTBEAT}, now)

    def broadcast(self, packet: dict[str, Any], opts: dict[str, Any], now: float) -> dict[str, Any]:
        """BROADCAST ``{packet, opts}`` (see :mod:`~aiosocketio.protocol.cluster.shapes`)."""
        data = {"packet": packet, "opts": opts}
        return self._stamp({"type": _BROADCAST, "data": data}, now)

    def broadcast_with_ack(
        self,
        packet: dict[str, Any],
        opts: dict[str, Any],
        handle: H,
        now: float,
        timeout: float | None,
    ) -> dict[str, Any]:
        """BROADCAST with a request id; the counts and acks go to ``handle`` until
        ``timeout`` (default :data:`DEFAULT_ACK_TIMEOUT`) seconds have passed."""
        request_id = self._new_id()
        wait = timeout if timeout is not None else DEFAULT_ACK_TIMEOUT
        self.requests.expect_acks(request_id, handle, now + wait)
        data = {"packet": packet, "requestId": request_id, "opts": opts}
        return self._stamp({"type": _BROADCAST, "data": data}, now)

    def sockets_join(self, opts: dict[str, Any], rooms: list[str], now: float) -> dict[str, Any]:
        """SOCKETS_JOIN ``{opts, rooms}``."""
        data = {"opts": opts, "rooms": rooms}
        return self._stamp({"type": _SOCKETS_JOIN, "data": data}, now)

    def sockets_leave(self, opts: dict[str, Any], rooms: list[str], now: float) -> dict[str, Any]:
        """SOCKETS_LEAVE ``{opts, rooms}``."""
        data = {"opts": opts, "rooms": rooms}
        return self._stamp({"type": _SOCKETS_LEAVE, "data": data}, now)

    def disconnect_sockets(self, opts: dict[str, Any], close: bool, now: float) -> dict[str, Any]:
        """DISCONNECT_SOCKETS ``{opts, close}``."""
        data = {"opts": opts, "close": close}
        return self._stamp({"type": _DISCONNECT_SOCKETS, "data": data}, now)

    def server_side_emit(self, args: list[Any], now: float) -> dict[str, Any]:
        """SERVER_SIDE_EMIT ``{packet}`` (no answer wanted)."""
        data = {"packet": args}
        return self._stamp({"type": _SERVER_SIDE_EMIT, "data": data}, now)

    def fetch_sockets(
        self,
        opts: dict[str, Any],
        expected: int | set[str],
        waiter: W,
        now: float,
        timeout: float | None = None,
    ) -> tuple[PendingRequest[W], dict[str, Any]]:
        """FETCH_SOCKETS, waiting for ``expected`` answers (a count, or the servers' uids).

        After this, publish the message (or :meth:`RequestTable.cancel` the request).
        """
        request_id = self._new_id()
        request = self._start(request_id, MessageType.FETCH_SOCKETS, expected, waiter, now, timeout)
        data = {"opts": opts, "requestId": request_id}
        return request, self._stamp({"type": _FETCH_SOCKETS, "data": data}, now)

    def server_side_emit_with_ack(
        self,
        args: list[Any],
        expected: int | set[str],
        waiter: W,
        now: float,
        timeout: float | None = None,
    ) -> tuple[PendingRequest[W], dict[str, Any]]:
        """SERVER_SIDE_EMIT ``{requestId, packet}``, waiting for ``expected`` answers."""
        request_id = self._new_id()
        kind = MessageType.SERVER_SIDE_EMIT
        request = self._start(request_id, kind, expected, waiter, now, timeout)
        data = {"requestId": request_id, "packet": args}  # Node puts the request id first
        return request, self._stamp({"type": int(kind), "data": data}, now)

    def _start(
        self,
        request_id: str,
        kind: MessageType,
        expected: int | set[str],
        waiter: W,
        now: float,
        timeout: float | None,
    ) -> PendingRequest[W]:
        deadline = now + (timeout or self.requests_timeout)
        return self.requests.start(request_id, kind, expected, waiter, deadline)

    def goodbye(self) -> dict[str, Any] | None:
        """With a heartbeat: the ADAPTER_CLOSE to publish before :meth:`close` (once)."""
        if self.heartbeat is None or self.closed:
            return None
        return {"type": _ADAPTER_CLOSE, "uid": self.uid, "nsp": self.nsp}

    def close(self) -> list[PendingRequest[W]]:
        """Stop the timers; the pending requests, out of the table (the caller fails them)."""
        self.closed = True
        self._heartbeat_at = self._check_at = None
        return self.requests.take_all()

    # -- answering -------------------------------------------------------------------------

    def _response(
        self, requester: str, kind: MessageType, data: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        return requester, {"type": int(kind), "data": data, "uid": self.uid, "nsp": self.nsp}

    def fetch_response(
        self, requester: str, request_id: Any, sockets: list[SocketDetails]
    ) -> tuple[str, dict[str, Any]]:
        """FETCH_SOCKETS_RESPONSE for ``requester``: the details of the local sockets."""
        data = {"requestId": request_id, "sockets": sockets}
        return self._response(requester, MessageType.FETCH_SOCKETS_RESPONSE, data)

    def server_side_emit_response(
        self, requester: str, request_id: Any, arg: Any
    ) -> tuple[str, dict[str, Any]]:
        """SERVER_SIDE_EMIT_RESPONSE for ``requester``: the listeners' first answer."""
        data = {"requestId": request_id, "packet": arg}
        return self._response(requester, MessageType.SERVER_SIDE_EMIT_RESPONSE, data)

    def client_count_response(
        self, requester: str, request_id: Any, count: int
    ) -> tuple[str, dict[str, Any]]:
        """BROADCAST_CLIENT_COUNT for ``requester``: the recipients of its broadcast here."""
        data = {"requestId": request_id, "clientCount": count}
        return self._response(requester, MessageType.BROADCAST_CLIENT_COUNT, data)

    def ack_response(self, requester: str, request_id: Any, arg: Any) -> tuple[str, dict[str, Any]]:
        """BROADCAST_ACK for ``requester``: one local client's acknowledgement."""
        data = {"requestId": request_id, "packet": arg}
        return self._response(requester, MessageType.BROADCAST_ACK, data)

    # -- receiving -------------------------------------------------------------------------

    def _seen(self, uid: Any, now: float) -> None:
        if self.heartbeat is not None and isinstance(uid, str) and uid and uid != EMITTER_UID:
            self.nodes[uid] = now

    def expected_servers(self) -> set[str] | None:
        """With a heartbeat, the servers a request waits for; None: count them."""
        return set(self.nodes) if self.heartbeat is not None else None

    def receive_message(self, message: Any, now: float, offset: str | None = None) -> list[Event]:
        """Take a message published to every server (decoded); return what to do.

        ``offset`` is where the transport stored the message, if it stores messages.

        Raises:
            RemoteProtocolError: the message cannot be used (log it and go on).
        """
        if not isinstance(message, dict):
            raise RemoteProtocolError("a cluster message is a map")
        uid = message.get("uid")
        if uid == self.uid or message.get("nsp") != self.nsp:
            return []
        kind = message.get("type")
        if self.heartbeat is not None:
            self._seen(uid, now)
            if kind == MessageType.INITIAL_HEARTBEAT:
                return [ServerAnnounced(str(uid))]
            if kind == MessageType.ADAPTER_CLOSE:
                return self.forget_server(uid, silent=False) if isinstance(uid, str) else []
        if kind in _SILENT:
            return []
        if kind in _RESPONSES:
            return self._answer(message)
        data = message.get("data")
        if not isinstance(data, dict):
            raise RemoteProtocolError("cluster message without data")
        sender = str(uid)
        if kind == MessageType.BROADCAST:
            ptype, args = packet_from_wire(data.get("packet"))
            opts = read_options(data.get("opts"))
            return [BroadcastRequested(ptype, args, opts, sender, data.get("requestId"), offset)]
        if kind == MessageType.SOCKETS_JOIN:
            return [JoinRequested(read_options(data.get("opts")), decode_rooms(data.get("rooms")))]
        if kind == MessageType.SOCKETS_LEAVE:
            return [LeaveRequested(read_options(data.get("opts")), decode_rooms(data.get("rooms")))]
        if kind == MessageType.DISCONNECT_SOCKETS:
            return [DisconnectRequested(read_options(data.get("opts")), bool(data.get("close")))]
        if kind == MessageType.FETCH_SOCKETS:
            return [FetchRequested(read_options(data.get("opts")), sender, data.get("requestId"))]
        if kind == MessageType.SERVER_SIDE_EMIT:
            emitted = data.get("packet")
            if not isinstance(emitted, list) or not emitted:
                raise RemoteProtocolError("server-side emit without arguments")
            return [ServerSideEmitRequested(emitted, sender, data.get("requestId"))]
        return []  # a type this version does not know

    def receive_response(self, response: Any, now: float) -> list[Event]:
        """Take a response addressed to this server (decoded); return what it completes.

        Raises:
            RemoteProtocolError: the response cannot be used (log it and go on).
        """
        if isinstance(response, dict):
            self._seen(response.get("uid"), now)
        return self._answer(response)

    def _answer(self, response: Any) -> list[Event]:
        if not isinstance(response, dict) or not isinstance(response.get("data"), dict):
            raise RemoteProtocolError("a cluster response is a map with data")
        data = response["data"]
        request_id = data.get("requestId")
        kind = response.get("type")
        if kind == MessageType.BROADCAST_CLIENT_COUNT:
            handle = self.requests.ack_handle(request_id)
            count = data.get("clientCount")
            if handle is not None and isinstance(count, int):
                return [ClientCountReceived(handle, count)]
            return []
        if kind == MessageType.BROADCAST_ACK:
            handle = self.requests.ack_handle(request_id)
            return [] if handle is None else [AckReceived(handle, data.get("packet"))]
        request = self.requests.get(request_id)
        if request is None:
            return []
        items: list[Any]
        if kind == MessageType.FETCH_SOCKETS_RESPONSE:
            sockets = data.get("sockets")
            if not isinstance(sockets, list):
                raise RemoteProtocolError("fetch answer without sockets")
            items = sockets
        elif kind == MessageType.SERVER_SIDE_EMIT_RESPONSE:
            items = [data.get("packet")]
        else:
            return []
        done = self.requests.answer(request, response.get("uid"), items)
        return [] if done is None else [RequestCompleted(done)]

    def forget_server(self, uid: str, *, silent: bool = False) -> list[Event]:
        """``uid`` no longer counts: it closed, or (``silent``) was not heard from in time."""
        self.nodes.pop(uid, None)
        events: list[Event] = [ServerGone(uid, silent)]
        events.extend(RequestCompleted(request) for request in self.requests.forget_server(uid))
        return events

    # -- time ------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timer` has something to do (None: nothing is waiting)."""
        deadlines = [
            d
            for d in (self.requests.next_deadline(), self._heartbeat_at, self._check_at)
            if d is not None
        ]
        return min(deadlines) if deadlines else None

    def handle_timer(self, now: float) -> list[Event]:
        """Time out requests, say a heartbeat is due, forget the silent servers."""
        events: list[Event] = [
            RequestTimedOut(request, _timeout_message(request))
            for request in self.requests.expire(now)
        ]
        heartbeat = self.heartbeat
        if heartbeat is None or self.closed:
            return events
        if self._heartbeat_at is not None and now >= self._heartbeat_at:
            self._heartbeat_at = None
            events.append(HeartbeatDue())
        if self._check_at is not None and now >= self._check_at:
            for uid, seen in list(self.nodes.items()):
                if now - seen > heartbeat.timeout:
                    events.extend(self.forget_server(uid, silent=True))
            self._check_at = now + heartbeat.check_every
        return events


def _timeout_message(request: PendingRequest[Any]) -> str:
    return f"timeout reached: only {request.received} responses received out of {request.expected}"
