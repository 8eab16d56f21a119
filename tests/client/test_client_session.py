"""The sans-I/O client Engine.IO session, with time passed in (no sleeping)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiosocketio.protocol.engineio.client_session import EngineClientSession
from aiosocketio.protocol.engineio.events import (
    Closed,
    MessageReceived,
    Opened,
    PingReceived,
)
from aiosocketio.protocol.engineio.packets import Packet, PacketType

OPEN = "0" + json.dumps(
    {
        "sid": "abc",
        "upgrades": ["websocket"],
        "pingInterval": 300,
        "pingTimeout": 200,
        "maxPayload": 1000,
    }
)


def opened(now: float = 0.0) -> EngineClientSession:
    session = EngineClientSession()
    session.receive_payload(OPEN, now)
    assert isinstance(session.events_received()[0], Opened)
    return session


def test_handshake_sets_the_session_parameters() -> None:
    session = EngineClientSession()
    assert session.next_deadline() is None
    session.receive_payload(OPEN, 10.0)
    assert session.events_received() == [Opened("abc", ("websocket",), 0.3, 0.2, 1000)]
    assert session.state == "open"
    assert session.sid == "abc"
    assert session.next_deadline() == 10.5


def test_ping_is_answered_and_pushes_the_deadline() -> None:
    session = opened()
    session.receive_data("2", 0.4)
    assert session.events_received() == [PingReceived()]
    assert session.packets_to_send() == [Packet(PacketType.PONG)]
    assert session.next_deadline() == pytest.approx(0.9)
    session.handle_timer(0.8)
    assert session.state == "open"


def test_no_ping_for_interval_plus_timeout_closes_with_ping_timeout() -> None:
    session = opened()
    session.handle_timer(0.49)
    assert session.events_received() == []
    session.handle_timer(0.5)
    assert session.events_received() == [Closed("ping timeout")]
    assert session.state == "closed"
    assert session.next_deadline() is None
    session.handle_timer(5.0)
    assert session.events_received() == []


def test_messages_in_one_payload_arrive_in_order() -> None:
    session = opened()
    session.receive_payload("4hello\x1ebAQID\x1e4world", 0.1)
    assert session.events_received() == [
        MessageReceived("hello"),
        MessageReceived(b"\x01\x02\x03"),
        MessageReceived("world"),
    ]


def test_a_close_packet_closes_with_transport_close() -> None:
    session = opened()
    session.receive_payload("4a\x1e1\x1e4b", 0.1)
    assert session.events_received() == [MessageReceived("a"), Closed("transport close")]


def test_garbage_closes_with_parse_error_and_never_raises() -> None:
    for garbage in ("", "9", "\x1e\x1e", "7x"):
        session = opened()
        session.receive_payload(garbage, 0.1)
        events = session.events_received()
        assert len(events) == 1 and isinstance(events[0], Closed), garbage
        assert events[0].reason == "parse error"


def test_bad_handshake_is_a_parse_error() -> None:
    for body in ('0{"nosid":1}', "0not json", '0{"sid":""}', '0{"sid":"x","pingInterval":"z"}'):
        session = EngineClientSession()
        session.receive_payload(body, 0.0)
        events = session.events_received()
        assert isinstance(events[0], Closed) and events[0].reason == "parse error", body


def test_messages_before_the_handshake_are_ignored() -> None:
    session = EngineClientSession()
    session.receive_data("4early", 0.0)
    assert session.events_received() == []


def test_pause_holds_packets_and_resume_releases_them_in_order() -> None:
    session = opened()
    session.send_message("a")
    session.pause()
    session.send_message(b"b")
    assert session.packets_to_send() == []
    assert session.buffered == 2
    session.resume()
    assert session.packets_to_send() == [
        Packet(PacketType.MESSAGE, "a"),
        Packet(PacketType.MESSAGE, b"b"),
    ]
    assert session.packets_to_send() == []


def test_close_happens_once_and_drops_the_buffer() -> None:
    session = opened()
    session.send_message("x")
    session.close("forced close")
    session.close("transport error")
    assert session.events_received() == [Closed("forced close")]
    assert session.packets_to_send() == []
    session.send_message("y")
    session.receive_data("4z", 1.0)
    assert session.packets_to_send() == []
    assert session.events_received() == []


@given(st.text(max_size=200))
@settings(max_examples=300, deadline=None)
def test_any_polling_body_never_raises(body: str) -> None:
    session = opened()
    session.receive_payload(body, 0.1)
    for event in session.events_received():
        assert isinstance(event, (MessageReceived, PingReceived, Closed, Opened))


@given(st.one_of(st.text(max_size=100), st.binary(max_size=100)))
@settings(max_examples=300, deadline=None)
def test_any_websocket_message_never_raises(data: str | bytes) -> None:
    for session in (EngineClientSession(), opened()):
        session.receive_data(data, 0.1)
        session.events_received()
        session.packets_to_send()
