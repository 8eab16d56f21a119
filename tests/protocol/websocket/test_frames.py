"""Frames (RFC 6455 §5): encoding golden examples, lengths, masking, close payloads."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from aiosocketio.protocol.websocket import Opcode, binary_frame, encode_frame, frames, text_frame
from aiosocketio.protocol.websocket.frames import (
    _mask,
    _mask_python,
    close_code_ok,
    close_payload,
)


def test_rfc_single_frame_unmasked_text() -> None:
    assert text_frame("Hello") == bytes.fromhex("810548656c6c6f")


def test_rfc_binary_lengths() -> None:
    assert binary_frame(b"\x00" * 256)[:4] == bytes.fromhex("827e0100")
    assert binary_frame(b"\x00" * 65536)[:10] == bytes.fromhex("827f0000000000010000")
    assert text_frame("a" * 126)[:4] == bytes.fromhex("817e007e")
    assert text_frame("a" * 70000)[:2] == b"\x81\x7f"
    assert encode_frame(Opcode.TEXT, b"hi") == text_frame("hi")


def test_masked_frame_layout() -> None:
    frame = encode_frame(Opcode.BINARY, b"abc", mask=True)
    assert frame[0] == 0x82 and frame[1] == 0x83
    key = frame[2:6]
    assert bytes(b ^ key[i % 4] for i, b in enumerate(frame[6:])) == b"abc"
    assert encode_frame(Opcode.TEXT, b"x", fin=False, rsv1=True)[0] == 0x41


def test_close_payloads() -> None:
    assert close_payload(1005, "ignored") == b""
    assert close_payload(1000, "bye") == struct.pack("!H", 1000) + b"bye"
    assert len(close_payload(1000, "x" * 500)) == 125  # a control frame's limit
    for code in (1000, 1001, 1011, 3000, 4999):
        assert close_code_ok(code)
    for code in (999, 1004, 1005, 1006, 1015, 2999, 5000):
        assert not close_code_ok(code)


# -- masking (§5.3): the optional C routine and the pure-Python fallback agree ------------


@settings(deadline=None)
@given(payload=st.binary(max_size=4096), key=st.binary(min_size=4, max_size=4))
def test_mask_matches_the_definition(payload: bytes, key: bytes) -> None:
    expected = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    assert _mask_python(payload, key) == expected
    assert _mask(payload, key) == expected
    assert _mask(bytearray(payload), bytearray(key)) == expected


def test_the_c_routine_is_used_when_websockets_is_installed() -> None:
    # websockets is a dev dependency, so the accelerated path is the one tested here.
    assert frames._apply_mask_c is not None
