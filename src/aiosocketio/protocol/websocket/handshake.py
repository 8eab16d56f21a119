"""The opening handshake (RFC 6455 §4): checks and keys for both sides.

The server checks the upgrade request with :func:`check_upgrade_request` and answers
``101`` with ``Sec-WebSocket-Accept: accept_key(key)``. The client sends a fresh
:func:`client_key` and checks the answer with :func:`check_upgrade_response`. Writing the
HTTP messages themselves is the I/O layer's job.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping

__all__ = [
    "GUID",
    "accept_key",
    "check_upgrade_request",
    "check_upgrade_response",
    "client_key",
]

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
"""The fixed string appended to the key to make the accept value (§1.3)."""


def accept_key(sec_websocket_key: str) -> str:
    """Return the ``Sec-WebSocket-Accept`` value for a ``Sec-WebSocket-Key`` (RFC 6455 §4.2.2)."""
    digest = hashlib.sha1((sec_websocket_key.strip() + GUID).encode(), usedforsecurity=False)
    return base64.b64encode(digest.digest()).decode()


def check_upgrade_request(method: str, headers: Mapping[str, str]) -> str | None:
    """Validate a WebSocket upgrade request (RFC 6455 §4.2.1).

    Args:
        method: the HTTP method.
        headers: lower-case header names.

    Returns:
        ``None`` when the request is a valid version-13 upgrade, else a short reason.
    """
    if method != "GET":
        return "Method must be GET"
    if "websocket" not in headers.get("upgrade", "").lower():
        return "Missing or invalid Upgrade header"
    connection = [t.strip().lower() for t in headers.get("connection", "").split(",")]
    if "upgrade" not in connection:
        return "Missing or invalid Connection header"
    if headers.get("sec-websocket-version", "").strip() != "13":
        return "Unsupported WebSocket version"
    key = headers.get("sec-websocket-key", "").strip()
    try:
        raw = base64.b64decode(key, validate=True)
    except ValueError:
        raw = b""
    if len(raw) != 16:
        return "Missing or invalid Sec-WebSocket-Key header"
    return None


def client_key() -> str:
    """A fresh ``Sec-WebSocket-Key``: 16 random bytes, base64-encoded (§4.1)."""
    return base64.b64encode(os.urandom(16)).decode()


def check_upgrade_response(status: int, headers: Mapping[str, str], key: str) -> str | None:
    """Validate the server's answer to an upgrade request sent with ``key`` (§4.1).

    Args:
        status: the HTTP status code.
        headers: lower-case header names.
        key: the ``Sec-WebSocket-Key`` the client sent.

    Returns:
        ``None`` when the server switched to WebSocket, else a short reason (the client
        must fail the connection).
    """
    if status != 101:
        return f"unexpected status {status}"
    if headers.get("sec-websocket-accept") != accept_key(key):
        return "bad Sec-WebSocket-Accept"
    return None
