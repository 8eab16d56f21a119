"""Engine.IO v3 packet and payload encoding (engine.io-parser 2.x), for ``allow_eio3``.

What differs from v4 (:mod:`aiosocketio.protocol.engineio.packets`):

* A WebSocket BINARY frame carries the packet type in its first byte (``\\x04`` for a
  MESSAGE) before the data; text frames are as in v4.
* A polling payload is a run of ``<length>:<packet>`` records, the length counted in
  UTF-16 code units (JavaScript's ``String.length``), with no separator. A binary MESSAGE
  in a text payload is ``b4<base64>`` (``b``, the type digit, then base64).

* A client that reads binary XHR responses (a browser; it does not send ``b64=1``) gets,
  when a payload holds binary, the binary payload format: per packet ``\x00`` (text) or
  ``\x01`` (binary), the length's decimal digits as bytes 0-9, ``\xff``, then the UTF-8
  text or the type byte and the data; it POSTs that format (``application/octet-stream``)
  when it sends binary. socket.io-client 2.x in Node asks for text payloads (``b64=1``).
"""

from __future__ import annotations

import binascii

from aiosocketio.exceptions import RemoteProtocolError
from aiosocketio.protocol.engineio.packets import (
    Packet,
    PacketType,
    _decode_base64,
    decode_packet,
    encode_packet,
)

__all__ = [
    "decode_binary_payload",
    "decode_frame",
    "decode_payload",
    "encode_binary_payload",
    "encode_frame",
    "encode_payload",
    "encode_payload_binary_ok",
    "utf16_length",
]

_MESSAGE = PacketType.MESSAGE


def utf16_length(text: str) -> int:
    """JavaScript's ``text.length``: code units, a character beyond U+FFFF counting 2."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def encode_frame(packet: Packet) -> str | bytes:
    """Encode a packet for a WebSocket message (binary: the type byte, then the data)."""
    encoded = encode_packet(packet)
    if isinstance(encoded, str):
        return encoded
    return bytes((int(packet.type),)) + encoded


def decode_frame(data: str | bytes) -> Packet:
    """Decode one WebSocket message.

    Raises:
        RemoteProtocolError: empty, or an unknown packet type.
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        if not raw:
            raise RemoteProtocolError("empty Engine.IO packet")
        if raw[0] != _MESSAGE:
            raise RemoteProtocolError(f"unexpected binary Engine.IO packet type {raw[0]}")
        return Packet(_MESSAGE, raw[1:])
    return _decode_record(data)


def _decode_record(data: str) -> Packet:
    if data[:1] == "b":
        if data[1:2] != "4":
            raise RemoteProtocolError("only MESSAGE packets can carry binary data")
        return Packet(_MESSAGE, _decode_base64(data[1:]))
    return decode_packet(data)


def _encode_record(packet: Packet) -> str:
    encoded = encode_packet(packet)
    if not isinstance(encoded, str):
        encoded = "b4" + binascii.b2a_base64(encoded, newline=False).decode("ascii")
    return f"{utf16_length(encoded)}:{encoded}"


def encode_payload(packets: list[Packet]) -> str:
    """Encode packets as one v3 text payload (``<length>:<packet>`` records)."""
    if not packets:
        return "0:"
    return "".join([_encode_record(p) for p in packets])


def decode_payload(data: str) -> list[Packet]:
    """Decode a v3 text payload (a POST body).

    Raises:
        RemoteProtocolError: a length that is missing, not a number or beyond the end, or
            an invalid packet.
    """
    if not isinstance(data, str) or not data:
        raise RemoteProtocolError("empty Engine.IO v3 payload")
    ascii_only = data.isascii()
    units = data if ascii_only else data.encode("utf-16-le", "surrogatepass")
    width = 1 if ascii_only else 2
    total = len(units) // width
    packets: list[Packet] = []
    pos = 0
    while pos < total:
        colon = _find_colon(units, pos, width, total)
        digits = _text(units, pos, colon, width)
        if not digits.isdigit() or not digits.isascii() or len(digits) > 10:
            raise RemoteProtocolError("invalid Engine.IO v3 payload length")
        length = int(digits)
        start = colon + 1
        end = start + length
        if end > total:
            raise RemoteProtocolError("Engine.IO v3 payload shorter than announced")
        if length:
            packets.append(_decode_record(_text(units, start, end, width)))
        pos = end
    return packets


def _find_colon(units: str | bytes, pos: int, width: int, total: int) -> int:
    if isinstance(units, str):
        colon = units.find(":", pos)
        if colon < 0:
            raise RemoteProtocolError("invalid Engine.IO v3 payload length")
        return colon
    for i in range(pos, min(total, pos + 12)):
        if units[2 * i] == 0x3A and units[2 * i + 1] == 0:
            return i
    raise RemoteProtocolError("invalid Engine.IO v3 payload length")


def _text(units: str | bytes, start: int, end: int, width: int) -> str:
    if isinstance(units, str):
        return units[start:end]
    return units[2 * start : 2 * end].decode("utf-16-le", "surrogatepass")


def encode_payload_binary_ok(packets: list[Packet]) -> str | bytes:
    """For a client that reads binary responses: the binary payload format when a packet
    holds binary, else the text payload (as engine.io-parser 2's ``encodePayload``)."""
    if any(isinstance(p.data, bytes) for p in packets):
        return encode_binary_payload(packets)
    return encode_payload(packets)


def _header(kind: int, length: int) -> bytes:
    return bytes((kind, *(int(d) for d in str(length)), 255))


def encode_binary_payload(packets: list[Packet]) -> bytes:
    """Encode packets in the v3 binary payload format."""
    out = bytearray()
    for packet in packets:
        encoded = encode_frame(packet)
        if isinstance(encoded, str):
            raw = encoded.encode("utf-8", "surrogatepass")
            out += _header(0, len(raw)) + raw
        else:
            out += _header(1, len(encoded)) + encoded
    return bytes(out)


def decode_binary_payload(data: bytes) -> list[Packet]:
    """Decode a v3 binary payload (a POST body sent as ``application/octet-stream``).

    Raises:
        RemoteProtocolError: a malformed header, a record beyond the end, or an invalid
            packet.
    """
    packets: list[Packet] = []
    pos = 0
    total = len(data)
    if not total:
        raise RemoteProtocolError("empty Engine.IO v3 payload")
    while pos < total:
        kind = data[pos]
        end = data.find(b"\xff", pos + 1, pos + 12)
        digits = data[pos + 1 : end]
        if kind not in (0, 1) or end < 0 or not digits or any(d > 9 for d in digits):
            raise RemoteProtocolError("invalid Engine.IO v3 binary payload header")
        length = int("".join(str(d) for d in digits))
        start = end + 1
        if start + length > total:
            raise RemoteProtocolError("Engine.IO v3 payload shorter than announced")
        record = data[start : start + length]
        pos = start + length
        if kind == 1:
            packets.append(decode_frame(record))
            continue
        try:
            text = record.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RemoteProtocolError("invalid UTF-8 in an Engine.IO v3 payload") from exc
        if text:
            packets.append(_decode_record(text))
    return packets
