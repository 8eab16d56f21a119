"""The sans-I/O Engine.IO session: time is moved by hand, nothing sleeps."""

from __future__ import annotations

import json

import pytest

from aiosocketio.exceptions import RemoteProtocolError
from aiosocketio.protocol.engineio.events import (
    Closed,
    Heartbeat,
    MessageReceived,
    PacketCreated,
    PacketReceived,
    UpgradeAbandoned,
    Upgraded,
    Upgrading,
)
from aiosocketio.protocol.engineio.options import EngineOptions
from aiosocketio.protocol.engineio.packets import Packet, PacketType, decode_payload
from aiosocketio.protocol.engineio.session import CLOSED_POLL_WAIT, EngineSession

OPTS = EngineOptions(ping_interval=25, ping_timeout=20, upgrade_timeout=10)


class Clock:
    """A clock that shows ``now`` (the sessions' fast entry reads it only when needed)."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.reads = 0

    def time(self) -> float:
        self.reads += 1
        return self.now


def session(transport: str = "polling", now: float = 0.0) -> EngineSession:
    return EngineSession("A" * 20, transport, OPTS, now)


def closed_reasons(s: EngineSession) -> list[str]:
    return [e.reason for e in s.events_received() if isinstance(e, Closed)]


def test_open_packet_holds_exactly_the_five_fields() -> None:
    s = session()
    data = json.loads(s.open_packet_data())
    assert data == {
        "sid": "A" * 20,
        "upgrades": ["websocket"],
        "pingInterval": 25000,
        "pingTimeout": 20000,
        "maxPayload": 1000000,
    }
    assert list(data) == ["sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"]


def test_no_upgrades_on_websocket_or_when_disabled() -> None:
    assert json.loads(session("websocket").open_packet_data())["upgrades"] == []
    s = EngineSession("B" * 20, "polling", EngineOptions(allow_upgrades=False), 0.0)
    assert json.loads(s.open_packet_data())["upgrades"] == []


def test_ping_then_pong_schedules_the_next_ping() -> None:
    s = session("websocket")
    assert s.next_deadline() == 25
    s.handle_timer(24.9)
    assert s.packets_to_send() == []
    s.handle_timer(25)
    assert s.packets_to_send() == [Packet(PacketType.PING)]
    assert s.next_deadline() == 45
    s.receive_packet(Packet(PacketType.PONG), 30)
    assert isinstance(s.events_received()[0], Heartbeat)
    assert s.next_deadline() == 55
    assert s.is_open


def test_ping_timeout_closes() -> None:
    s = session("websocket")
    s.handle_timer(25)
    s.packets_to_send()
    s.handle_timer(44.99)
    assert s.is_open
    s.handle_timer(45)
    assert closed_reasons(s) == ["ping timeout"]
    assert s.next_deadline() is None


def test_a_late_timer_does_not_delay_the_ping_timeout() -> None:
    # The pong deadline runs from when the ping was due: a timer that fires late sends the
    # ping late, but the session still closes pingInterval + pingTimeout after the start.
    s = session("websocket")
    s.handle_timer(25.03)
    assert s.packets_to_send() == [Packet(PacketType.PING)]
    assert s.next_deadline() == 45
    s.handle_timer(45)
    assert closed_reasons(s) == ["ping timeout"]


def test_a_packet_while_waiting_for_pong_extends_the_wait_once() -> None:
    s = session("websocket")
    s.handle_timer(25)
    s.receive_packet(Packet(PacketType.MESSAGE, "x"), 40)
    assert s.next_deadline() == 60
    s.receive_packet(Packet(PacketType.MESSAGE, "y"), 50)
    assert s.next_deadline() == 60  # only once per cycle
    s.handle_timer(60)
    assert closed_reasons(s) == ["ping timeout"]


def test_fast_path_activity_follows_the_same_rule() -> None:
    s = session("websocket")
    clock = Clock(1)
    assert s.receive_data("4a", clock) == "a"  # not waiting: nothing changes
    assert clock.reads == 0  # and the time is not even read
    assert s.next_deadline() == 25
    s.handle_timer(25)
    assert s.receive_data(b"\x01", Clock(30)) == b"\x01"
    assert s.receive_data("4b", Clock(35)) == "b"
    assert s.next_deadline() == 50
    assert s.events_received() == []


def test_websocket_messages_other_than_message_take_the_general_path() -> None:
    s = session("websocket")
    s.handle_timer(25)
    assert s.receive_data("3", Clock(30)) is None
    assert s.events_received() == [Heartbeat()]
    assert s.next_deadline() == 55
    s.record_packets = True
    assert s.receive_data("4x", Clock(31)) is None
    assert s.events_received() == [
        PacketReceived(Packet(PacketType.MESSAGE, "x")),
        MessageReceived("x"),
    ]
    assert s.receive_data("9nope", Clock(32)) is None
    assert s.events_received() == [Closed("parse error", "unknown Engine.IO packet type '9'")]
    assert s.receive_data("4late", Clock(33)) is None
    assert s.events_received() == []


def test_a_post_body_that_is_not_utf8_is_a_parse_error() -> None:
    s = session()
    s.receive_payload(b"4caf\xe9", 1)
    assert s.events_received() == [Closed("parse error", "invalid UTF-8")]


def test_a_post_body_may_be_bytes() -> None:
    s = session()
    s.receive_payload("4café\x1e4b".encode(), 1)
    assert s.events_received() == [MessageReceived("café"), MessageReceived("b")]


def test_ping_from_a_v4_client_is_a_transport_error() -> None:
    s = session("websocket")
    s.receive_packet(Packet(PacketType.PING), 1)
    events = s.events_received()
    assert events == [Closed("transport error", "invalid heartbeat direction")]


def test_messages_become_events() -> None:
    s = session()
    s.receive_payload("4hello\x1ebAQID\x1e4", 1)
    assert s.events_received() == [
        MessageReceived("hello"),
        MessageReceived(b"\x01\x02\x03"),
        MessageReceived(""),
    ]


def test_close_packet_in_a_post() -> None:
    s = session()
    s.receive_payload("4a\x1e1\x1e4b", 1)
    assert s.events_received() == [MessageReceived("a"), Closed("transport close")]


def test_a_get_in_flight_when_the_client_closes_gets_a_noop_once() -> None:
    # engine.io-client posts its CLOSE while its GET may still be on its way
    s = session()
    s.receive_payload("1", 1)
    assert closed_reasons(s) == ["transport close"]
    assert s.closed_poll_until == 1 + CLOSED_POLL_WAIT
    assert s.answers_after_close == CLOSED_POLL_WAIT  # the I/O layer keeps it that long
    assert s.poll(1.01) == "6"
    with pytest.raises(RemoteProtocolError):
        s.poll(1.02)  # only one GET can have been in flight


def test_a_get_long_after_the_client_closed_is_refused() -> None:
    s = session()
    s.receive_payload("1", 1)
    with pytest.raises(RemoteProtocolError):
        s.poll(1 + CLOSED_POLL_WAIT + 0.01)


def test_a_waiting_get_takes_the_noop_at_the_close_itself() -> None:
    s = session()
    assert s.poll(1) is None
    s.receive_payload("1", 2)
    assert s.closed_poll_until is None  # the waiting GET is answered by the I/O layer
    assert s.answers_after_close is None
    with pytest.raises(RemoteProtocolError):
        s.poll(2.01)


def test_malformed_payload_is_a_parse_error() -> None:
    s = session()
    s.receive_payload("9nope", 1)
    assert closed_reasons(s) == ["parse error"]


def test_poll_waits_then_gets_the_outbox() -> None:
    s = session()
    assert s.poll(1) is None
    assert s.poll_pending and not s.poll_ready
    s.send(Packet(PacketType.MESSAGE, "a"))
    s.send(Packet(PacketType.MESSAGE, b"\xff"))
    assert s.poll_ready
    assert decode_payload(s.payload_to_send()) == [
        Packet(PacketType.MESSAGE, "a"),
        Packet(PacketType.MESSAGE, b"\xff"),
    ]
    assert not s.poll_pending


def test_overlapping_polls_close_the_session() -> None:
    s = session()
    assert s.poll(1) is None
    with pytest.raises(RemoteProtocolError):
        s.poll(2)
    assert s.events_received() == [Closed("transport error", "overlap from client")]


def test_a_buffered_outbox_answers_the_poll_at_once() -> None:
    s = session()
    s.send(Packet(PacketType.MESSAGE, "x"))
    assert s.poll(1) == "4x"


def test_ping_goes_into_the_polling_outbox() -> None:
    s = session()
    assert s.poll(1) is None
    s.handle_timer(25)
    assert s.poll_ready
    assert s.payload_to_send() == "2"


def test_pings_are_packet_created_events_when_asked_for() -> None:
    s = session("websocket")
    s.handle_timer(25)
    assert s.events_received() == []
    s.receive_packet(Packet(PacketType.PONG), 26)
    s.events_received()
    s.record_created = True
    s.handle_timer(51)
    assert s.events_received() == [PacketCreated(Packet(PacketType.PING))]
    assert s.packets_to_send() == [Packet(PacketType.PING), Packet(PacketType.PING)]


def test_probe_packets_and_a_polling_close_are_not_packet_events() -> None:
    # engine.io: they are the transports' own packets, not the socket's
    s = session()
    s.record_packets = s.record_created = True
    assert s.begin_upgrade(1)
    assert s.receive_probe_data("2probe", 1) == "3probe"
    s.receive_probe_data("5", 1)
    assert s.events_received() == [Upgrading(), Upgraded()]
    s.receive_data("3", Clock(2))
    assert s.events_received() == [PacketReceived(Packet(PacketType.PONG)), Heartbeat()]
    p = session()
    p.record_packets = True
    p.receive_payload("4a\x1e1", 1)
    assert p.events_received() == [
        PacketReceived(Packet(PacketType.MESSAGE, "a")),
        MessageReceived("a"),
        Closed("transport close"),
    ]


def test_server_close_on_polling_waits_for_the_next_get() -> None:
    s = session()
    s.send(Packet(PacketType.MESSAGE, "bye"))
    s.close()
    assert closed_reasons(s) == ["forced close"]
    assert s.closing_payload_pending
    assert s.answers_after_close == OPTS.close_timeout
    assert s.poll(2) == "4bye"  # the buffered packets first, as Node does
    assert s.closing_payload_pending
    assert s.poll(3) == "1"  # then the CLOSE, on the next GET
    assert not s.closing_payload_pending
    assert not s.send(Packet(PacketType.MESSAGE, "late"))


def test_aborted_poll_is_a_transport_error() -> None:
    s = session()
    s.poll(1)
    s.poll_aborted()
    assert s.events_received() == [Closed("transport error", "poll connection closed prematurely")]


def test_upgrade_probe_noop_and_switch() -> None:
    s = session()
    assert s.poll(1) is None
    assert s.begin_upgrade(2)
    assert s.next_deadline() == 12
    reply = s.receive_probe_packet(Packet(PacketType.PING, "probe"), 3)
    assert reply == Packet(PacketType.PONG, "probe")
    assert s.events_received() == [Upgrading()]
    assert s.release_poll() == "6"  # the GET waiting since before the probe: a NOOP
    s.send(Packet(PacketType.MESSAGE, "during"))
    assert s.transport == "polling"
    assert s.receive_probe_packet(Packet(PacketType.UPGRADE), 4) is None
    assert s.events_received() == [Upgraded()]
    assert s.transport == "websocket" and s.upgraded and not s.upgrading
    assert s.packets_to_send() == [Packet(PacketType.MESSAGE, "during")]
    assert not s.begin_upgrade(5)


def test_a_get_during_a_probed_upgrade_waits_then_gets_a_noop() -> None:
    s = session()
    s.begin_upgrade(1)
    s.receive_probe_packet(Packet(PacketType.PING, "probe"), 1)
    assert s.poll(2) is None
    assert not s.poll_ready
    assert s.next_deadline() == pytest.approx(2.1)
    s.handle_timer(2.1)
    assert s.poll_ready
    assert s.payload_to_send() == "6"


def test_a_get_during_a_probed_upgrade_is_refused_once_upgraded() -> None:
    s = session()
    s.begin_upgrade(1)
    s.receive_probe_packet(Packet(PacketType.PING, "probe"), 1)
    assert s.poll(2) is None
    s.receive_probe_packet(Packet(PacketType.UPGRADE), 2.05)
    assert s.take_late_poll()  # the caller answers 400: the session is on WebSocket now
    assert not s.poll_pending and s.next_deadline() == 25  # the ping, nothing else


def test_a_get_between_the_websocket_and_its_probe_waits_for_the_upgrade() -> None:
    s = session()
    s.begin_upgrade(1)
    assert s.poll(1.5) is None  # the probe WebSocket exists, its "2probe" not yet read
    s.receive_probe_packet(Packet(PacketType.PING, "probe"), 1.6)
    assert s.release_poll() is None  # not released at the probe: it came during the upgrade
    s.receive_probe_packet(Packet(PacketType.UPGRADE), 1.61)
    assert s.take_late_poll()


def test_a_get_before_the_probe_is_not_a_late_poll() -> None:
    s = session()
    assert s.poll(1) is None
    s.begin_upgrade(1)
    s.receive_probe_packet(Packet(PacketType.PING, "probe"), 1)
    assert s.release_poll() == "6"
    s.receive_probe_packet(Packet(PacketType.UPGRADE), 2)
    assert not s.take_late_poll()


def test_probe_messages_arrive_as_data() -> None:
    s = session()
    s.begin_upgrade(1)
    assert s.receive_probe_data("2probe", 1) == "3probe"
    assert s.events_received() == [Upgrading()]
    assert s.receive_probe_data("5", 2) is None
    assert s.events_received() == [Upgraded()]
    s = session()
    s.begin_upgrade(1)
    assert s.receive_probe_data("", 1) is None  # undecodable: the probe is abandoned
    assert s.events_received() == [UpgradeAbandoned()]
    assert s.is_open


def test_upgrade_timeout_abandons_the_probe() -> None:
    s = session()
    s.begin_upgrade(1)
    s.handle_timer(11)
    assert s.events_received() == [UpgradeAbandoned()]
    assert not s.upgrading and s.transport == "polling" and s.is_open


def test_unexpected_probe_packet_abandons_the_upgrade() -> None:
    s = session()
    s.begin_upgrade(1)
    s.receive_probe_packet(Packet(PacketType.MESSAGE, "x"), 2)
    assert s.events_received() == [UpgradeAbandoned()]
    assert s.begin_upgrade(3)  # a new probe may try again


def test_upgrade_refused_for_websocket_sessions_and_when_disabled() -> None:
    assert not session("websocket").begin_upgrade(1)
    s = EngineSession("C" * 20, "polling", EngineOptions(allow_upgrades=False), 0.0)
    assert not s.begin_upgrade(1)


def test_closed_session_ignores_everything() -> None:
    s = session("websocket")
    s.transport_closed()
    assert closed_reasons(s) == ["transport close"]
    s.receive_packet(Packet(PacketType.MESSAGE, "x"), 1)
    s.handle_timer(100)
    s.close()
    assert s.events_received() == []
    assert s.next_deadline() is None
