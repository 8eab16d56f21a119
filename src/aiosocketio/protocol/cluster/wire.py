"""The bytes that cluster members exchange over Redis, compatible with the npm packages.

Theory of operation
-------------------
@socket.io/redis-adapter 8.3, @socket.io/redis-emitter 5.1 and socket.io-adapter's
``ClusterAdapter`` (used by ``createShardedAdapter``) talk in two encodings:

* **msgpack as notepack.io 3 writes it.** notepack maps JavaScript values onto msgpack:
  a whole number is always written as the smallest integer format (``1.0`` is ``0x01``),
  any other number as float 64 (``0xcb``), a ``Buffer`` as ``bin``, a string as ``str``
  (``str 8`` is used), ``undefined`` map values are dropped and ``Date`` is the timestamp
  extension (-1). When decoding, notepack also accepts the legacy extension 0 (``fixext 1``
  is ``undefined``, longer is an ``ArrayBuffer``). :func:`pack` and :func:`unpack` follow
  those rules, so our bytes are the bytes Node would have written for the same value.
* **JSON**, compact, as ``JSON.stringify`` writes it. A receiver tells them apart by the
  first byte: ``{`` (0x7b) means JSON (a msgpack map never starts with 0x7b).

This module is pure: no asyncio, no Redis. Decoders raise only
:class:`~aiosocketio.exceptions.RemoteProtocolError`.
"""

from __future__ import annotations

import datetime as _dt
import secrets
from collections.abc import Mapping
from enum import IntEnum
from typing import Any

import msgpack
import orjson

from aiosocketio.exceptions import LocalProtocolError, RemoteProtocolError

__all__ = [
    "EMITTER_UID",
    "MAY_CONTAIN_BINARY",
    "MessageType",
    "RequestType",
    "decode_message",
    "dumps_json",
    "has_binary",
    "loads_json",
    "pack",
    "random_id",
    "uid2",
    "unpack",
]

EMITTER_UID = "emitter"
"""The ``uid`` that @socket.io/redis-emitter puts on its messages."""

_UID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def uid2(length: int = 6) -> str:
    """A random id like Node's ``uid2(length)`` (the classic adapter's uids and request ids)."""
    return "".join(secrets.choice(_UID_ALPHABET) for _ in range(length))


def random_id() -> str:
    """Node's ``randomId()`` of socket.io-adapter: 8 random bytes as 16 hex characters."""
    return secrets.token_hex(8)


class RequestType(IntEnum):
    """Request types of the classic Redis adapter (``socket.io-request#<nsp>#``)."""

    SOCKETS = 0
    ALL_ROOMS = 1
    REMOTE_JOIN = 2
    REMOTE_LEAVE = 3
    REMOTE_DISCONNECT = 4
    REMOTE_FETCH = 5
    SERVER_SIDE_EMIT = 6
    BROADCAST = 7
    BROADCAST_CLIENT_COUNT = 8
    BROADCAST_ACK = 9


class MessageType(IntEnum):
    """Message types of socket.io-adapter's ``ClusterAdapter`` (the sharded adapter)."""

    INITIAL_HEARTBEAT = 1
    HEARTBEAT = 2
    BROADCAST = 3
    SOCKETS_JOIN = 4
    SOCKETS_LEAVE = 5
    DISCONNECT_SOCKETS = 6
    FETCH_SOCKETS = 7
    FETCH_SOCKETS_RESPONSE = 8
    SERVER_SIDE_EMIT = 9
    SERVER_SIDE_EMIT_RESPONSE = 10
    BROADCAST_CLIENT_COUNT = 11
    BROADCAST_ACK = 12
    ADAPTER_CLOSE = 13


MAY_CONTAIN_BINARY = frozenset(
    {
        MessageType.BROADCAST,
        MessageType.BROADCAST_ACK,
        MessageType.FETCH_SOCKETS_RESPONSE,
        MessageType.SERVER_SIDE_EMIT,
        MessageType.SERVER_SIDE_EMIT_RESPONSE,
    }
)
"""The message types whose data may hold binary (then msgpack rather than JSON, as Node)."""


# --------------------------------------------------------------------------- msgpack


_INT_MIN = -(2**63)
_UINT_MAX = 2**64 - 1


def _normalize(value: Any) -> Any:
    """Turn a Python value into the value notepack would have seen in JavaScript."""
    kind = type(value)
    if kind is str or kind is bytes or kind is bool or value is None:
        return value
    if kind is int:
        # beyond 64 bits msgpack has no integer: JavaScript would hold a float anyway
        return value if _INT_MIN <= value <= _UINT_MAX else float(value)
    if kind is float:
        # notepack: `Math.floor(value) !== value || !isFinite(value)` -> float 64, else int
        if value.is_integer() and _INT_MIN <= value <= _UINT_MAX:
            return int(value)
        return value
    if kind is list or kind is tuple:
        return [_normalize(item) for item in value]
    if kind is dict:
        return {
            (key if type(key) is str else str(key)): _normalize(item) for key, item in value.items()
        }
    return _normalize_other(value)


def _normalize_other(value: Any) -> Any:
    # subclasses of the built-in types (enums...), then the other containers
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return _normalize(int(value))
    if isinstance(value, float):
        return _normalize(float(value))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, Mapping):
        return _normalize(dict(value))
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_normalize(item) for item in value]
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.UTC)
        return value
    raise LocalProtocolError(f"cannot encode a {type(value).__name__} for the cluster")


def pack(value: Any) -> bytes:
    """Encode ``value`` exactly as notepack.io 3 ``encode`` would.

    Raises:
        LocalProtocolError: the value holds something JavaScript has no equivalent for.
    """
    return msgpack.packb(_normalize(value), use_bin_type=True, datetime=True)  # type: ignore[no-any-return]


def _ext_hook(code: int, data: bytes) -> Any:
    if code == 0:
        # notepack's legacy extensions: fixext 1 type 0 is `undefined`, longer is an ArrayBuffer
        return None if len(data) == 1 else data
    return [code, data]


def unpack(data: bytes | bytearray | memoryview) -> Any:
    """Decode notepack/msgpack bytes; ``bin`` becomes ``bytes``, timestamps ``datetime``.

    Raises:
        RemoteProtocolError: the bytes are not one complete msgpack value.
    """
    try:
        return msgpack.unpackb(
            bytes(data),
            raw=False,
            strict_map_key=False,
            ext_hook=_ext_hook,
            timestamp=3,
        )
    except Exception as exc:
        raise RemoteProtocolError(f"invalid msgpack message: {exc}") from exc


# --------------------------------------------------------------------------- JSON


def _buffer_as_node(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"type": "Buffer", "data": list(bytes(value))}
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def dumps_json(value: Any, *, buffers: bool = False) -> bytes:
    """Compact JSON, as ``JSON.stringify`` writes it.

    Args:
        value: what to encode.
        buffers: write bytes as ``JSON.stringify`` writes a Node ``Buffer``
            (``{"type": "Buffer", "data": [...]}``) instead of refusing them.

    Raises:
        LocalProtocolError: the value holds something JSON cannot carry.
    """
    try:
        return orjson.dumps(
            value, default=_buffer_as_node if buffers else None, option=orjson.OPT_NON_STR_KEYS
        )
    except TypeError as exc:
        raise LocalProtocolError(f"cannot encode as JSON: {exc}") from exc


def loads_json(data: bytes | str) -> Any:
    """Parse JSON; raises :class:`RemoteProtocolError` on bad input."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise RemoteProtocolError(f"invalid JSON message: {exc}") from exc


def decode_message(data: bytes | bytearray | memoryview | str) -> Any:
    """Decode a request, response or cluster message: JSON when it starts with ``{``.

    Raises:
        RemoteProtocolError: neither valid JSON nor valid msgpack.
    """
    if isinstance(data, str):
        return loads_json(data)
    if len(data) and data[0] == 0x7B:
        return loads_json(bytes(data))
    return unpack(data)


def has_binary(value: Any) -> bool:
    """Whether ``value`` holds bytes anywhere (socket.io's ``hasBinary``)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return True
    if isinstance(value, (list, tuple)):
        return any(has_binary(item) for item in value)
    if isinstance(value, Mapping):
        return any(has_binary(item) for item in value.values())
    return False
