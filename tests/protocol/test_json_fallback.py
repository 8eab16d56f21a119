"""The JSON fallback of the default codec: lone surrogates and deep nesting, as in Node.

Golden values are what ``JSON.stringify`` writes (a lone surrogate as a lower-case
``\\uXXXX`` escape); the properties hold the fallback equal to orjson wherever orjson
accepts the input, and to the standard library's parser where only the fallback does.
The official client's side is in ``tests/abuse/test_legal_payloads.py``.
"""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiosocketio.exceptions import RemoteProtocolError
from aiosocketio.protocol import json_fallback
from aiosocketio.protocol.codec import EncodeError, default_codec
from aiosocketio.protocol.socketio import Decoder, Encoder, Packet, PacketType

_settings = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=300)


def nested(depth: int, leaf: object = 1) -> object:
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


# -- golden values ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("ab\ud83d", '"ab\\ud83d"'),
        ("\udc00x\U0001f600", '"\\udc00x\U0001f600"'),
        (['é\ud800\n"', {"k\udfff": None}], '["é\\ud800\\n\\"",{"k\\udfff":null}]'),
    ],
)
def test_lone_surrogates_are_escaped_as_json_stringify_does(value: object, text: str) -> None:
    assert default_codec().dumps(value) == text
    assert json_fallback.dumps(value) == text
    assert default_codec().loads(text) == value


def test_a_surrogate_pair_is_one_character_as_in_javascript() -> None:
    assert default_codec().loads('"\\ud83d\\ude00"') == "😀"
    # two surrogate code points in a row in a Python str: one character for JavaScript
    assert default_codec().dumps("\ud83d\ude00\ud83d") == '"😀\\ud83d"'
    assert json_fallback.loads('["\\ud83d\\ude00","\\ud83d"]') == ["😀", "\ud83d"]


def test_nesting_is_symmetric_up_to_1024_levels() -> None:
    codec = default_codec()
    for depth in (255, 300, 1000, 1024):
        text = "[" * depth + "]" * depth
        assert codec.dumps(codec.loads(text)) == text
    too_deep = "[" * 1025 + "]" * 1025
    with pytest.raises(ValueError):
        codec.loads(too_deep)
    with pytest.raises(ValueError):
        json_fallback.loads(too_deep)
    value: list[object] = []
    for _ in range(1024):
        value = [value]  # 1025 levels
    with pytest.raises(EncodeError):
        codec.dumps(value)


def test_a_cycle_is_an_encode_error_not_a_hang() -> None:
    cycle: list[object] = []
    cycle.append(cycle)
    with pytest.raises(EncodeError):
        default_codec().dumps(cycle)


def test_deep_values_keep_orjson_types_and_the_default_hook() -> None:
    class Thing:
        pass

    codec = type(default_codec())(default=lambda o: "thing")
    value = nested(600, [Thing(), 1.5, float("nan"), {7: True}])
    text = codec.dumps(value)
    assert text.endswith('["thing",1.5,null,{"7":true}]' + "}]" * 300)


def test_binary_attachments_at_any_depth_keep_their_order() -> None:
    value = [b"0", nested(700, [b"1", "\ud83d"]), b"2"]
    text, attachments = default_codec().dumps_with_attachments(value)
    assert attachments == [b"0", b"1", b"2"]
    assert text.startswith('[{"_placeholder":true,"num":0},[{"k":')
    assert '[{"_placeholder":true,"num":1},"\\ud83d"]' in text


def test_socketio_packets_with_lone_surrogates_and_deep_nesting() -> None:
    decoder, encoder = Decoder(), Encoder()
    packet = decoder.receive('21["echo","ab\\ud83d"]')
    assert packet == Packet(PacketType.EVENT, "/", ["echo", "ab\ud83d"], 1)
    assert encoder.encode(Packet(PacketType.ACK, "/", ["ab\ud83d"], 1)) == ['31["ab\\ud83d"]']
    deep = "[" * 1000 + '"\\udc00"' + "]" * 1000
    packet = decoder.receive(f'2/chat,3["e",{deep}]')
    assert packet is not None and packet.nsp == "/chat"
    assert encoder.encode(Packet(PacketType.ACK, "/chat", [packet.data[1]], 3)) == [
        f"3/chat,3[{deep}]"
    ]


def test_a_deep_binary_packet_is_reconstructed() -> None:
    decoder = Decoder()
    deep = "[" * 1000 + '{"_placeholder":true,"num":0}' + "]" * 1000
    assert decoder.receive(f'51-["e",{deep}]') is None
    packet = decoder.receive(b"\x01")
    assert packet is not None
    value = packet.data[1]
    for _ in range(1000):
        value = value[0]
    assert value == b"\x01"


@pytest.mark.parametrize(
    "text",
    ['"\\ud83d', '["\\ud83d",]', '["\\ud83d" 1]', '{"\\ud83d"}', '["\\ud83d"] x', '"\\ud83'],
)
def test_invalid_json_with_a_lone_surrogate_is_still_invalid(text: str) -> None:
    with pytest.raises(ValueError):
        default_codec().loads(text)
    with pytest.raises(RemoteProtocolError):
        Decoder().receive("2" + text)


# -- properties -------------------------------------------------------------------------------

_any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=12)
_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _any_text,
    lambda c: st.lists(c, max_size=4) | st.dictionaries(_any_text, c, max_size=4),
    max_leaves=12,
)


@_settings
@given(_values, st.integers(0, 900))
def test_round_trip_with_any_string_at_any_depth(value: object, depth: int) -> None:
    codec = default_codec()
    text = codec.dumps(nested(depth, value))
    assert json_fallback.dumps(codec.loads(text)) == text
    # what the standard library (whose strings are JSON.parse's) reads is the same
    if depth < 200:
        assert json.loads(text) == codec.loads(text)


_tokens = st.sampled_from(
    [
        '"',
        "\\",
        "u",
        "d83d",
        "dc00",
        "00e9",
        "[",
        "]",
        "{",
        "}",
        ",",
        ":",
        " ",
        "1",
        "-",
        "0",
        ".",
        "e",
        "+",
        "true",
        "nul",
        "null",
        "a",
        "\n",
        "\t",
        "\x01",
        "é",
    ]
)


@_settings
@given(st.lists(_tokens, max_size=24).map("".join))
def test_the_fallback_accepts_what_orjson_accepts(text: str) -> None:
    try:
        expected = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        if "surrogate" in str(exc):
            # orjson's refusal: the fallback reads it as the standard library does
            try:
                reference = json.loads(text)
            except ValueError:
                with pytest.raises(ValueError):
                    json_fallback.loads(text)
            else:
                assert json_fallback.loads(text) == reference
            return
        with pytest.raises(ValueError):
            json_fallback.loads(text)
        return
    assert json_fallback.loads(text) == expected
