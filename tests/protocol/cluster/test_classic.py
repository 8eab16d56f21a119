"""ClassicSession (@socket.io/redis-adapter's types 0-9) without Redis: channels and bytes."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiosocketio.exceptions import LocalProtocolError, RemoteProtocolError
from aiosocketio.protocol.cluster.classic import ClassicSession
from aiosocketio.protocol.cluster.events import (
    AckReceived,
    AllRoomsRequested,
    BroadcastRequested,
    ClientCountReceived,
    DisconnectRequested,
    FetchRequested,
    JoinRequested,
    RequestCompleted,
    RequestTimedOut,
    ServerSideEmitRequested,
    SocketRoomRequested,
    SocketsRequested,
)
from aiosocketio.protocol.cluster.shapes import SocketDetails, options_to_wire
from aiosocketio.protocol.cluster.wire import RequestType, decode_message, dumps_json, pack

Session = ClassicSession[str, str]


def session(uid: str, **options: Any) -> Session:
    ids = (f"q{uid[:2]}{i:02d}" for i in itertools.count(1))
    return ClassicSession("/", uid=uid, new_id=ids.__next__, **options)


def test_the_broadcast_frame_is_nodes() -> None:
    # captured from the npm package (PROTOCOL.md): one room, binary data, no flags
    expected = (
        b"\x93\xa6abc123\x83\xa4type\x02\xa4data\x92\xa5hello\xc4\x03\x01\x02\x03"
        b"\xa3nsp\xa1/\x83\xa5rooms\x91\xa5room1\xa6except\x90\xa5flags\x80"
    )
    a = session("abc123")
    packet = {"type": 2, "data": ["hello", b"\x01\x02\x03"], "nsp": "/"}
    assert a.broadcast(packet, options_to_wire(["room1"], [])) == ("socket.io#/#room1#", expected)
    channel, _ = a.broadcast(packet, options_to_wire(["r1", "r2"], []))
    assert channel == "socket.io#/#"


def test_channels() -> None:
    a = session("abc123", key="k")
    assert a.channels == ["k-request#/#", "k-response#/#", "k-response#/#abc123#"]
    assert a.patterns == ["k#/#*"]


def test_broadcasts_are_received_unless_they_are_ours_or_for_a_room_we_lack() -> None:
    a, b = session("aaaaaa"), session("bbbbbb")
    packet = {"type": 2, "data": ["ev", 1], "nsp": "/"}
    channel, data = a.broadcast(packet, options_to_wire(["r"], [], volatile=True))
    assert b.receive(channel, data, rooms={"r"}) == [
        BroadcastRequested(
            2,
            ["ev", 1],
            {"rooms": frozenset({"r"}), "except_": frozenset(), "flags": {"volatile": True}},
            "aaaaaa",
        )
    ]
    assert b.receive(channel, data, rooms=set()) == []  # no such room here: not even read
    assert a.receive(channel, data, rooms={"r"}) == []  # our own, back by the pattern
    other = pack(["cccccc", {"type": 2, "data": ["x"], "nsp": "/chat"}, {}])
    assert b.receive("socket.io#/#", other, rooms=set()) == []  # another namespace
    with pytest.raises(RemoteProtocolError):
        b.receive("socket.io#/#", pack(["cccccc", "junk"]), rooms=set())


def test_a_fetch_round_trip_and_its_timeout() -> None:
    a, b = session("aaaaaa"), session("bbbbbb")
    request, channel, data = a.fetch_sockets(["r"], [], 2, "waiter", now=0.0)
    assert channel == "socket.io-request#/#"
    assert data == dumps_json(
        {"uid": "aaaaaa", "requestId": request.request_id, "type": 5,
         "opts": {"rooms": ["r"], "except": []}}
    )  # fmt: skip
    assert a.receive(channel, data, set()) == []  # our own request
    (asked,) = b.receive(channel, data, set())
    assert isinstance(asked, FetchRequested) and asked.requester == "aaaaaa"
    details: list[SocketDetails] = [{"id": "s1", "handshake": {}, "rooms": [], "data": b"\x01"}]
    answer_channel, answer = b.fetch_response(asked.requester, asked.request_id, details)
    assert answer_channel == "socket.io-response#/#"
    assert decode_message(answer)["sockets"][0]["data"] == {"type": "Buffer", "data": [1]}
    assert a.receive(answer_channel, answer, set()) == []  # one of two answers
    assert a.next_deadline() == 5.0
    assert a.handle_timer(5.0) == [
        RequestTimedOut(
            request,
            "timeout reached while waiting for fetchSockets response (1 of 2 servers answered)",
        )
    ]
    assert request.responses == [{**details[0], "data": {"type": "Buffer", "data": [1]}}]


def test_requests_answered_on_the_requesters_channel() -> None:
    a, b = session("aaaaaa"), session("bbbbbb", publish_on_specific_response_channel=True)
    request, channel, data = a.all_rooms(1, "waiter", now=0.0)
    (asked,) = b.receive(channel, data, set())
    assert asked == AllRoomsRequested("aaaaaa", request.request_id)
    reply = b.all_rooms_response(asked.requester, asked.request_id, ["r1"])
    assert reply[0] == "socket.io-response#/#aaaaaa#"
    assert a.receive(*reply, set()) == [RequestCompleted(request)]
    assert request.responses == ["r1"]
    body = dumps_json({"uid": "aaaaaa", "requestId": "x1", "type": 0, "rooms": ["r"]})
    assert b.receive(channel, body, set()) == [SocketsRequested({"r"}, "aaaaaa", "x1")]


def test_server_side_emit_with_and_without_ack() -> None:
    a, b = session("aaaaaa"), session("bbbbbb")
    channel, data = a.server_side_emit(["sse", 1])
    assert data == b'{"uid":"aaaaaa","type":6,"data":["sse",1]}'
    assert b.receive(channel, data, set()) == [ServerSideEmitRequested(["sse", 1], "aaaaaa")]
    assert a.receive(channel, data, set()) == []
    request, channel, data = a.server_side_emit_with_ack(["sse"], 1, "w", now=0.0)
    (asked,) = b.receive(channel, data, set())
    assert isinstance(asked, ServerSideEmitRequested)
    reply = b.server_side_emit_response(asked.request_id, {"n": 1})
    assert reply[0] == "socket.io-response#/#"  # always the shared channel
    assert a.receive(*reply, set()) == [RequestCompleted(request)]
    assert request.responses == [{"n": 1}]
    with pytest.raises(LocalProtocolError):  # cannot be sent: nothing waits
        a.server_side_emit_with_ack(["sse", object()], 1, "w", now=0.0)
    assert len(a.requests) == 0


def test_broadcast_with_acks() -> None:
    a, b = session("aaaaaa"), session("bbbbbb")
    packet = {"type": 2, "data": ["ask"], "nsp": "/"}
    channel, data = a.broadcast_with_ack(
        packet, options_to_wire([], [], timeout=1), "handle", now=0.0, timeout=1.0
    )
    assert data[:1] != b"{"  # msgpack
    assert a.receive(channel, data, set()) == []  # ours
    (asked,) = b.receive(channel, data, set())
    assert isinstance(asked, BroadcastRequested)
    assert asked.opts["flags"] == {}  # the local part of a broadcast with acks has no flags
    count = b.client_count_response(asked.sender, asked.request_id, 2)
    ack = b.ack_response(asked.sender, asked.request_id, "yes")
    assert count[1][:1] == b"{" and ack[1][:1] != b"{"
    assert a.receive(*count, set()) == [ClientCountReceived("handle", 2)]
    assert a.receive(*ack, set()) == [AckReceived("handle", "yes")]
    assert a.handle_timer(1.0) == []
    assert a.receive(*ack, set()) == []


def test_rooms_requests_and_the_older_per_socket_form() -> None:
    a, b = session("aaaaaa"), session("bbbbbb")
    channel, data = a.rooms_request(RequestType.REMOTE_JOIN, ["r"], ["x"], rooms=["j"])
    assert data == b'{"uid":"aaaaaa","type":2,"opts":{"rooms":["r"],"except":["x"]},"rooms":["j"]}'
    (join,) = b.receive(channel, data, set())
    assert isinstance(join, JoinRequested) and join.rooms == {"j"}
    assert a.receive(channel, data, set()) == []  # applied locally when it was sent
    _, data = a.rooms_request(RequestType.REMOTE_DISCONNECT, [], [], close=True)
    (gone,) = b.receive(channel, data, set())
    assert isinstance(gone, DisconnectRequested) and gone.close
    old = dumps_json({"uid": "cccccc", "requestId": "z", "type": 3, "sid": "s1", "room": "r"})
    assert b.receive(channel, old, set()) == [
        SocketRoomRequested(3, "s1", "r", False, "cccccc", "z")
    ]
    assert b.done_response("cccccc", "z") == ("socket.io-response#/#", b'{"requestId":"z"}')


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5) | st.binary(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=9), inner, max_size=4)
    ),
    max_leaves=8,
)
_KEYS = st.sampled_from(
    ["type", "uid", "nsp", "data", "requestId", "packet", "opts", "sid", "room"]
)
_MESSAGES = st.dictionaries(_KEYS, _JSON | st.integers(0, 10), max_size=5) | _JSON


@settings(max_examples=300, deadline=None)
@given(message=_MESSAGES, raw=st.binary(max_size=12))
def test_receiving_junk_raises_only_remote_protocol_error(message: Any, raw: bytes) -> None:
    a = session("aaaaaa")
    a.fetch_sockets([], [], 1, "w", 0.0)
    encodings = [raw, pack(message), pack(["x", message, message])]
    for channel in (
        "socket.io#/#",
        "socket.io#/#r#",
        "socket.io-request#/#",
        "socket.io-response#/#",
    ):
        for data in encodings:
            try:
                a.receive(channel, data, {"r"})
            except RemoteProtocolError:
                pass
