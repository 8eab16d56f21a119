"""What every cluster adapter does around its sans-I/O session.

The cluster adapters are pumps: they move messages between Redis and a session of
:mod:`aiosocketio.protocol.cluster`, arm a timer for the session's next deadline, and
apply the session's events to their local sockets. This module holds the parts they
share: the timer (:class:`SessionTimer`), the waiters of their requests, the conversions
between the server's values (``Packet``, ``BroadcastOptions``) and the wire's shapes, and
the details of local sockets for a fetch answer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Iterable
from typing import Any

from aiosocketio.adapters.interface import (
    AckCallback,
    BroadcastFlags,
    BroadcastOptions,
    NamespaceLike,
    SocketLike,
)
from aiosocketio.exceptions import SocketIOError
from aiosocketio.protocol.cluster.events import BroadcastRequested
from aiosocketio.protocol.cluster.shapes import (
    SocketDetails,
    WireOptions,
    options_to_wire,
    packet_to_wire,
    read_details,
    socket_details,
)
from aiosocketio.protocol.socketio.packets import Packet, PacketType

__all__ = [
    "MALFORMED",
    "AckHandle",
    "SessionTimer",
    "Waiter",
    "details_of",
    "fail",
    "from_wire",
    "loop_time",
    "new_waiter",
    "once",
    "options_from_wire",
    "packet_of",
    "resolve",
    "wire_options",
    "wire_packet",
    "with_remote_sockets",
]

MALFORMED = (SocketIOError, KeyError, TypeError, ValueError, AttributeError, IndexError)
"""What a message with the wrong shape raises somewhere down the line: logged and skipped."""

Waiter = asyncio.Future[list[Any]]
"""The future a request's caller awaits: the answers, or an error."""


def loop_time() -> float:
    """The running loop's clock (the monotonic clock outside a loop)."""
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return time.monotonic()


def new_waiter() -> Waiter:
    """A future for the answers to a request."""
    return asyncio.get_running_loop().create_future()


def resolve(waiter: Waiter, responses: list[Any]) -> None:
    """Complete ``waiter`` with the answers (unless it is done already)."""
    if not waiter.done():
        waiter.set_result(responses)


def fail(waiter: Waiter, exc: BaseException) -> None:
    """Fail ``waiter`` with ``exc`` (unless it is done already)."""
    if not waiter.done():
        waiter.set_exception(exc)


class AckHandle:
    """Where the other servers' counts and acks of one of our broadcasts go."""

    __slots__ = ("ack", "client_count_callback")

    def __init__(self, client_count_callback: Callable[[int], None], ack: AckCallback) -> None:
        self.client_count_callback = client_count_callback
        self.ack = ack


class SessionTimer:
    """One loop timer for the earliest deadline of a sans-I/O session.

    Args:
        next_deadline: the session's ``next_deadline``.
        on_due: called with the time when the deadline is due (it calls the session's
            ``handle_timer`` and applies the events); the timer is armed again after it.
    """

    __slots__ = ("_at", "_handle", "_next_deadline", "_on_due")

    def __init__(
        self, next_deadline: Callable[[], float | None], on_due: Callable[[float], None]
    ) -> None:
        self._next_deadline = next_deadline
        self._on_due = on_due
        self._handle: asyncio.TimerHandle | None = None
        self._at = 0.0

    @property
    def armed(self) -> bool:
        """Whether a timer is pending."""
        return self._handle is not None

    def arm(self) -> None:
        """Make sure a timer fires at the session's next deadline (call after changing it)."""
        deadline = self._next_deadline()
        if deadline is None:
            return
        handle = self._handle
        if handle is not None:
            if self._at <= deadline:
                return
            handle.cancel()
        self._at = deadline
        self._handle = asyncio.get_running_loop().call_at(deadline, self._fire)

    def _fire(self) -> None:
        self._handle = None
        # a timer may run a clock resolution early: what it was armed for is due anyway
        now = max(asyncio.get_running_loop().time(), self._at)
        try:
            self._on_due(now)
        finally:
            self.arm()

    def cancel(self) -> None:
        """Stop the timer (the session is closed)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


# --------------------------------------------------------------------------- server <-> wire


def wire_packet(packet: Packet, nsp: str | None) -> dict[str, Any]:
    """A packet as Node puts it on the wire (``nsp`` only in the classic protocol)."""
    return packet_to_wire(int(packet.type), packet.data, packet.id, nsp)


def wire_options(opts: BroadcastOptions) -> dict[str, Any]:
    """``{rooms, except, flags}`` of a broadcast, as Node writes it."""
    f = opts.flags
    return options_to_wire(
        opts.rooms,
        opts.except_,
        volatile=f.volatile,
        compress=f.compress,
        local=f.local,
        timeout=f.timeout,
    )


def options_from_wire(opts: WireOptions) -> BroadcastOptions:
    """The broadcast options of a message (never local)."""
    return BroadcastOptions(opts["rooms"], opts["except_"], BroadcastFlags(**opts["flags"]))


_PACKET_TYPES = {2: PacketType.EVENT, 3: PacketType.ACK}


def packet_of(event: BroadcastRequested, nsp: str) -> Packet:
    """The packet another server broadcasts (its ack id is not the receiver's business)."""
    return Packet(_PACKET_TYPES[event.kind], nsp, event.data)


def from_wire(event: BroadcastRequested, nsp: str) -> tuple[Packet, BroadcastOptions]:
    """The packet and the options of a broadcast from another server."""
    return packet_of(event, nsp), options_from_wire(event.opts)


# --------------------------------------------------------------------------- sockets


def details_of(socket: SocketLike) -> SocketDetails:
    """``{id, handshake, rooms, data}`` of a local socket, for a fetch answer."""
    handshake: Any = socket.handshake
    if isinstance(handshake, dict):
        as_dict = handshake
    elif callable(getattr(handshake, "to_dict", None)):
        as_dict = handshake.to_dict()
    elif dataclasses.is_dataclass(handshake) and not isinstance(handshake, type):
        as_dict = dataclasses.asdict(handshake)
    else:
        as_dict = dict(getattr(handshake, "__dict__", {}))
    return socket_details(socket.id, as_dict, socket.rooms, getattr(socket, "data", None))


def with_remote_sockets(
    nsp: NamespaceLike, local: list[SocketLike], remote: Iterable[Any]
) -> list[SocketLike]:
    """``local`` followed by a remote socket for each well-formed entry of ``remote``."""
    out = list(local)
    for raw in remote:
        details = read_details(raw)
        if details is not None:
            out.append(nsp.remote_socket(details))
    return out


def once(respond: Callable[[Any], None]) -> Callable[..., None]:
    """A listener's ack that answers the requesting server once (later calls are ignored)."""
    called = False

    def callback(arg: Any = None, *_: Any) -> None:
        nonlocal called
        if not called:
            called = True
            respond(arg)

    return callback
