"""Tests for the sans-I/O WebSocket framing (RFC 6455, RFC 7692)."""

from __future__ import annotations

import ast
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiosocketio.protocol import websocket as ws
from aiosocketio.protocol.websocket import (
    Close,
    DeflateParams,
    Message,
    Opcode,
    Ping,
    Pong,
    WebSocketProtocol,
    accept_key,
    binary_frame,
    check_upgrade_request,
    client_deflate_offer,
    client_parse_deflate_response,
    encode_frame,
    parse_extensions,
    server_negotiate_deflate,
    text_frame,
)

MAX = 1_000_000


def server(max_size: int = MAX, deflate: DeflateParams | None = None) -> WebSocketProtocol:
    return WebSocketProtocol("server", max_message_size=max_size, deflate=deflate)


def client(max_size: int = MAX, deflate: DeflateParams | None = None) -> WebSocketProtocol:
    return WebSocketProtocol("client", max_message_size=max_size, deflate=deflate)


def masked(opcode: int, payload: bytes, *, fin: bool = True, rsv1: bool = False) -> bytes:
    return encode_frame(opcode, payload, fin=fin, rsv1=rsv1, mask=True)


def close_code_of(frame: bytes) -> int:
    """The close code in an unmasked server close frame."""
    assert frame[0] == 0x88
    code: int = struct.unpack("!H", frame[2:4])[0]
    return code


# -- RFC 6455 §5.7 golden examples -------------------------------------------------------


def test_rfc_single_frame_unmasked_text() -> None:
    assert text_frame("Hello") == bytes.fromhex("810548656c6c6f")
    p = client()
    p.receive_data(bytes.fromhex("810548656c6c6f"))
    assert p.events_received() == [Message("Hello")]


def test_rfc_single_frame_masked_text() -> None:
    p = server()
    p.receive_data(bytes.fromhex("818537fa213d7f9f4d5158"))
    assert p.events_received() == [Message("Hello")]


def test_rfc_fragmented_unmasked_text() -> None:
    p = client()
    p.receive_data(bytes.fromhex("010348656c"))
    assert p.events_received() == []
    p.receive_data(bytes.fromhex("80026c6f"))
    assert p.events_received() == [Message("Hello")]


def test_rfc_ping_and_pong() -> None:
    p = client()
    p.receive_data(bytes.fromhex("890548656c6c6f"))
    assert p.events_received() == [Ping(b"Hello")]
    pong = p.data_to_send()
    # the client's pong is masked; a server decodes it back
    s = server()
    s.receive_data(pong)
    assert s.events_received() == [Pong(b"Hello")]
    s2 = server()
    s2.receive_data(bytes.fromhex("8a8537fa213d7f9f4d5158"))
    assert s2.events_received() == [Pong(b"Hello")]


def test_rfc_binary_lengths() -> None:
    assert binary_frame(b"\x00" * 256)[:4] == bytes.fromhex("827e0100")
    assert binary_frame(b"\x00" * 65536)[:10] == bytes.fromhex("827f0000000000010000")
    assert text_frame("a" * 126)[:4] == bytes.fromhex("817e007e")
    assert text_frame("a" * 70000)[:2] == b"\x81\x7f"
    assert encode_frame(Opcode.TEXT, b"hi") == text_frame("hi")


def test_accept_key_rfc_example() -> None:
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_check_upgrade_request() -> None:
    good = {
        "upgrade": "websocket",
        "connection": "keep-alive, Upgrade",
        "sec-websocket-version": "13",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    assert check_upgrade_request("GET", good) is None
    assert check_upgrade_request("POST", good) is not None
    assert check_upgrade_request("GET", {**good, "sec-websocket-version": "8"}) is not None
    assert check_upgrade_request("GET", {**good, "sec-websocket-key": "short"}) is not None
    assert check_upgrade_request("GET", {**good, "upgrade": "h2c"}) is not None
    assert check_upgrade_request("GET", {**good, "connection": "close"}) is not None


# -- round trips --------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 200_000])
def test_round_trip_sizes(size: int) -> None:
    c, s = client(), server()
    text = "é" * (size // 2)
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    s.receive_data(c.send_message(text) + c.send_message(data))
    assert s.events_received() == [Message(text), Message(data)]
    c.receive_data(s.send_message(text) + s.send_message(data))
    assert c.events_received() == [Message(text), Message(data)]


def test_byte_by_byte() -> None:
    c, s = client(), server()
    wire = c.send_message("hello world") + c.send_message(b"\x01\x02")
    events = []
    for i in range(len(wire)):
        s.receive_data(wire[i : i + 1])
        events += s.events_received()
    assert events == [Message("hello world"), Message(b"\x01\x02")]


def test_fragmentation_with_interleaved_ping() -> None:
    s = server()
    wire = (
        masked(Opcode.BINARY, b"ab", fin=False)
        + masked(Opcode.PING, b"p")
        + masked(Opcode.CONT, b"cd", fin=False)
        + masked(Opcode.CONT, b"ef")
    )
    s.receive_data(wire)
    assert s.events_received() == [Ping(b"p"), Message(b"abcdef")]
    assert s.data_to_send() == bytes.fromhex("8a0170")


def test_server_frames_are_unmasked_and_client_frames_masked() -> None:
    assert server().send_message("x") == b"\x81\x01x"
    frame = client().send_message("x")
    assert frame[1] & 0x80
    assert len(frame) == 2 + 4 + 1


# -- close handshake and failures ------------------------------------------------------------


def test_close_initiated_by_server() -> None:
    c, s = client(), server()
    frame = s.send_close(1001, "bye")
    assert not s.closed and s.close_sent
    c.receive_data(frame)
    assert c.events_received() == [Close(1001, "bye")]
    assert c.closed
    reply = c.data_to_send()
    s.receive_data(reply)
    assert s.events_received() == [Close(1001, "")]
    assert s.closed
    assert s.send_message("late") == b""
    assert s.send_close() == b""


def test_close_initiated_by_client_without_code() -> None:
    s = server()
    s.receive_data(masked(Opcode.CLOSE, b""))
    assert s.events_received() == [Close(1005, "")]
    assert s.data_to_send() == b"\x88\x00"
    assert s.closed
    s.receive_data(masked(Opcode.TEXT, b"ignored"))
    assert s.events_received() == []


def test_data_after_close_is_ignored() -> None:
    s = server()
    s.receive_data(masked(Opcode.CLOSE, struct.pack("!H", 1000)) + masked(Opcode.TEXT, b"x"))
    assert s.events_received() == [Close(1000, "")]


@pytest.mark.parametrize(
    ("wire", "code"),
    [
        (encode_frame(Opcode.TEXT, b"unmasked"), 1002),
        (masked(3, b"x"), 1002),
        (masked(11, b"x"), 1002),
        (masked(Opcode.CONT, b"x"), 1002),
        (masked(Opcode.TEXT, b"a", fin=False) + masked(Opcode.TEXT, b"b"), 1002),
        (masked(Opcode.PING, b"x", fin=False), 1002),
        (masked(Opcode.PING, b"x" * 126), 1002),
        (masked(Opcode.TEXT, b"x", rsv1=True), 1002),
        (bytes([0xA1, 0x80, 0, 0, 0, 0]), 1002),
        (masked(Opcode.CLOSE, b"\x03"), 1002),
        (masked(Opcode.CLOSE, struct.pack("!H", 1005)), 1002),
        (masked(Opcode.CLOSE, struct.pack("!H", 999)), 1002),
        (masked(Opcode.CLOSE, struct.pack("!H", 1000) + b"\xff"), 1007),
        (masked(Opcode.TEXT, b"\xff\xfe"), 1007),
        (masked(Opcode.TEXT, b"\xe2\x82", fin=False) + masked(Opcode.CONT, b"\xff"), 1007),
        (masked(Opcode.BINARY, b"x" * 101), 1009),
        (masked(Opcode.BINARY, b"x" * 60, fin=False) + masked(Opcode.CONT, b"x" * 60), 1009),
        (bytes([0x82, 0xFF]) + b"\xff" * 8, 1002),
    ],
)
def test_failures(wire: bytes, code: int) -> None:
    s = server(max_size=100)
    s.receive_data(wire)
    events = s.events_received()
    assert events[-1] == Close(code, events[-1].reason)  # type: ignore[union-attr]
    assert s.closed and s.close_code == code
    assert close_code_of(s.data_to_send()) == code
    s.receive_data(masked(Opcode.TEXT, b"after"))
    assert s.events_received() == []


def test_client_rejects_masked_frames() -> None:
    c = client()
    c.receive_data(masked(Opcode.TEXT, b"x"))
    assert c.events_received()[0] == Close(1002, "unexpected masking")
    frame = c.data_to_send()
    assert frame[0] == 0x88 and frame[1] & 0x80


def test_too_big_declared_length_fails_before_payload_arrives() -> None:
    s = server(max_size=1000)
    s.receive_data(bytes([0x82, 0xFF]) + struct.pack("!Q", 10**9) + b"mask")
    assert s.close_code == 1009


def test_valid_close_codes_accepted() -> None:
    for code in (1000, 1001, 1011, 3000, 4999):
        s = server()
        s.receive_data(masked(Opcode.CLOSE, struct.pack("!H", code) + b"ok"))
        assert s.events_received() == [Close(code, "ok")]
        assert close_code_of(s.data_to_send()) == code


# -- permessage-deflate ----------------------------------------------------------------------


def test_negotiation_server_side() -> None:
    result = server_negotiate_deflate("permessage-deflate; client_max_window_bits")
    assert result is not None
    params, header = result
    assert header == "permessage-deflate"
    assert params == DeflateParams()
    result = server_negotiate_deflate(
        "x-foo, permessage-deflate; server_no_context_takeover; client_no_context_takeover;"
        " server_max_window_bits=10; client_max_window_bits=12",
        threshold=0,
    )
    assert result is not None
    params, header = result
    assert params.server_no_context_takeover and params.client_no_context_takeover
    assert (params.server_max_window_bits, params.client_max_window_bits) == (10, 12)
    assert params.threshold == 0
    assert "server_max_window_bits=10" in header and "client_max_window_bits=12" in header
    assert server_negotiate_deflate(None) is None
    assert server_negotiate_deflate("x-webkit-deflate-frame") is None
    assert server_negotiate_deflate("permessage-deflate; server_max_window_bits=7") is None
    assert server_negotiate_deflate("permessage-deflate; server_max_window_bits=8") is None
    assert server_negotiate_deflate("permessage-deflate; foo") is None
    assert server_negotiate_deflate("permessage-deflate; server_no_context_takeover=1") is None
    dup = "permessage-deflate; server_no_context_takeover; server_no_context_takeover"
    assert server_negotiate_deflate(dup) is None
    # a bad first offer falls back to the next one
    fallback = server_negotiate_deflate("permessage-deflate; foo, permessage-deflate")
    assert fallback is not None and fallback[1] == "permessage-deflate"


def test_negotiation_client_side() -> None:
    offer = client_deflate_offer(client_no_context_takeover=True)
    assert parse_extensions(offer) == [("permessage-deflate", {"client_no_context_takeover": None})]
    result = server_negotiate_deflate(offer)
    assert result is not None
    params = client_parse_deflate_response(result[1])
    assert params is not None and params.client_no_context_takeover
    assert client_parse_deflate_response(None) is None
    with pytest.raises(ValueError):
        client_parse_deflate_response("permessage-deflate; bogus")
    with pytest.raises(ValueError):
        client_parse_deflate_response("other-ext")
    with pytest.raises(ValueError):
        client_parse_deflate_response("permessage-deflate; server_max_window_bits=99")


@pytest.mark.parametrize(
    "params",
    [
        DeflateParams(threshold=0),
        DeflateParams(True, True, threshold=0),
        DeflateParams(server_max_window_bits=9, client_max_window_bits=10, threshold=0),
    ],
)
def test_deflate_round_trip(params: DeflateParams) -> None:
    c, s = client(deflate=params), server(deflate=params)
    for i in range(3):
        text = f"message {i} " + "abc" * 500
        frame = c.send_message(text)
        assert frame[0] & 0x40 and len(frame) < 200
        s.receive_data(frame)
        assert s.events_received() == [Message(text)]
        back = s.send_message(text.encode())
        assert back[0] == 0xC2
        c.receive_data(back)
        assert c.events_received() == [Message(text.encode())]


def test_deflate_threshold() -> None:
    s = server(deflate=DeflateParams())
    assert s.send_message("small") == text_frame("small")
    assert s.send_message("x" * 2000)[0] == 0xC1


def test_deflate_bomb_and_garbage() -> None:
    bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = bomb.compress(b"\x00" * 10_000) + bomb.flush(zlib.Z_SYNC_FLUSH)
    s = server(max_size=1000, deflate=DeflateParams())
    s.receive_data(masked(Opcode.BINARY, payload[:-4], rsv1=True))
    assert s.close_code == 1009
    s = server(deflate=DeflateParams())
    s.receive_data(masked(Opcode.BINARY, b"\xff\xff\xff\xff", rsv1=True))
    assert s.close_code == 1007


# -- fuzz --------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300), cuts=st.lists(st.integers(0, 300), max_size=6))
def test_fuzz_never_raises(data: bytes, cuts: list[int]) -> None:
    for side in ("server", "client"):
        for deflate in (None, DeflateParams(threshold=0)):
            p = WebSocketProtocol(side, max_message_size=200, deflate=deflate)
            prev = 0
            for cut in [*sorted(cuts), len(data)]:
                p.receive_data(data[prev:cut])
                prev = max(prev, cut)
                for event in p.events_received():
                    assert isinstance(event, Message | Ping | Pong | Close)
                p.data_to_send()


@settings(max_examples=100, deadline=None)
@given(
    messages=st.lists(st.one_of(st.text(max_size=300), st.binary(max_size=300)), max_size=5),
    chunk=st.integers(1, 50),
)
def test_fuzz_round_trip_chunked(messages: list[str | bytes], chunk: int) -> None:
    c, s = client(), server()
    wire = b"".join(c.send_message(m) for m in messages)
    got: list[object] = []
    for i in range(0, len(wire), chunk):
        s.receive_data(wire[i : i + chunk])
        got += s.events_received()
    assert got == [Message(m) for m in messages]


def test_module_is_sans_io() -> None:
    tree = ast.parse(Path(ws.__file__).read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    assert not names & {"asyncio", "socket", "ssl", "httptools", "redis"}


def test_on_message_callback_replaces_message_events() -> None:
    got: list[str | bytes] = []
    s = server(deflate=DeflateParams(threshold=0))
    s.on_message = got.append
    c = client(deflate=DeflateParams(threshold=0))
    wire = (
        c.send_message("small")
        + masked(Opcode.BINARY, b"ab", fin=False)
        + masked(Opcode.PING, b"p")
        + masked(Opcode.CONT, b"cd")
        + c.send_message("x" * 70_000)
        + masked(Opcode.CLOSE, struct.pack("!H", 1000))
    )
    for i in range(0, len(wire), 7):
        s.receive_data(wire[i : i + 7])
    assert got == ["small", b"abcd", "x" * 70_000]
    assert s.events_received() == [Ping(b"p"), Close(1000, "")]


@settings(max_examples=100, deadline=None)
@given(
    messages=st.lists(st.one_of(st.text(max_size=200), st.binary(max_size=200)), max_size=6),
    chunk=st.integers(1, 40),
)
def test_fuzz_callback_matches_events(messages: list[str | bytes], chunk: int) -> None:
    c = client()
    wire = b"".join(c.send_message(m) for m in messages)
    got: list[str | bytes] = []
    s = server()
    s.on_message = got.append
    for i in range(0, len(wire), chunk):
        s.receive_data(wire[i : i + chunk])
    assert got == messages
    assert s.events_received() == []


def test_fast_path_still_enforces_limits() -> None:
    s = server(max_size=10)
    s.receive_data(masked(Opcode.TEXT, b"0123456789"))
    assert s.events_received() == [Message("0123456789")]
    s.receive_data(masked(Opcode.TEXT, b"0123456789a"))
    assert s.events_received()[-1] == Close(1009, "message too big")


@pytest.mark.parametrize("accelerated", [True, False])
@settings(deadline=None, max_examples=50)
@given(
    st.lists(
        st.one_of(st.text(max_size=40), st.binary(max_size=125)),
        min_size=1,
        max_size=5,
    )
)
def test_small_frame_fast_path_unmasks_with_and_without_c(
    accelerated: bool, messages: list[str | bytes]
) -> None:
    saved = ws._apply_mask_c
    if not accelerated:
        ws._apply_mask_c = None
    try:
        proto = server()
        data = b"".join(
            masked(Opcode.TEXT, m.encode()) if isinstance(m, str) else masked(Opcode.BINARY, m)
            for m in messages
        )
        proto.receive_data(data[:3])
        proto.receive_data(data[3:])
        assert proto.events_received() == [Message(m) for m in messages]
    finally:
        ws._apply_mask_c = saved
