"""Validation of Engine.IO HTTP requests: Node's error codes 0-5 and their contexts.

Every request to the Engine.IO path is checked in the order of engine.io 6.6's
``verify()`` and ``handshake()``:

1. ``transport`` must be one of the enabled transports — code 0, context ``{transport}``.
2. The ``Origin`` header must hold only valid header characters — code 3,
   ``{name: "INVALID_ORIGIN", origin}``; with ``allowed_origins`` set, it must be one of
   them — code 4, ``{name: "ORIGIN_NOT_ALLOWED", origin}`` (on every request, so that a
   page of another site can neither open a session nor hijack one, on either transport).
3. With a ``sid``: the session must exist — code 1, ``{sid}``; a request that is not an
   upgrade must use the session's transport — code 3, ``{name: "TRANSPORT_MISMATCH"}``;
   the protocol revision must match — code 3, ``{name: "PROTOCOL_MISMATCH"}``.
4. Without a ``sid`` (a handshake): the method must be GET — code 2, ``{method}``; a
   ``transport=websocket`` handshake must be an upgrade — code 3,
   ``{name: "TRANSPORT_HANDSHAKE_ERROR"}``; then ``allow_request`` (code 4, run by the
   I/O layer because it may be a coroutine); then ``EIO`` must be 4 — code 5,
   ``{protocol}`` — unless ``allow_eio3`` is on (any other ``EIO`` is then v3, as Node's).

This module is pure: it raises :class:`~aiosocketio.exceptions.HandshakeError`
subclasses and leaves the answer (status, JSON body, ``connection_error``) to the caller.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Callable, Mapping
from typing import Protocol

from aiosocketio.exceptions import (
    BadHandshakeMethod,
    BadRequest,
    Forbidden,
    HandshakeError,
    UnknownSid,
    UnknownTransport,
    UnsupportedProtocolVersion,
)
from aiosocketio.protocol.engineio.options import EngineOptions

__all__ = [
    "SessionView",
    "base64id",
    "check_protocol",
    "error_body",
    "protocol_revision",
    "verify_request",
]

_INVALID_HEADER_CHAR = re.compile(r"[^\t\x20-\x7e\x80-\xff]")


class SessionView(Protocol):
    """What request validation needs to know about an existing session."""

    @property
    def transport_name(self) -> str: ...

    @property
    def protocol(self) -> int: ...


def protocol_revision(query: Mapping[str, str]) -> int:
    """Node's ``computeProtocolRevision``: ``EIO=4`` is 4, anything else is 3."""
    return 4 if query.get("EIO") == "4" else 3


def verify_request(
    method: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    *,
    upgrade: bool,
    options: EngineOptions,
    find_session: Callable[[str], SessionView | None],
) -> None:
    """Check a request against engine.io's rules; raise the matching HandshakeError.

    Args:
        method: the HTTP method.
        query: the decoded query string.
        headers: lower-case request headers.
        upgrade: whether this is a WebSocket upgrade request.
        options: the engine's options.
        find_session: looks a sid up among the open sessions.

    Raises:
        HandshakeError: with Node's code, message and context.
    """
    transport = query.get("transport")
    if transport not in options.transports:
        raise UnknownTransport(context={"transport": transport})
    origin = headers.get("origin")
    if origin is not None and _INVALID_HEADER_CHAR.search(origin):
        raise BadRequest(context={"name": "INVALID_ORIGIN", "origin": origin})
    if not options.origin_allowed(origin):
        raise Forbidden(context={"name": "ORIGIN_NOT_ALLOWED", "origin": origin})
    sid = query.get("sid")
    if sid:
        session = find_session(sid)
        if session is None:
            raise UnknownSid(context={"sid": sid})
        if not upgrade and session.transport_name != transport:
            raise BadRequest(
                context={
                    "name": "TRANSPORT_MISMATCH",
                    "transport": transport,
                    "previousTransport": session.transport_name,
                }
            )
        protocol = protocol_revision(query)
        if protocol != session.protocol:
            raise BadRequest(
                context={
                    "name": "PROTOCOL_MISMATCH",
                    "protocol": protocol,
                    "previousProtocol": session.protocol,
                }
            )
        return
    if method != "GET":
        raise BadHandshakeMethod(context={"method": method})
    if transport == "websocket" and not upgrade:
        raise BadRequest(context={"name": "TRANSPORT_HANDSHAKE_ERROR"})


def check_protocol(query: Mapping[str, str], allow_eio3: bool = False) -> int:
    """The handshake's protocol check (after ``allow_request``): v4, and v3 with
    ``allow_eio3``."""
    protocol = protocol_revision(query)
    if protocol != 4 and not allow_eio3:
        raise UnsupportedProtocolVersion(context={"protocol": protocol})
    return protocol


def error_body(error: HandshakeError) -> bytes:
    """The JSON body Node answers with: ``{"code":n,"message":"..."}``."""
    message = error.context.get("message") if error.code == 4 else None
    text = message if isinstance(message, str) and message else error.message
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'{{"code":{error.code},"message":"{escaped}"}}'.encode()


_counter = int.from_bytes(os.urandom(3), "big")


def base64id() -> str:
    """A 20-character id: 12 random bytes and a 3-byte counter, base64url-encoded.

    This is the shape of Node's ``base64id.generateId()``; the sharded Redis adapter of
    Node relies on socket ids being exactly 20 characters long.
    """
    global _counter
    _counter = (_counter + 1) & 0xFFFFFF
    raw = os.urandom(12) + _counter.to_bytes(3, "big")
    return base64.urlsafe_b64encode(raw).decode("ascii")
