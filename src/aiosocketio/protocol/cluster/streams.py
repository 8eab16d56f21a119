"""The wire of @socket.io/redis-streams-adapter 0.3 (sans-I/O): stream entries and sessions.

The streams adapter speaks the cluster protocol of
:class:`~aiosocketio.protocol.cluster.session.ClusterSession` over two transports:

* **The stream** carries what must reach every server in order: BROADCAST (without acks),
  SOCKETS_JOIN, SOCKETS_LEAVE and DISCONNECT_SOCKETS. An entry's fields are ``uid``,
  ``nsp``, ``type`` (the decimal message type) and, if the message has data, ``data``:
  compact JSON, or, when a type that may carry binary does, base64 of its msgpack. A
  reader tells them apart by the first character (``{``).
* **Pub/sub** carries the rest, the "ephemeral" messages (:func:`is_ephemeral`),
  msgpack-encoded whole.

An entry id is the offset a recovered broadcast carries to its clients. A disconnected
socket's session is kept as base64(msgpack(``{sid, pid, rooms, data}``)).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from aiosocketio.exceptions import RemoteProtocolError
from aiosocketio.protocol.cluster.shapes import EVENT, decode_rooms
from aiosocketio.protocol.cluster.wire import (
    MAY_CONTAIN_BINARY,
    MessageType,
    dumps_json,
    has_binary,
    loads_json,
    pack,
    unpack,
)

__all__ = [
    "RESTORE_BATCH",
    "RESTORE_MAX_READS",
    "decode_entry",
    "encode_entry",
    "encode_session",
    "entry_text",
    "id_key",
    "is_ephemeral",
    "is_offset",
    "missed_broadcast",
    "next_offset",
    "read_session",
    "should_include",
    "stream_name_for",
    "xadd_command",
]

RESTORE_MAX_READS = 100
"""XRANGE calls at most when restoring a session (Node's bound), of ``RESTORE_BATCH`` each."""
RESTORE_BATCH = 1000

_OFFSET = re.compile(r"[0-9]+-[0-9]+")


def is_ephemeral(message: Mapping[str, Any]) -> bool:
    """Whether ``message`` goes by pub/sub rather than the stream (Node's ``isEphemeral``)."""
    kind = message.get("type")
    if kind == MessageType.BROADCAST:
        data = message.get("data")
        return isinstance(data, Mapping) and data.get("requestId") is not None
    return kind in (MessageType.SERVER_SIDE_EMIT, MessageType.FETCH_SOCKETS)


def encode_entry(message: Mapping[str, Any], *, only_plaintext: bool = False) -> dict[str, str]:
    """The fields of the stream entry of ``message``: ``uid``, ``nsp``, ``type`` [, ``data``].

    Raises:
        LocalProtocolError: the data cannot be encoded.
    """
    kind = int(message["type"])
    fields = {"uid": str(message["uid"]), "nsp": str(message["nsp"]), "type": str(kind)}
    data = message.get("data")
    if data is not None:
        if not only_plaintext and kind in MAY_CONTAIN_BINARY and has_binary(data):
            fields["data"] = base64.b64encode(pack(data)).decode("ascii")
        else:
            fields["data"] = dumps_json(data).decode("utf-8")
    return fields


def xadd_command(stream: str, max_len: int, fields: Mapping[str, str]) -> tuple[str, ...]:
    """``XADD <stream> MAXLEN ~ <max_len> * <field> <value>...``, as Node sends it."""
    command = ["XADD", stream, "MAXLEN", "~", str(max_len), "*"]
    for key, value in fields.items():
        command += [key, value]
    return tuple(command)


def entry_text(value: Any) -> str:
    """A field name, value or entry id as text (Redis gives bytes).

    Raises:
        RemoteProtocolError: it is neither text nor bytes.
    """
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, str):
        return value
    raise RemoteProtocolError(f"unexpected stream value {value!r}")


def decode_entry(fields: Mapping[Any, Any]) -> dict[str, Any]:
    """A stream entry's fields (bytes or str) back into a cluster message.

    Raises:
        RemoteProtocolError: a field is missing or cannot be decoded.
    """
    try:
        values = {entry_text(key): value for key, value in fields.items()}
        uid = entry_text(values["uid"])
        nsp = entry_text(values["nsp"])
        kind = int(entry_text(values["type"]))
    except (KeyError, ValueError, UnicodeDecodeError) as exc:
        raise RemoteProtocolError(f"malformed stream entry: {exc!r}") from exc
    message: dict[str, Any] = {"uid": uid, "nsp": nsp, "type": kind}
    raw = values.get("data")
    if raw:
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        if not isinstance(raw, bytes):
            raise RemoteProtocolError("malformed stream entry data")
        if raw[:1] == b"{":
            message["data"] = loads_json(raw)
        else:
            try:
                message["data"] = unpack(base64.b64decode(raw, validate=True))
            except binascii.Error as exc:
                raise RemoteProtocolError(f"stream entry data is not base64: {exc}") from exc
    return message


# --------------------------------------------------------------------------- streams and offsets


def _hash_code(text: str) -> int:
    """Java's ``String.hashCode`` as Node computes it: 32-bit signed, over UTF-16 units."""
    value = 0
    units = text.encode("utf-16-le")
    for i in range(0, len(units), 2):
        value = (value * 31 + int.from_bytes(units[i : i + 2], "little")) & 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def stream_name_for(nsp: str, stream_name: str, stream_count: int) -> str:
    """The stream of namespace ``nsp``: ``stream_name``, or ``<stream_name>-<i>`` for several."""
    if stream_count == 1:
        return stream_name
    code = _hash_code(nsp)
    index = abs(code) % stream_count
    if code < 0:  # JavaScript's % keeps the sign of the dividend
        index = -index
    return f"{stream_name}-{index}"


def is_offset(offset: str) -> bool:
    """Whether ``offset`` looks like an entry id (``<ms>-<seq>``)."""
    return _OFFSET.fullmatch(offset) is not None


def next_offset(offset: str) -> str:
    """The id right after ``offset`` (exclusive XRANGE without Redis 6.2's ``(``)."""
    timestamp, sequence = offset.split("-")
    return f"{timestamp}-{int(sequence) + 1}"


def id_key(offset: str) -> tuple[int, int]:
    """An entry id as a sortable pair."""
    timestamp, _, sequence = offset.partition("-")
    return int(timestamp), int(sequence or 0)


# --------------------------------------------------------------------------- recovery


def should_include(rooms: list[str], opts: Mapping[str, Any]) -> bool:
    """Node's ``shouldIncludePacket`` for a session's rooms and a broadcast's wire options."""
    targets = decode_rooms(opts.get("rooms"))
    excluded = decode_rooms(opts.get("except"))
    included = not targets or any(room in targets for room in rooms)
    return included and not any(room in excluded for room in rooms)


def missed_broadcast(offset: str, fields: Any, nsp: str, rooms: list[str]) -> list[Any] | None:
    """The event data of a stream entry a session of ``rooms`` missed (with ``offset`` last).

    None when the entry is not a broadcast of ``nsp`` without acks, is volatile, or does
    not target the session's rooms.

    Raises:
        RemoteProtocolError: the entry cannot be decoded (or another error of a malformed
            entry: ``KeyError``, ``TypeError``...; the caller skips it).
    """
    values = {entry_text(k): v for k, v in fields.items()}
    if entry_text(values.get("nsp", b"")) != nsp or entry_text(values.get("type", b"")) != "3":
        return None
    data = decode_entry(fields)["data"]
    packet, opts = data["packet"], data["opts"]
    if data.get("requestId") is not None or (opts.get("flags") or {}).get("volatile"):
        return None
    if packet.get("type", EVENT) not in (2, 5) or not isinstance(packet["data"], list):
        return None
    if not should_include(rooms, opts):
        return None
    return [*packet["data"], offset]


def encode_session(session: Mapping[str, Any]) -> str:
    """A disconnected socket's session as it is stored: base64(msgpack).

    Raises:
        LocalProtocolError: the session (its ``data``) cannot be encoded.
    """
    return base64.b64encode(pack(session)).decode("ascii")


def read_session(raw: bytes | str, pid: str) -> dict[str, Any]:
    """A stored session, with ``pid`` and its rooms sorted.

    Raises:
        RemoteProtocolError: it is not a session.
    """
    try:
        session = unpack(base64.b64decode(raw, validate=True))
    except binascii.Error as exc:
        raise RemoteProtocolError(f"session is not base64: {exc}") from exc
    if not isinstance(session, dict) or not isinstance(session.get("sid"), str):
        raise RemoteProtocolError("not a session")
    session["pid"] = pid
    session["rooms"] = sorted(decode_rooms(session.get("rooms")))
    return session
