"""The shapes inside cluster messages (packets, options, flags, socket details), without Redis."""

from __future__ import annotations

from typing import Any

import pytest

from aiosocketio.exceptions import RemoteProtocolError
from aiosocketio.protocol.cluster import shapes


def test_flags_and_options() -> None:
    assert shapes.encode_flags() == {}
    assert shapes.encode_flags(volatile=True, compress=False, local=True, timeout=1.5) == {
        "volatile": True,
        "compress": False,
        "local": True,
        "timeout": 1500,
    }
    assert shapes.encode_flags(timeout=0.0015) == {"timeout": 1.5}
    assert shapes.decode_flags({"volatile": True, "compress": False, "timeout": 2000}) == {
        "volatile": True,
        "compress": False,
        "timeout": 2.0,
    }
    assert shapes.decode_flags("junk") == {}
    assert shapes.decode_flags({"timeout": True}) == {}
    assert shapes.encode_options(["a"], ["b"]) == {"rooms": ["a"], "except": ["b"]}
    assert shapes.encode_options([], [], {"x": 1}) == {"rooms": [], "except": [], "flags": {"x": 1}}
    assert shapes.decode_rooms(["a", 1, 2.0, True]) == {"a", "1", "2", "true"}
    assert shapes.decode_rooms(None) == set()


def test_packets_on_the_wire() -> None:
    # binary kinds are written as their plain kind, as Node does
    assert shapes.packet_to_wire(5, ["ev", b"x"], None, None) == {"type": 2, "data": ["ev", b"x"]}
    assert shapes.packet_to_wire(2, ["ev"], 7, "/") == {
        "type": 2,
        "data": ["ev"],
        "nsp": "/",
        "id": 7,
    }
    assert shapes.packet_to_wire(6, [1], 3, None) == {"type": 3, "data": [1], "id": 3}
    assert shapes.packet_from_wire({"data": ["ev"]}) == (2, ["ev"])
    assert shapes.packet_from_wire({"type": 5, "data": ["ev"]}) == (2, ["ev"])
    assert shapes.packet_from_wire({"type": 6.0, "data": [1]}) == (3, [1])


@pytest.mark.parametrize(
    "raw",
    [None, [], {"type": 0, "data": ["x"]}, {"type": True, "data": ["x"]}, {"type": [2]},
     {"type": 2, "data": []}, {"type": 2, "data": "ev"}],
)  # fmt: skip
def test_junk_packets_raise_remote_protocol_error(raw: Any) -> None:
    with pytest.raises(RemoteProtocolError):
        shapes.packet_from_wire(raw)


def test_options_on_the_wire() -> None:
    assert shapes.options_to_wire(["r"], [], timeout=2) == {
        "rooms": ["r"],
        "except": [],
        "flags": {"timeout": 2000},
    }
    assert shapes.read_options({"rooms": ["a", 1], "except": ["b"], "flags": {"volatile": 1}}) == {
        "rooms": frozenset({"a", "1"}),
        "except_": frozenset({"b"}),
        "flags": {"volatile": True},
    }
    assert shapes.read_options("junk") == {
        "rooms": frozenset(),
        "except_": frozenset(),
        "flags": {},
    }


def test_socket_details() -> None:
    details = shapes.socket_details("sid", {"auth": {}, "session_store": 1}, {"r"}, {"d": 1})
    assert details == {"id": "sid", "handshake": {"auth": {}}, "rooms": ["r"], "data": {"d": 1}}
    assert shapes.read_details({"id": "x"}) == {
        "id": "x",
        "handshake": {},
        "rooms": [],
        "data": None,
    }
    assert shapes.read_details({"id": "x", "handshake": [1], "rooms": "r"}) == {
        "id": "x",
        "handshake": {},
        "rooms": [],
        "data": None,
    }
    assert shapes.read_details({"id": 1}) is None
    assert shapes.read_details(["x"]) is None
