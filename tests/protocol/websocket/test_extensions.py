"""permessage-deflate (RFC 7692): negotiation on both sides and the compression state."""

from __future__ import annotations

import zlib

import pytest

from aiosocketio.protocol.websocket import (
    DeflateParams,
    PerMessageDeflate,
    client_deflate_offer,
    client_parse_deflate_response,
    parse_extensions,
    server_negotiate_deflate,
)


def test_negotiation_server_side() -> None:
    result = server_negotiate_deflate("permessage-deflate; client_max_window_bits")
    assert result is not None
    params, header = result
    assert header == "permessage-deflate"
    assert params == DeflateParams()
    result = server_negotiate_deflate(
        "x-foo, permessage-deflate; server_no_context_takeover; client_no_context_takeover;"
        " server_max_window_bits=10; client_max_window_bits=12",
        threshold=0,
    )
    assert result is not None
    params, header = result
    assert params.server_no_context_takeover and params.client_no_context_takeover
    assert (params.server_max_window_bits, params.client_max_window_bits) == (10, 12)
    assert params.threshold == 0
    assert "server_max_window_bits=10" in header and "client_max_window_bits=12" in header
    assert server_negotiate_deflate(None) is None
    assert server_negotiate_deflate("x-webkit-deflate-frame") is None
    assert server_negotiate_deflate("permessage-deflate; server_max_window_bits=7") is None
    assert server_negotiate_deflate("permessage-deflate; server_max_window_bits=8") is None
    assert server_negotiate_deflate("permessage-deflate; foo") is None
    assert server_negotiate_deflate("permessage-deflate; server_no_context_takeover=1") is None
    dup = "permessage-deflate; server_no_context_takeover; server_no_context_takeover"
    assert server_negotiate_deflate(dup) is None
    # a bad first offer falls back to the next one
    fallback = server_negotiate_deflate("permessage-deflate; foo, permessage-deflate")
    assert fallback is not None and fallback[1] == "permessage-deflate"


def test_negotiation_client_side() -> None:
    offer = client_deflate_offer(client_no_context_takeover=True)
    assert parse_extensions(offer) == [("permessage-deflate", {"client_no_context_takeover": None})]
    result = server_negotiate_deflate(offer)
    assert result is not None
    params = client_parse_deflate_response(result[1])
    assert params is not None and params.client_no_context_takeover
    assert client_parse_deflate_response(None) is None
    with pytest.raises(ValueError):
        client_parse_deflate_response("permessage-deflate; bogus")
    with pytest.raises(ValueError):
        client_parse_deflate_response("other-ext")
    with pytest.raises(ValueError):
        client_parse_deflate_response("permessage-deflate; server_max_window_bits=99")


@pytest.mark.parametrize("reset", [False, True])
def test_compression_state_between_the_two_sides(reset: bool) -> None:
    params = DeflateParams(reset, reset, threshold=0)
    server, client = PerMessageDeflate(params, "server"), PerMessageDeflate(params, "client")
    sizes = []
    for _ in range(2):
        wire = server.compress(b"hello hello hello")
        sizes.append(len(wire))
        assert client.decompress(wire, 100) == b"hello hello hello"
        assert server.decompress(client.compress(b"back"), 100) == b"back"
    # with context takeover the second copy refers to the first and is smaller
    assert (sizes[1] == sizes[0]) if reset else (sizes[1] < sizes[0])


def test_decompress_limits_and_garbage() -> None:
    side = PerMessageDeflate(DeflateParams(), "server")
    bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = bomb.compress(b"\x00" * 10_000) + bomb.flush(zlib.Z_SYNC_FLUSH)
    assert side.decompress(payload[:-4], 1000) is None
    with pytest.raises(zlib.error):
        PerMessageDeflate(DeflateParams(), "server").decompress(b"\xff\xff\xff\xff", 1000)
