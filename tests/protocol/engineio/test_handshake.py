"""Request validation: Node's codes 0-5, their order and their contexts."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from aiosocketio.exceptions import (
    BadHandshakeMethod,
    BadRequest,
    Forbidden,
    HandshakeError,
    UnknownSid,
    UnknownTransport,
    UnsupportedProtocolVersion,
)
from aiosocketio.protocol.engineio.handshake import (
    SessionView,
    base64id,
    check_protocol,
    error_body,
    verify_request,
)
from aiosocketio.protocol.engineio.options import EngineOptions


@dataclass
class FakeSession:
    transport_name: str
    protocol: int = 4


SESSIONS: dict[str, SessionView] = {
    "pollsid": FakeSession("polling"),
    "wssid": FakeSession("websocket"),
}
OPTS = EngineOptions()


def verify(
    query: dict[str, str],
    method: str = "GET",
    upgrade: bool = False,
    headers: dict[str, str] | None = None,
) -> None:
    verify_request(
        method, query, headers or {}, upgrade=upgrade, options=OPTS, find_session=SESSIONS.get
    )


def test_valid_handshake_and_session_requests_pass() -> None:
    verify({"EIO": "4", "transport": "polling"})
    verify({"EIO": "4", "transport": "websocket"}, upgrade=True)
    verify({"EIO": "4", "transport": "polling", "sid": "pollsid"}, method="POST")
    verify({"EIO": "4", "transport": "websocket", "sid": "pollsid"}, upgrade=True)


@pytest.mark.parametrize(
    ("query", "method", "upgrade", "error", "context"),
    [
        ({"EIO": "4", "transport": "tcp"}, "GET", False, UnknownTransport, {"transport": "tcp"}),
        ({"EIO": "4"}, "GET", False, UnknownTransport, {"transport": None}),
        (
            {"EIO": "4", "transport": "polling", "sid": "nope"},
            "GET",
            False,
            UnknownSid,
            {"sid": "nope"},
        ),
        (
            {"EIO": "4", "transport": "polling"},
            "POST",
            False,
            BadHandshakeMethod,
            {"method": "POST"},
        ),
        (
            {"EIO": "4", "transport": "websocket"},
            "GET",
            False,
            BadRequest,
            {"name": "TRANSPORT_HANDSHAKE_ERROR"},
        ),
        (
            {"EIO": "4", "transport": "polling", "sid": "wssid"},
            "GET",
            False,
            BadRequest,
            {
                "name": "TRANSPORT_MISMATCH",
                "transport": "polling",
                "previousTransport": "websocket",
            },
        ),
        (
            {"EIO": "3", "transport": "polling", "sid": "pollsid"},
            "GET",
            False,
            BadRequest,
            {"name": "PROTOCOL_MISMATCH", "protocol": 3, "previousProtocol": 4},
        ),
    ],
)
def test_refusals_carry_node_codes_and_contexts(
    query: dict[str, str],
    method: str,
    upgrade: bool,
    error: type[HandshakeError],
    context: dict[str, object],
) -> None:
    with pytest.raises(error) as info:
        verify(query, method, upgrade)
    assert info.value.context == context
    assert info.value.status == 400


def test_invalid_origin_header() -> None:
    with pytest.raises(BadRequest) as info:
        verify({"EIO": "4", "transport": "polling"}, headers={"origin": "http://a\x01"})
    assert info.value.context["name"] == "INVALID_ORIGIN"


@pytest.mark.parametrize("eio", ["3", "5", "abc", ""])
def test_only_protocol_4_is_served(eio: str) -> None:
    with pytest.raises(UnsupportedProtocolVersion) as info:
        check_protocol({"EIO": eio})
    assert info.value.code == 5
    assert info.value.message == "Unsupported protocol version"
    assert check_protocol({"EIO": "4"}) == 4


def test_error_bodies_match_node() -> None:
    assert json.loads(error_body(UnknownSid())) == {"code": 1, "message": "Session ID unknown"}
    assert json.loads(error_body(Forbidden(context={"message": 'no "way"'}))) == {
        "code": 4,
        "message": 'no "way"',
    }
    assert Forbidden().status == 403
    assert [HandshakeError.for_code(c).message for c in range(6)] == [
        "Transport unknown",
        "Session ID unknown",
        "Bad handshake method",
        "Bad request",
        "Forbidden",
        "Unsupported protocol version",
    ]


def test_base64id_is_20_url_safe_characters_and_unique() -> None:
    ids = {base64id() for _ in range(1000)}
    assert len(ids) == 1000
    for sid in ids:
        assert len(sid) == 20
        assert set(sid) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


# -- allowed_origins: cross-site requests refused on both transports ---------------------


ORIGINS = EngineOptions(allowed_origins=["https://app.example.com", "http://localhost:3000/"])


@pytest.mark.parametrize(
    ("query", "method", "upgrade"),
    [
        ({"EIO": "4", "transport": "polling"}, "GET", False),
        ({"EIO": "4", "transport": "websocket"}, "GET", True),
        ({"EIO": "4", "transport": "polling", "sid": "pollsid"}, "POST", False),
        ({"EIO": "4", "transport": "websocket", "sid": "pollsid"}, "GET", True),
    ],
)
def test_allowed_origins_refuse_other_sites(
    query: dict[str, str], method: str, upgrade: bool
) -> None:
    def check(origin: str | None) -> None:
        headers = {} if origin is None else {"origin": origin}
        verify_request(
            method, query, headers, upgrade=upgrade, options=ORIGINS, find_session=SESSIONS.get
        )

    check("https://app.example.com")
    check("HTTPS://App.Example.com")  # scheme and host are case-insensitive
    check("http://localhost:3000")
    check(None)  # not from a browser page (or a same-origin GET): nothing to check
    for origin in ("https://evil.example", "https://app.example.com.evil", "null"):
        with pytest.raises(Forbidden) as info:
            check(origin)
        assert info.value.status == 403
        assert info.value.context == {"name": "ORIGIN_NOT_ALLOWED", "origin": origin}
        assert json.loads(error_body(info.value)) == {"code": 4, "message": "Forbidden"}


def test_allowed_origins_off_by_default_and_validated() -> None:
    assert EngineOptions().allowed_origins is None
    assert EngineOptions(allowed_origins="https://a.example").origin_allowed("https://a.example")
    with pytest.raises(TypeError):
        EngineOptions(allowed_origins=[1])
