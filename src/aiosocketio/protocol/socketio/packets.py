"""Socket.IO v5 packets: the encoder and the decoder with binary attachments (sans-I/O).

Spec: ``docs/socket.io-protocol/v5-current.md`` in socketio/socket.io; behaviour matches
the npm ``socket.io-parser`` 4.2 that socket.io 4.8 uses.

Wire format of one packet (section "Packet encoding")::

    <packet type>[<# of binary attachments>-][<namespace>,][<acknowledgment id>][JSON payload]

* the namespace is omitted when it is ``"/"``;
* an EVENT or ACK whose payload holds binary values (``bytes``, ``bytearray``,
  ``memoryview``, at any depth) is sent as BINARY_EVENT / BINARY_ACK: each binary value
  is replaced by ``{"_placeholder":true,"num":<index>}`` and the buffers follow, in order,
  as separate Engine.IO binary messages.

Theory of operation of :class:`Decoder` (the only stateful part, modelled on h11):

* Rule 1: a text message starts a packet. A plain packet is returned at once; a binary
  packet is validated, then held until its attachments arrive and ``receive`` returns
  ``None`` meanwhile.
* Rule 2: a binary message is only valid while a binary packet waits for attachments;
  a text message is only valid while none does.
* Rule 3: anything invalid raises :class:`~aiosocketio.exceptions.RemoteProtocolError`
  (and nothing else); the caller closes the connection with reason ``parse error``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, cast

import orjson

from aiosocketio.exceptions import LocalProtocolError, RemoteProtocolError
from aiosocketio.protocol import json_fallback
from aiosocketio.protocol.codec import (
    BINARY_TYPES,
    ORJSON_OPTIONS,
    JSONCodec,
    OrjsonCodec,
    default_codec,
)

__all__ = [
    "RESERVED_EVENTS",
    "Decoder",
    "Encoder",
    "Packet",
    "PacketType",
    "make_packet",
]

RESERVED_EVENTS: frozenset[str] = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}
)
"""Event names that cannot be emitted: they are used by the library itself."""


class PacketType(IntEnum):
    """Socket.IO packet types (spec: "Packet format")."""

    CONNECT = 0
    DISCONNECT = 1
    EVENT = 2
    ACK = 3
    CONNECT_ERROR = 4
    BINARY_EVENT = 5
    BINARY_ACK = 6


@dataclass(frozen=True, slots=True)
class Packet:
    """One Socket.IO packet.

    Attributes:
        type: the packet type. A decoded binary packet keeps BINARY_EVENT / BINARY_ACK,
            with its placeholders already replaced by ``bytes``.
        nsp: the namespace, ``"/"`` by default.
        data: the JSON payload (``None`` when there is none). For EVENT it is
            ``[event_name, *args]``; for ACK it is the list of ack arguments.
        id: the acknowledgement id, or ``None``.
    """

    type: PacketType
    nsp: str = "/"
    data: Any = None
    id: int | None = None


def _packet_factory() -> Callable[[PacketType, str, Any, int | None], Packet]:
    """A constructor for the decoder's hot path.

    A frozen dataclass's ``__init__`` goes through ``object.__setattr__`` once per field;
    writing the slots through their descriptors gives the same object for less.
    """
    new = object.__new__
    set_type = Packet.__dict__["type"].__set__
    set_nsp = Packet.__dict__["nsp"].__set__
    set_data = Packet.__dict__["data"].__set__
    set_id = Packet.__dict__["id"].__set__

    def make(ptype: PacketType, nsp: str, data: Any, ack_id: int | None) -> Packet:
        """Build a :class:`Packet` for a hot path, all four fields positional.

        The same object as ``Packet(ptype, nsp, data, ack_id)`` for about two thirds of
        the cost. No validation is done, as with the constructor.
        """
        packet: Packet = new(Packet)
        set_type(packet, ptype)
        set_nsp(packet, nsp)
        set_data(packet, data)
        set_id(packet, ack_id)
        return packet

    return make


_make_packet = _packet_factory()
make_packet = _make_packet


_CONNECT = PacketType.CONNECT
_DISCONNECT = PacketType.DISCONNECT
_EVENT = PacketType.EVENT
_ACK = PacketType.ACK
_CONNECT_ERROR = PacketType.CONNECT_ERROR
_BINARY_EVENT = PacketType.BINARY_EVENT
_BINARY_ACK = PacketType.BINARY_ACK

_TYPE_BY_CHAR: dict[str, PacketType] = {str(int(t)): t for t in PacketType}
_CHAR_BY_TYPE: dict[PacketType, str] = {t: str(int(t)) for t in PacketType}
_DIGITS = frozenset("0123456789")
_CONTAINERS = (list, tuple, dict)
_orjson_dumps = orjson.dumps
_ORJSON_OPTIONS = ORJSON_OPTIONS


# --------------------------------------------------------------------------- encoding


def _has_binary(obj: Any) -> bool:
    """Whether a JSON-ish value holds binary anywhere; only containers are walked."""
    values = obj.values() if isinstance(obj, dict) else obj
    for value in values:
        if isinstance(value, BINARY_TYPES):
            return True
        if isinstance(value, _CONTAINERS) and _has_binary(value):
            return True
    return False


def _deconstruct(obj: Any, buffers: list[bytes]) -> Any:
    """Copy ``obj`` with binary values replaced by placeholders (depth-first order)."""
    if isinstance(obj, BINARY_TYPES):
        num = len(buffers)
        buffers.append(bytes(obj))
        return {"_placeholder": True, "num": num}
    if isinstance(obj, (list, tuple)):
        return [_deconstruct(value, buffers) for value in obj]
    if isinstance(obj, dict):
        return {key: _deconstruct(value, buffers) for key, value in obj.items()}
    return obj


def _nsp_prefix(nsp: str) -> str:
    """``"<nsp>,"`` for a namespace other than ``"/"`` (spec "Format": delimited by a
    comma, with no escape sequence, so the name cannot hold one)."""
    if nsp[0] != "/" or "," in nsp:
        raise LocalProtocolError(
            f"namespace {nsp!r} must start with '/' and cannot contain ',' (default parser)"
        )
    return nsp + ","


class Encoder:
    """Encode :class:`Packet` objects into Engine.IO message payloads.

    Stateless and reusable: one encoder can serve every connection. A broadcast is
    encoded once and its parts sent to every recipient.

    Args:
        codec: the JSON codec; the default is :func:`aiosocketio.protocol.codec.default_codec`.
    """

    __slots__ = ("_codec", "_dumps", "_dumps_bin", "_plain")

    def __init__(self, codec: JSONCodec | None = None) -> None:
        self._codec: JSONCodec = codec if codec is not None else default_codec()
        self._dumps: Callable[[Any], str] = self._codec.dumps
        # Codecs that can pull the attachments out while serialising (OrjsonCodec) let a
        # plain EVENT cost exactly one dumps call.
        self._dumps_bin: Callable[[Any], tuple[str, list[bytes]]] | None = getattr(
            self._codec, "dumps_with_attachments", None
        )
        # The default codec without a ``default`` hook: EVENTs can call orjson directly.
        self._plain = type(self._codec) is OrjsonCodec and self._codec.default is None

    def encode(self, packet: Packet) -> list[str | bytes]:
        """Encode a packet.

        Returns:
            ``[text, *attachments]``: the text goes in one Engine.IO MESSAGE, and each
            attachment (``bytes``) in its own binary MESSAGE, in order. An EVENT or ACK
            whose data holds binary values is sent as BINARY_EVENT / BINARY_ACK.

        Raises:
            aiosocketio.protocol.codec.EncodeError: the data has no JSON form (a
                ``LocalProtocolError`` that is also a ``TypeError``).
            LocalProtocolError: the namespace cannot be written with this parser (it does
                not start with ``/`` or holds a ``,``).
        """
        ptype = packet.type
        data = packet.data
        if (ptype is _EVENT or ptype is _ACK) and self._plain and data is not None:
            # Hot path: a plain EVENT or ACK is one orjson call plus string concatenation.
            # Binary (or unserialisable) data makes orjson raise TypeError: take the
            # general path (which turns it into BINARY_EVENT / BINARY_ACK or an error).
            try:
                payload = _orjson_dumps(data, option=_ORJSON_OPTIONS).decode()
            except TypeError:
                # Binary values: the codec's binary path, without a second plain try.
                return self._encode(packet, cast("OrjsonCodec", self._codec).dumps_binary)
            head = "2" if ptype is _EVENT else "3"
            nsp = packet.nsp
            ack_id = packet.id
            if ack_id is None:
                if nsp == "/" or not nsp:
                    return [head + payload]
                return [head + _nsp_prefix(nsp) + payload]
            if nsp == "/" or not nsp:
                return [head + str(ack_id) + payload]
            return [head + _nsp_prefix(nsp) + str(ack_id) + payload]
        return self._encode(packet)

    def _encode(
        self,
        packet: Packet,
        dumps_bin: Callable[[Any], tuple[str, list[bytes]]] | None = None,
    ) -> list[str | bytes]:
        ptype = packet.type
        data = packet.data
        buffers: list[bytes] = []
        if dumps_bin is None:
            dumps_bin = self._dumps_bin
        if data is None:
            payload = ""
        elif ptype is _EVENT or ptype is _ACK or ptype is _BINARY_EVENT or ptype is _BINARY_ACK:
            if dumps_bin is not None:
                payload, buffers = dumps_bin(data)
            elif isinstance(data, _CONTAINERS) and _has_binary(data):
                payload = self._dumps(_deconstruct(data, buffers))
            else:
                payload = self._dumps(data)
        else:
            payload = self._dumps(data)

        if buffers:
            binary_type = _BINARY_ACK if ptype is _ACK or ptype is _BINARY_ACK else _BINARY_EVENT
            head = _CHAR_BY_TYPE[binary_type] + str(len(buffers)) + "-"
        elif ptype is _BINARY_EVENT:
            head = "2"
        elif ptype is _BINARY_ACK:
            head = "3"
        else:
            head = _CHAR_BY_TYPE[ptype]
        nsp = packet.nsp
        if nsp and nsp != "/":
            head += _nsp_prefix(nsp)
        if packet.id is not None:
            head += str(packet.id)
        if buffers:
            parts: list[str | bytes] = [head + payload]
            parts.extend(buffers)
            return parts
        return [head + payload]


# --------------------------------------------------------------------------- decoding


def _is_valid_payload(ptype: PacketType, payload: Any) -> bool:
    """Node's ``Decoder.isPayloadValid`` for a payload that is present."""
    if ptype is _EVENT or ptype is _BINARY_EVENT:
        if type(payload) is not list or not payload:
            return False
        name = payload[0]
        if isinstance(name, str):
            return name not in RESERVED_EVENTS
        return isinstance(name, (int, float)) and not isinstance(name, bool)
    if ptype is _ACK or ptype is _BINARY_ACK:
        return type(payload) is list
    if ptype is _CONNECT:
        return type(payload) is dict
    if ptype is _CONNECT_ERROR:
        return isinstance(payload, (str, dict))
    return False  # DISCONNECT takes no payload


def _placeholder(value: dict[str, Any], buffers: list[bytes]) -> bytes | None:
    """The buffer a placeholder stands for; ``None`` if ``value`` is not one."""
    if value.get("_placeholder") is not True:
        return None
    num = value.get("num")
    if type(num) is int and 0 <= num < len(buffers):
        return buffers[num]
    raise RemoteProtocolError("illegal attachments")


def _reconstruct(obj: Any, buffers: list[bytes]) -> Any:
    """Replace placeholders by their buffers, in place (without recursion: a payload
    may be nested as deep as the JSON decoder accepts)."""
    if type(obj) is dict:
        found = _placeholder(obj, buffers)
        if found is not None:
            return found
    elif type(obj) is not list:
        return obj
    stack: list[Any] = [obj]
    while stack:
        container = stack.pop()
        items = enumerate(container) if type(container) is list else container.items()
        for key, value in items:
            kind = type(value)
            if kind is dict:
                found = _placeholder(value, buffers)
                if found is not None:
                    container[key] = found
                else:
                    stack.append(value)
            elif kind is list:
                stack.append(value)
    return obj


class Decoder:
    """Decode Engine.IO message payloads into :class:`Packet` objects.

    One decoder per connection: it holds a binary packet while its attachments arrive.

    Args:
        codec: the JSON codec; the default is :func:`aiosocketio.protocol.codec.default_codec`.
        max_attachments: the most attachments a binary packet may declare (Node's
            ``maxAttachments``, 10).
    """

    __slots__ = ("_buffers", "_expected", "_fallback", "_loads", "_max_attachments", "_pending")

    def __init__(self, codec: JSONCodec | None = None, max_attachments: int = 10) -> None:
        codec = codec if codec is not None else default_codec()
        # OrjsonCodec.loads is orjson.loads: call it without the extra Python frame.
        self._loads: Callable[[str | bytes], Any] = (
            orjson.loads if type(codec) is OrjsonCodec else codec.loads
        )
        # orjson refuses lone surrogate escapes, which JSON.parse accepts (and the
        # official client sends): the default codec decodes those payloads with this
        self._fallback = type(codec) is OrjsonCodec
        self._max_attachments = max_attachments
        self._pending: Packet | None = None
        self._expected = 0
        # A list only while a binary packet is being reconstructed (a shared empty tuple
        # otherwise: one object fewer per connection for the cyclic GC to walk).
        self._buffers: list[bytes] | tuple[()] = ()

    @property
    def reconstructing(self) -> bool:
        """Whether a binary packet is waiting for attachments."""
        return self._pending is not None

    def reset(self) -> None:
        """Drop a partly received binary packet (call it when the connection closes)."""
        self._pending = None
        self._expected = 0
        self._buffers = ()

    def receive(self, data: str | bytes) -> Packet | None:
        """Feed one Engine.IO message (text or binary).

        Returns:
            The decoded packet, or ``None`` while a binary packet still waits for
            attachments.

        Raises:
            RemoteProtocolError: the message is invalid in any way (bad format, invalid
                payload for its type, reserved event name, too many attachments, text
                while reconstructing, binary while not reconstructing). The decoder is
                reset, but the caller should close the connection (``parse error``).
        """
        if type(data) is str:
            if self._pending is not None:
                self.reset()
                raise RemoteProtocolError("got plaintext data when reconstructing a packet")
            # Fast path: an EVENT or ACK in the main namespace, "2[...]", "2<id>[...]" or
            # "3<id>[...]" (an id of at most 16 ASCII digits, as in the general scan).
            first = data[:1]
            if first == "2" or first == "3":
                bracket = data.find("[", 1, 18)
                if bracket > 0:
                    digits = data[1:bracket]
                    if (digits.isdigit() and digits.isascii()) or (bracket == 1 and first == "2"):
                        try:
                            payload = self._loads(data[bracket:])
                        except Exception as exc:
                            payload = self._load_refused(data[bracket:], exc)
                        ack_id = int(digits) if digits else None
                        if first == "3":
                            if type(payload) is not list:
                                raise RemoteProtocolError("invalid payload")
                            return _make_packet(_ACK, "/", payload, ack_id)
                        if type(payload) is not list or not payload:
                            raise RemoteProtocolError("invalid payload")
                        name = payload[0]
                        if type(name) is not str or name in RESERVED_EVENTS:
                            if not _is_valid_payload(_EVENT, payload):
                                raise RemoteProtocolError("invalid payload")
                        return _make_packet(_EVENT, "/", payload, ack_id)
            return self._decode_string(data)
        if isinstance(data, (bytes, bytearray, memoryview)):
            if self._pending is None:
                raise RemoteProtocolError("got binary data when not reconstructing a packet")
            buffers_in = self._buffers
            assert type(buffers_in) is list
            buffers_in.append(bytes(data))
            if len(buffers_in) < self._expected:
                return None
            pending, buffers = self._pending, buffers_in
            self.reset()
            data_out = _reconstruct(pending.data, buffers)
            return _make_packet(pending.type, pending.nsp, data_out, pending.id)
        if isinstance(data, str):
            return self.receive(str(data))
        raise RemoteProtocolError(f"cannot decode a Socket.IO packet from {type(data).__name__}")

    def _load_refused(self, text: str, exc: Exception) -> Any:
        """The JSON of ``text`` that the codec refused with ``exc``: decoded by the
        fallback if that is a lone surrogate (the default codec), else invalid."""
        if self._fallback and "surrogate" in str(exc):
            try:
                return json_fallback.loads(text)
            except ValueError as again:
                raise RemoteProtocolError("invalid payload") from again
        raise RemoteProtocolError("invalid payload") from exc

    def _decode_string(self, text: str) -> Packet | None:
        length = len(text)
        if not length:
            raise RemoteProtocolError("empty packet")
        ptype = _TYPE_BY_CHAR.get(text[0])
        if ptype is None:
            raise RemoteProtocolError(f"unknown packet type {text[0]!r}")
        i = 1
        attachments = 0
        binary = ptype is _BINARY_EVENT or ptype is _BINARY_ACK
        if binary:
            dash = text.find("-", 1)
            count = text[1:dash]
            if dash < 0 or not count or not _DIGITS.issuperset(count) or len(count) > 9:
                raise RemoteProtocolError("illegal attachments")
            attachments = int(count)
            if attachments == 0:
                raise RemoteProtocolError("illegal attachments")
            if attachments > self._max_attachments:
                raise RemoteProtocolError("too many attachments")
            i = dash + 1

        # Namespace: from a leading "/" up to the first "," (or the end).
        nsp = "/"
        if i < length and text[i] == "/":
            comma = text.find(",", i)
            if comma < 0:
                nsp = text[i:]
                i = length
            else:
                nsp = text[i:comma]
                i = comma + 1

        # Acknowledgement id: a run of ASCII digits.
        ack_id: int | None = None
        start = i
        while i < length and text[i] in _DIGITS:
            i += 1
        if i > start:
            if i - start > 16:
                raise RemoteProtocolError("invalid ack id")
            ack_id = int(text[start:i])

        payload: Any = None
        if i < length:
            try:
                payload = self._loads(text[i:])
            except Exception as exc:
                payload = self._load_refused(text[i:], exc)
            if not _is_valid_payload(ptype, payload):
                raise RemoteProtocolError("invalid payload")
        elif ptype is not _CONNECT and ptype is not _DISCONNECT:
            # EVENT and ACK need their array; CONNECT_ERROR needs its message.
            raise RemoteProtocolError("invalid payload")

        packet = _make_packet(ptype, nsp, payload, ack_id)
        if binary:
            self._pending = packet
            self._expected = attachments
            self._buffers = []
            return None
        return packet
