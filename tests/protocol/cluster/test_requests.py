"""RequestTable: the bookkeeping of requests between servers, moved by hand through time."""

from __future__ import annotations

from aiosocketio.protocol.cluster.requests import RequestTable


def test_a_request_completes_with_its_expected_answers() -> None:
    table: RequestTable[str, str] = RequestTable()
    request = table.start("r1", 7, 2, "waiter", deadline=10.0)
    assert "r1" in table and len(table) == 1 and table.get("r1") is request
    assert table.answer(request, "a", [1, 2]) is None
    assert table.answer(request, "b", [3]) is request
    assert request.responses == [1, 2, 3] and request.received == 2
    assert "r1" not in table and table.next_deadline() is None


def test_a_request_to_known_servers_waits_for_each_of_them() -> None:
    table: RequestTable[str, str] = RequestTable()
    request = table.start("r1", 9, {"a", "b", "c"}, "w", deadline=5.0)
    assert request.expected == 3
    assert table.answer(request, "a", ["from a"]) is None
    assert table.answer(request, "a", ["again a"]) is None  # a uid counts once
    assert table.forget_server("c") == []  # still waiting for b
    assert table.forget_server("b") == [request]  # only b was missing
    assert request.responses == ["from a", "again a"]
    assert table.get("r1") is None


def test_expiry_hands_out_the_partial_answers_in_deadline_order() -> None:
    table: RequestTable[str, str] = RequestTable()
    late = table.start("late", 7, 2, "w1", deadline=3.0)
    early = table.start("early", 7, 2, "w2", deadline=1.0)
    table.answer(late, "a", ["x"])
    assert table.next_deadline() == 1.0
    assert table.expire(0.5) == []
    assert table.expire(3.0) == [early, late]
    assert late.responses == ["x"] and early.responses == []
    assert table.next_deadline() is None


def test_broadcast_handles_are_routed_until_their_timeout() -> None:
    table: RequestTable[str, str] = RequestTable()
    table.expect_acks("b1", "handle", deadline=2.0)
    assert "b1" in table and table.ack_handle("b1") == "handle"
    assert table.ack_handle(["unhashable"]) is None and table.get(7) is None
    assert table.next_deadline() == 2.0
    assert table.expire(2.0) == []  # a broadcast is forgotten silently
    assert table.ack_handle("b1") is None


def test_cancel_and_take_all() -> None:
    table: RequestTable[str, str] = RequestTable()
    first = table.start("r1", 5, 1, "w1", deadline=1.0)
    table.start("r2", 5, 1, "w2", deadline=1.0)
    table.expect_acks("b1", "h", deadline=1.0)
    assert table.cancel("r2") is not None and table.cancel("r2") is None
    assert [r.waiter for r in table] == ["w1"]
    assert table.take_all() == [first]
    assert "b1" not in table and table.next_deadline() is None
