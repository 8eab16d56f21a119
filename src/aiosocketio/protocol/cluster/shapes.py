"""The shapes inside cluster messages: Socket.IO packets, broadcast options, socket details.

Node's adapters put these JavaScript objects inside their messages (pure, no I/O):

* a packet: ``{type, data[, nsp][, id]}``; Node keeps type 2 (EVENT) and 3 (ACK) for
  packets with binary too (the Socket.IO parser picks BINARY_EVENT later);
* broadcast options: ``{rooms, except, flags}``, the flags being only those that were set
  (:func:`encode_flags`);
* socket details, the answer to a fetch: ``{id, handshake, rooms, data}``.

The functions take and return plain values (this layer knows neither the server's
``Packet`` nor its ``BroadcastOptions``); readers are lenient where Node is and raise
:class:`~aiosocketio.exceptions.RemoteProtocolError` where a message cannot be used.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypedDict

from aiosocketio.exceptions import RemoteProtocolError

__all__ = [
    "ACK",
    "EVENT",
    "SocketDetails",
    "WireOptions",
    "decode_flags",
    "decode_rooms",
    "encode_flags",
    "encode_options",
    "options_to_wire",
    "packet_from_wire",
    "packet_to_wire",
    "read_details",
    "read_options",
    "socket_details",
]

EVENT = 2
"""The Socket.IO packet type of an event (5, BINARY_EVENT, is written as 2)."""
ACK = 3
"""The Socket.IO packet type of an acknowledgement (6, BINARY_ACK, is written as 3)."""

_WIRE_KIND = {2: 2, 5: 2, 3: 3, 6: 3}


class SocketDetails(TypedDict):
    """A socket of the cluster as a fetch answer describes it (Node's ``SocketDetails``)."""

    id: str
    handshake: dict[str, Any]
    rooms: list[str]
    data: Any


class WireOptions(TypedDict):
    """Broadcast options read from the wire: targets, exclusions, and the flags that were set.

    ``flags`` holds keyword arguments for the server's ``BroadcastFlags`` (``volatile``,
    ``compress``, ``timeout`` in seconds); ``local`` never crosses the wire.
    """

    rooms: frozenset[str]
    except_: frozenset[str]
    flags: dict[str, Any]


# --------------------------------------------------------------------------- flags and rooms


def encode_flags(
    *,
    volatile: bool = False,
    compress: bool = True,
    local: bool = False,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Broadcast flags as Node puts them on the wire: only the flags that were set.

    ``timeout`` is given in seconds and written in milliseconds, as Node does.
    """
    flags: dict[str, Any] = {}
    if volatile:
        flags["volatile"] = True
    if not compress:
        flags["compress"] = False
    if local:
        flags["local"] = True
    if timeout is not None:
        flags["timeout"] = _ms(timeout)
    return flags


def _ms(seconds: float) -> int | float:
    value = seconds * 1000
    return int(value) if float(value).is_integer() else value


def decode_flags(raw: Any) -> dict[str, Any]:
    """Read wire flags leniently into keyword arguments (timeout in seconds)."""
    if type(raw) is not dict and not isinstance(raw, Mapping):
        return {}
    out: dict[str, Any] = {}
    if raw.get("volatile"):
        out["volatile"] = True
    if raw.get("compress") is False:
        out["compress"] = False
    timeout = raw.get("timeout")
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        out["timeout"] = timeout / 1000
    return out


def encode_options(
    rooms: Iterable[str], except_: Iterable[str], flags: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``{rooms, except[, flags]}`` as the adapters write it (flags only when given)."""
    opts: dict[str, Any] = {"rooms": list(rooms), "except": list(except_)}
    if flags is not None:
        opts["flags"] = dict(flags)
    return opts


def decode_rooms(raw: Any) -> set[str]:
    """A ``rooms``/``except`` list from the wire; non-string entries are stringified."""
    if not isinstance(raw, list):
        return set()
    return {item if isinstance(item, str) else _js_string(item) for item in raw}


def _js_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --------------------------------------------------------------------------- packets


def packet_to_wire(kind: int, data: Any, ack_id: int | None, nsp: str | None) -> dict[str, Any]:
    """A Socket.IO packet as Node puts it on the wire: ``{type, data[, nsp][, id]}``.

    The classic Redis adapter writes ``nsp``; the cluster model does not (``nsp=None``).
    """
    out: dict[str, Any] = {"type": _WIRE_KIND.get(kind, kind), "data": data}
    if nsp is not None:
        out["nsp"] = nsp
    if ack_id is not None:
        out["id"] = ack_id
    return out


def packet_from_wire(raw: Any) -> tuple[int, list[Any]]:
    """``(EVENT or ACK, data)`` of a packet from the wire; ``type`` defaults to EVENT.

    Raises:
        RemoteProtocolError: not a map, another packet type, or data that is not a
            non-empty list.
    """
    if type(raw) is not dict and not isinstance(raw, Mapping):
        raise RemoteProtocolError("packet is not a map")
    try:
        kind = _WIRE_KIND.get(raw.get("type", EVENT))
    except TypeError:  # an unhashable type
        kind = None
    if kind is None:
        raise RemoteProtocolError(f"unexpected packet type {raw.get('type')!r}")
    data = raw.get("data")
    if not isinstance(data, list) or not data:
        raise RemoteProtocolError("packet data is not a non-empty list")
    return kind, data


# --------------------------------------------------------------------------- options


def options_to_wire(
    rooms: Iterable[str],
    except_: Iterable[str],
    *,
    volatile: bool = False,
    compress: bool = True,
    local: bool = False,
    timeout: float | None = None,
) -> dict[str, Any]:
    """``{rooms, except, flags}`` as Node writes it (``timeout`` given in seconds)."""
    return {
        "rooms": list(rooms),
        "except": list(except_),
        "flags": encode_flags(volatile=volatile, compress=compress, local=local, timeout=timeout),
    }


def read_options(raw: Any) -> WireOptions:
    """Broadcast options read leniently from the wire (no options: everyone, no flags)."""
    if type(raw) is not dict and not isinstance(raw, Mapping):
        return {"rooms": frozenset(), "except_": frozenset(), "flags": {}}
    return {
        "rooms": frozenset(decode_rooms(raw.get("rooms"))),
        "except_": frozenset(decode_rooms(raw.get("except"))),
        "flags": decode_flags(raw.get("flags")),
    }


# --------------------------------------------------------------------------- socket details


def socket_details(
    sid: str, handshake: Mapping[str, Any], rooms: Iterable[str], data: Any
) -> SocketDetails:
    """The fetch answer for one local socket (``session_store`` is never sent)."""
    return {
        "id": sid,
        "handshake": {k: v for k, v in handshake.items() if k != "session_store"},
        "rooms": list(rooms),
        "data": data,
    }


def read_details(raw: Any) -> SocketDetails | None:
    """One entry of a fetch answer, with Node's defaults; None if it has no string ``id``."""
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        return None
    handshake = raw.get("handshake")
    rooms = raw.get("rooms")
    return {
        "id": raw["id"],
        "handshake": handshake if isinstance(handshake, dict) else {},
        "rooms": rooms if isinstance(rooms, list) else [],
        "data": raw.get("data"),
    }
