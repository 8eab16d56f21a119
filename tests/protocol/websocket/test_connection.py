"""The sans-I/O WebSocket state machine (RFC 6455, RFC 7692), pulled as the I/O layer does:
messages from ``receive_data``, control events from ``events_received``."""

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
    Event,
    Opcode,
    Ping,
    Pong,
    WebSocketProtocol,
    encode_frame,
    frames,
    text_frame,
)

MAX = 1_000_000


def server(max_size: int = MAX, deflate: DeflateParams | None = None) -> WebSocketProtocol:
    return WebSocketProtocol("server", max_message_size=max_size, deflate=deflate)


def client(max_size: int = MAX, deflate: DeflateParams | None = None) -> WebSocketProtocol:
    return WebSocketProtocol("client", max_message_size=max_size, deflate=deflate)


def masked(opcode: int, payload: bytes, *, fin: bool = True, rsv1: bool = False) -> bytes:
    return encode_frame(opcode, payload, fin=fin, rsv1=rsv1, mask=True)


def feed(p: WebSocketProtocol, data: bytes) -> tuple[list[str | bytes], list[Event]]:
    """The messages and the control events of one read."""
    return p.receive_data(data), p.events_received()


def close_code_of(frame: bytes) -> int:
    """The close code in an unmasked server close frame."""
    assert frame[0] == 0x88
    code: int = struct.unpack("!H", frame[2:4])[0]
    return code


# -- RFC 6455 §5.7 golden examples -------------------------------------------------------


def test_rfc_single_frame_unmasked_text() -> None:
    p = client()
    assert feed(p, bytes.fromhex("810548656c6c6f")) == (["Hello"], [])
    assert not p.events_pending


def test_rfc_single_frame_masked_text() -> None:
    p = server()
    assert feed(p, bytes.fromhex("818537fa213d7f9f4d5158")) == (["Hello"], [])


def test_rfc_fragmented_unmasked_text() -> None:
    p = client()
    assert feed(p, bytes.fromhex("010348656c")) == ([], [])
    assert feed(p, bytes.fromhex("80026c6f")) == (["Hello"], [])


def test_rfc_ping_and_pong() -> None:
    p = client()
    assert p.receive_data(bytes.fromhex("890548656c6c6f")) == []
    assert p.events_pending
    assert p.events_received() == [Ping(b"Hello")]
    assert not p.events_pending
    pong = p.data_to_send()
    # the client's pong is masked; a server decodes it back
    s = server()
    assert feed(s, pong) == ([], [Pong(b"Hello")])
    s2 = server()
    assert feed(s2, bytes.fromhex("8a8537fa213d7f9f4d5158")) == ([], [Pong(b"Hello")])


# -- round trips --------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 200_000])
def test_round_trip_sizes(size: int) -> None:
    c, s = client(), server()
    text = "é" * (size // 2)
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    assert feed(s, c.send_message(text) + c.send_message(data)) == ([text, data], [])
    assert feed(c, s.send_message(text) + s.send_message(data)) == ([text, data], [])


def test_byte_by_byte() -> None:
    c, s = client(), server()
    wire = c.send_message("hello world") + c.send_message(b"\x01\x02")
    messages: list[str | bytes] = []
    for i in range(len(wire)):
        messages += s.receive_data(wire[i : i + 1])
        assert s.events_received() == []
    assert messages == ["hello world", b"\x01\x02"]


def test_fragmentation_with_interleaved_ping() -> None:
    s = server()
    wire = (
        masked(Opcode.BINARY, b"ab", fin=False)
        + masked(Opcode.PING, b"p")
        + masked(Opcode.CONT, b"cd", fin=False)
        + masked(Opcode.CONT, b"ef")
    )
    assert feed(s, wire) == ([b"abcdef"], [Ping(b"p")])
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
    assert feed(c, frame) == ([], [Close(1001, "bye")])
    assert c.closed
    reply = c.data_to_send()
    assert feed(s, reply) == ([], [Close(1001, "")])
    assert s.closed
    assert s.send_message("late") == b""
    assert s.send_close() == b""


def test_close_initiated_by_client_without_code() -> None:
    s = server()
    assert feed(s, masked(Opcode.CLOSE, b"")) == ([], [Close(1005, "")])
    assert s.data_to_send() == b"\x88\x00"
    assert s.closed
    assert feed(s, masked(Opcode.TEXT, b"ignored")) == ([], [])


def test_data_after_close_is_ignored() -> None:
    s = server()
    wire = masked(Opcode.CLOSE, struct.pack("!H", 1000)) + masked(Opcode.TEXT, b"x")
    assert feed(s, wire) == ([], [Close(1000, "")])


def test_messages_before_a_close_are_returned_and_its_reply_is_queued() -> None:
    s = server()
    wire = (
        masked(Opcode.TEXT, b"a")
        + masked(Opcode.PING, b"p")
        + masked(Opcode.BINARY, b"b" * 300)
        + masked(Opcode.CLOSE, struct.pack("!H", 1000))
        + masked(Opcode.TEXT, b"after")
    )
    assert feed(s, wire) == (["a", b"b" * 300], [Ping(b"p"), Close(1000, "")])
    # the pong, then the close reply, are ready before the caller acts on the messages
    assert s.data_to_send() == bytes.fromhex("8a0170") + b"\x88\x02\x03\xe8"
    assert s.send_message("answer") == b""  # §5.5.1: no data after our close frame


def test_messages_before_a_failure_are_returned() -> None:
    s = server()
    wire = masked(Opcode.TEXT, b"ok") + masked(Opcode.TEXT, b"\xff") + masked(Opcode.TEXT, b"x")
    assert feed(s, wire) == (["ok"], [Close(1007, "invalid UTF-8")])
    assert close_code_of(s.data_to_send()) == 1007


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
    assert feed(s, masked(Opcode.TEXT, b"after")) == ([], [])


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
        assert feed(s, masked(Opcode.CLOSE, struct.pack("!H", code) + b"ok")) == (
            [],
            [Close(code, "ok")],
        )
        assert close_code_of(s.data_to_send()) == code


# -- permessage-deflate ----------------------------------------------------------------------


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
        assert feed(s, frame) == ([text], [])
        back = s.send_message(text.encode())
        assert back[0] == 0xC2
        assert feed(c, back) == ([text.encode()], [])


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
                for message in p.receive_data(data[prev:cut]):
                    assert isinstance(message, str | bytes)
                prev = max(prev, cut)
                for event in p.events_received():
                    assert isinstance(event, Ping | Pong | Close)
                p.data_to_send()


@settings(max_examples=100, deadline=None)
@given(
    messages=st.lists(st.one_of(st.text(max_size=300), st.binary(max_size=300)), max_size=5),
    chunk=st.integers(1, 50),
)
def test_fuzz_round_trip_chunked(messages: list[str | bytes], chunk: int) -> None:
    c, s = client(), server()
    wire = b"".join(c.send_message(m) for m in messages)
    got: list[str | bytes] = []
    for i in range(0, len(wire), chunk):
        got += s.receive_data(wire[i : i + chunk])
        assert s.events_received() == []
    assert got == messages


def test_package_is_sans_io() -> None:
    names: set[str] = set()
    modules = sorted(Path(ws.__file__).parent.glob("*.py"))
    assert len(modules) == 5  # __init__, connection, extensions, frames, handshake
    for module in modules:
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module.split(".")[0])
    assert not names & {"asyncio", "socket", "ssl", "httptools", "redis"}


def test_messages_are_returned_and_control_events_kept_apart() -> None:
    got: list[str | bytes] = []
    events: list[Event] = []
    s = server(deflate=DeflateParams(threshold=0))
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
        got += s.receive_data(wire[i : i + 7])
        events += s.events_received()
    assert got == ["small", b"abcd", "x" * 70_000]
    assert events == [Ping(b"p"), Close(1000, "")]


@settings(max_examples=100, deadline=None)
@given(
    messages=st.lists(st.one_of(st.text(max_size=200), st.binary(max_size=200)), max_size=6),
    chunk=st.integers(1, 40),
)
def test_fuzz_messages_leave_no_events(messages: list[str | bytes], chunk: int) -> None:
    c = client()
    wire = b"".join(c.send_message(m) for m in messages)
    got: list[str | bytes] = []
    s = server()
    for i in range(0, len(wire), chunk):
        got += s.receive_data(wire[i : i + chunk])
        assert not s.events_pending
    assert got == messages
    assert s.events_received() == []
    assert s.data_to_send() == b""


def test_fast_path_still_enforces_limits() -> None:
    s = server(max_size=10)
    assert feed(s, masked(Opcode.TEXT, b"0123456789")) == (["0123456789"], [])
    assert feed(s, masked(Opcode.TEXT, b"0123456789a")) == ([], [Close(1009, "message too big")])


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
    saved = frames._apply_mask_c
    if not accelerated:
        frames._apply_mask_c = None
    try:
        proto = server()
        data = b"".join(
            masked(Opcode.TEXT, m.encode()) if isinstance(m, str) else masked(Opcode.BINARY, m)
            for m in messages
        )
        got = proto.receive_data(data[:3]) + proto.receive_data(data[3:])
        assert got == messages
        assert proto.events_received() == []
    finally:
        frames._apply_mask_c = saved
