"""The msgpack parser (socket.io-msgpack-parser compatible)."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiosocketio.exceptions import RemoteProtocolError
from aiosocketio.protocol.codec import EncodeError
from aiosocketio.protocol.socketio import Packet, PacketType
from aiosocketio.protocol.socketio.msgpack_parser import MsgpackDecoder, MsgpackEncoder


def pack(obj: Any) -> bytes:
    data: bytes = msgpack.packb(obj, use_bin_type=True)
    return data


def test_wire_format_is_one_map() -> None:
    parts = MsgpackEncoder().encode(Packet(PacketType.EVENT, "/admin", ["hi", b"\x01"], 3))
    assert len(parts) == 1
    raw = parts[0]
    assert isinstance(raw, bytes)
    assert msgpack.unpackb(raw, raw=False) == {
        "type": 2,
        "data": ["hi", b"\x01"],
        "nsp": "/admin",
        "id": 3,
    }


def test_absent_fields_are_left_out() -> None:
    (raw,) = MsgpackEncoder().encode(Packet(PacketType.CONNECT, "/"))
    assert isinstance(raw, bytes)
    assert msgpack.unpackb(raw, raw=False) == {"type": 0, "nsp": "/"}
    # fixmap of 2: type 0, nsp "/"
    assert raw == b"\x82\xa4type\x00\xa3nsp\xa1/"


def test_binary_types_map_to_plain_types() -> None:
    encoder = MsgpackEncoder()
    (raw,) = encoder.encode(Packet(PacketType.BINARY_ACK, "/", [b"x"], 1))
    assert isinstance(raw, bytes)
    assert msgpack.unpackb(raw, raw=False)["type"] == 3
    decoded = MsgpackDecoder().receive(raw)
    assert decoded == Packet(PacketType.ACK, "/", [b"x"], 1)


@pytest.mark.parametrize(
    "packet",
    [
        Packet(PacketType.CONNECT, "/"),
        Packet(PacketType.CONNECT, "/admin", {"token": "123"}),
        Packet(PacketType.DISCONNECT, "/admin"),
        Packet(PacketType.EVENT, "/", ["foo", 1, 2.5, None, True, {"a": [b"\x00\xff"]}]),
        Packet(PacketType.EVENT, "/", [7], 0),
        Packet(PacketType.ACK, "/", [], 12),
        Packet(PacketType.CONNECT_ERROR, "/", {"message": "Not authorized"}),
        Packet(PacketType.CONNECT_ERROR, "/", "Invalid namespace"),
    ],
)
def test_round_trip(packet: Packet) -> None:
    assert MsgpackDecoder().receive(MsgpackEncoder().encode(packet)[0]) == packet


def test_undefined_extension_from_notepack_is_none() -> None:
    # notepack.io encodes a JavaScript undefined as fixext 1 of type 0: d4 00 00.
    raw = b"\x83\xa4type\x02\xa4data\x92\xa1a\xd4\x00\x00\xa3nsp\xa1/"
    assert MsgpackDecoder().receive(raw) == Packet(PacketType.EVENT, "/", ["a", None])


@pytest.mark.parametrize(
    "obj",
    [
        [],
        "x",
        {"type": 5, "nsp": "/", "data": ["a"]},  # no binary types on this wire
        {"type": -1, "nsp": "/"},
        {"type": "2", "nsp": "/", "data": ["a"]},
        {"type": 2.0, "nsp": "/", "data": ["a"]},
        {"type": 2, "data": ["a"]},  # nsp missing
        {"type": 2, "nsp": 1, "data": ["a"]},
        {"type": 0, "nsp": "/", "data": ["a"]},  # CONNECT: map or nothing
        {"type": 1, "nsp": "/", "data": {}},  # DISCONNECT: nothing
        {"type": 4, "nsp": "/", "data": 1},  # CONNECT_ERROR: str or map
        {"type": 4, "nsp": "/"},
        {"type": 2, "nsp": "/", "data": {}},  # EVENT: array
        {"type": 2, "nsp": "/"},
        {"type": 2, "nsp": "/", "data": []},
        {"type": 2, "nsp": "/", "data": ["connect"]},
        {"type": 2, "nsp": "/", "data": [None]},
        {"type": 2, "nsp": "/", "data": [False]},
        {"type": 3, "nsp": "/", "data": "x", "id": 1},  # ACK: array
        {"type": 2, "nsp": "/", "data": ["a"], "id": "1"},
        {"type": 2, "nsp": "/", "data": ["a"], "id": 1.5},
        {"type": 2, "nsp": "/", "data": ["a"], "id": -1},
    ],
)
def test_invalid_packets(obj: Any) -> None:
    with pytest.raises(RemoteProtocolError):
        MsgpackDecoder().receive(pack(obj))


@pytest.mark.parametrize(
    "raw",
    [b"", b"\xc1", b"\x81", b"\x82\xa4type\x02", b"\xd4\x05\x00", b"\x81\xa4type\x02\x00"],
)
def test_garbage(raw: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        MsgpackDecoder().receive(raw)


def test_text_messages_are_rejected() -> None:
    with pytest.raises(RemoteProtocolError):
        MsgpackDecoder().receive('2["a"]')


def test_reset_is_harmless() -> None:
    decoder = MsgpackDecoder()
    decoder.reset()
    assert decoder.receive(pack({"type": 0, "nsp": "/"})) == Packet(PacketType.CONNECT)


def test_unencodable_data() -> None:
    with pytest.raises(EncodeError):
        MsgpackEncoder().encode(Packet(PacketType.EVENT, "/", ["a", {1, 2}]))
    with pytest.raises(TypeError):
        MsgpackEncoder().encode(Packet(PacketType.EVENT, "/", ["a", object()]))


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary())
def test_decoder_raises_only_remote_protocol_error(raw: bytes) -> None:
    try:
        MsgpackDecoder().receive(raw)
    except RemoteProtocolError:
        pass


_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text()
    | st.binary(),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3),
    max_leaves=8,
)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["type", "nsp", "data", "id", "x"]), _values))
def test_decoder_on_packet_shaped_maps(obj: dict[str, Any]) -> None:
    try:
        packet = MsgpackDecoder().receive(pack(obj))
    except RemoteProtocolError:
        return
    assert packet is not None
    assert packet.type in (0, 1, 2, 3, 4)
    assert isinstance(packet.nsp, str)


def test_module_is_a_parser_like_the_npm_package() -> None:
    from aiosocketio.protocol.socketio import msgpack_parser

    assert msgpack_parser.Encoder is MsgpackEncoder
    assert msgpack_parser.Decoder is MsgpackDecoder


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_decoder_text_raises_only_remote_protocol_error(text: str) -> None:
    with pytest.raises(RemoteProtocolError):
        MsgpackDecoder().receive(text)
