"""What a cluster session reports: the events its adapter acts on (sans-I/O).

:class:`~aiosocketio.protocol.cluster.session.ClusterSession` and
:class:`~aiosocketio.protocol.cluster.classic.ClassicSession` turn the other servers'
messages, and the passing of time, into these events. The adapter (the I/O pump) applies
the ``*Requested`` ones to its local sockets, answers the requests, and completes or fails
the waiters of its own requests.

The events are slotted dataclasses that nobody mutates, but not ``frozen``: an incoming
broadcast makes one, and a frozen dataclass costs four times as much to build (its fields
are set through ``object.__setattr__``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aiosocketio.protocol.cluster.requests import PendingRequest
from aiosocketio.protocol.cluster.shapes import WireOptions

__all__ = [
    "AckReceived",
    "AllRoomsRequested",
    "BroadcastRequested",
    "ClientCountReceived",
    "DisconnectRequested",
    "Event",
    "FetchRequested",
    "HeartbeatDue",
    "JoinRequested",
    "LeaveRequested",
    "RequestCompleted",
    "RequestTimedOut",
    "ServerAnnounced",
    "ServerGone",
    "ServerSideEmitRequested",
    "SocketRoomRequested",
    "SocketsRequested",
]

W = TypeVar("W")
H = TypeVar("H")


# -- what another server asks of this one ----------------------------------------------------


@dataclass(slots=True)
class BroadcastRequested:
    """Broadcast a packet to the local sockets that ``opts`` targets.

    With a ``request_id``, the sender wants this server's client count and each client's
    acknowledgement back. ``offset`` is where the transport stored the message, if it does.
    """

    kind: int
    data: list[Any]
    opts: WireOptions
    sender: Any
    request_id: Any = None
    offset: str | None = None


@dataclass(slots=True)
class JoinRequested:
    """Make the local sockets that ``opts`` targets join ``rooms``."""

    opts: WireOptions
    rooms: set[str]


@dataclass(slots=True)
class LeaveRequested:
    """Make the local sockets that ``opts`` targets leave ``rooms``."""

    opts: WireOptions
    rooms: set[str]


@dataclass(slots=True)
class DisconnectRequested:
    """Disconnect the local sockets that ``opts`` targets (and close them if ``close``)."""

    opts: WireOptions
    close: bool


@dataclass(slots=True)
class SocketRoomRequested:
    """The classic adapter's older per-socket form: one socket joins, leaves or disconnects.

    ``action`` is the request type (REMOTE_JOIN, REMOTE_LEAVE, REMOTE_DISCONNECT); ``room``
    is set for the first two, ``close`` for the last. The sender wants a bare answer.
    """

    action: int
    sid: Any
    room: str
    close: bool
    requester: Any
    request_id: Any


@dataclass(slots=True)
class FetchRequested:
    """Answer with the details of the local sockets that ``opts`` targets."""

    opts: WireOptions
    requester: Any
    request_id: Any


@dataclass(slots=True)
class SocketsRequested:
    """Answer with the ids of the local sockets in any of ``rooms`` (classic type 0)."""

    rooms: set[str]
    requester: Any
    request_id: Any


@dataclass(slots=True)
class AllRoomsRequested:
    """Answer with the local rooms (classic type 1)."""

    requester: Any
    request_id: Any


@dataclass(slots=True)
class ServerSideEmitRequested:
    """Hand ``[event, *args]`` to the namespace's listeners; answer once if ``request_id``."""

    args: list[Any]
    requester: Any
    request_id: Any = None


# -- answers to this server's requests ---------------------------------------------------------


@dataclass(slots=True)
class RequestCompleted(Generic[W]):
    """Every expected answer to ``request`` arrived: its waiter gets ``request.responses``."""

    request: PendingRequest[W]


@dataclass(slots=True)
class RequestTimedOut(Generic[W]):
    """``request`` timed out: its waiter fails (``request.responses`` holds what arrived)."""

    request: PendingRequest[W]
    message: str


@dataclass(slots=True)
class ClientCountReceived(Generic[H]):
    """Another server counted ``count`` recipients of this server's broadcast ``handle``."""

    handle: H
    count: int


@dataclass(slots=True)
class AckReceived(Generic[H]):
    """A client of another server acknowledged this server's broadcast ``handle``."""

    handle: H
    arg: Any


# -- the servers of the cluster ----------------------------------------------------------------


@dataclass(slots=True)
class ServerAnnounced:
    """A server started (INITIAL_HEARTBEAT): answer with a heartbeat."""

    uid: str


@dataclass(slots=True)
class ServerGone:
    """A server closed, or was silent too long; it no longer counts."""

    uid: str
    silent: bool


@dataclass(slots=True)
class HeartbeatDue:
    """This server was silent for the heartbeat interval: publish a heartbeat."""


Event = (
    BroadcastRequested
    | JoinRequested
    | LeaveRequested
    | DisconnectRequested
    | SocketRoomRequested
    | FetchRequested
    | SocketsRequested
    | AllRoomsRequested
    | ServerSideEmitRequested
    | RequestCompleted[Any]
    | RequestTimedOut[Any]
    | ClientCountReceived[Any]
    | AckReceived[Any]
    | ServerAnnounced
    | ServerGone
    | HeartbeatDue
)
"""Any event of a cluster session."""
