"""The JSON codec: compact output, JSON.stringify-like keys, clean errors."""

from __future__ import annotations

import enum

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiosocketio.exceptions import LocalProtocolError
from aiosocketio.protocol.codec import EncodeError, JSONCodec, OrjsonCodec, default_codec


def test_default_codec_is_a_shared_orjson_codec() -> None:
    assert isinstance(default_codec(), OrjsonCodec)
    assert default_codec() is default_codec()
    assert isinstance(default_codec(), JSONCodec)


def test_dumps_is_compact_str() -> None:
    out = default_codec().dumps({"a": [1, 2, {"b": None}], "c": "é€"})
    assert out == '{"a":[1,2,{"b":null}],"c":"é€"}'
    assert isinstance(out, str)


def test_non_str_keys_become_strings() -> None:
    class Color(enum.Enum):
        RED = "red"

    out = default_codec().dumps({1: "a", 2.5: "b", False: "c", None: "d", Color.RED: "e"})
    assert out == '{"1":"a","2.5":"b","false":"c","null":"d","red":"e"}'


def test_nan_and_infinity_become_null_like_javascript() -> None:
    assert default_codec().dumps([float("nan"), float("inf")]) == "[null,null]"


def test_tuples_are_arrays() -> None:
    assert default_codec().dumps((1, (2,))) == "[1,[2]]"


@pytest.mark.parametrize("value", [{1, 2}, object(), b"raw", [complex(1, 2)]])
def test_unserialisable_values(value: object) -> None:
    with pytest.raises(EncodeError) as info:
        default_codec().dumps(value)
    assert isinstance(info.value, TypeError)
    assert isinstance(info.value, LocalProtocolError)


def test_default_hook() -> None:
    codec = OrjsonCodec(default=lambda o: sorted(o))
    assert codec.dumps({"s": {3, 1}}) == '{"s":[1,3]}'


@pytest.mark.parametrize("text", ["", "{", "[1,]", "nul", "'a'", "[1] x", b"\xff"])
def test_loads_raises_value_error(text: str | bytes) -> None:
    with pytest.raises(ValueError):
        default_codec().loads(text)


def test_attachments_hook() -> None:
    text, attachments = default_codec().dumps_with_attachments(
        ["a", b"1", {"k": [bytearray(b"2")]}, memoryview(b"3")]
    )
    assert text == (
        '["a",{"_placeholder":true,"num":0},{"k":[{"_placeholder":true,"num":1}]},'
        '{"_placeholder":true,"num":2}]'
    )
    assert attachments == [b"1", b"2", b"3"]
    assert default_codec().dumps_with_attachments(["plain"]) == ('["plain"]', [])
    with pytest.raises(EncodeError):
        default_codec().dumps_with_attachments([{1}])


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text().filter(lambda s: not any(0xD800 <= ord(c) <= 0xDFFF for c in s)),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=4), c, max_size=4),
    max_leaves=10,
)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_json)
def test_round_trip(value: object) -> None:
    codec = default_codec()
    text = codec.dumps(value)
    assert codec.loads(text) == value
