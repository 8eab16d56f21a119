"""Engine.IO v3 (``allow_eio3``): the codec against engine.io-parser 2.x (the one that
socket.io-client 2.5.0 ships), and the v3 rules of the session (handshake, heartbeat)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from typing import Any

import pytest

from aiosocketio.exceptions import RemoteProtocolError
from aiosocketio.protocol.engineio import v3
from aiosocketio.protocol.engineio.events import Closed, Heartbeat, MessageReceived
from aiosocketio.protocol.engineio.options import EngineOptions
from aiosocketio.protocol.engineio.packets import Packet, PacketType
from aiosocketio.protocol.engineio.session import EngineSession
from tests.support.node import JS_DIR, NODE_MODULES

T = PacketType
NAMES = {t: t.name.lower() for t in PacketType}

VECTORS: dict[str, list[Packet]] = {
    "message": [Packet(T.MESSAGE, '2["hi"]')],
    "several": [Packet(T.MESSAGE, "0"), Packet(T.PING, "probe"), Packet(T.PONG), Packet(T.NOOP)],
    "unicode": [Packet(T.MESSAGE, '2["é😀€"]'), Packet(T.MESSAGE, "x" * 300)],
    "binary": [Packet(T.MESSAGE, b"\x00\x01\xff"), Packet(T.MESSAGE, "1")],
    "empty": [],
}


def _node(*args: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        ["node", str(JS_DIR / "parser_engineio_v3.js"), *args],
        capture_output=True,
        check=True,
        env={**os.environ, "NODE_PATH": str(NODE_MODULES)},
        timeout=60,
    )
    return [json.loads(line) for line in out.stdout.decode().splitlines()]


pytestmark = pytest.mark.interop


def test_our_payloads_are_engine_io_parser_v2s() -> None:
    theirs = {line["name"]: line["payload"] for line in _node("encode")}
    assert theirs == {name: v3.encode_payload(packets) for name, packets in VECTORS.items()}
    for name, packets in VECTORS.items():
        if packets:
            assert v3.decode_payload(theirs[name]) == packets


def test_engine_io_parser_v2_decodes_our_payloads() -> None:
    ours = [v3.encode_payload(packets) for packets in VECTORS.values() if packets]
    decoded = _node("decode", json.dumps(ours))
    for line, packets in zip(decoded, [p for p in VECTORS.values() if p], strict=True):
        expected = [
            {
                "type": NAMES[p.type],
                **(
                    {"data": {"$bin": base64.b64encode(p.data).decode()}}
                    if isinstance(p.data, bytes)
                    else ({"data": p.data} if p.data is not None else {})
                ),
            }
            for p in packets
        ]
        assert line["packets"] == expected


def _expected(packets: list[Packet]) -> list[dict[str, Any]]:
    return [
        {
            "type": NAMES[p.type],
            **(
                {"data": {"$bin": base64.b64encode(p.data).decode()}}
                if isinstance(p.data, bytes)
                else ({"data": p.data} if p.data is not None else {})
            ),
        }
        for p in packets
    ]


def test_binary_payloads_match_engine_io_parser_v2_both_ways() -> None:
    theirs = {line["name"]: base64.b64decode(line["b64"]) for line in _node("encode-binary")}
    vectors = {name: packets for name, packets in VECTORS.items() if packets}
    assert theirs == {name: v3.encode_binary_payload(p) for name, p in vectors.items()}
    for name, packets in vectors.items():
        assert v3.decode_binary_payload(theirs[name]) == packets
    ours = [base64.b64encode(v3.encode_binary_payload(p)).decode() for p in vectors.values()]
    decoded = _node("decode-binary", json.dumps(ours))
    assert [line["packets"] for line in decoded] == [_expected(p) for p in vectors.values()]
    # text-only packets stay a text payload for a binary-capable client
    assert v3.encode_payload_binary_ok(VECTORS["message"]) == v3.encode_payload(VECTORS["message"])
    assert v3.encode_payload_binary_ok(VECTORS["binary"]) == theirs["binary"]


@pytest.mark.parametrize("bad", [b"\x02\x01\xff4", b"\x00\x0a\xff4", b"\x00\x05\xff4", b"\x00\x01"])
def test_bad_binary_payloads_are_parse_errors(bad: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        v3.decode_binary_payload(bad)


def test_lengths_count_utf16_code_units() -> None:
    assert v3.utf16_length("a😀é") == 4
    assert v3.encode_payload([Packet(T.MESSAGE, "😀")]) == "3:4😀"
    assert v3.decode_payload("3:4😀1:6") == [Packet(T.MESSAGE, "😀"), Packet(T.NOOP)]


@pytest.mark.parametrize("bad", ["x:4", "3:4", ":4", "2:40junk", "5:b3AAA", "99999999999:4"])
def test_bad_payloads_are_parse_errors(bad: str) -> None:
    with pytest.raises(RemoteProtocolError):
        v3.decode_payload(bad)


def test_binary_websocket_frames_carry_the_type_byte() -> None:
    assert v3.encode_frame(Packet(T.MESSAGE, b"\x01\x02")) == b"\x04\x01\x02"
    assert v3.encode_frame(Packet(T.MESSAGE, "2[1]")) == "42[1]"
    assert v3.decode_frame(b"\x04\x01\x02") == Packet(T.MESSAGE, b"\x01\x02")
    assert v3.decode_frame("2probe") == Packet(T.PING, "probe")
    for bad in (b"", b"\x02x"):
        with pytest.raises(RemoteProtocolError):
            v3.decode_frame(bad)


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


def _session(protocol: int, transport: str = "websocket") -> EngineSession:
    options = EngineOptions(ping_interval=25, ping_timeout=20, allow_eio3=True)
    return EngineSession("sid", transport, options, 100.0, protocol=protocol)


def test_v3_handshake_is_v4s_in_v3_encoding() -> None:
    # engine.io 6.6 sends the same OPEN data to v3 clients (maxPayload included)
    assert _session(3).open_packet_data() == _session(4).open_packet_data()
    polling = _session(3, "polling")
    body = polling.open_payload()
    assert isinstance(body, str) and v3.decode_payload(body) == [polling.open_packet()]


def test_v3_heartbeat_the_client_pings_the_server_answers() -> None:
    session = _session(3)
    # no server ping: the only deadline is the client's ping, interval + timeout away
    assert session.next_deadline() == 100.0 + 45
    session.handle_timer(130.0)
    assert session.packets_to_send() == []
    assert session.receive_data("2", _Clock(140.0)) is None
    assert session.events_received() == [Heartbeat()]
    assert session.packets_to_send() == [Packet(T.PONG)]
    assert session.next_deadline() == 140.0 + 45
    assert session.receive_data("2probe", _Clock(150.0)) is None
    assert session.packets_to_send() == [Packet(T.PONG)]  # as engine.io: no data
    assert session.events_received() == [Heartbeat()]
    # other packets do not move the deadline (as engine.io 3)
    assert session.receive_data("4x", _Clock(160.0)) == "x"
    assert session.next_deadline() == 150.0 + 45
    session.handle_timer(150.0 + 45 - 0.001)
    assert session.is_open
    session.handle_timer(150.0 + 45)
    assert session.events_received() == [Closed("ping timeout", None)]


def test_v3_binary_messages_arrive_without_their_type_byte() -> None:
    session = _session(3)
    assert session.receive_data(b"\x04\x00\xff", _Clock(101.0)) is None
    assert session.events_received() == [MessageReceived(b"\x00\xff")]


def test_v4_still_refuses_a_client_ping() -> None:
    session = _session(4)
    session.receive_data("2", _Clock(101.0))
    assert session.events_received() == [Closed("transport error", "invalid heartbeat direction")]


def test_v3_a_pong_from_the_client_is_a_transport_error() -> None:
    session = _session(3)
    session.receive_data("3", _Clock(101.0))
    assert session.events_received() == [Closed("transport error", "invalid heartbeat direction")]
