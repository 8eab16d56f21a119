"""The permessage-deflate extension (RFC 7692): negotiation and per-message compression.

:func:`server_negotiate_deflate` picks the first acceptable offer of a client's
``Sec-WebSocket-Extensions`` header; :func:`client_deflate_offer` and
:func:`client_parse_deflate_response` are the client's side of the same exchange. Both
sides end with :class:`DeflateParams`, which :class:`PerMessageDeflate` (owned by
:class:`~aiosocketio.protocol.websocket.connection.WebSocketProtocol`) applies to each
message.
"""

from __future__ import annotations

import zlib
from collections.abc import Generator
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DeflateParams",
    "PerMessageDeflate",
    "client_deflate_offer",
    "client_parse_deflate_response",
    "parse_extensions",
    "server_negotiate_deflate",
]

# §7.2.1: a sender removes these 4 bytes from the end of each compressed message, and
# §7.2.2: the receiver appends them before inflating.
_DEFLATE_TAIL = b"\x00\x00\xff\xff"


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


# -- negotiation (§5, §7.1) --------------------------------------------------------------


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


# -- compression (§7.2) ------------------------------------------------------------------


class PerMessageDeflate:
    """The compression state of one side of a connection that negotiated the extension.

    The zlib objects are made on first use, and made again for each message when the
    sending (or the receiving) side agreed to "no context takeover".

    Args:
        params: the negotiated parameters.
        side: which end of the connection this is.
    """

    __slots__ = ("_compressor", "_decompressor", "_in_reset", "_out_bits", "_out_reset", "params")

    def __init__(self, params: DeflateParams, side: Literal["server", "client"]) -> None:
        self.params = params
        if side == "server":
            self._out_reset = params.server_no_context_takeover
            self._out_bits = params.server_max_window_bits
            self._in_reset = params.client_no_context_takeover
        else:
            self._out_reset = params.client_no_context_takeover
            self._out_bits = params.client_max_window_bits
            self._in_reset = params.server_no_context_takeover
        self._compressor: zlib._Compress | None = None
        self._decompressor: zlib._Decompress | None = None

    def compress(self, payload: bytes) -> bytes:
        """Compress one whole message (§7.2.1); the result goes in frames with RSV1 set."""
        c = self._compressor
        if c is None or self._out_reset:
            # zlib cannot make raw deflate streams with an 8-bit window; 9 is the floor.
            c = self._compressor = zlib.compressobj(
                self.params.level, zlib.DEFLATED, -max(self._out_bits, 9)
            )
        out = c.compress(payload) + c.flush(zlib.Z_SYNC_FLUSH)
        if out.endswith(_DEFLATE_TAIL):
            out = out[:-4]
        return out

    def compress_steps(self, payload: bytes, step: int) -> Generator[None, None, bytes]:
        """:meth:`compress` in pieces of ``step`` bytes: the generator yields after each
        piece (so that an event loop can run between them) and returns the result.

        The compressor's context is shared by the messages of a connection: no other
        message may be compressed until this generator is exhausted. A generator
        abandoned half-way leaves the context unusable, so it is dropped (the next
        message starts a new one; only a connection being closed abandons one).
        """
        c = self._compressor
        if c is None or self._out_reset:
            c = self._compressor = zlib.compressobj(
                self.params.level, zlib.DEFLATED, -max(self._out_bits, 9)
            )
        parts: list[bytes] = []
        view = memoryview(payload)
        done = False
        try:
            for start in range(0, len(payload), step):
                parts.append(c.compress(view[start : start + step]))
                yield
            parts.append(c.flush(zlib.Z_SYNC_FLUSH))
            done = True
        finally:
            view.release()
            if not done:
                self._compressor = None
        out = b"".join(parts)
        if out.endswith(_DEFLATE_TAIL):
            out = out[:-4]
        return out

    def decompress(self, payload: bytes, max_size: int) -> bytes | None:
        """Inflate one whole compressed message (§7.2.2).

        Args:
            payload: the joined payloads of the message's frames.
            max_size: the largest acceptable result.

        Returns:
            The message, or ``None`` when it would be bigger than ``max_size`` (inflating
            stops there: a small "bomb" never expands in memory).

        Raises:
            zlib.error: the data is not a valid deflate stream.
        """
        d = self._decompressor
        if d is None or self._in_reset:
            d = self._decompressor = zlib.decompressobj(-15)
        out = d.decompress(payload + _DEFLATE_TAIL, max_size + 1)
        if len(out) > max_size or d.unconsumed_tail:
            return None
        return out
