"""Shared type aliases and the enums whose values are wire strings."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, NewType, TypeAlias

__all__ = [
    "JSON",
    "ClientDisconnectReason",
    "DisconnectReason",
    "NamespaceName",
    "Room",
    "Sid",
]

Sid = NewType("Sid", str)
"""A socket or Engine.IO session id: 20 characters of base64url."""

Room = str
"""A room name. Every socket is also in the room named after its own id."""

NamespaceName = NewType("NamespaceName", str)

JSON: TypeAlias = Any
"""A value that the JSON codec can encode (``Any`` is used only for JSON payloads)."""


class DisconnectReason(StrEnum):
    """Why a server-side socket was disconnected; the values are exactly Node's strings."""

    TRANSPORT_ERROR = "transport error"
    TRANSPORT_CLOSE = "transport close"
    FORCED_CLOSE = "forced close"
    PING_TIMEOUT = "ping timeout"
    PARSE_ERROR = "parse error"
    SERVER_SHUTTING_DOWN = "server shutting down"
    FORCED_SERVER_CLOSE = "forced server close"
    CLIENT_NAMESPACE_DISCONNECT = "client namespace disconnect"
    SERVER_NAMESPACE_DISCONNECT = "server namespace disconnect"


class ClientDisconnectReason(StrEnum):
    """Why a client-side socket was disconnected; the values are socket.io-client's strings."""

    IO_SERVER_DISCONNECT = "io server disconnect"
    IO_CLIENT_DISCONNECT = "io client disconnect"
    PING_TIMEOUT = "ping timeout"
    TRANSPORT_CLOSE = "transport close"
    TRANSPORT_ERROR = "transport error"
    PARSE_ERROR = "parse error"
