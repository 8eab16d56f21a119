"""notepack.io compatibility of the cluster wire codec, checked byte for byte against npm."""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiosocketio.exceptions import LocalProtocolError, RemoteProtocolError
from aiosocketio.protocol.cluster import wire
from tests.cluster.support import plain, revive
from tests.support.node import run_node

VALUES: list[Any] = [
    0,
    1,
    127,
    128,
    255,
    256,
    65535,
    65536,
    2**32 - 1,
    2**32,
    2**40 + 7,
    -1,
    -32,
    -33,
    -128,
    -129,
    -32768,
    -32769,
    -(2**31),
    -(2**31) - 1,
    1.5,
    -0.25,
    "",
    "a" * 31,
    "b" * 32,
    "c" * 255,
    "d" * 256,
    "é€😀",
    "x" * 70000,
    True,
    False,
    None,
    [],
    list(range(15)),
    list(range(16)),
    {},
    {f"k{i}": i for i in range(15)},
    {f"k{i}": i for i in range(16)},
    b"",
    b"\x01\x02\x03",
    b"\xff" * 300,
    b"\x00" * 70000,
    ["socket.io", {"type": 2, "data": ["hello", b"\x01\x02\x03"], "nsp": "/"}],
    {"rooms": ["room1"], "except": [], "flags": {"volatile": True}},
]


async def node_cases(cases: list[dict[str, Any]]) -> list[Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(cases, f)
    try:
        result = (await run_node("cluster_wire.js", f.name)).check()
    finally:
        os.unlink(f.name)
    assert len(result.lines) == len(cases)
    return result.lines


async def test_encode_matches_notepack_byte_for_byte() -> None:
    lines = await node_cases([{"encode": plain(v)} for v in VALUES])
    for value, line in zip(VALUES, lines, strict=True):
        assert "hex" in line, line
        assert wire.pack(value).hex() == line["hex"], value


async def test_python_bytes_decode_in_node_and_back() -> None:
    lines = await node_cases([{"decode": wire.pack(v).hex()} for v in VALUES])
    for value, line in zip(VALUES, lines, strict=True):
        assert revive(line["value"]) == value


async def test_node_bytes_decode_in_python() -> None:
    lines = await node_cases([{"encode": plain(v)} for v in VALUES])
    for value, line in zip(VALUES, lines, strict=True):
        assert wire.unpack(bytes.fromhex(line["hex"])) == value


async def test_integral_float_is_an_int_as_in_javascript() -> None:
    (line,) = await node_cases([{"encode": 0, "float": 3}])
    assert wire.pack(3.0).hex() == line["hex"] == "03"
    assert wire.pack(float("inf"))[0] == 0xCB
    assert wire.pack(2.5) == b"\xcb" + bytes.fromhex("4004000000000000")


async def test_dates_and_extensions() -> None:
    when = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    (line,) = await node_cases([{"decode": wire.pack(when).hex()}])
    assert line["value"] == {"$date": int(when.timestamp() * 1000)}
    assert wire.unpack(wire.pack(when)) == when
    # notepack's legacy extension 0: fixext 1 is undefined, longer is an ArrayBuffer
    assert wire.unpack(bytes.fromhex("d40000")) is None
    assert wire.unpack(bytes.fromhex("c70300010203")) == b"\x01\x02\x03"
    assert wire.unpack(bytes.fromhex("d50501ff")) == [5, b"\x01\xff"]


def test_numbers_beyond_64_bits_become_floats() -> None:
    assert wire.unpack(wire.pack(2**70)) == float(2**70)
    assert wire.unpack(wire.pack(-(2**70))) == float(-(2**70))
    assert wire.pack(1e300)[0] == 0xCB
    assert wire.pack(2**64 - 1)[0] == 0xCF


def test_normalizes_python_containers() -> None:
    assert wire.unpack(wire.pack((1, 2))) == [1, 2]
    assert wire.unpack(wire.pack(bytearray(b"ab"))) == b"ab"
    assert wire.unpack(wire.pack(memoryview(b"ab"))) == b"ab"
    assert wire.unpack(wire.pack({1: "a"})) == {"1": "a"}
    assert wire.unpack(wire.pack([wire.RequestType.REMOTE_JOIN, wire.EMITTER_UID])) == [
        2,
        "emitter",
    ]
    assert wire.unpack(wire.pack({frozenset({1})})) == [[1]]
    assert wire.pack(True) == b"\xc3"
    naive = dt.datetime(2024, 1, 1)
    assert wire.unpack(wire.pack(naive)) == naive.replace(tzinfo=dt.UTC)
    with pytest.raises(LocalProtocolError):
        wire.pack(object())


@pytest.mark.parametrize("raw", [b"", b"\xc1", b"\x92\x01", b"\xd9\x05ab", b"\x01\x02"])
def test_bad_msgpack_raises_remote_protocol_error(raw: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        wire.unpack(raw)


def test_decode_message_picks_json_or_msgpack() -> None:
    assert wire.decode_message(b'{"type":1,"requestId":"x"}') == {"type": 1, "requestId": "x"}
    assert wire.decode_message('{"a":[1]}') == {"a": [1]}
    assert wire.decode_message(wire.pack({"type": 7})) == {"type": 7}
    with pytest.raises(RemoteProtocolError):
        wire.decode_message(b"{not json")
    with pytest.raises(RemoteProtocolError):
        wire.decode_message(b"\xc1")


def test_json_is_compact_like_json_stringify() -> None:
    assert wire.dumps_json({"a": [1, "é"], "b": None}) == '{"a":[1,"é"],"b":null}'.encode()
    with pytest.raises(LocalProtocolError):
        wire.dumps_json({"a": b"x"})
    assert wire.dumps_json({"a": b"\x01\xff"}, buffers=True) == (
        b'{"a":{"type":"Buffer","data":[1,255]}}'
    )
    with pytest.raises(LocalProtocolError):
        wire.dumps_json({"a": object()}, buffers=True)


def test_has_binary() -> None:
    assert wire.has_binary([1, {"a": [b"x"]}])
    assert wire.has_binary(bytearray(b"x"))
    assert not wire.has_binary({"a": [1, "b", None]})


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=20,
)


def _js(value: Any) -> Any:
    """What JavaScript would hold after a round trip: integral floats are integers."""
    if isinstance(value, float) and value.is_integer() and -(2**63) <= value <= 2**64 - 1:
        return int(value)
    if isinstance(value, list):
        return [_js(v) for v in value]
    if isinstance(value, dict):
        return {k: _js(v) for k, v in value.items()}
    return value


@given(JSON_VALUES)
@settings(max_examples=200, deadline=None)
def test_pack_round_trips(value: Any) -> None:
    assert wire.unpack(wire.pack(value)) == _js(value)


@given(st.binary(max_size=64))
@settings(max_examples=300, deadline=None)
def test_decoders_raise_only_remote_protocol_error(data: bytes) -> None:
    for decode in (wire.unpack, wire.decode_message):
        try:
            decode(data)
        except RemoteProtocolError:
            pass
