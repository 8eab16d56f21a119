"""Sans-I/O WebSocket framing (RFC 6455) with optional permessage-deflate (RFC 7692).

Theory of operation
-------------------
:class:`WebSocketProtocol` is a pure state machine, one per connection. The I/O layer
feeds it bytes with :meth:`~WebSocketProtocol.receive_data`, then drains
:meth:`~WebSocketProtocol.events_received` (complete messages, pings, pongs, close)
and :meth:`~WebSocketProtocol.data_to_send` (automatic pongs, close replies), and writes
whatever :meth:`~WebSocketProtocol.send_message` / :meth:`~WebSocketProtocol.send_close`
return.

Invariants:

* Rule 1: the receive path never raises. A violation by the peer produces a
  :class:`Close` event carrying the close code we chose (1002, 1007, 1009) plus a close
  frame in ``data_to_send()``, and the protocol becomes :attr:`~WebSocketProtocol.closed`.
* Rule 2: once closed, every later input is ignored and every send returns ``b""``.
  The I/O layer closes the TCP connection once ``closed`` is true and the bytes from
  ``data_to_send()`` are written.

This module never imports asyncio, socket or ssl.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

__all__ = [
    "Close",
    "DeflateParams",
    "Message",
    "Opcode",
    "Ping",
    "Pong",
    "WebSocketProtocol",
    "accept_key",
    "binary_frame",
    "check_upgrade_request",
    "client_deflate_offer",
    "client_parse_deflate_response",
    "encode_frame",
    "parse_extensions",
    "server_negotiate_deflate",
    "text_frame",
]

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_DEFLATE_TAIL = b"\x00\x00\xff\xff"


class Opcode(IntEnum):
    """Frame opcodes (RFC 6455 §5.2)."""

    CONT = 0
    TEXT = 1
    BINARY = 2
    CLOSE = 8
    PING = 9
    PONG = 10


@dataclass(frozen=True, slots=True)
class Message:
    """A complete data message: ``str`` for text, ``bytes`` for binary."""

    data: str | bytes


@dataclass(frozen=True, slots=True)
class Ping:
    """A ping from the peer (the pong is already queued in ``data_to_send()``)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Pong:
    """A pong from the peer."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Close:
    """The connection closed.

    Attributes:
        code: the peer's close code (1005 when it sent none), or the code we failed the
            connection with when the peer violated the protocol.
        reason: the close reason.
    """

    code: int
    reason: str = ""


Event = Message | Ping | Pong | Close


@dataclass(frozen=True, slots=True)
class DeflateParams:
    """Negotiated permessage-deflate parameters (RFC 7692 §7.1).

    Attributes:
        server_no_context_takeover: the server resets its compressor after each message.
        client_no_context_takeover: the client resets its compressor after each message.
        server_max_window_bits: LZ77 window of the server's compressor (8-15).
        client_max_window_bits: LZ77 window of the client's compressor (8-15).
        threshold: messages shorter than this (in bytes) are sent uncompressed.
        level: zlib compression level.
    """

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int = 15
    client_max_window_bits: int = 15
    threshold: int = 1024
    level: int = zlib.Z_DEFAULT_COMPRESSION


# -- frame encoding --------------------------------------------------------------------

_TEXT_SMALL = [bytes((0x81, n)) for n in range(126)]
_BIN_SMALL = [bytes((0x82, n)) for n in range(126)]
_pack_H = struct.Struct("!BBH").pack
_pack_Q = struct.Struct("!BBQ").pack


def _mask_python(payload: bytes | bytearray, key: bytes | bytearray) -> bytes:
    """XOR ``payload`` with the 4-byte masking ``key`` (RFC 6455 §5.3)."""
    n = len(payload)
    if n == 0:
        return b""
    repeated = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(repeated, "little")).to_bytes(
        n, "little"
    )


_apply_mask_c: Callable[[bytes | bytearray, bytes | bytearray], bytes] | None
try:  # the C routine of the `websockets` package, 70x faster on 64 KiB, when installed
    from websockets.speedups import apply_mask as _c_mask

    _apply_mask_c = _c_mask
except ImportError:  # pragma: no cover - depends on the environment
    _apply_mask_c = None


def _mask(payload: bytes | bytearray, key: bytes | bytearray) -> bytes:
    """XOR ``payload`` with the 4-byte masking ``key`` (RFC 6455 §5.3).

    Uses ``websockets.speedups.apply_mask`` (C) when the optional ``websockets`` package
    is installed, and a pure-Python big-integer XOR otherwise.
    """
    if _apply_mask_c is not None and len(payload) > 64:
        return bytes(_apply_mask_c(payload, key))
    return _mask_python(payload, key)


def encode_frame(
    opcode: int, payload: bytes, *, fin: bool = True, rsv1: bool = False, mask: bool = False
) -> bytes:
    """Encode one frame (RFC 6455 §5.2).

    Args:
        opcode: the frame opcode.
        payload: the (already compressed, if ``rsv1``) payload.
        fin: set on the last frame of a message.
        rsv1: the permessage-deflate "compressed" bit.
        mask: mask the payload with a random key (client to server frames).

    Returns:
        The frame bytes.
    """
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | (opcode & 0x0F)
    m = 0x80 if mask else 0
    n = len(payload)
    if n < 126:
        header = bytes((b0, m | n))
    elif n < 65536:
        header = _pack_H(b0, m | 126, n)
    else:
        header = _pack_Q(b0, m | 127, n)
    if mask:
        key = os.urandom(4)
        return header + key + _mask(payload, key)
    return header + payload


def text_frame(text: str) -> bytes:
    """Return an unmasked, unfragmented server TEXT frame for ``text`` (the hot path)."""
    data = text.encode()
    n = len(data)
    if n < 126:
        return _TEXT_SMALL[n] + data
    if n < 65536:
        return _pack_H(0x81, 126, n) + data
    return _pack_Q(0x81, 127, n) + data


def binary_frame(data: bytes) -> bytes:
    """Return an unmasked, unfragmented server BINARY frame for ``data``."""
    n = len(data)
    if n < 126:
        return _BIN_SMALL[n] + data
    if n < 65536:
        return _pack_H(0x82, 126, n) + data
    return _pack_Q(0x82, 127, n) + data


# -- handshake helpers -----------------------------------------------------------------


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


def parse_extensions(header: str) -> list[tuple[str, dict[str, str | None]]]:
    """Parse a ``Sec-WebSocket-Extensions`` header into ``(name, params)`` offers.

    Malformed parameters are kept verbatim so that negotiation can refuse them.
    """
    offers: list[tuple[str, dict[str, str | None]]] = []
    for item in header.split(","):
        parts = [p.strip() for p in item.split(";")]
        if not parts[0]:
            continue
        params: dict[str, str | None] = {}
        for p in parts[1:]:
            if not p:
                continue
            if "=" in p:
                k, v = p.split("=", 1)
                value: str | None = v.strip().strip('"')
                key = k.strip().lower()
            else:
                key, value = p.lower(), None
            if key in params:
                params["\x00duplicate"] = key
            params[key] = value
        offers.append((parts[0].lower(), params))
    return offers


def _window_bits(value: str | None) -> int | None:
    if value is None or not value.isdigit() or len(value) > 2:
        return None
    bits = int(value)
    return bits if 8 <= bits <= 15 else None


def server_negotiate_deflate(
    header: str | None, *, threshold: int = 1024, level: int = zlib.Z_DEFAULT_COMPRESSION
) -> tuple[DeflateParams, str] | None:
    """Accept the first acceptable permessage-deflate offer (RFC 7692 §5, §7).

    Args:
        header: the request's ``Sec-WebSocket-Extensions`` value (or ``None``).
        threshold: minimum message size to compress.
        level: zlib compression level.

    Returns:
        ``(params, response_header_value)`` or ``None`` when nothing is acceptable.
    """
    if not header:
        return None
    for name, params in parse_extensions(header):
        if name != "permessage-deflate" or "\x00duplicate" in params:
            continue
        ok = True
        snct = cnct = False
        smwb = cmwb = 15
        reply = ["permessage-deflate"]
        for key, value in params.items():
            if key == "server_no_context_takeover" and value is None:
                snct = True
                reply.append(key)
            elif key == "client_no_context_takeover" and value is None:
                cnct = True
                reply.append(key)
            elif key == "server_max_window_bits":
                bits = _window_bits(value)
                # zlib cannot produce raw deflate with an 8-bit window: decline that offer
                if bits is None or bits == 8:
                    ok = False
                    break
                smwb = bits
                reply.append(f"{key}={bits}")
            elif key == "client_max_window_bits":
                if value is not None:
                    bits = _window_bits(value)
                    if bits is None:
                        ok = False
                        break
                    cmwb = bits
                    reply.append(f"{key}={bits}")
            else:
                ok = False
                break
        if ok:
            return (
                DeflateParams(snct, cnct, smwb, cmwb, threshold, level),
                "; ".join(reply),
            )
    return None


def client_deflate_offer(
    *, client_no_context_takeover: bool = False, server_no_context_takeover: bool = False
) -> str:
    """Build the client's ``Sec-WebSocket-Extensions`` offer for permessage-deflate.

    ``client_max_window_bits`` is not offered: the server could then ask for an 8-bit
    window, which zlib cannot produce.
    """
    parts = ["permessage-deflate"]
    if client_no_context_takeover:
        parts.append("client_no_context_takeover")
    if server_no_context_takeover:
        parts.append("server_no_context_takeover")
    return "; ".join(parts)


def client_parse_deflate_response(
    header: str | None, *, threshold: int = 1024
) -> DeflateParams | None:
    """Parse the server's answer to :func:`client_deflate_offer`.

    Returns:
        The agreed parameters, or ``None`` if the server did not accept the extension.

    Raises:
        ValueError: the server's answer is invalid (the client must fail the connection).
    """
    if not header:
        return None
    offers = parse_extensions(header)
    if len(offers) != 1 or offers[0][0] != "permessage-deflate":
        raise ValueError(f"unexpected extensions: {header!r}")
    params = offers[0][1]
    if "\x00duplicate" in params:
        raise ValueError("duplicate extension parameter")
    snct = cnct = False
    smwb = cmwb = 15
    for key, value in params.items():
        if key == "server_no_context_takeover" and value is None:
            snct = True
        elif key == "client_no_context_takeover" and value is None:
            cnct = True
        elif key in ("server_max_window_bits", "client_max_window_bits"):
            bits = _window_bits(value)
            if bits is None:
                raise ValueError(f"invalid {key}")
            if key == "server_max_window_bits":
                smwb = bits
            else:
                cmwb = bits
        else:
            raise ValueError(f"unknown extension parameter {key!r}")
    return DeflateParams(snct, cnct, smwb, cmwb, threshold)


# -- the protocol ----------------------------------------------------------------------

_VALID_CLOSE_CODES = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013})


def _close_code_ok(code: int) -> bool:
    return code in _VALID_CLOSE_CODES or 3000 <= code <= 4999


def _close_payload(code: int, reason: str) -> bytes:
    if code == 1005:
        return b""
    return struct.pack("!H", code) + reason.encode()[:123]


class WebSocketProtocol:
    """The RFC 6455 state machine for one connection, either side.

    Args:
        side: ``"server"`` (requires masked input, sends unmasked) or ``"client"``.
        max_message_size: largest accepted message in bytes (after decompression);
            a bigger one fails the connection with 1009.
        deflate: negotiated permessage-deflate parameters, or ``None``.
    """

    __slots__ = (
        "_buf",
        "_compressed",
        "_compressor",
        "_decompressor",
        "_events",
        "_frag_opcode",
        "_frag_parts",
        "_frag_size",
        "_need",
        "_out",
        "close_code",
        "close_reason",
        "close_received",
        "close_sent",
        "closed",
        "deflate",
        "max_message_size",
        "on_message",
        "side",
    )

    def __init__(
        self,
        side: Literal["server", "client"],
        *,
        max_message_size: int,
        deflate: DeflateParams | None = None,
    ) -> None:
        self.side = side
        self.max_message_size = max_message_size
        self.deflate = deflate
        self._buf = bytearray()
        self._events: list[Event] = []
        self._out: list[bytes] = []
        self._frag_opcode: int | None = None
        # a list only while a fragmented message arrives (one object fewer per connection)
        self._frag_parts: list[bytes] | tuple[()] = ()
        self._frag_size = 0
        self._need = 0
        self.on_message: Callable[[str | bytes], None] | None = None
        self._compressed = False
        self._compressor: zlib._Compress | None = None
        self._decompressor: zlib._Decompress | None = None
        self.closed = False
        self.close_sent = False
        self.close_received = False
        self.close_code: int | None = None
        self.close_reason = ""

    # -- receiving -------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the network.

        After this, call :meth:`events_received` and :meth:`data_to_send`. Complete
        messages go to :attr:`on_message` when it is set (the fast path of the I/O
        layer), else they are :class:`Message` events.
        Never raises; protocol violations fail the connection (see the module docstring).
        """
        if self.closed or self.close_received:
            return
        buf: bytes | bytearray
        if self._buf:
            self._buf += data
            if len(self._buf) < self._need:
                return  # the frame in progress is still incomplete
            buf = self._buf
        else:
            buf = data
        pos = self._parse(buf)
        if self.closed or self.close_received:
            self._buf = bytearray()
        elif buf is self._buf:
            if pos:
                del self._buf[:pos]
        elif pos < len(buf):
            self._buf = bytearray(buf[pos:])

    def _parse(self, buf: bytes | bytearray) -> int:
        """Parse every complete frame in ``buf``; return how many bytes were used."""
        pos = 0
        n = len(buf)
        self._need = 0
        mask_bit = 0x80 if self.side == "server" else 0
        mlen = 4 if mask_bit else 0
        apply_c = _apply_mask_c
        while not self.closed and not self.close_received:
            if n - pos < 2:
                self._need = 2
                break
            b0 = buf[pos]
            b1 = buf[pos + 1]
            # Fast path: an unfragmented, uncompressed TEXT/BINARY frame under 126 bytes,
            # masked as this side expects.
            if (
                (b0 == 0x81 or b0 == 0x82)
                and (b1 ^ mask_bit) < 126
                and self._frag_opcode is None
                and (b1 ^ mask_bit) <= self.max_message_size
            ):
                start = pos + 2 + mlen
                end = start + (b1 ^ mask_bit)
                if end > n:
                    self._need = end - pos
                    break
                if mlen:
                    if apply_c is not None:  # C: about 0.15 us for 40 bytes, vs 0.35
                        payload = apply_c(buf[start:end], buf[pos + 2 : start])
                    else:
                        # _mask() inlined: the key repeated 32 times covers any length < 126
                        size = end - start
                        payload = (
                            int.from_bytes(buf[start:end], "little")
                            ^ int.from_bytes((buf[pos + 2 : start] * 32)[:size], "little")
                        ).to_bytes(size, "little")
                else:
                    payload = bytes(buf[start:end])
                pos = end
                if b0 == 0x81:
                    try:
                        text = payload.decode()
                    except UnicodeDecodeError:
                        self._fail(1007, "invalid UTF-8")
                        break
                    self._deliver(text)
                else:
                    self._deliver(payload)
                continue
            length = b1 & 0x7F
            hlen = 2
            if length == 126:
                hlen = 4
                if n - pos < 4:
                    self._need = 4
                    break
                length = (buf[pos + 2] << 8) | buf[pos + 3]
            elif length == 127:
                hlen = 10
                if n - pos < 10:
                    self._need = 10
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                if length >> 63:
                    self._fail(1002, "invalid frame length")
                    break
            masked = bool(b1 & 0x80)
            opcode = b0 & 0x0F
            fin = bool(b0 & 0x80)
            rsv1 = bool(b0 & 0x40)
            # RFC 6455 §5.1: a server MUST close on an unmasked client frame; a client
            # MUST close on a masked server frame.
            if masked != bool(mask_bit):
                self._fail(1002, "unexpected masking")
                break
            # §5.2: RSV bits must be 0 unless an extension defines them.
            if b0 & 0x30 or (rsv1 and (self.deflate is None or opcode not in (1, 2))):
                self._fail(1002, "reserved bits set")
                break
            if opcode >= 8:
                if opcode not in (8, 9, 10):
                    self._fail(1002, "invalid opcode")
                    break
                # §5.5: control frames are not fragmented and carry at most 125 bytes.
                if not fin or length > 125:
                    self._fail(1002, "invalid control frame")
                    break
            elif opcode == 0:
                if self._frag_opcode is None:
                    self._fail(1002, "unexpected continuation frame")
                    break
            elif opcode in (1, 2):
                if self._frag_opcode is not None:
                    self._fail(1002, "expected a continuation frame")
                    break
            else:
                self._fail(1002, "invalid opcode")
                break
            if opcode < 8 and self._frag_size + length > self.max_message_size:
                self._fail(1009, "message too big")
                break
            total = hlen + mlen + length
            if n - pos < total:
                self._need = total
                break
            start = pos + hlen + mlen
            if mlen:
                payload = _mask(buf[start : pos + total], buf[pos + hlen : start])
            else:
                payload = bytes(buf[start : pos + total])
            pos += total
            if opcode >= 8:
                self._control(opcode, payload)
            else:
                self._data(opcode, payload, fin, rsv1)
        return pos

    def _deliver(self, data: str | bytes) -> None:
        callback = self.on_message
        if callback is not None:
            callback(data)
        else:
            self._events.append(Message(data))

    def _control(self, opcode: int, payload: bytes) -> None:
        if opcode == Opcode.PING:
            self._out.append(self._frame(Opcode.PONG, payload))
            self._events.append(Ping(payload))
        elif opcode == Opcode.PONG:
            self._events.append(Pong(payload))
        else:
            self._on_close_frame(payload)

    def _on_close_frame(self, payload: bytes) -> None:
        # §5.5.1: optional 2-byte code followed by a UTF-8 reason.
        if len(payload) == 1:
            self._fail(1002, "invalid close frame")
            return
        code, reason = 1005, ""
        if payload:
            code = struct.unpack("!H", payload[:2])[0]
            if not _close_code_ok(code):
                self._fail(1002, "invalid close code")
                return
            try:
                reason = payload[2:].decode()
            except UnicodeDecodeError:
                self._fail(1007, "invalid UTF-8 in close reason")
                return
        self.close_received = True
        if self.close_code is None:
            self.close_code = code
            self.close_reason = reason
        if not self.close_sent:
            # §5.5.1: echo the status code in the reply.
            self.close_sent = True
            self._out.append(self._frame(Opcode.CLOSE, _close_payload(code, "")))
        self.closed = True
        self._events.append(Close(code, reason))

    def _data(self, opcode: int, payload: bytes, fin: bool, rsv1: bool) -> None:
        if opcode != 0:
            self._frag_opcode = opcode
            self._compressed = rsv1
        parts = self._frag_parts
        if not fin:
            if type(parts) is list:
                parts.append(payload)
            else:
                self._frag_parts = [payload]
            self._frag_size += len(payload)
            return
        if parts:
            payload = b"".join((*parts, payload))
            self._frag_parts = ()
        msg_opcode = self._frag_opcode
        self._frag_opcode = None
        self._frag_size = 0
        if self._compressed:
            self._compressed = False
            inflated = self._inflate(payload)
            if inflated is None:
                return
            payload = inflated
        if msg_opcode == Opcode.TEXT:
            try:
                text = payload.decode()
            except UnicodeDecodeError:
                self._fail(1007, "invalid UTF-8")
                return
            self._deliver(text)
        else:
            self._deliver(payload)

    def _inflate(self, payload: bytes) -> bytes | None:
        params = self.deflate
        assert params is not None
        peer_nct = (
            params.client_no_context_takeover
            if self.side == "server"
            else params.server_no_context_takeover
        )
        d = self._decompressor
        if d is None or peer_nct:
            d = self._decompressor = zlib.decompressobj(-15)
        limit = self.max_message_size + 1
        try:
            out = d.decompress(payload + _DEFLATE_TAIL, limit)
        except zlib.error:
            self._fail(1007, "invalid compressed data")
            return None
        if len(out) > self.max_message_size or d.unconsumed_tail:
            self._fail(1009, "message too big")
            return None
        return out

    def _fail(self, code: int, reason: str) -> None:
        """Fail the connection (§7.1.7): send a close frame and report a Close event."""
        if not self.close_sent:
            self.close_sent = True
            self._out.append(self._frame(Opcode.CLOSE, _close_payload(code, reason)))
        self.closed = True
        self.close_code = code
        self.close_reason = reason
        self._frag_parts = ()
        self._events.append(Close(code, reason))

    def events_received(self) -> list[Event]:
        """Return (and forget) the events parsed since the last call."""
        events = self._events
        if events:
            self._events = []
        return events

    def data_to_send(self) -> bytes:
        """Return (and forget) bytes the protocol wants written: pongs, close replies."""
        if not self._out:
            return b""
        out = b"".join(self._out)
        self._out = []
        return out

    # -- sending ---------------------------------------------------------------------

    def _frame(self, opcode: int, payload: bytes, rsv1: bool = False) -> bytes:
        return encode_frame(opcode, payload, rsv1=rsv1, mask=self.side == "client")

    def send_message(self, data: str | bytes) -> bytes:
        """Encode one message for this connection (compressed if negotiated).

        Returns:
            The frame bytes to write, or ``b""`` once a close frame was sent.
        """
        if self.close_sent:
            return b""
        if isinstance(data, str):
            opcode, payload = Opcode.TEXT, data.encode()
        else:
            opcode, payload = Opcode.BINARY, bytes(data)
        params = self.deflate
        if params is not None and len(payload) >= params.threshold:
            return self._frame(opcode, self._compress(params, payload), rsv1=True)
        if self.side == "server":
            n = len(payload)
            if n < 126:
                return (_TEXT_SMALL if opcode == Opcode.TEXT else _BIN_SMALL)[n] + payload
            return encode_frame(opcode, payload)
        return self._frame(opcode, payload)

    def _compress(self, params: DeflateParams, payload: bytes) -> bytes:
        if self.side == "server":
            nct, bits = params.server_no_context_takeover, params.server_max_window_bits
        else:
            nct, bits = params.client_no_context_takeover, params.client_max_window_bits
        c = self._compressor
        if c is None or nct:
            # zlib cannot make raw deflate streams with an 8-bit window; 9 is the floor.
            c = self._compressor = zlib.compressobj(params.level, zlib.DEFLATED, -max(bits, 9))
        out = c.compress(payload) + c.flush(zlib.Z_SYNC_FLUSH)
        if out.endswith(_DEFLATE_TAIL):
            out = out[:-4]
        return out

    def send_ping(self, data: bytes = b"") -> bytes:
        """Encode a ping frame (at most 125 bytes of ``data``)."""
        if self.close_sent:
            return b""
        return self._frame(Opcode.PING, data[:125])

    def send_close(self, code: int = 1000, reason: str = "") -> bytes:
        """Start (or finish) the closing handshake.

        Returns:
            The close frame to write, or ``b""`` if one was already sent. Once the
            peer's close arrives :attr:`closed` becomes true.
        """
        if self.close_sent:
            return b""
        self.close_sent = True
        if self.close_code is None:
            self.close_code = code
            self.close_reason = reason
        if self.close_received:
            self.closed = True
        return self._frame(Opcode.CLOSE, _close_payload(code, reason))
