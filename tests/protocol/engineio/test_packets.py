"""Engine.IO v4 packet and payload codec: spec vectors, round trips, errors, fuzzing, and a
cross-check with the npm engine.io-parser 5.2 (engine.io 6.6)."""

from __future__ import annotations

import base64
import json
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiosocketio.exceptions import LocalProtocolError, RemoteProtocolError
from aiosocketio.protocol.engineio.packets import (
    SEPARATOR,
    Packet,
    PacketType,
    decode_packet,
    decode_payload,
    encode_packet,
    encode_packet_polling,
    encode_payload,
)
from tests.support.node import run_node

# --------------------------------------------------------------------- spec vectors
# docs/engine.io-protocol/v4-current.md, "Packet encoding".


def test_spec_polling_payload_example() -> None:
    packets = [
        Packet(PacketType.MESSAGE, "hello"),
        Packet(PacketType.PING),
        Packet(PacketType.MESSAGE, "world"),
    ]
    assert encode_payload(packets) == "4hello\x1e2\x1e4world"
    assert decode_payload("4hello\x1e2\x1e4world") == packets


def test_spec_polling_binary_example() -> None:
    packets = [Packet(PacketType.MESSAGE, "hello"), Packet(PacketType.MESSAGE, b"\x01\x02\x03\x04")]
    assert encode_payload(packets) == "4hello\x1ebAQIDBA=="
    assert decode_payload("4hello\x1ebAQIDBA==") == packets


def test_spec_websocket_example() -> None:
    assert encode_packet(Packet(PacketType.MESSAGE, "hello")) == "4hello"
    assert decode_packet("4hello") == Packet(PacketType.MESSAGE, "hello")


def test_spec_websocket_binary_is_sent_as_is() -> None:
    assert encode_packet(Packet(PacketType.MESSAGE, b"\x01\x02\x03\x04")) == b"\x01\x02\x03\x04"
    assert decode_packet(b"\x01\x02\x03\x04") == Packet(PacketType.MESSAGE, b"\x01\x02\x03\x04")


def test_spec_handshake_open_packet() -> None:
    text = '0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000}'
    packet = decode_packet(text)
    assert packet.type is PacketType.OPEN
    assert packet.data == text[1:]
    assert encode_packet(packet) == text


@pytest.mark.parametrize(
    ("text", "packet"),
    [
        ("0", Packet(PacketType.OPEN)),
        ("1", Packet(PacketType.CLOSE)),
        ("2", Packet(PacketType.PING)),
        ("3", Packet(PacketType.PONG)),
        ("2probe", Packet(PacketType.PING, "probe")),
        ("3probe", Packet(PacketType.PONG, "probe")),
        ("4", Packet(PacketType.MESSAGE, "")),
        ("5", Packet(PacketType.UPGRADE)),
        ("6", Packet(PacketType.NOOP)),
        ('40{"sid":"x"}', Packet(PacketType.MESSAGE, '0{"sid":"x"}')),
        ("4€ \x00 ✓", Packet(PacketType.MESSAGE, "€ \x00 ✓")),
    ],
)
def test_every_packet_type(text: str, packet: Packet) -> None:
    assert decode_packet(text) == packet
    assert encode_packet(packet) == text
    assert encode_packet_polling(packet) == text


def test_sample_session_post_body() -> None:
    # docs/socket.io-protocol/v5-current.md, "Sample session", request 5.
    assert decode_payload('42["hello"]\x1e42["world"]') == [
        Packet(PacketType.MESSAGE, '2["hello"]'),
        Packet(PacketType.MESSAGE, '2["world"]'),
    ]


def test_separator_value() -> None:
    assert SEPARATOR == "\x1e"


# --------------------------------------------------------------------- encoding details


def test_binary_message_accepts_bytes_like() -> None:
    assert encode_packet(Packet(PacketType.MESSAGE, bytearray(b"ab"))) == b"ab"  # type: ignore[arg-type]
    view = memoryview(b"abc")
    assert encode_packet_polling(Packet(PacketType.MESSAGE, view)) == "bYWJj"  # type: ignore[arg-type]


def test_empty_binary_message() -> None:
    assert encode_packet(Packet(PacketType.MESSAGE, b"")) == b""
    assert encode_packet_polling(Packet(PacketType.MESSAGE, b"")) == "b"
    assert decode_packet("b") == Packet(PacketType.MESSAGE, b"")
    assert decode_packet(b"") == Packet(PacketType.MESSAGE, b"")


def test_binary_on_a_non_message_packet_is_a_local_error() -> None:
    with pytest.raises(LocalProtocolError):
        encode_packet(Packet(PacketType.PING, b"x"))
    with pytest.raises(LocalProtocolError):
        encode_packet_polling(Packet(PacketType.PING, b"x"))


def test_wrong_data_type_is_a_local_error() -> None:
    with pytest.raises(LocalProtocolError):
        encode_packet(Packet(PacketType.MESSAGE, 12))  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError):
        encode_payload([Packet(PacketType.MESSAGE, 12)])  # type: ignore[arg-type]


def test_str_subclass_data() -> None:
    class Text(str):
        pass

    assert encode_packet(Packet(PacketType.MESSAGE, Text("hi"))) == "4hi"
    assert encode_packet_polling(Packet(PacketType.MESSAGE, Text("hi"))) == "4hi"


def test_encode_payload_accepts_any_iterable() -> None:
    gen = (Packet(PacketType.MESSAGE, str(i)) for i in range(3))
    assert encode_payload(gen) == "40\x1e41\x1e42"
    assert encode_payload([]) == ""


def test_packet_is_frozen_and_slotted() -> None:
    packet = Packet(PacketType.PING)
    with pytest.raises(AttributeError):
        packet.data = "x"  # type: ignore[misc]
    assert not hasattr(packet, "__dict__")


@pytest.mark.parametrize(
    ("b64", "hex_"),
    [
        # What Node's Buffer.from(s, "base64") gives for each (checked with node 20).
        ("AQIDBA==", "01020304"),
        ("AQID\nBA==", "01020304"),
        ("AQ", "01"),
        ("A", ""),
        ("AQ=", "01"),
        ("A=Q", ""),
        ("AQ==AQ==", "01"),
        ("-_8", "fbff"),
        ("=AQ", ""),
        ("AQI=x", "0102"),
        ("é", ""),
        ("0 1", "d3"),
        ("QUJD=RA", "414243"),
    ],
)
def test_base64_is_lenient_like_node(b64: str, hex_: str) -> None:
    assert decode_packet("b" + b64) == Packet(PacketType.MESSAGE, bytes.fromhex(hex_))


# --------------------------------------------------------------------- decoding errors


@pytest.mark.parametrize(
    "text",
    ["", "7", "9hello", "abc", "x", "-1", " 4", "\x1e", "B", "\u0664"],
)
def test_invalid_packets(text: str) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_packet(text)


@pytest.mark.parametrize(
    "payload",
    ["", "\x1e", "4a\x1e", "\x1e4a", "4a\x1e\x1e4b", "4a\x1eabc", "4a\x1e7"],
)
def test_invalid_payloads(payload: str) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_payload(payload)


def test_decode_rejects_non_text_non_bytes() -> None:
    with pytest.raises(RemoteProtocolError):
        decode_packet(42)  # type: ignore[arg-type]
    with pytest.raises(RemoteProtocolError):
        decode_payload(b"4hello")


# --------------------------------------------------------------------- properties

_text_packets = st.builds(
    Packet,
    st.sampled_from(list(PacketType)),
    st.text(alphabet=st.characters(blacklist_characters="\x1e", blacklist_categories=["Cs"])),
)
_binary_packets = st.builds(Packet, st.just(PacketType.MESSAGE), st.binary())


def _normalise(packet: Packet) -> Packet:
    """What the decoder gives back: no data is None, except an empty MESSAGE."""
    if packet.data == "" and packet.type is not PacketType.MESSAGE:
        return Packet(packet.type)
    return packet


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_text_packets | _binary_packets)
def test_round_trip_websocket(packet: Packet) -> None:
    assert decode_packet(encode_packet(packet)) == _normalise(packet)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_text_packets | _binary_packets, min_size=1, max_size=8))
def test_round_trip_polling_payload(packets: list[Packet]) -> None:
    assert decode_payload(encode_payload(packets)) == [_normalise(p) for p in packets]


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_decode_packet_text_raises_only_remote_protocol_error(text: str) -> None:
    try:
        packet = decode_packet(text)
    except RemoteProtocolError:
        return
    assert isinstance(packet.type, PacketType)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary())
def test_decode_packet_bytes_never_fails(data: bytes) -> None:
    assert decode_packet(data) == Packet(PacketType.MESSAGE, data)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_decode_payload_raises_only_remote_protocol_error(text: str) -> None:
    try:
        packets = decode_payload(text)
    except RemoteProtocolError:
        return
    assert len(packets) == text.count(SEPARATOR) + 1


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(["4", "2", "3", "b", "\x1e", "A", "=", "x", "6"]), max_size=12))
def test_decode_payload_on_protocol_alphabet(chars: list[str]) -> None:
    text = "".join(chars)
    try:
        decode_payload(text)
    except RemoteProtocolError:
        pass


# --------------------------------------------------------------------- npm engine.io-parser

_NAMES = {t.name.lower(): t for t in PacketType}


def _wire(packet: Packet) -> dict[str, Any]:
    if isinstance(packet.data, bytes):
        return {"type": packet.type.name.lower(), "b64": base64.b64encode(packet.data).decode()}
    data = packet.data
    if data == "" and packet.type is PacketType.MESSAGE:
        data = None  # engine.io-parser leaves an empty message's data undefined
    return {"type": packet.type.name.lower(), "text": data}


@pytest.mark.interop
async def test_node_payloads_and_frames_are_byte_identical() -> None:
    vectors = (await run_node("parser_engineio.js", "encode")).check().lines
    assert len(vectors) >= 7
    for vector in vectors:
        packets = decode_payload(vector["payload"])
        assert encode_payload(packets) == vector["payload"], vector["name"]
        frames = [w["text"] if "text" in w else base64.b64decode(w["b64"]) for w in vector["ws"]]
        assert [encode_packet(p) for p in packets] == frames, vector["name"]
        assert [decode_packet(f) for f in frames] == packets, vector["name"]
    assert {t.name.lower() for t in PacketType} <= {
        _wire(p)["type"] for v in vectors for p in decode_payload(v["payload"])
    }


PAYLOADS = [
    "4hello",
    "4a\x1e2\x1ebAQ==",
    "4",
    "6",
    "2probe",
    "4€\x1e4",
    "b",
    "bAQIDBA==",
    "",
    "abc",
    "7",
    "4a\x1e",
    "\x1e4a",
    "4a\x1e\x1e4b",
    "4a\x1ex",
    "0{}\x1e1",
]


@pytest.mark.interop
async def test_payload_decoding_agrees_with_node() -> None:
    lines = (await run_node("parser_engineio.js", "decode", json.dumps(PAYLOADS))).check().lines
    assert len(lines) == len(PAYLOADS)
    for line, payload in zip(lines, PAYLOADS, strict=True):
        node_packets = line["packets"]
        node_ok = all(p["type"] != "error" for p in node_packets)
        try:
            ours = decode_payload(payload)
        except RemoteProtocolError:
            assert not node_ok, (payload, node_packets)
            continue
        assert node_ok, (payload, node_packets)
        assert [_wire(p) for p in ours] == node_packets, payload
        assert all(p.type is _NAMES[w["type"]] for p, w in zip(ours, node_packets, strict=True))


@pytest.mark.interop
async def test_random_payloads_agree_with_node() -> None:
    rng = random.Random(20240501)
    tokens = ["0", "1", "2", "4", "6", "7", "b", "AQ", "==", "=", "\x1e", "x", "é", " ", "probe"]
    payloads = ["".join(rng.choice(tokens) for _ in range(rng.randint(1, 8))) for _ in range(500)]
    lines = (await run_node("parser_engineio.js", "decode", json.dumps(payloads))).check().lines
    assert len(lines) == len(payloads)
    accepted = 0
    for line, payload in zip(lines, payloads, strict=True):
        node_ok = all(p["type"] != "error" for p in line["packets"])
        try:
            ours = [_wire(p) for p in decode_payload(payload)]
        except RemoteProtocolError:
            ours = None
        if ours is None:
            assert not node_ok, (payload, line)
        else:
            assert node_ok and ours == line["packets"], (payload, line, ours)
            accepted += 1
    assert accepted >= 50
