"""ClusterSession (socket.io-adapter's types 1-13) without Redis: two sessions talk through
plain dicts, and time moves by hand."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiosocketio.exceptions import RemoteProtocolError
from aiosocketio.protocol.cluster.events import (
    AckReceived,
    BroadcastRequested,
    ClientCountReceived,
    DisconnectRequested,
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
from aiosocketio.protocol.cluster.session import ClusterSession, Heartbeat
from aiosocketio.protocol.cluster.shapes import SocketDetails, options_to_wire

Session = ClusterSession[str, str]


def session(uid: str, heartbeat: Heartbeat | None = None, nsp: str = "/") -> Session:
    ids = (f"{uid}-req{i}" for i in itertools.count(1))
    return ClusterSession(nsp, uid=uid, heartbeat=heartbeat, new_id=ids.__next__)


PACKET = {"type": 2, "data": ["ev", 1]}
OPTS = options_to_wire(["r"], ["x"], volatile=True)


def test_messages_are_nodes_dicts_in_nodes_key_order() -> None:
    a = session("a" * 16)
    uid = "a" * 16
    assert list(a.broadcast(PACKET, OPTS, 0.0).items()) == [
        ("type", 3),
        ("data", {"packet": PACKET, "opts": OPTS}),
        ("uid", uid),
        ("nsp", "/"),
    ]
    message = a.broadcast_with_ack(PACKET, OPTS, "handle", 0.0, None)
    assert list(message["data"]) == ["packet", "requestId", "opts"]
    assert a.sockets_join(OPTS, ["j"], 0.0)["data"] == {"opts": OPTS, "rooms": ["j"]}
    assert a.sockets_leave(OPTS, ["j"], 0.0)["type"] == 5
    assert a.disconnect_sockets(OPTS, True, 0.0)["data"] == {"opts": OPTS, "close": True}
    assert a.server_side_emit(["sse", 1], 0.0)["data"] == {"packet": ["sse", 1]}
    _, fetch = a.fetch_sockets(OPTS, 1, "w", 0.0)
    assert list(fetch["data"]) == ["opts", "requestId"]
    _, sse = a.server_side_emit_with_ack(["sse"], 1, "w", 0.0)
    assert list(sse["data"]) == ["requestId", "packet"]  # Node puts the request id first
    requester, response = a.ack_response("b" * 16, "r1", {"ok": 1})
    assert requester == "b" * 16
    assert list(response.items()) == [
        ("type", 12),
        ("data", {"requestId": "r1", "packet": {"ok": 1}}),
        ("uid", uid),
        ("nsp", "/"),
    ]


def test_requests_from_another_server_become_events() -> None:
    a, b = session("a" * 16), session("b" * 16)
    assert b.receive_message(a.broadcast(PACKET, OPTS, 0.0), 0.0, offset="1-0") == [
        BroadcastRequested(
            2,
            ["ev", 1],
            {"rooms": frozenset({"r"}), "except_": frozenset({"x"}), "flags": {"volatile": True}},
            "a" * 16,
            None,
            "1-0",
        )
    ]
    (join,) = b.receive_message(a.sockets_join(OPTS, ["j", "k"], 0.0), 0.0)
    assert isinstance(join, JoinRequested) and join.rooms == {"j", "k"}
    (leave,) = b.receive_message(a.sockets_leave(OPTS, ["j"], 0.0), 0.0)
    assert isinstance(leave, LeaveRequested) and leave.rooms == {"j"}
    (gone,) = b.receive_message(a.disconnect_sockets(OPTS, True, 0.0), 0.0)
    assert isinstance(gone, DisconnectRequested) and gone.close is True
    (sse,) = b.receive_message(a.server_side_emit(["sse", 2], 0.0), 0.0)
    assert sse == ServerSideEmitRequested(["sse", 2], "a" * 16, None)
    # their own messages, and another namespace's, are not for them
    assert a.receive_message(a.broadcast(PACKET, OPTS, 0.0), 0.0) == []
    assert b.receive_message(session("c" * 16, nsp="/x").broadcast(PACKET, OPTS, 0.0), 0.0) == []


def test_a_fetch_round_trip() -> None:
    a, b, c = session("a" * 16), session("b" * 16), session("c" * 16)
    request, message = a.fetch_sockets(OPTS, 2, "waiter", now=0.0)
    details: list[SocketDetails] = [{"id": "s1", "handshake": {}, "rooms": ["s1"], "data": None}]
    for other in (b, c):
        (asked,) = other.receive_message(message, 0.0)
        assert isinstance(asked, FetchRequested) and asked.request_id == request.request_id
        requester, response = other.fetch_response(str(asked.requester), asked.request_id, details)
        assert requester == "a" * 16
        events = a.receive_response(response, 0.0)
    assert events == [RequestCompleted(request)]
    assert request.responses == details * 2 and request.waiter == "waiter"


def test_a_request_times_out_with_the_answers_that_came() -> None:
    a, b = (
        session(
            "a" * 16,
        ),
        session("b" * 16),
    )
    a.requests_timeout = 5.0
    request, message = a.server_side_emit_with_ack(["sse"], 2, "w", now=10.0)
    (asked,) = b.receive_message(message, 10.0)
    assert isinstance(asked, ServerSideEmitRequested)
    _, response = b.server_side_emit_response("a" * 16, asked.request_id, "pong")
    assert a.receive_response(response, 11.0) == []
    assert a.next_deadline() == 15.0
    assert a.handle_timer(14.9) == []
    assert a.handle_timer(15.0) == [
        RequestTimedOut(request, "timeout reached: only 1 responses received out of 2")
    ]
    assert request.responses == ["pong"]
    # a given timeout wins over requests_timeout
    request, _ = a.fetch_sockets(OPTS, 1, "w", now=0.0, timeout=0.5)
    assert a.next_deadline() == 0.5


def test_counts_and_acks_of_a_broadcast_reach_its_handle_until_its_timeout() -> None:
    a, b = session("a" * 16), session("b" * 16)
    message = a.broadcast_with_ack(PACKET, OPTS, "handle", now=0.0, timeout=2.0)
    (asked,) = b.receive_message(message, 0.0)
    assert isinstance(asked, BroadcastRequested) and asked.request_id is not None
    _, count = b.client_count_response(str(asked.sender), asked.request_id, 3)
    _, ack = b.ack_response(str(asked.sender), asked.request_id, "yes")
    assert a.receive_response(count, 0.0) == [ClientCountReceived("handle", 3)]
    assert a.receive_response(ack, 0.0) == [AckReceived("handle", "yes")]
    assert a.handle_timer(2.0) == []
    assert a.receive_response(ack, 2.0) == []  # too late: forgotten
    # without a timeout, five seconds
    a.broadcast_with_ack(PACKET, OPTS, "h2", now=10.0, timeout=None)
    assert a.next_deadline() == 15.0


def test_heartbeats_count_servers_and_forget_silent_ones() -> None:
    beat = Heartbeat(interval=5.0, timeout=10.0)
    a, b = session("a" * 16, beat), session("b" * 16, beat)
    hello = b.start(now=0.0)
    assert hello == {"type": 1, "uid": "b" * 16, "nsp": "/"}
    assert a.receive_message(hello, 0.0) == [ServerAnnounced("b" * 16)]
    assert a.expected_servers() == {"b" * 16}
    # a request waits for b; b goes silent; it is forgotten after the timeout
    request, _ = a.fetch_sockets(OPTS, a.expected_servers() or 0, "w", now=0.0, timeout=60.0)
    assert a.start(now=0.0) is not None
    assert a.handle_timer(1.0) == []
    assert a.handle_timer(5.0) == [HeartbeatDue()]
    assert a.heartbeat_message(5.0) == {"type": 2, "uid": "a" * 16, "nsp": "/"}
    events = a.handle_timer(11.0)  # a heartbeat is due again (5 s after the last one)
    assert events == [HeartbeatDue(), ServerGone("b" * 16, True), RequestCompleted(request)]
    assert a.nodes == {} and a.expected_servers() == set()
    # an emitter's messages do not count as a server; ADAPTER_CLOSE forgets at once
    a.receive_message({"type": 9, "uid": "emitter", "nsp": "/", "data": {"packet": ["e"]}}, 12.0)
    assert a.nodes == {}
    a.receive_message({"type": 2, "uid": "c" * 16, "nsp": "/"}, 12.0)
    assert a.nodes == {"c" * 16: 12.0}
    goodbye = session("c" * 16, beat).goodbye()
    assert a.receive_message(goodbye, 13.0) == [ServerGone("c" * 16, False)]
    assert a.close() == [] and a.closed and a.next_deadline() is None
    assert a.goodbye() is None


def test_a_session_without_heartbeat_ignores_heartbeats() -> None:
    a = session("a" * 16)
    assert a.start(0.0) is None and a.goodbye() is None
    assert a.receive_message({"type": 1, "uid": "b" * 16, "nsp": "/"}, 0.0) == []
    assert a.nodes == {} and a.expected_servers() is None and a.next_deadline() is None


@pytest.mark.parametrize(
    "message",
    [
        "junk",
        {"type": 3, "uid": "b", "nsp": "/"},
        {"type": 3, "uid": "b", "nsp": "/", "data": {"packet": "x"}},
        {"type": 9, "uid": "b", "nsp": "/", "data": {"packet": []}},
        {"type": 8, "uid": "b", "nsp": "/", "data": "x"},
    ],
)
def test_malformed_messages_raise_remote_protocol_error(message: Any) -> None:
    with pytest.raises(RemoteProtocolError):
        session("a" * 16).receive_message(message, 0.0)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5) | st.binary(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=9), inner, max_size=4)
    ),
    max_leaves=8,
)
_KEYS = st.sampled_from(["type", "uid", "nsp", "data", "requestId", "packet", "opts", "sockets"])
_MESSAGES = st.dictionaries(_KEYS, _JSON | st.integers(0, 14) | st.just("/"), max_size=5) | _JSON


@settings(max_examples=300, deadline=None)
@given(message=_MESSAGES, heartbeat=st.booleans())
def test_receiving_junk_raises_only_remote_protocol_error(message: Any, heartbeat: bool) -> None:
    a = session("a" * 16, Heartbeat() if heartbeat else None)
    a.fetch_sockets(OPTS, 1, "w", 0.0)
    for receive in (a.receive_message, a.receive_response):
        try:
            receive(message, 0.0)
        except RemoteProtocolError:
            pass
