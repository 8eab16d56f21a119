"""The session's send buffer (rule 7) and polling answers in pieces (rule 1), sans-I/O."""

from __future__ import annotations

import pytest

from aiosocketio.protocol.engineio.events import Closed
from aiosocketio.protocol.engineio.options import EngineOptions
from aiosocketio.protocol.engineio.packets import Packet, PacketType, decode_payload
from aiosocketio.protocol.engineio.session import (
    HARD_LIMIT_FACTOR,
    POLL_PIECE,
    EngineSession,
)

LIMIT = 10_000
OPTS = EngineOptions(max_send_buffer=LIMIT)


def session(transport: str = "polling") -> EngineSession:
    return EngineSession("A" * 20, transport, OPTS, 0.0)


def message(size: int, binary: bool = False) -> Packet:
    return Packet(PacketType.MESSAGE, b"\x07" * size if binary else "x" * size)


def test_the_outbox_counts_data_and_a_cost_per_packet() -> None:
    s = session()
    assert s.buffered_amount == 0
    s.send(message(1000))
    one = s.buffered_amount
    assert one > 1000
    s.send(message(1000, binary=True))
    s.send(Packet(PacketType.NOOP))
    assert s.buffered_amount == 2 * one + (one - 1000)
    assert s.poll(1) is not None  # everything fits in one piece
    assert s.buffered_amount == 0


def test_packets_to_send_and_a_close_empty_the_count() -> None:
    s = session("websocket")
    s.send(message(500))
    s.packets_to_send()
    assert s.buffered_amount == 0
    p = session()
    p.send(message(500))
    p.transport_closed(True)
    assert p.buffered_amount == 0


def test_under_the_soft_limit_everything_is_admitted() -> None:
    s = session()
    assert s.check_send_buffer(LIMIT, volatile=True)
    assert s.check_send_buffer(0, volatile=False)


def test_over_the_soft_limit_volatile_packets_are_dropped() -> None:
    s = session()
    assert not s.check_send_buffer(LIMIT + 1, volatile=True)
    assert s.check_send_buffer(LIMIT + 1, volatile=False)
    assert s.check_send_buffer(LIMIT * HARD_LIMIT_FACTOR, volatile=False)
    assert s.is_open and s.events_received() == []


def test_over_the_hard_limit_the_session_closes() -> None:
    s = session()
    for _ in range(5):
        s.send(message(1000))
    assert not s.check_send_buffer(LIMIT * HARD_LIMIT_FACTOR + 1, volatile=False)
    assert s.events_received() == [Closed("transport error", "send buffer full")]
    assert s.buffered_amount == 0 and not s.has_outgoing  # the backlog is freed
    assert not s.check_send_buffer(0, volatile=False)  # closed: nothing more is queued


def test_a_backlog_is_answered_in_pieces_in_order() -> None:
    s = session()
    size = 100_000
    count = 3 * POLL_PIECE // size
    for i in range(count):
        s.send(Packet(PacketType.MESSAGE, str(i % 10) * size))
    received: list[Packet] = []
    answers = 0
    while s.has_outgoing:
        payload = s.poll(answers)
        assert payload is not None
        assert len(payload) <= POLL_PIECE
        received.extend(decode_payload(payload))
        answers += 1
    assert answers >= 3
    assert received == [Packet(PacketType.MESSAGE, str(i % 10) * size) for i in range(count)]
    assert s.buffered_amount == 0
    assert s.poll(answers) is None  # nothing left: the next GET waits


def test_a_packet_larger_than_a_piece_goes_alone() -> None:
    s = session()
    s.send(message(10))
    s.send(message(POLL_PIECE + 5))
    s.send(message(10))
    sizes = []
    while s.has_outgoing:
        payload = s.poll(1)
        assert payload is not None
        sizes.append([len(p.data or "") for p in decode_payload(payload)])
    assert sizes == [[10], [POLL_PIECE + 5], [10]]


def test_a_waiting_get_takes_one_piece_and_the_next_get_the_rest() -> None:
    s = session()
    assert s.poll(1) is None
    for _ in range(3):
        s.send(message(POLL_PIECE // 2))
    assert s.poll_ready
    first = decode_payload(s.payload_to_send())
    assert len(first) == 1 and s.has_outgoing and not s.poll_ready
    second = s.poll(2)
    assert second is not None and len(decode_payload(second)) == 1
    third = s.poll(3)
    assert third is not None and len(decode_payload(third)) == 1
    assert s.poll(4) is None


def test_a_server_close_delivers_the_backlog_in_pieces_then_the_close() -> None:
    s = session()
    for _ in range(3):
        s.send(message(POLL_PIECE // 2))
    s.close()
    payloads = []
    while True:
        payload = s.poll(1)
        assert payload is not None
        payloads.append(payload)
        if payload == "1":
            break
    assert len(payloads) == 4
    assert not s.closing_payload_pending


@pytest.mark.parametrize("binary", [False, True])
def test_pieces_count_what_is_queued_not_the_encoding(binary: bool) -> None:
    s = session()
    for _ in range(4):
        s.send(message(POLL_PIECE // 3, binary=binary))
    first = s.poll(1)
    assert first is not None
    assert len(decode_payload(first)) == 2
