"""``ClusterAdapter``: socket.io-adapter's cluster message model (types 1-13), pumped.

Node's ``createShardedAdapter`` (and the other modern adapters) exchange messages
``{type, data, uid, nsp}``; the protocol, the request bookkeeping and the heartbeats are
:class:`~aiosocketio.protocol.cluster.session.ClusterSession` (sans-I/O). This adapter is
its pump, on two transport hooks, exactly like Node's: a subclass provides
:meth:`ClusterAdapter.do_publish` (to every server) and
:meth:`ClusterAdapter.do_publish_response` (to one server), and calls
:meth:`ClusterAdapter.on_message` / :meth:`ClusterAdapter.on_response` with what it
receives (decoded). The adapter arms one timer for the session's deadlines and applies
its events to the local sockets.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
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
from aiosocketio.exceptions import AdapterError, AdapterTimeout, SocketIOError
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
from aiosocketio.protocol.cluster.requests import PendingRequest
from aiosocketio.protocol.cluster.session import ClusterSession, Heartbeat
from aiosocketio.protocol.socketio.packets import Packet
from aiosocketio.runtime.tasks import spawn

__all__ = ["ClusterAdapter", "ClusterAdapterWithHeartbeat"]

logger = logging.getLogger("aiosocketio.adapters.cluster")


class ClusterAdapter(Adapter):
    """socket.io-adapter's ``ClusterAdapter`` in Python (message types 1-13).

    Subclasses implement :meth:`do_publish` and :meth:`do_publish_response` and feed
    incoming messages to :meth:`on_message` / :meth:`on_response`.

    Args:
        nsp: the namespace.
        requests_timeout: seconds to wait for the other servers' answers (Node: 5000 ms).
        heartbeat: the heartbeat settings (see :class:`ClusterAdapterWithHeartbeat`).

    Attributes:
        session: the sans-I/O protocol state.
        uid: this server's id in the cluster (16 hex characters).
    """

    def __init__(
        self,
        nsp: NamespaceLike,
        *,
        requests_timeout: float = 5.0,
        heartbeat: Heartbeat | None = None,
    ) -> None:
        super().__init__(nsp)
        self.session: ClusterSession[Waiter, AckHandle] = ClusterSession(
            nsp.name, requests_timeout=requests_timeout, heartbeat=heartbeat
        )
        self.uid = self.session.uid
        self._timer = SessionTimer(self.session.next_deadline, self._on_timer)

    def _clock(self) -> float:
        """The time, where only a heartbeat needs it (no deadline is set)."""
        return loop_time() if self.session.heartbeat is not None else 0.0

    @property
    def requests_timeout(self) -> float:
        """Seconds to wait for the other servers' answers."""
        return self.session.requests_timeout

    @requests_timeout.setter
    def requests_timeout(self, seconds: float) -> None:
        self.session.requests_timeout = seconds

    # -- transport hooks ----------------------------------------------------------------

    def do_publish(self, message: dict[str, Any]) -> None:
        """Send ``message`` to every server of the cluster (subclasses implement it)."""
        raise NotImplementedError

    def do_publish_response(self, requester_uid: str, response: dict[str, Any]) -> None:
        """Send ``response`` to the server ``requester_uid`` (subclasses implement it)."""
        raise NotImplementedError

    def publish(self, message: dict[str, Any]) -> None:
        """Publish a message of the session (stamped with ``uid`` and ``nsp``)."""
        self.do_publish(message)
        if self.session.heartbeat is not None and not self._timer.armed:
            self._timer.arm()  # the next heartbeat

    def publish_and_then(self, message: dict[str, Any], then: Callable[[str | None], None]) -> None:
        """Publish ``message``, then call ``then(offset)`` to do the local part.

        The hook for transports that order the local part after the message was stored
        (Node's ``publishAndReturnOffset``): here ``then(None)`` is called at once, and a
        subclass may call it later, with the offset the message was stored at.
        """
        self.publish(message)
        then(None)

    def publish_response(self, response: tuple[str, dict[str, Any]]) -> None:
        """Send a response of the session to its requester."""
        requester, message = response
        self.do_publish_response(requester, message)

    async def close(self) -> None:
        """Fail the pending requests and stop the timer."""
        goodbye = self.session.goodbye()
        if goodbye is not None:
            self.publish(goodbye)
        for request in self.session.close():
            fail(request.waiter, AdapterError("the adapter was closed"))
        self._timer.cancel()

    async def server_count(self) -> int:
        """With a heartbeat, 1 + the servers heard from recently; else 1 (subclasses count)."""
        if self.session.heartbeat is not None:
            return 1 + len(self.session.nodes)
        return await super().server_count()

    # -- incoming -----------------------------------------------------------------------

    def on_message(self, message: Any, offset: str | None = None) -> None:
        """Handle a message from another server; malformed ones are logged and skipped.

        ``offset`` is where the transport stored the message, if it stores messages.
        """
        try:
            self._handle(self.session.receive_message(message, self._clock(), offset))
        except MALFORMED as exc:
            logger.warning("ignoring a malformed cluster message: %s", exc)

    def on_response(self, response: Any) -> None:
        """Handle a response addressed to this server; malformed ones are logged."""
        try:
            self._handle(self.session.receive_response(response, self._clock()))
        except MALFORMED as exc:
            logger.warning("ignoring a malformed cluster response: %s", exc)

    def _on_timer(self, now: float) -> None:
        self._handle(self.session.handle_timer(now))

    def _handle(self, events: list[Event]) -> None:
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
            elif isinstance(event, FetchRequested):
                spawn(self._answer_fetch(event), "a cluster operation")
            elif isinstance(event, ServerSideEmitRequested):
                self._on_server_side_emit(event)
            elif isinstance(event, (ServerAnnounced, HeartbeatDue)):
                if not self.session.closed:
                    self.publish(self.session.heartbeat_message(loop_time()))
            elif isinstance(event, ServerGone) and event.silent:
                logger.info("server %s seems down", event.uid)

    def _on_broadcast(self, event: BroadcastRequested) -> None:
        packet, opts = from_wire(event, self.nsp.name)
        request_id = event.request_id
        if request_id is None:
            self._broadcast_local(packet, opts, event.offset)
            return
        sender = str(event.sender)
        session = self.session

        def client_count(count: int) -> None:
            self.publish_response(session.client_count_response(sender, request_id, count))

        def ack(args: list[Any]) -> None:
            arg = args[0] if isinstance(args, list) and args else None
            self.publish_response(session.ack_response(sender, request_id, arg))

        Adapter.broadcast_with_ack(self, packet, opts, client_count, ack)

    async def _answer_fetch(self, event: FetchRequested) -> None:
        local = await Adapter.fetch_sockets(self, options_from_wire(event.opts))
        details = [details_of(socket) for socket in local]
        self.publish_response(
            self.session.fetch_response(str(event.requester), event.request_id, details)
        )

    def _on_server_side_emit(self, event: ServerSideEmitRequested) -> None:
        request_id = event.request_id
        if request_id is None:
            self.nsp.deliver_server_side_emit(event.args, None)
            return
        requester = str(event.requester)
        session = self.session

        def respond(arg: Any) -> None:
            self.publish_response(session.server_side_emit_response(requester, request_id, arg))

        self.nsp.deliver_server_side_emit(event.args, once(respond))

    # -- requests -----------------------------------------------------------------------

    async def _expected_answers(self) -> int | set[str]:
        """Who must answer a request: the servers heard from, or a number of servers."""
        servers = self.session.expected_servers()
        if servers is not None:
            return servers
        return max(await self.server_count() - 1, 0)

    def _send_request(self, request: PendingRequest[Waiter], message: dict[str, Any]) -> None:
        """Publish a request the session registered (and forget it if it cannot be sent)."""
        self._timer.arm()
        try:
            self.publish(message)
        except BaseException:
            self.session.requests.cancel(request.request_id)
            raise

    # -- outgoing -----------------------------------------------------------------------

    def broadcast(self, packet: Packet, opts: BroadcastOptions) -> None:
        """Broadcast locally and, unless ``local``, to every other server."""
        if opts.flags.local:
            super().broadcast(packet, opts)
            return
        message = self.session.broadcast(
            wire_packet(packet, None), wire_options(opts), self._clock()
        )
        self.publish_and_then(message, lambda offset: self._broadcast_local(packet, opts, offset))

    def _broadcast_local(self, packet: Packet, opts: BroadcastOptions, offset: str | None) -> None:
        """The local part of a broadcast; ``offset`` is where the message was stored, if it was."""
        Adapter.broadcast(self, packet, opts)

    def broadcast_with_ack(
        self,
        packet: Packet,
        opts: BroadcastOptions,
        client_count_callback: Callable[[int], None],
        ack: AckCallback,
    ) -> None:
        """Broadcast with acks across the cluster."""
        if not opts.flags.local:
            message = self.session.broadcast_with_ack(
                wire_packet(packet, None),
                wire_options(opts),
                AckHandle(client_count_callback, ack),
                loop_time(),
                opts.flags.timeout,
            )
            self._timer.arm()
            self.publish(message)
        super().broadcast_with_ack(packet, opts, client_count_callback, ack)

    def add_sockets(self, opts: BroadcastOptions, rooms: Iterable[str]) -> None:
        """Make the matching sockets of every server join ``rooms``."""
        rooms = list(rooms)
        if opts.flags.local:
            super().add_sockets(opts, rooms)
            return
        message = self.session.sockets_join(wire_options(opts), rooms, self._clock())
        self.publish_and_then(message, lambda _offset: Adapter.add_sockets(self, opts, rooms))

    def del_sockets(self, opts: BroadcastOptions, rooms: Iterable[str]) -> None:
        """Make the matching sockets of every server leave ``rooms``."""
        rooms = list(rooms)
        if opts.flags.local:
            super().del_sockets(opts, rooms)
            return
        message = self.session.sockets_leave(wire_options(opts), rooms, self._clock())
        self.publish_and_then(message, lambda _offset: Adapter.del_sockets(self, opts, rooms))

    def disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        """Disconnect the matching sockets of every server."""
        if opts.flags.local:
            super().disconnect_sockets(opts, close)
            return
        message = self.session.disconnect_sockets(wire_options(opts), close, self._clock())
        self.publish_and_then(
            message, lambda _offset: Adapter.disconnect_sockets(self, opts, close)
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
        started = loop_time()
        request, message = self.session.fetch_sockets(
            wire_options(opts), expected, new_waiter(), started, opts.flags.timeout
        )
        try:
            self._send_request(request, message)
            remote = await request.waiter
        except SocketIOError:
            self._timed_request("fetch_sockets", started, True)
            raise
        self._timed_request("fetch_sockets", started, False)
        return with_remote_sockets(self.nsp, local, remote)

    def server_side_emit(
        self, args: list[Any], ack: ServerSideAck | None = None, timeout: float | None = None
    ) -> None:
        """Send ``[event, *args]`` to the other servers; ``ack(error, responses)`` if given."""
        if ack is None:
            self.publish(self.session.server_side_emit(args, self._clock()))
            return
        spawn(self._server_side_emit_with_ack(args, ack, timeout), "a cluster operation")

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
        started = loop_time()
        request, message = self.session.server_side_emit_with_ack(
            args, expected, new_waiter(), started, timeout
        )
        try:
            self._send_request(request, message)
            await request.waiter
        except SocketIOError as exc:  # a timeout, or arguments that cannot be sent
            self._timed_request("server_side_emit", started, True)
            ack(exc, request.responses)
            return
        self._timed_request("server_side_emit", started, False)
        ack(None, request.responses)


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
        heartbeat = Heartbeat(heartbeat_interval, heartbeat_timeout)
        super().__init__(nsp, requests_timeout=requests_timeout, heartbeat=heartbeat)

    @property
    def nodes(self) -> dict[str, float]:
        """The other servers heard from, by uid: when, last (on the loop's clock)."""
        return self.session.nodes

    async def init(self) -> None:
        """Announce this server and start looking for silent ones."""
        message = self.session.start(asyncio.get_running_loop().time())
        if message is not None:
            self.publish(message)
        self._timer.arm()

    def remove_node(self, uid: str) -> None:
        """Forget ``uid``; the requests that only waited for it complete."""
        self._handle(self.session.forget_server(uid))
