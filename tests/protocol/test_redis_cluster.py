"""The sans-I/O Redis Cluster routing: key slots, the slot map, MOVED/ASK.

The slots are checked against the values the Redis Cluster specification gives (and, in
tests/cluster/test_redis_cluster.py, against a live cluster's ``CLUSTER KEYSLOT``).
"""

from __future__ import annotations

import pytest

from aiosocketio.exceptions import RemoteProtocolError
from aiosocketio.protocol.redis_cluster import (
    SLOTS,
    Redirect,
    SlotMap,
    key_slot,
    parse_redirect,
)


def test_crc16_check_value() -> None:
    # CRC16/XMODEM of "123456789" is 0x31C3 (the specification's check value)
    assert key_slot("123456789") == 0x31C3 % SLOTS


@pytest.mark.parametrize(
    ("key", "slot"),
    [("foo", 12182), ("bar", 5061), ("", 0), (b"foo", 12182), ("socket.io#/#", None)],
)
def test_known_slots(key: str | bytes, slot: int | None) -> None:
    value = key_slot(key)
    assert 0 <= value < SLOTS
    if slot is not None:
        assert value == slot


def test_hash_tags() -> None:
    # only what is between the first { and the next } counts, when it is not empty
    assert key_slot("{user1000}.following") == key_slot("{user1000}.followers")
    assert key_slot("{user1000}.following") == key_slot("user1000")
    assert key_slot("foo{}{bar}") == key_slot("foo{}{bar}")  # empty tag: the whole key
    assert key_slot("foo{}{bar}") != key_slot("bar")
    assert key_slot("foo{{bar}}zap") == key_slot("{bar")
    assert key_slot("foo{bar}{zap}") == key_slot("bar")
    assert key_slot("no}{tag") == key_slot("no}{tag")


def _node(port: int) -> list[object]:
    return [b"127.0.0.1", port, b"id%d" % port]


def test_slot_map_from_cluster_slots() -> None:
    reply = [
        [10923, 16383, _node(7002), _node(7005)],
        [0, 5460, _node(7000), _node(7003)],
        [5461, 10922, [b"", 7001, b"x"]],
    ]
    slots = SlotMap.from_slots_reply(reply, "10.0.0.1")
    assert slots.masters == [("127.0.0.1", 7000), ("10.0.0.1", 7001), ("127.0.0.1", 7002)]
    assert slots.replicas[("127.0.0.1", 7000)] == [("127.0.0.1", 7003)]
    assert slots.owner(0) == ("127.0.0.1", 7000)
    assert slots.owner(5461) == ("10.0.0.1", 7001)
    assert slots.owner(16383) == ("127.0.0.1", 7002)
    assert slots.owner_of("foo") == ("127.0.0.1", 7002)  # slot 12182
    assert slots.covered == SLOTS


def test_slot_map_move_and_holes() -> None:
    slots = SlotMap([(0, 99, ("a", 1)), (200, 16383, ("b", 2))])
    assert slots.owner(150) is None
    assert slots.covered == SLOTS - 100
    slots.move(50, ("b", 2))
    assert slots.owner(49) == ("a", 1)
    assert slots.owner(50) == ("b", 2)
    assert slots.owner(51) == ("a", 1)
    slots.move(150, ("c", 3))
    assert slots.owner(150) == ("c", 3)
    assert slots.masters == [("a", 1), ("b", 2), ("c", 3)]
    assert SlotMap().owner(0) is None


@pytest.mark.parametrize("reply", [b"x", [[1]], [[0, 99999, _node(1)]], [[0, 5, []]], None])
def test_slot_map_rejects_bad_replies(reply: object) -> None:
    with pytest.raises(RemoteProtocolError):
        SlotMap.from_slots_reply(reply, "h")


def test_redirects() -> None:
    assert parse_redirect("MOVED 3999 127.0.0.1:6381") == Redirect(False, 3999, ("127.0.0.1", 6381))
    assert parse_redirect("ASK 1 ::1:7000") == Redirect(True, 1, ("::1", 7000))
    for error in ("ERR unknown", "MOVED x h:1", "MOVED 1 h", "MOVED 99999 h:1", "ASK 1 h:p"):
        assert parse_redirect(error) is None
