"""Socket.IO v5 protocol layer (sans-I/O): packets, the default parser and the msgpack one.

``MsgpackEncoder`` and ``MsgpackDecoder`` live in
:mod:`aiosocketio.protocol.socketio.msgpack_parser` (they need the optional ``msgpack`` package).
"""

from aiosocketio.protocol.socketio.packets import (
    RESERVED_EVENTS,
    Decoder,
    Encoder,
    Packet,
    PacketType,
)

__all__ = ["RESERVED_EVENTS", "Decoder", "Encoder", "Packet", "PacketType"]
