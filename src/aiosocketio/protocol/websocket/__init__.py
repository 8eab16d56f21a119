"""Sans-I/O WebSocket (RFC 6455) with optional permessage-deflate (RFC 7692).

One module per concern:

* :mod:`.frames`: opcodes, frame encoding, masking, close payloads;
* :mod:`.extensions`: permessage-deflate negotiation and compression;
* :mod:`.handshake`: the opening handshake's checks and keys;
* :mod:`.connection`: :class:`WebSocketProtocol`, the state machine both sides pull
  (its docstring has the theory of operation and the ordering contract).

This package never imports asyncio, socket or ssl.
"""

from __future__ import annotations

from aiosocketio.protocol.websocket.connection import (
    FRAMES_PER_CALL,
    MAX_FRAGMENTS,
    Close,
    Event,
    Ping,
    Pong,
    WebSocketProtocol,
)
from aiosocketio.protocol.websocket.extensions import (
    DeflateParams,
    PerMessageDeflate,
    client_deflate_offer,
    client_parse_deflate_response,
    parse_extensions,
    server_negotiate_deflate,
)
from aiosocketio.protocol.websocket.frames import (
    Opcode,
    binary_frame,
    close_payload,
    encode_frame,
    text_frame,
)
from aiosocketio.protocol.websocket.handshake import (
    GUID,
    accept_key,
    check_upgrade_request,
    check_upgrade_response,
    client_key,
)

__all__ = [
    "FRAMES_PER_CALL",
    "GUID",
    "MAX_FRAGMENTS",
    "Close",
    "DeflateParams",
    "Event",
    "Opcode",
    "PerMessageDeflate",
    "Ping",
    "Pong",
    "WebSocketProtocol",
    "accept_key",
    "binary_frame",
    "check_upgrade_request",
    "check_upgrade_response",
    "client_deflate_offer",
    "client_key",
    "client_parse_deflate_response",
    "close_payload",
    "encode_frame",
    "parse_extensions",
    "server_negotiate_deflate",
    "text_frame",
]
