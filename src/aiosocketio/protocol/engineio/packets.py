"""Engine.IO v4 packets and polling payloads (sans-I/O, pure functions).

Spec: ``docs/engine.io-protocol/v4-current.md`` in socketio/socket.io.

* A packet is ``<type><data>``: one ASCII digit 0-6 followed by UTF-8 text
  ("Packet encoding"). Over WebSocket a binary frame is a MESSAGE packet whose data
  is the raw bytes; over HTTP long-polling binary data is sent as ``b<base64>``.
* A polling payload joins packets with the record separator ``\\x1e``
  ("Packet encoding / HTTP long-polling").

Decoding never raises anything but :class:`~aiosocketio.exceptions.RemoteProtocolError`,
which the session turns into a close with reason ``parse error``.

Decoded data: a packet with nothing after its type digit has ``data=None``, except
MESSAGE, whose data is then ``""`` (so ``decode_packet(encode_packet(p))`` gives back a
MESSAGE holding the same string).
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import IntEnum

from aiosocketio.exceptions import LocalProtocolError, RemoteProtocolError

__all__ = [
    "SEPARATOR",
    "Packet",
    "PacketType",
    "decode_packet",
    "decode_payload",
    "encode_packet",
    "encode_packet_polling",
    "encode_payload",
]

SEPARATOR = "\x1e"
"""The record separator that joins packets in a polling payload."""


class PacketType(IntEnum):
    """Engine.IO packet types (spec: "Protocol / Packets")."""

    OPEN = 0
    CLOSE = 1
    PING = 2
    PONG = 3
    MESSAGE = 4
    UPGRADE = 5
    NOOP = 6


@dataclass(frozen=True, slots=True)
class Packet:
    """One Engine.IO packet.

    Attributes:
        type: the packet type.
        data: text, bytes (a binary MESSAGE only), or ``None`` for no data.
    """

    type: PacketType
    data: str | bytes | None = None


def _packet_factory() -> Callable[[PacketType, str | bytes | None], Packet]:
    """A constructor for the decoding hot path: writes the slots through their
    descriptors instead of the frozen dataclass's per-field ``object.__setattr__``."""
    new = object.__new__
    set_type = Packet.__dict__["type"].__set__
    set_data = Packet.__dict__["data"].__set__

    def make(ptype: PacketType, data: str | bytes | None) -> Packet:
        packet: Packet = new(Packet)
        set_type(packet, ptype)
        set_data(packet, data)
        return packet

    return make


_make_packet = _packet_factory()

# "0".."6" -> PacketType, and PacketType -> its digit, precomputed for the hot path.
_TYPE_BY_CHAR: dict[str, PacketType] = {str(int(t)): t for t in PacketType}
_CHAR_BY_TYPE: dict[PacketType, str] = {t: str(int(t)) for t in PacketType}
_MESSAGE = PacketType.MESSAGE


def _binary_data(packet: Packet) -> bytes:
    data = packet.data
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise LocalProtocolError(
            f"packet data must be str, bytes or None, not {type(data).__name__}"
        )
    if packet.type != _MESSAGE:
        raise LocalProtocolError(f"only MESSAGE packets can carry binary data, not {packet.type!r}")
    return bytes(data)


def encode_packet(packet: Packet) -> str | bytes:
    """Encode a packet for a WebSocket frame.

    Returns:
        ``"<type><data>"`` for text (sent as a TEXT frame), or the raw bytes of a binary
        MESSAGE (sent as a BINARY frame).

    Raises:
        LocalProtocolError: the packet is not encodable (binary data on a non-MESSAGE
            packet, or data of the wrong type).
    """
    data = packet.data
    if type(data) is str:
        return _CHAR_BY_TYPE[packet.type] + data
    if data is None:
        return _CHAR_BY_TYPE[packet.type]
    if isinstance(data, str):
        return _CHAR_BY_TYPE[packet.type] + str(data)
    return _binary_data(packet)


def encode_packet_polling(packet: Packet) -> str:
    """Encode a packet for an HTTP long-polling payload.

    Binary MESSAGE data becomes ``"b" + base64(data)`` (spec: "HTTP long-polling").

    Raises:
        LocalProtocolError: the packet is not encodable.
    """
    encoded = encode_packet(packet)
    if isinstance(encoded, str):
        return encoded
    return "b" + binascii.b2a_base64(encoded, newline=False).decode("ascii")


def decode_packet(data: str | bytes) -> Packet:
    """Decode one packet: a WebSocket frame's payload or one record of a polling payload.

    ``bytes`` (a WebSocket BINARY frame) is a MESSAGE packet holding those bytes; a string
    starting with ``b`` is a base64-encoded binary MESSAGE.

    Raises:
        RemoteProtocolError: empty input, an unknown type or a wrong argument type. (Base64
            is decoded as leniently as Node does it, so it never fails.)
    """
    if type(data) is str:
        if not data:
            raise RemoteProtocolError("empty Engine.IO packet")
        ptype = _TYPE_BY_CHAR.get(data[0])
        if ptype is None:
            if data[0] == "b":
                return _make_packet(_MESSAGE, _decode_base64(data))
            raise RemoteProtocolError(f"unknown Engine.IO packet type {data[0]!r}")
        if len(data) > 1:
            return _make_packet(ptype, data[1:])
        return _make_packet(ptype, "" if ptype is _MESSAGE else None)
    if isinstance(data, (bytes, bytearray, memoryview)):
        return _make_packet(_MESSAGE, data if type(data) is bytes else bytes(data))
    if isinstance(data, str):
        return decode_packet(str(data))
    raise RemoteProtocolError(f"cannot decode an Engine.IO packet from {type(data).__name__}")


_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/]+")
_URL_SAFE = str.maketrans("-_", "+/")


def _decode_base64(data: str) -> bytes:
    """Decode the base64 of a ``b`` packet as leniently as Node's ``Buffer.from(s,
    "base64")``: the URL-safe alphabet is accepted, other characters are skipped, the
    first ``=`` ends the data, missing padding is fine and a lone trailing character is
    dropped. Standard padded base64 (what every client sends) takes the fast path."""
    body = data[1:]
    try:
        return binascii.a2b_base64(body, strict_mode=True)
    except ValueError:
        pass  # binascii.Error, or non-ASCII text: do what Node does
    end = body.find("=")
    if end >= 0:
        body = body[:end]
    body = _NOT_BASE64.sub("", body.translate(_URL_SAFE))
    extra = len(body) % 4
    if extra == 1:
        body = body[:-1]
    elif extra:
        body += "=" * (4 - extra)
    return binascii.a2b_base64(body)


def encode_payload(packets: Iterable[Packet]) -> str:
    """Encode packets as one HTTP long-polling payload, joined with ``"\\x1e"``.

    Raises:
        LocalProtocolError: a packet is not encodable.
    """
    return SEPARATOR.join([encode_packet_polling(p) for p in packets])


def decode_payload(data: str | bytes) -> list[Packet]:
    """Decode an HTTP long-polling payload (a POST body) into its packets.

    Raises:
        RemoteProtocolError: the payload is empty or one of its packets is invalid.
    """
    if not isinstance(data, str):
        raise RemoteProtocolError(f"a polling payload is text, not {type(data).__name__}")
    if SEPARATOR not in data:
        return [decode_packet(data)]
    return [decode_packet(part) for part in data.split(SEPARATOR)]
