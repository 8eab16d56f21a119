"""What a peer can make the WebSocket protocol hold, and how long one call may run.

Rule 4 of ``protocol/websocket/connection.py``: fragments are counted (empty ones too, and
those are not kept) and fail the connection with 1008 past ``max_fragments``, as the
``ws`` package does; one ``receive_data`` call parses at most ``frames_per_call`` frames
and leaves the rest for ``receive_data(b"")``; big messages can be compressed in pieces.
"""

from __future__ import annotations

import zlib

from aiosocketio.protocol.websocket import (
    FRAMES_PER_CALL,
    Close,
    DeflateParams,
    Opcode,
    Ping,
    WebSocketProtocol,
    encode_frame,
)


def server(**kwargs: object) -> WebSocketProtocol:
    return WebSocketProtocol("server", max_message_size=1_000_000, **kwargs)  # type: ignore[arg-type]


def frame(opcode: int, payload: bytes = b"", fin: bool = True) -> bytes:
    return encode_frame(opcode, payload, fin=fin, mask=True)


def fragmented(count: int, empty: bool) -> bytes:
    """A text message of ``count`` frames (the middle ones empty if ``empty``)."""
    middle = b"" if empty else b"b"
    parts = [frame(Opcode.TEXT, b"a", fin=False)]
    parts.extend(frame(Opcode.CONT, middle, fin=False) for _ in range(count - 2))
    parts.append(frame(Opcode.CONT, b"c"))
    return b"".join(parts)


def drain(protocol: WebSocketProtocol, data: bytes) -> list[str | bytes]:
    messages = protocol.receive_data(data)
    while protocol.input_pending:
        messages += protocol.receive_data(b"")
    return messages


def test_a_message_of_max_fragments_frames_is_accepted() -> None:
    protocol = server(max_fragments=100)
    assert drain(protocol, fragmented(100, empty=False)) == ["a" + "b" * 98 + "c"]
    assert not protocol.closed
    # the count starts again with each message
    assert drain(protocol, fragmented(100, empty=True)) == ["ac"]


def test_one_more_fragment_fails_with_1008_as_ws_does() -> None:
    protocol = server(max_fragments=100)
    assert drain(protocol, fragmented(101, empty=True)) == []
    assert protocol.closed and protocol.failed
    [event] = protocol.events_received()
    assert event == Close(1008, "Too many message fragments")
    out = protocol.data_to_send()
    assert out[:4] == b"\x88\x1c\x03\xf0"  # close frame, 1008


def test_the_default_is_16384_frames() -> None:
    protocol = server()
    assert protocol.max_fragments == 16384
    data = fragmented(16384, empty=True)
    assert drain(protocol, data) == ["ac"]
    drain(protocol, fragmented(16385, empty=True))
    assert protocol.close_code == 1008


def test_empty_fragments_are_not_kept() -> None:
    protocol = server()
    protocol.receive_data(frame(Opcode.TEXT, b"a", fin=False))
    protocol.receive_data(frame(Opcode.CONT, b"", fin=False) * 1000)
    assert protocol._frag_parts == [b"a"]


def test_one_call_parses_at_most_frames_per_call_frames() -> None:
    protocol = server(frames_per_call=FRAMES_PER_CALL)
    budget = FRAMES_PER_CALL
    pings = frame(Opcode.PING, b"p") * (budget * 2 + 10)
    data = pings + frame(Opcode.TEXT, b"after")
    assert protocol.receive_data(data) == []
    assert protocol.input_pending
    assert len(protocol.events_received()) == budget
    assert len(protocol.data_to_send()) == budget * 3  # one pong per parsed ping
    assert protocol.receive_data(b"") == []
    assert protocol.input_pending
    assert len(protocol.events_received()) == budget
    protocol.data_to_send()
    assert protocol.receive_data(b"") == ["after"]
    assert not protocol.input_pending
    events = protocol.events_received()
    assert len(events) == 10 and all(isinstance(e, Ping) for e in events)


def test_data_arriving_while_input_is_pending_is_parsed_after_it() -> None:
    protocol = server(frames_per_call=FRAMES_PER_CALL)
    budget = FRAMES_PER_CALL
    texts = b"".join(frame(Opcode.TEXT, str(i).encode()) for i in range(budget + 5))
    first = protocol.receive_data(texts)
    assert len(first) == budget and protocol.input_pending
    rest = protocol.receive_data(frame(Opcode.TEXT, b"last"))
    assert first + rest == [str(i) for i in range(budget + 5)] + ["last"]


def test_without_a_bound_one_call_parses_everything() -> None:
    protocol = server()
    texts = b"".join(frame(Opcode.TEXT, b"x") for _ in range(5000))
    assert len(protocol.receive_data(texts)) == 5000
    assert not protocol.input_pending


def test_a_failure_is_not_a_peer_close() -> None:
    protocol = server()
    protocol.receive_data(frame(Opcode.CLOSE, b"\x03\xe8"))
    assert protocol.closed and not protocol.failed
    failing = server()
    failing.receive_data(frame(Opcode.TEXT, b"\xff"))
    assert failing.closed and failing.failed and failing.close_code == 1007


def test_a_big_message_is_compressed_in_pieces() -> None:
    params = DeflateParams()
    sender = WebSocketProtocol("server", max_message_size=10_000_000, deflate=params)
    receiver = WebSocketProtocol("client", max_message_size=10_000_000, deflate=params)
    message = "".join(f"message {i} " for i in range(100_000))
    assert sender.compresses(message)
    steps = sender.send_message_steps(message, step=64 * 1024)
    pieces = 0
    while True:
        try:
            next(steps)
        except StopIteration as done:
            frame_bytes: bytes = done.value
            break
        pieces += 1
    assert pieces == -(-len(message) // (64 * 1024))
    assert frame_bytes[0] == 0xC1  # FIN, RSV1, TEXT
    assert receiver.receive_data(frame_bytes) == [message]
    # the context is shared: the next message (compressed at once) still decodes
    assert receiver.receive_data(sender.send_message("x" * 2000)) == ["x" * 2000]


def test_a_message_below_the_threshold_is_one_step() -> None:
    sender = WebSocketProtocol("server", max_message_size=1000, deflate=DeflateParams())
    steps = sender.send_message_steps("small")
    try:
        next(steps)
    except StopIteration as done:
        assert done.value == b"\x81\x05small"
    else:
        raise AssertionError("expected no step")


def test_a_close_during_the_compression_drops_the_message() -> None:
    sender = WebSocketProtocol("server", max_message_size=10_000_000, deflate=DeflateParams())
    steps = sender.send_message_steps(b"\x00" * 300_000, step=100_000)
    next(steps)
    sender.send_close(1000)
    result = b"unset"
    try:
        while True:
            next(steps)
    except StopIteration as done:
        result = done.value
    assert result == b""


def test_an_abandoned_compression_resets_the_context() -> None:
    params = DeflateParams()
    sender = WebSocketProtocol("server", max_message_size=10_000_000, deflate=params)
    steps = sender.send_message_steps(b"\x01" * 300_000, step=100_000)
    next(steps)
    steps.close()
    assert sender._pmd is not None and sender._pmd._compressor is None
    # a fresh context: a new receiver (whose context is fresh too) decodes the next one
    receiver = WebSocketProtocol("client", max_message_size=10_000_000, deflate=params)
    payload = zlib.compress(b"")  # any bytes
    assert receiver.receive_data(sender.send_message(payload * 200)) == [payload * 200]
