"""The blocking facade, driven from a plain (non-async) test."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from aiosocketio.client.sync import SyncClient
from aiosocketio.exceptions import AckTimeout, ConnectError
from tests.client.conftest import RunningServer

pytestmark = pytest.mark.interop


def test_sync_client_round_trip(server: RunningServer) -> None:
    got = threading.Event()
    received: list[Any] = []

    client = SyncClient()

    @client.on("news")
    def on_news(*args: Any) -> None:
        received.append(args)
        got.set()

    with client:
        client.connect(server.url, force_new=True)
        assert client.connected and client.id is not None
        assert client.emit_with_ack("echo", 1, b"\x01") == (1, b"\x01")
        with pytest.raises(AckTimeout):
            client.emit_with_ack("no_ack", timeout=0.1)
        client.emit("push", "news", {"n": 1})
        assert got.wait(5)
        assert received == [({"n": 1},)]
        client.disconnect()
        assert not client.connected


def test_sync_client_connect_error(server: RunningServer) -> None:
    with SyncClient() as client, pytest.raises(ConnectError) as info:
        client.connect(server.url + "/admin", auth={"token": "no"})
    assert info.value.data["content"] == "Please retry later"
