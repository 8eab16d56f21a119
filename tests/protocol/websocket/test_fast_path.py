"""The small-frame fast path of ``WebSocketProtocol.receive_data`` equals the general path.

Random frame streams (text, binary, control, fragmented, compressed, invalid, garbage) are
fed whole, byte by byte and in random chunks, to a protocol with the fast path and to one
without it (a subclass that turns it off). Every way gives the same messages, control
events, close state and bytes to send.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiosocketio.protocol.websocket import (
    DeflateParams,
    Event,
    Opcode,
    PerMessageDeflate,
    WebSocketProtocol,
    encode_frame,
    frames,
)

Side = Literal["server", "client"]


class GeneralPathOnly(WebSocketProtocol):
    """The same protocol with the fast path turned off."""

    __slots__ = ()
    _fast_path = False


@dataclass(frozen=True)
class Outcome:
    messages: list[str | bytes]
    events: list[Event]
    sent: list[tuple[int, bytes]]  # (first byte, unmasked payload) of each frame sent
    closed: bool
    close_sent: bool
    close_received: bool
    close_code: int | None
    close_reason: str


def sent_frames(data: bytes) -> list[tuple[int, bytes]]:
    """Split our own output into frames, unmasked (a client masks with random keys)."""
    found = []
    pos = 0
    while pos < len(data):
        b0, b1 = data[pos], data[pos + 1]
        length, head = b1 & 0x7F, 2
        if length == 126:
            length, head = struct.unpack("!H", data[pos + 2 : pos + 4])[0], 4
        elif length == 127:
            length, head = struct.unpack("!Q", data[pos + 2 : pos + 10])[0], 10
        payload = data[pos + head + (4 if b1 & 0x80 else 0) :][:length]
        if b1 & 0x80:
            key = data[pos + head : pos + head + 4]
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        found.append((b0, payload))
        pos += head + (4 if b1 & 0x80 else 0) + length
    return found


def run(proto: WebSocketProtocol, chunks: list[bytes]) -> Outcome:
    messages: list[str | bytes] = []
    events: list[Event] = []
    sent = b""
    for chunk in chunks:
        messages += proto.receive_data(chunk)
        pending = proto.events_pending
        out = proto.data_to_send()
        got = proto.events_received()
        assert pending == bool(got)
        assert pending or not out  # every byte the protocol queues comes with an event
        events += got
        sent += out
    return Outcome(
        messages,
        events,
        sent_frames(sent),
        proto.closed,
        proto.close_sent,
        proto.close_received,
        proto.close_code,
        proto.close_reason,
    )


# -- random frame streams ------------------------------------------------------------------

SIZES = st.one_of(st.integers(0, 10), st.integers(118, 133), st.integers(0, 300))
"""Payload sizes around the fast path's limit (under 126 bytes, a 7-bit length)."""


@st.composite
def payloads(draw: st.DrawFn, text: bool = False) -> bytes:
    size = draw(SIZES)
    if text and draw(st.booleans()):
        return draw(st.text(min_size=size // 3, max_size=size // 2 + 1)).encode()
    if draw(st.integers(0, 9)) == 0:
        return b"\xff\xfe" + bytes(size)  # invalid UTF-8 in a text message
    return bytes(draw(st.integers(0, 255)) for _ in range(min(size, 8))) + bytes(max(size - 8, 0))


@dataclass
class Peer:
    """Frames as the other side sends them (masked towards a server)."""

    mask: bool
    compressor: PerMessageDeflate | None

    def frame(self, opcode: int, payload: bytes, *, fin: bool = True, rsv1: bool = False) -> bytes:
        return encode_frame(opcode, payload, fin=fin, rsv1=rsv1, mask=self.mask)


@st.composite
def pieces(draw: st.DrawFn, peer: Peer) -> bytes:
    kind = draw(
        st.sampled_from(
            ["data", "data", "data", "fragmented", "control", "close", "compressed", "odd"]
        )
    )
    if kind == "data":
        opcode = draw(st.sampled_from([Opcode.TEXT, Opcode.BINARY]))
        return peer.frame(opcode, draw(payloads(text=opcode == Opcode.TEXT)))
    if kind == "fragmented":
        opcode = draw(st.sampled_from([Opcode.TEXT, Opcode.BINARY]))
        parts = draw(st.lists(payloads(text=True), min_size=1, max_size=4))
        wire = b""
        for i, part in enumerate(parts):
            wire += peer.frame(Opcode.CONT if i else opcode, part, fin=i == len(parts) - 1)
            if draw(st.booleans()):
                wire += peer.frame(Opcode.PING, b"between")
        return wire
    if kind == "control":
        opcode = draw(st.sampled_from([Opcode.PING, Opcode.PONG]))
        return peer.frame(opcode, draw(st.binary(max_size=130)))  # over 125 is invalid
    if kind == "close":
        code = draw(st.sampled_from([1000, 1001, 1005, 1006, 3000, 4999, 999]))
        reason = draw(st.sampled_from([b"", b"bye", b"\xff"]))
        return peer.frame(Opcode.CLOSE, b"" if code == 1005 else struct.pack("!H", code) + reason)
    if kind == "compressed":
        opcode = draw(st.sampled_from([Opcode.TEXT, Opcode.BINARY]))
        payload = draw(payloads(text=True))
        if peer.compressor is None:
            return peer.frame(opcode, payload, rsv1=True)  # RSV1 without the extension
        compressed = peer.compressor.compress(payload)
        if len(compressed) > 2 and draw(st.booleans()):  # compressed, and fragmented
            half = len(compressed) // 2
            return peer.frame(opcode, compressed[:half], fin=False, rsv1=True) + peer.frame(
                Opcode.CONT, compressed[half:]
            )
        return peer.frame(opcode, compressed, rsv1=True)
    # odd: the wrong mask bit, a reserved opcode, a stray continuation, RSV2, garbage, a
    # message left unfinished (the next data frame must be a continuation)
    odd = draw(st.integers(0, 5))
    if odd == 0:
        return encode_frame(Opcode.TEXT, b"x" * draw(SIZES), mask=not peer.mask)
    if odd == 1:
        return peer.frame(draw(st.sampled_from([3, 7, 11, 15])), b"x")
    if odd == 2:
        return peer.frame(Opcode.CONT, b"stray")
    if odd == 3:
        frame = bytearray(peer.frame(Opcode.BINARY, b"x"))
        frame[0] |= 0x20
        return bytes(frame)
    if odd == 4:
        return draw(st.binary(min_size=1, max_size=20))
    return peer.frame(draw(st.sampled_from([Opcode.TEXT, Opcode.BINARY])), b"start", fin=False)


@st.composite
def streams(draw: st.DrawFn) -> tuple[Side, int, DeflateParams | None, bytes, list[int]]:
    side: Side = draw(st.sampled_from(["server", "client"]))
    max_size = draw(st.sampled_from([0, 10, 124, 125, 126, 200, 1_000_000]))
    deflate = draw(
        st.sampled_from([None, DeflateParams(threshold=0), DeflateParams(True, True, threshold=0)])
    )
    sender_side: Side = "client" if side == "server" else "server"
    peer = Peer(
        mask=side == "server",
        compressor=PerMessageDeflate(deflate, sender_side) if deflate is not None else None,
    )
    wire = b"".join(draw(st.lists(pieces(peer), min_size=1, max_size=12)))
    cuts = sorted(draw(st.lists(st.integers(0, len(wire)), max_size=8)))
    return side, max_size, deflate, wire, cuts


@pytest.mark.parametrize("accelerated", [True, False], ids=["C unmasking", "Python unmasking"])
@settings(max_examples=300, deadline=None)
@given(stream=streams())
def test_the_fast_path_equals_the_general_path(
    accelerated: bool, stream: tuple[Side, int, DeflateParams | None, bytes, list[int]]
) -> None:
    saved = frames._apply_mask_c
    if not accelerated:
        frames._apply_mask_c = None
    try:
        check_stream(*stream)
    finally:
        frames._apply_mask_c = saved


def check_stream(
    side: Side, max_size: int, deflate: DeflateParams | None, wire: bytes, cuts: list[int]
) -> None:
    chunked = [wire[a:b] for a, b in zip([0, *cuts], [*cuts, len(wire)], strict=True)]
    feeds = {
        "whole": [wire],
        "byte by byte": [wire[i : i + 1] for i in range(len(wire))],
        "chunks": chunked,
    }
    expected = run(GeneralPathOnly(side, max_message_size=max_size, deflate=deflate), [wire])
    for name, chunks in feeds.items():
        for cls in (WebSocketProtocol, GeneralPathOnly):
            proto = cls(side, max_message_size=max_size, deflate=deflate)
            assert run(proto, chunks) == expected, (name, cls.__name__)


def test_the_switch_turns_the_fast_path_off() -> None:
    frame = encode_frame(Opcode.TEXT, b"hi", mask=True)
    assert WebSocketProtocol("server", max_message_size=10)._small == 11
    assert WebSocketProtocol("server", max_message_size=10**6)._small == 126
    general = GeneralPathOnly("server", max_message_size=10**6)
    assert general._small == 0
    assert general.receive_data(frame) == ["hi"]
