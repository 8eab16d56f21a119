"""Cross-check the msgpack parser with notepack.io, which socket.io-msgpack-parser uses.

Node's encoding of each vector must decode with our MsgpackDecoder and re-encode to the
very same bytes; our encoding must decode in Node to the same packet.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from aiosocketio.protocol.socketio import Packet, PacketType
from aiosocketio.protocol.socketio.msgpack_parser import MsgpackDecoder, MsgpackEncoder
from tests.support.node import revive, run_node

pytestmark = pytest.mark.interop


async def test_node_encodings_decode_and_reencode_byte_identical() -> None:
    vectors = (await run_node("parser_msgpack.js", "encode")).check().lines
    assert len(vectors) >= 10
    decoder, encoder = MsgpackDecoder(), MsgpackEncoder()
    for vector in vectors:
        raw = base64.b64decode(vector["b64"])
        packet = decoder.receive(raw)
        assert packet is not None, vector["name"]
        assert encoder.encode(packet) == [raw], vector["name"]


async def test_node_decodes_our_encodings() -> None:
    packets = [
        Packet(PacketType.CONNECT, "/admin", {"token": "x"}),
        Packet(PacketType.EVENT, "/", ["bin", b"\x00\xff", {"nested": [bytearray(b"ab")]}], 7),
        Packet(PacketType.ACK, "/chat", [1.25, -3, "€"], 0),
        Packet(PacketType.CONNECT_ERROR, "/", {"message": "nope", "data": {"code": 1}}),
        Packet(PacketType.DISCONNECT, "/chat"),
    ]
    encoded = [MsgpackEncoder().encode(p)[0] for p in packets]
    assert all(isinstance(e, bytes) for e in encoded)
    b64 = [base64.b64encode(e).decode() for e in encoded if isinstance(e, bytes)]
    lines = (await run_node("parser_msgpack.js", "decode", json.dumps(b64))).check().lines
    assert len(lines) == len(packets)
    for line, packet in zip(lines, packets, strict=True):
        node = revive(line["packet"])
        expected: dict[str, Any] = {"type": int(packet.type), "nsp": packet.nsp}
        if packet.data is not None:
            expected["data"] = _normalise(packet.data)
        if packet.id is not None:
            expected["id"] = packet.id
        assert node == expected


def _normalise(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, (list, tuple)):
        return [_normalise(v) for v in value]
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    return value
