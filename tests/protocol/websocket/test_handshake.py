"""The opening handshake (RFC 6455 §4): keys and checks on both sides."""

from __future__ import annotations

import base64

from aiosocketio.protocol.websocket import (
    accept_key,
    check_upgrade_request,
    check_upgrade_response,
    client_key,
)


def test_accept_key_rfc_example() -> None:
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_check_upgrade_request() -> None:
    good = {
        "upgrade": "websocket",
        "connection": "keep-alive, Upgrade",
        "sec-websocket-version": "13",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    assert check_upgrade_request("GET", good) is None
    assert check_upgrade_request("POST", good) is not None
    assert check_upgrade_request("GET", {**good, "sec-websocket-version": "8"}) is not None
    assert check_upgrade_request("GET", {**good, "sec-websocket-key": "short"}) is not None
    assert check_upgrade_request("GET", {**good, "upgrade": "h2c"}) is not None
    assert check_upgrade_request("GET", {**good, "connection": "close"}) is not None


def test_client_key_is_16_random_bytes() -> None:
    key = client_key()
    assert len(base64.b64decode(key, validate=True)) == 16
    assert key != client_key()
    headers = {
        "upgrade": "websocket",
        "connection": "Upgrade",
        "sec-websocket-version": "13",
        "sec-websocket-key": key,
    }
    assert check_upgrade_request("GET", headers) is None


def test_check_upgrade_response() -> None:
    key = client_key()
    good = {"sec-websocket-accept": accept_key(key)}
    assert check_upgrade_response(101, good, key) is None
    assert check_upgrade_response(200, good, key) == "unexpected status 200"
    assert check_upgrade_response(101, {}, key) == "bad Sec-WebSocket-Accept"
    assert check_upgrade_response(101, good, client_key()) == "bad Sec-WebSocket-Accept"
