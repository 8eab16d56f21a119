"""The RESP2 parser of the subscriber connection: whole, byte by byte, with trailing data."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiosocketio.exceptions import RemoteProtocolError
from aiosocketio.protocol.resp import RespError, RespParser, encode_command

STREAM = (
    b"*3\r\n$9\r\nsubscribe\r\n$3\r\nch1\r\n:1\r\n"
    b"*3\r\n$7\r\nmessage\r\n$3\r\nch1\r\n$5\r\nhe\r\no\r\n"
    b"*4\r\n$8\r\npmessage\r\n$2\r\np*\r\n$2\r\npx\r\n$0\r\n\r\n"
    b">3\r\n$8\r\nsmessage\r\n$1\r\ns\r\n$3\r\n\x00\x01\x02\r\n"
    b"+OK\r\n-ERR wrong\r\n$-1\r\n*-1\r\n*2\r\n*1\r\n:7\r\n$-1\r\n"
)
REPLIES: list[Any] = [
    [b"subscribe", b"ch1", 1],
    [b"message", b"ch1", b"he\r\no"],
    [b"pmessage", b"p*", b"px", b""],
    [b"smessage", b"s", b"\x00\x01\x02"],
    "OK",
    RespError("ERR wrong"),
    None,
    None,
    [[7], None],
]


def test_whole_stream() -> None:
    replies = RespParser().feed(STREAM)
    assert replies == REPLIES
    assert isinstance(replies[5], RespError)


def test_byte_by_byte() -> None:
    parser = RespParser()
    replies: list[Any] = []
    for i in range(len(STREAM)):
        replies += parser.feed(STREAM[i : i + 1])
    assert replies == REPLIES


def test_trailing_data_waits_for_the_rest() -> None:
    parser = RespParser()
    assert parser.feed(STREAM + b"*3\r\n$7\r\nmess") == REPLIES
    assert parser.feed(b"age\r\n$1\r\na\r\n$1\r\nb\r\n") == [[b"message", b"a", b"b"]]
    assert parser.feed(b"") == []


@pytest.mark.parametrize("junk", [b"?what\r\n", b"$x\r\n", b"*y\r\n", b":1.5\r\n", b"*1\r\n!\r\n"])
def test_garbage_raises_remote_protocol_error(junk: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        RespParser().feed(junk)


def test_encode_command() -> None:
    assert encode_command("SUBSCRIBE", "a", b"\xff") == (
        b"*3\r\n$9\r\nSUBSCRIBE\r\n$1\r\na\r\n$1\r\n\xff\r\n"
    )


@given(st.lists(st.lists(st.binary(max_size=40), min_size=1, max_size=4), max_size=6), st.data())
@settings(max_examples=150, deadline=None)
def test_any_split_of_encoded_arrays(arrays: list[list[bytes]], data: st.DataObject) -> None:
    stream = b"".join(encode_command(*a) for a in arrays)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=5)))
    parser = RespParser()
    replies: list[Any] = []
    last = 0
    for cut in [*cuts, len(stream)]:
        replies += parser.feed(stream[last:cut])
        last = cut
    assert replies == arrays
