"""The msgpack parser, compatible with the npm ``socket.io-msgpack-parser`` 3.x (sans-I/O).

Pass the module itself as the parser (``Server(parser=msgpack_parser)``): it exports
``Encoder`` and ``Decoder`` like the npm package. Install the ``msgpack`` extra
(``pip install aiosocketio[msgpack]``); the package is imported when a parser object is
created, not when this module is imported.

Wire format: every Socket.IO packet is ONE binary Engine.IO message holding a msgpack
map ``{"type": t, "data": d, "nsp": n, "id": i}``, where keys whose value is undefined
are left out (as notepack.io does). Binary values are msgpack ``bin`` inside the map,
so there are no attachments and no BINARY_EVENT / BINARY_ACK types on the wire: a
binary EVENT or ACK is encoded as type 2 or 3, and decoded packets are always
EVENT / ACK (never BINARY_*).

Validity rules (the npm parser's ``checkPacket``): ``type`` is an integer 0-4, ``nsp`` is
a string, ``id`` is absent or an integer; CONNECT data is absent or a map, DISCONNECT
has no data, CONNECT_ERROR data is a string or a map, EVENT and ACK data is an array.
On top of that this decoder applies the default parser's event-name rule (the first
element of an EVENT is a string that is not reserved, or a number), so the server sees
the same guarantees whatever the parser.
"""

from __future__ import annotations

from typing import Any

from aiosocketio.exceptions import RemoteProtocolError
from aiosocketio.protocol.codec import EncodeError
from aiosocketio.protocol.socketio.packets import RESERVED_EVENTS, Packet, PacketType

__all__ = ["Decoder", "Encoder", "MsgpackDecoder", "MsgpackEncoder"]

_WIRE_TYPE = {
    PacketType.CONNECT: 0,
    PacketType.DISCONNECT: 1,
    PacketType.EVENT: 2,
    PacketType.ACK: 3,
    PacketType.CONNECT_ERROR: 4,
    PacketType.BINARY_EVENT: 2,
    PacketType.BINARY_ACK: 3,
}


def _import_msgpack() -> Any:
    try:
        import msgpack
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the msgpack parser needs the 'msgpack' package: pip install 'aiosocketio[msgpack]'"
        ) from exc
    return msgpack


class MsgpackEncoder:
    """Encode packets as single msgpack messages (same interface as ``Encoder``)."""

    __slots__ = ("_packb",)

    def __init__(self) -> None:
        msgpack = _import_msgpack()
        self._packb = msgpack.Packer(use_bin_type=True, datetime=True, autoreset=True).pack

    def encode(self, packet: Packet) -> list[str | bytes]:
        """Encode a packet.

        Returns:
            A one-element list holding the msgpack bytes.

        Raises:
            aiosocketio.protocol.codec.EncodeError: the data holds a value msgpack cannot encode.
        """
        obj: dict[str, Any] = {"type": _WIRE_TYPE[packet.type]}
        if packet.data is not None:
            obj["data"] = packet.data
        obj["nsp"] = packet.nsp
        if packet.id is not None:
            obj["id"] = packet.id
        try:
            return [self._packb(obj)]
        except (TypeError, ValueError, OverflowError) as exc:
            raise EncodeError(f"cannot encode packet data with msgpack: {exc}") from exc


def _ext_hook(code: int, data: bytes) -> Any:
    # notepack.io encodes a JavaScript ``undefined`` as fixext 1, type 0.
    if code == 0:
        return None
    raise ValueError(f"unsupported msgpack extension type {code}")


def _is_valid(ptype: int, data: Any, has_data: bool) -> bool:
    if ptype == 0:
        return not has_data or type(data) is dict
    if ptype == 1:
        return not has_data
    if ptype == 4:
        return isinstance(data, (str, dict))
    if type(data) is not list:
        return False
    if ptype == 2:
        if not data:
            return False
        name = data[0]
        if isinstance(name, str):
            return name not in RESERVED_EVENTS
        return isinstance(name, (int, float)) and not isinstance(name, bool)
    return True


class MsgpackDecoder:
    """Decode msgpack messages into packets (same interface as ``Decoder``).

    Stateless apart from its configuration; ``receive`` never returns ``None`` for a
    valid message, because a packet is always one message.

    Args:
        max_attachments: accepted for interface compatibility; unused (no attachments).
    """

    __slots__ = ("_unpackb",)

    def __init__(self, max_attachments: int = 10) -> None:
        msgpack = _import_msgpack()
        unpackb = msgpack.unpackb

        def decode(data: bytes) -> Any:
            return unpackb(data, raw=False, strict_map_key=False, ext_hook=_ext_hook, timestamp=3)

        self._unpackb = decode

    def reset(self) -> None:
        """Nothing to reset: each message is a whole packet."""

    def receive(self, data: str | bytes) -> Packet | None:
        """Decode one binary Engine.IO message.

        Raises:
            RemoteProtocolError: the message is text, not msgpack, not a map, or breaks
                a validity rule.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise RemoteProtocolError("the msgpack parser only accepts binary messages")
        try:
            obj = self._unpackb(data)
        except Exception as exc:
            raise RemoteProtocolError("invalid msgpack data") from exc
        if type(obj) is not dict:
            raise RemoteProtocolError("invalid packet format")
        ptype = obj.get("type")
        if type(ptype) is not int or not 0 <= ptype <= 4:
            raise RemoteProtocolError("invalid packet type")
        nsp = obj.get("nsp")
        if type(nsp) is not str:
            raise RemoteProtocolError("invalid namespace")
        has_data = obj.get("data") is not None
        payload = obj.get("data")
        if not _is_valid(ptype, payload, has_data):
            raise RemoteProtocolError("invalid payload")
        ack_id = obj.get("id")
        if ack_id is not None and (type(ack_id) is not int or ack_id < 0):
            raise RemoteProtocolError("invalid packet id")
        return Packet(PacketType(ptype), nsp, payload, ack_id)


# Node-style names, so that this module can be passed as a parser the way
# ``require("socket.io-msgpack-parser")`` is: ``Server(parser=msgpack_parser)``.
Encoder = MsgpackEncoder
Decoder = MsgpackDecoder
