"""The wire of @socket.io/postgres-adapter: what goes in a notification, what in the table."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiosocketio.exceptions import RemoteProtocolError
from aiosocketio.protocol.cluster.postgres import (
    Attachment,
    Notification,
    attachment_header,
    attachment_id,
    channel_for,
    check_table_name,
    cleanup_sql,
    decode_attachment,
    encode_message,
    insert_sql,
    read_notification,
    select_sql,
)
from aiosocketio.protocol.cluster.wire import MessageType, pack, unpack


def message(kind: MessageType, data: object) -> dict[str, object]:
    return {"type": int(kind), "data": data, "uid": "0123456789abcdef", "nsp": "/"}


def test_channel_is_prefix_hash_namespace() -> None:
    assert channel_for("socket.io", "/") == "socket.io#/"
    assert channel_for("app", "/chat") == "app#/chat"


def test_a_small_message_is_its_json() -> None:
    m = message(MessageType.BROADCAST, {"packet": {"type": 2, "data": ["e", "é"], "nsp": "/"}})
    encoded = encode_message(m, 8000)
    assert isinstance(encoded, Notification)
    assert json.loads(encoded.payload) == m
    assert "é" in encoded.payload  # UTF-8 as is, as JSON.stringify writes it
    assert " " not in encoded.payload


def test_the_threshold_counts_utf8_bytes_and_is_inclusive() -> None:
    def sized(n: int) -> dict[str, object]:
        m = message(MessageType.SERVER_SIDE_EMIT, {"packet": [""]})
        base = len(json.dumps(m, separators=(",", ":")).encode())
        m["data"] = {"packet": ["a" * (n - base)]}
        return m

    assert isinstance(encode_message(sized(7999), 8000), Notification)
    assert isinstance(encode_message(sized(8000), 8000), Attachment)
    wide = message(MessageType.SERVER_SIDE_EMIT, {"packet": ["é" * 3000]})  # 6000 bytes
    assert isinstance(encode_message(wide, 5000), Attachment)


@pytest.mark.parametrize(
    "kind",
    [
        MessageType.BROADCAST,
        MessageType.BROADCAST_ACK,
        MessageType.SERVER_SIDE_EMIT,
        MessageType.SERVER_SIDE_EMIT_RESPONSE,
    ],
)
def test_binary_goes_through_the_table(kind: MessageType) -> None:
    m = message(kind, {"packet": [b"\x00"]})
    encoded = encode_message(m, 8000)
    assert isinstance(encoded, Attachment)
    assert unpack(encoded.payload) == m
    header = json.loads(attachment_header(encoded, 42))
    assert header == {"uid": "0123456789abcdef", "type": int(kind), "attachmentId": "42"}
    assert list(header) == ["uid", "type", "attachmentId"]  # Node's order


def test_binary_in_other_types_is_written_as_node_writes_a_buffer() -> None:
    # Node puts only the four types above in the table; a fetch answer with a Buffer in
    # socket.data is JSON.stringify'd ({"type": "Buffer", "data": [...]})
    m = message(MessageType.FETCH_SOCKETS_RESPONSE, {"requestId": "r", "sockets": [b"\x01\x02"]})
    encoded = encode_message(m, 8000)
    assert isinstance(encoded, Notification)
    data = json.loads(encoded.payload)["data"]
    assert data["sockets"] == [{"type": "Buffer", "data": [1, 2]}]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), (0, None), ("12", 12), (7, 7), ("9223372036854775807", 2**63 - 1)],
)
def test_attachment_ids(value: object, expected: int | None) -> None:
    assert attachment_id({"attachmentId": value}) == expected


@pytest.mark.parametrize("value", ["abc", "-1", -1, 1.5, True, [1], {"a": 1}, "1e3", "٣", 2**63])
def test_bad_attachment_ids(value: object) -> None:
    with pytest.raises(RemoteProtocolError):
        attachment_id({"attachmentId": value})


@pytest.mark.parametrize("payload", ["", "not json", "[1]", '"x"', "1", "null", "{"])
def test_a_notification_must_be_a_json_object(payload: str) -> None:
    with pytest.raises(RemoteProtocolError):
        read_notification(payload)


def test_attachments_decode_to_maps() -> None:
    assert decode_attachment(pack({"type": 3})) == {"type": 3}
    for bad in (None, b"", b"\xc1", pack([1, 2]), pack("x")):
        with pytest.raises(RemoteProtocolError):
            decode_attachment(bad)


@given(st.binary(max_size=64))
def test_decoding_attachments_raises_only_protocol_errors(data: bytes) -> None:
    try:
        decode_attachment(data)
    except RemoteProtocolError:
        pass


@given(st.text(max_size=64))
def test_reading_notifications_raises_only_protocol_errors(text: str) -> None:
    try:
        attachment_id(read_notification(text))
    except RemoteProtocolError:
        pass


def test_sql_uses_the_table_name_as_node_does() -> None:
    assert insert_sql("t") == "INSERT INTO t (payload) VALUES ($1) RETURNING id"
    assert select_sql("s.t") == "SELECT payload FROM s.t WHERE id = $1"
    assert cleanup_sql("t", 30) == (
        "DELETE FROM t WHERE created_at < now() - interval '30000 milliseconds'"
    )
    for bad in ("", "a b", "t;", 't"', "1t", "a.b.c", "t--"):
        with pytest.raises(ValueError):
            check_table_name(bad)
