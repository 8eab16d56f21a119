"""The wire of @socket.io/postgres-adapter 0.5 and @socket.io/postgres-emitter, sans-I/O.

The Postgres adapter speaks the cluster protocol of
:class:`~aiosocketio.protocol.cluster.session.ClusterSession` (socket.io-adapter's
``ClusterAdapterWithHeartbeat``, message types 1-13) over LISTEN/NOTIFY:

* **Channels.** Every message of a namespace, responses included, is a notification on
  ``<channel_prefix>#<nsp>`` (default prefix ``"socket.io"``); every server LISTENs to the
  channel of each of its namespaces. A message is ``{type, data, uid, nsp}``; the emitter's
  ``uid`` is ``"emitter"``. @socket.io/postgres-emitter 0.1.1 sends no ``nsp`` (and Node's
  adapter 0.5, which routes by ``nsp``, drops its messages): a receiver takes the namespace
  of such a message from its channel.
* **Payloads.** A notification is the message as compact JSON (``JSON.stringify``), unless
  either it is a BROADCAST, BROADCAST_ACK, SERVER_SIDE_EMIT or SERVER_SIDE_EMIT_RESPONSE
  holding binary, or its JSON is ``payload_threshold`` bytes or more (default 8000: a
  NOTIFY payload must be shorter than 8000 bytes; Node 0.5 tests "more than", and so
  sends exactly 8000 bytes to a NOTIFY that refuses them). Then the whole message is msgpack-encoded
  into a row of the attachment table (``INSERT INTO <table_name> (payload) VALUES ($1)
  RETURNING id``) and the notification only says ``{"uid", "type", "attachmentId"}``, the
  row's id as a decimal string; the receivers read the row (``SELECT payload ... WHERE id``).
* **Cleanup.** Every ``cleanup_interval`` each server deletes the rows older than the
  interval.

The table, which the servers expect to exist (the Node package does not create it)::

    CREATE TABLE IF NOT EXISTS socket_io_attachments (
        id          bigserial UNIQUE,
        created_at  timestamptz DEFAULT NOW(),
        payload     bytea
    );

This module is pure: it builds the payloads and the SQL text and reads notifications.
Readers raise only :class:`~aiosocketio.exceptions.RemoteProtocolError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from aiosocketio.exceptions import RemoteProtocolError
from aiosocketio.protocol.cluster.wire import (
    MessageType,
    dumps_json,
    has_binary,
    loads_json,
    pack,
    unpack,
)

__all__ = [
    "DEFAULT_CHANNEL_PREFIX",
    "DEFAULT_CLEANUP_INTERVAL",
    "DEFAULT_PAYLOAD_THRESHOLD",
    "DEFAULT_TABLE_NAME",
    "NOTIFY_SQL",
    "Attachment",
    "Notification",
    "attachment_header",
    "attachment_id",
    "channel_for",
    "check_table_name",
    "cleanup_sql",
    "create_table_sql",
    "decode_attachment",
    "encode_message",
    "insert_sql",
    "read_notification",
    "select_sql",
]

DEFAULT_CHANNEL_PREFIX = "socket.io"
DEFAULT_TABLE_NAME = "socket_io_attachments"
DEFAULT_PAYLOAD_THRESHOLD = 8000
"""Bytes of JSON from which a message goes through the attachment table (Node: 8000)."""
DEFAULT_CLEANUP_INTERVAL = 30.0
"""Seconds between two deletions of old attachments (Node: 30000 ms)."""

NOTIFY_SQL = "SELECT pg_notify($1, $2)"
"""How a notification is sent: the channel and the payload as parameters, as Node does."""

# the types whose binary goes through the table (the Node package's list)
_WITH_BINARY = (
    MessageType.BROADCAST,
    MessageType.BROADCAST_ACK,
    MessageType.SERVER_SIDE_EMIT,
    MessageType.SERVER_SIDE_EMIT_RESPONSE,
)

# a table name is put in the SQL text as it is (as Node does), so it must be a plain name
_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?")


@dataclass(frozen=True, slots=True)
class Notification:
    """A message small enough to travel in the notification itself."""

    payload: str


@dataclass(frozen=True, slots=True)
class Attachment:
    """A message stored in the attachment table: its msgpack bytes, and its ``uid``/``type``
    for the header (:func:`attachment_header`, once the row's id is known)."""

    payload: bytes
    uid: Any
    type: Any


def channel_for(channel_prefix: str, nsp: str) -> str:
    """The notification channel of a namespace: ``<channel_prefix>#<nsp>``."""
    return f"{channel_prefix}#{nsp}"


def check_table_name(name: str) -> str:
    """Return ``name`` if it is a plain (optionally schema-qualified) table name.

    Raises:
        ValueError: anything else (the name goes into the SQL text unquoted).
    """
    if not _TABLE_NAME.fullmatch(name):
        raise ValueError(f"not a plain table name: {name!r}")
    return name


def insert_sql(table_name: str) -> str:
    """Store an attachment: ``$1`` is its payload; the query returns the row's id."""
    return f"INSERT INTO {check_table_name(table_name)} (payload) VALUES ($1) RETURNING id"


def select_sql(table_name: str) -> str:
    """Read an attachment: ``$1`` is its id."""
    return f"SELECT payload FROM {check_table_name(table_name)} WHERE id = $1"


def cleanup_sql(table_name: str, interval: float) -> str:
    """Delete the attachments older than ``interval`` seconds (Node's cleanup query)."""
    ms = int(interval * 1000)
    table = check_table_name(table_name)
    return f"DELETE FROM {table} WHERE created_at < now() - interval '{ms} milliseconds'"


def create_table_sql(table_name: str) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for the attachment table (the Node README's)."""
    table = check_table_name(table_name)
    return (
        f"CREATE TABLE IF NOT EXISTS {table} (id bigserial UNIQUE, "
        "created_at timestamptz DEFAULT NOW(), payload bytea)"
    )


def encode_message(message: dict[str, Any], threshold: int) -> Notification | Attachment:
    """How ``message`` travels: in the notification, or through the attachment table.

    Raises:
        LocalProtocolError: the message cannot be encoded.
    """
    kind = message.get("type")
    if kind in _WITH_BINARY and has_binary(message.get("data")):
        return Attachment(pack(message), message.get("uid"), kind)
    payload = dumps_json(message, buffers=True)
    if len(payload) >= threshold:
        return Attachment(pack(message), message.get("uid"), kind)
    return Notification(payload.decode())


def attachment_header(attachment: Attachment, row_id: Any) -> str:
    """The notification that points at a stored message: ``{"uid","type","attachmentId"}``."""
    header = {"uid": attachment.uid, "type": attachment.type, "attachmentId": str(row_id)}
    return dumps_json(header).decode()


def read_notification(payload: str) -> dict[str, Any]:
    """Parse a notification's payload (a message, or an attachment's header).

    Raises:
        RemoteProtocolError: not a JSON object.
    """
    message = loads_json(payload)
    if not isinstance(message, dict):
        raise RemoteProtocolError("a notification is a JSON object")
    return message


def attachment_id(message: dict[str, Any]) -> int | None:
    """The attachment a notification points at (None: the message is the notification).

    Raises:
        RemoteProtocolError: an ``attachmentId`` that is not a row id.
    """
    value = message.get("attachmentId")
    if value is None or value == "" or value is False or value == 0:
        return None  # Node tests it for truth
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if type(value) is not int or not 0 < value < 2**63:
        raise RemoteProtocolError(f"invalid attachment id {value!r}")
    return value


def decode_attachment(data: bytes | None) -> dict[str, Any]:
    """The message stored in an attachment row.

    Raises:
        RemoteProtocolError: no row, or not a msgpack map.
    """
    if data is None:
        raise RemoteProtocolError("no such attachment (removed by a cleanup?)")
    message = unpack(data)
    if not isinstance(message, dict):
        raise RemoteProtocolError("an attachment holds a map")
    return message
