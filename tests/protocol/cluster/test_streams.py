"""The stream entries of the Redis Streams adapter, without Redis."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from aiosocketio.exceptions import LocalProtocolError, RemoteProtocolError
from aiosocketio.protocol.cluster.streams import decode_entry, encode_entry, is_ephemeral
from aiosocketio.protocol.cluster.wire import MessageType, unpack

UID = "0123456789abcdef"


def _broadcast(data: list[Any]) -> dict[str, Any]:
    return {
        "type": MessageType.BROADCAST.value,
        "data": {"packet": {"type": 2, "data": data}, "opts": {"rooms": [], "except": []}},
        "uid": UID,
        "nsp": "/",
    }


def test_json_entry() -> None:
    fields = encode_entry(_broadcast(["ev", 1]))
    assert fields == {
        "uid": UID,
        "nsp": "/",
        "type": "3",
        "data": '{"packet":{"type":2,"data":["ev",1]},"opts":{"rooms":[],"except":[]}}',
    }
    assert decode_entry({k.encode(): v.encode() for k, v in fields.items()}) == _broadcast(
        ["ev", 1]
    )


def test_binary_entry_is_base64_msgpack() -> None:
    message = _broadcast(["ev", b"\x00\x01"])
    fields = encode_entry(message)
    assert unpack(base64.b64decode(fields["data"])) == message["data"]
    assert decode_entry(fields) == message
    # onlyPlaintext: no binary check, JSON always (bytes then cannot be encoded)
    with pytest.raises(LocalProtocolError):
        encode_entry(message, only_plaintext=True)


def test_entry_without_data() -> None:
    message = {"type": MessageType.HEARTBEAT.value, "uid": UID, "nsp": "/admin"}
    assert encode_entry(message) == {"uid": UID, "nsp": "/admin", "type": "2"}
    assert decode_entry(encode_entry(message)) == message


@pytest.mark.parametrize(
    "fields",
    [
        {"nsp": "/", "type": "3"},
        {"uid": "x", "nsp": "/", "type": "three"},
        {"uid": "x", "nsp": "/", "type": "3", "data": "{oops"},
        {"uid": "x", "nsp": "/", "type": "3", "data": "!!"},
        {"uid": "x", "nsp": "/", "type": "3", "data": base64.b64encode(b"\xc1").decode()},
        {b"uid": b"\xff", b"nsp": b"/", b"type": b"3"},
    ],
)
def test_malformed_entries_raise_remote_protocol_error(fields: dict[Any, Any]) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_entry(fields)


def test_ephemeral_messages() -> None:
    assert not is_ephemeral(_broadcast(["ev"]))
    with_ack = _broadcast(["ev"])
    with_ack["data"]["requestId"] = "r"
    assert is_ephemeral(with_ack)
    assert is_ephemeral({"type": MessageType.SERVER_SIDE_EMIT.value})
    assert is_ephemeral({"type": MessageType.FETCH_SOCKETS.value})
    assert not is_ephemeral({"type": MessageType.SOCKETS_JOIN.value})
