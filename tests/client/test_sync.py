"""The blocking facade, driven from a plain (non-async) test."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from aiosocketio.client.sync import SyncClient
from aiosocketio.exceptions import AckTimeout, ConnectionError
from tests.client.conftest import NodeServer, start_node_server

pytestmark = pytest.mark.interop


@pytest.fixture
def sync_node_server() -> Iterator[NodeServer]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = asyncio.run_coroutine_threadsafe(start_node_server(), loop).result(20)
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.proc.stop(), loop).result(20)
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


def test_sync_client_round_trip(sync_node_server: NodeServer) -> None:
    got = threading.Event()
    received: list[Any] = []

    client = SyncClient()

    @client.on("news")
    def on_news(*args: Any) -> None:
        received.append(args)
        got.set()

    with client:
        client.connect(sync_node_server.url, force_new=True)
        assert client.connected and client.id is not None
        assert client.emit_with_ack("echo", 1, b"\x01") == (1, b"\x01")
        with pytest.raises(AckTimeout):
            client.emit_with_ack("no_ack", timeout=0.1)
        client.emit("push", "news", {"n": 1})
        assert got.wait(5)
        assert received == [({"n": 1},)]
        client.disconnect()
        assert not client.connected


def test_sync_client_connect_error(sync_node_server: NodeServer) -> None:
    with SyncClient() as client, pytest.raises(ConnectionError) as info:
        client.connect(sync_node_server.url + "/admin", auth={"token": "no"})
    assert info.value.data["content"] == "Please retry later"
