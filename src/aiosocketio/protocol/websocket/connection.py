"""The sans-I/O WebSocket state machine (RFC 6455), with optional permessage-deflate.

Theory of operation
-------------------
:class:`WebSocketProtocol` is a pure state machine, one per connection, used the same way
by the server and the client. It never calls out: the I/O layer pulls everything.

* :meth:`~WebSocketProtocol.receive_data` takes bytes from the network and returns the
  data messages they complete (``str`` for text, ``bytes`` for binary), in order.
* :meth:`~WebSocketProtocol.events_received` returns the control events: :class:`Ping`,
  :class:`Pong` and :class:`Close`.
* :meth:`~WebSocketProtocol.data_to_send` returns the bytes the protocol writes on its
  own: pongs, close replies, the close frame of a failed connection.
* :meth:`~WebSocketProtocol.send_message`, :meth:`~WebSocketProtocol.send_ping` and
  :meth:`~WebSocketProtocol.send_close` return frames for the caller to write.

The I/O layer's loop for one read is therefore::

    messages = protocol.receive_data(data)
    if protocol.events_pending:      # False on the hot path: skip both calls
        write(protocol.data_to_send())
        events = protocol.events_received()
    ...act on messages, then on events...
    if protocol.closed: close the TCP connection once the bytes are written
    if protocol.input_pending: pause reading; on a later loop turn, receive_data(b"")

A server pump can bound the frames one call parses (``frames_per_call``; the built-in
server uses :data:`FRAMES_PER_CALL`), so that a read full of tiny frames (43,690 empty
pings fit in 256 KiB) never holds the event loop for long; the rest stays buffered and
:attr:`~WebSocketProtocol.input_pending` is true until a later ``receive_data(b"")`` (or
with more data) parses it. By default there is no bound: a pump that does not check
``input_pending`` gets every complete frame, as before.

Ordering contract:

* Order 1: the messages come back in the order they arrived, and so do the events.
  A :class:`Close` event is always the last thing of a connection: nothing that follows
  the close frame (or the frame that failed the connection) is parsed, so no message is
  returned and no event is reported after it. The messages before it are returned.
* Order 2: when :meth:`~WebSocketProtocol.receive_data` returns, :meth:`data_to_send`
  already holds the pong of every ping in the chunk, and the close frame last if the
  chunk closed the connection. The I/O layer writes those bytes *before* acting on the
  returned messages, so a pong never waits behind the answers to the messages around
  its ping. Once a close frame is queued, the send methods return ``b""``: answers to
  messages that arrived with the peer's close are not sent (§5.5.1: no data frame after
  a close frame).

Invariants:

* Rule 1: the receive path never raises. A violation by the peer produces a
  :class:`Close` event carrying the close code we chose (1002, 1007, 1009) plus a close
  frame in ``data_to_send()``, and the protocol becomes :attr:`~WebSocketProtocol.closed`.
* Rule 2: once closed, every later input is ignored and every send returns ``b""``.
  The I/O layer closes the TCP connection once ``closed`` is true and the bytes from
  ``data_to_send()`` are written.
* Rule 3: every byte the protocol queues in ``data_to_send()`` comes with an event, so
  :attr:`~WebSocketProtocol.events_pending` false means both lists are empty.
* Rule 4: what the peer makes the protocol hold is bounded: a message by
  ``max_message_size`` (1009), its frames by ``max_fragments`` (1008; empty fragments
  count and are not stored), the buffered input by one frame plus what the last call was
  given, and (with ``frames_per_call``) the pongs one call queues.

The fast path: :meth:`~WebSocketProtocol.receive_data` decodes an unfragmented,
uncompressed TEXT or BINARY frame under 126 bytes (the common Engine.IO packet) without
the general checks, which cannot fail for it. A property test holds it equal to the
general path (``tests/protocol/websocket/test_fast_path.py``).

This module never imports asyncio, socket or ssl.

Why one module of about 600 lines: the frame parser, the fragment reassembly, the
close handshake and permessage-deflate share one buffer and one state, and the frames'
byte layout (:mod:`.frames`), the extension negotiation (:mod:`.extensions`) and the
opening handshake (:mod:`.handshake`) already live in their own modules.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Generator
from dataclasses import dataclass
from typing import ClassVar, Literal

from aiosocketio.protocol.websocket import frames
from aiosocketio.protocol.websocket.extensions import DeflateParams, PerMessageDeflate
from aiosocketio.protocol.websocket.frames import (
    BIN_SMALL,
    TEXT_SMALL,
    Opcode,
    _mask,
    close_code_ok,
    close_payload,
    encode_frame,
)

__all__ = [
    "FRAMES_PER_CALL",
    "MAX_FRAGMENTS",
    "Close",
    "Event",
    "Ping",
    "Pong",
    "WebSocketProtocol",
]

MAX_FRAGMENTS = 16 * 1024
"""Frames of one message before the connection fails with 1008 (the ``ws`` default)."""

_NO_BOUND = (1 << 30) - 1  # "no bound", kept a small int (fast arithmetic)

FRAMES_PER_CALL = 1024
"""The bound the built-in server sets on the frames one ``receive_data`` call parses."""


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


Event = Ping | Pong | Close
"""A control event from :meth:`WebSocketProtocol.events_received`."""


class WebSocketProtocol:
    """The RFC 6455 state machine for one connection, either side.

    Args:
        side: ``"server"`` (requires masked input, sends unmasked) or ``"client"``.
        max_message_size: largest accepted message in bytes (after decompression);
            a bigger one fails the connection with 1009. Fixed for the connection's life.
        deflate: negotiated permessage-deflate parameters, or ``None``.
        max_fragments: most frames in one message (data frames, the first and the last
            included); one more fails the connection with 1008 "Too many message
            fragments", as the ``ws`` package does.
        frames_per_call: parse at most this many frames per :meth:`receive_data` call
            (see :attr:`input_pending`); ``None``: no bound.

    Attributes:
        closed: the closing handshake is over (or the connection failed): close the TCP
            connection once ``data_to_send()`` is written.
        close_sent: a close frame was sent (or queued); nothing more can be sent.
        close_received: the peer's close frame arrived.
        close_code: the code of the first close frame (ours or the peer's).
        close_reason: the reason that came with it.
        events_pending: :meth:`events_received` has events to return (and
            :meth:`data_to_send` may have bytes); when false, both calls can be skipped.
        input_pending: the last :meth:`receive_data` stopped after
            ``frames_per_call`` frames with more complete input buffered: call
            ``receive_data(b"")`` on a later loop turn (and read no more meanwhile).
        failed: the protocol itself closed the connection (the peer broke a rule or a
            limit); :attr:`close_code` tells which.
        frames_per_call: the most frames one :meth:`receive_data` call parses (no
            bound by default).
    """

    __slots__ = (
        "_buf",
        "_compressed",
        "_events",
        "_frag_count",
        "_frag_opcode",
        "_frag_parts",
        "_frag_size",
        "_need",
        "_out",
        "_pmd",
        "_small",
        "close_code",
        "close_reason",
        "close_received",
        "close_sent",
        "closed",
        "deflate",
        "events_pending",
        "failed",
        "frames_per_call",
        "input_pending",
        "max_fragments",
        "max_message_size",
        "side",
    )

    _fast_path: ClassVar[bool] = True
    """Whether :meth:`receive_data` takes the small-frame fast path (tests turn it off in
    a subclass to compare it with the general path)."""

    def __init__(
        self,
        side: Literal["server", "client"],
        *,
        max_message_size: int,
        deflate: DeflateParams | None = None,
        max_fragments: int = MAX_FRAGMENTS,
        frames_per_call: int | None = None,
    ) -> None:
        self.side = side
        self.max_message_size = max_message_size
        self.max_fragments = max_fragments
        self.frames_per_call = frames_per_call if frames_per_call is not None else _NO_BOUND
        # Frames with a payload under ``_small`` bytes take the fast path: 126 (a 7-bit
        # length), or less when the message limit is lower (then the general path fails
        # the connection with 1009); 0 turns the fast path off.
        self._small = 0
        if self._fast_path:
            self._small = 126 if max_message_size >= 125 else max(max_message_size + 1, 0)
        self.deflate = deflate
        self._pmd = PerMessageDeflate(deflate, side) if deflate is not None else None
        self._buf = bytearray()
        self._events: list[Event] = []
        self.events_pending = False
        self._out: list[bytes] = []
        self._frag_opcode: int | None = None
        # a list only while a fragmented message arrives (one object fewer per connection)
        self._frag_parts: list[bytes] | tuple[()] = ()
        self._frag_size = 0
        self._frag_count = 0
        self._need = 0
        self._compressed = False
        self.input_pending = False
        self.failed = False
        self.closed = False
        self.close_sent = False
        self.close_received = False
        self.close_code: int | None = None
        self.close_reason = ""

    # -- receiving -------------------------------------------------------------------

    def receive_data(self, data: bytes) -> list[str | bytes]:
        """Feed bytes from the network.

        After this, write :meth:`data_to_send` (if :attr:`events_pending`), then act on
        the returned messages, then on :meth:`events_received` (see the module docstring
        for the order). Never raises; protocol violations fail the connection.

        Returns:
            The data messages completed by ``data``, in order: ``str`` for text,
            ``bytes`` for binary. A new list on each call.
        """
        messages: list[str | bytes] = []
        if self.closed or self.close_received:
            return messages
        buf: bytes | bytearray
        if self._buf:
            self._buf += data
            if len(self._buf) < self._need:
                return messages  # the frame in progress is still incomplete
            buf = self._buf
        else:
            buf = data
        pos = self._parse(buf, messages)
        if self.closed or self.close_received:
            self._buf = bytearray()
        elif buf is self._buf:
            if pos:
                del self._buf[:pos]
        elif pos < len(buf):
            self._buf = bytearray(buf[pos:])
        return messages

    def _parse(self, buf: bytes | bytearray, messages: list[str | bytes]) -> int:
        """Parse every complete frame in ``buf`` into ``messages`` and events; return how
        many bytes were used."""
        pos = 0
        n = len(buf)
        self._need = 0
        mask_bit = 0x80 if self.side == "server" else 0
        mlen = 4 if mask_bit else 0
        apply_c = frames._apply_mask_c
        small = self._small
        budget = self.frames_per_call
        if self.input_pending:
            self.input_pending = False
        # the caller checked closed / close_received; only the general path below can
        # set them, and it checks them after each frame
        while True:
            if n - pos < 2:
                self._need = 2
                break
            budget -= 1
            if budget < 0:
                self.input_pending = True  # the rest waits for receive_data(b"")
                break
            b0 = buf[pos]
            b1 = buf[pos + 1]
            # The fast path: an unfragmented, uncompressed TEXT/BINARY frame under
            # ``_small`` bytes, masked as this side expects (a wrong mask bit makes the
            # length >= 128). Nothing in the general checks below can fail for it.
            if (
                (b0 == 0x81 or b0 == 0x82)
                and (length := b1 ^ mask_bit) < small
                and self._frag_opcode is None
            ):
                start = pos + 2 + mlen
                end = start + length
                if end > n:
                    self._need = end - pos
                    break
                if mlen:
                    if apply_c is not None:  # C: about 0.15 us for 40 bytes, vs 0.35
                        payload = apply_c(buf[start:end], buf[pos + 2 : start])
                    else:
                        # _mask() inlined: the key repeated 32 times covers any length < 126
                        payload = (
                            int.from_bytes(buf[start:end], "little")
                            ^ int.from_bytes((buf[pos + 2 : start] * 32)[:length], "little")
                        ).to_bytes(length, "little")
                else:
                    payload = bytes(buf[start:end])
                pos = end
                if b0 == 0x81:
                    try:
                        messages.append(payload.decode())
                    except UnicodeDecodeError:
                        self._fail(1007, "invalid UTF-8")
                        break
                else:
                    messages.append(payload)
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
            if b0 & 0x30 or (rsv1 and (self._pmd is None or opcode not in (1, 2))):
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
                self._data(opcode, payload, fin, rsv1, messages)
            if self.closed or self.close_received:
                break
        return pos

    def _control(self, opcode: int, payload: bytes) -> None:
        if opcode == Opcode.PING:
            self._out.append(self._frame(Opcode.PONG, payload))
            self._event(Ping(payload))
        elif opcode == Opcode.PONG:
            self._event(Pong(payload))
        else:
            self._on_close_frame(payload)

    def _event(self, event: Event) -> None:
        self._events.append(event)
        self.events_pending = True

    def _on_close_frame(self, payload: bytes) -> None:
        # §5.5.1: optional 2-byte code followed by a UTF-8 reason.
        if len(payload) == 1:
            self._fail(1002, "invalid close frame")
            return
        code, reason = 1005, ""
        if payload:
            code = struct.unpack("!H", payload[:2])[0]
            if not close_code_ok(code):
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
            self._out.append(self._frame(Opcode.CLOSE, close_payload(code, "")))
        self.closed = True
        self._event(Close(code, reason))

    def _data(
        self, opcode: int, payload: bytes, fin: bool, rsv1: bool, messages: list[str | bytes]
    ) -> None:
        if opcode != 0:
            self._frag_opcode = opcode
            self._compressed = rsv1
        parts = self._frag_parts
        if not fin:
            # Rule 4: every frame of a message counts, an empty one too (it is not kept)
            count = self._frag_count = self._frag_count + 1
            if count >= self.max_fragments:
                self._fail(1008, "Too many message fragments")
                return
            if payload:
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
        if self._frag_count:
            self._frag_size = self._frag_count = 0
        if self._compressed:
            self._compressed = False
            pmd = self._pmd
            assert pmd is not None
            try:
                inflated = pmd.decompress(payload, self.max_message_size)
            except zlib.error:
                self._fail(1007, "invalid compressed data")
                return
            if inflated is None:
                self._fail(1009, "message too big")
                return
            payload = inflated
        if msg_opcode == Opcode.TEXT:
            try:
                text = payload.decode()
            except UnicodeDecodeError:
                self._fail(1007, "invalid UTF-8")
                return
            messages.append(text)
        else:
            messages.append(payload)

    def _fail(self, code: int, reason: str) -> None:
        """Fail the connection (§7.1.7): send a close frame and report a Close event."""
        if not self.close_sent:
            self.close_sent = True
            self._out.append(self._frame(Opcode.CLOSE, close_payload(code, reason)))
        self.closed = True
        self.failed = True
        self.input_pending = False
        self.close_code = code
        self.close_reason = reason
        self._frag_parts = ()
        self._event(Close(code, reason))

    def events_received(self) -> list[Event]:
        """Return (and forget) the control events parsed since the last call.

        Call it after :meth:`receive_data` when :attr:`events_pending` is true (calling
        it otherwise is harmless and returns an empty list).
        """
        events = self._events
        if events:
            self._events = []
        self.events_pending = False
        return events

    def data_to_send(self) -> bytes:
        """Return (and forget) bytes the protocol wants written: pongs, close frames.

        Write them before acting on the messages :meth:`receive_data` returned (see
        the module docstring).
        """
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
        pmd = self._pmd
        if pmd is not None and len(payload) >= pmd.params.threshold:
            return self._frame(opcode, pmd.compress(payload), rsv1=True)
        if self.side == "server":
            n = len(payload)
            if n < 126:
                return (TEXT_SMALL if opcode == Opcode.TEXT else BIN_SMALL)[n] + payload
            return encode_frame(opcode, payload)
        return self._frame(opcode, payload)

    def compresses(self, data: str | bytes) -> bool:
        """Whether :meth:`send_message` would compress this message."""
        pmd = self._pmd
        return pmd is not None and len(data) >= pmd.params.threshold

    def send_message_steps(
        self, data: str | bytes, step: int = 64 * 1024
    ) -> Generator[None, None, bytes]:
        """:meth:`send_message` for a big message to compress, in pieces.

        The generator compresses ``step`` bytes per ``next()`` (about a millisecond for
        64 KiB) and returns the frame, ``b""`` if a close frame was sent meanwhile. Until
        it is exhausted, no other message may be encoded on this connection (control
        frames may).
        """
        if isinstance(data, str):
            opcode, payload = Opcode.TEXT, data.encode()
        else:
            opcode, payload = Opcode.BINARY, bytes(data)
        pmd = self._pmd
        if pmd is None or len(payload) < pmd.params.threshold:
            return b"" if self.close_sent else self._frame(opcode, payload)
        compressed = yield from pmd.compress_steps(payload, step)
        if self.close_sent:
            return b""
        return self._frame(opcode, compressed, rsv1=True)

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
        return self._frame(Opcode.CLOSE, close_payload(code, reason))
