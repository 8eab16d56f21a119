"""Unmasking: the optional C routine and the pure-Python fallback agree (RFC 6455 §5.3)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from aiosocketio.protocol import websocket
from aiosocketio.protocol.websocket import _mask, _mask_python


@settings(deadline=None)
@given(payload=st.binary(max_size=4096), key=st.binary(min_size=4, max_size=4))
def test_mask_matches_the_definition(payload: bytes, key: bytes) -> None:
    expected = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    assert _mask_python(payload, key) == expected
    assert _mask(payload, key) == expected
    assert _mask(bytearray(payload), bytearray(key)) == expected


def test_the_c_routine_is_used_when_websockets_is_installed() -> None:
    # websockets is a dev dependency, so the accelerated path is the one tested here.
    assert websocket._apply_mask_c is not None
