"""The blocking facade, driven from a plain (non-async) test."""

from __future__ import annotations

import queue
import socket
import threading
import time
from typing import Any

import pytest

from aiosocketio.client.sync import SyncClient
from aiosocketio.exceptions import AckTimeout, ConnectError
from tests.client.conftest import TRANSPORTS, RunningServer
from tests.support.timeouts import scaled

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


def test_refused_constructors_leave_no_thread_behind(server: RunningServer) -> None:
    before = set(threading.enumerate())
    for _ in range(3):  # nothing listens there: the connection is refused
        with pytest.raises(ConnectError):
            SyncClient("http://127.0.0.1:9", reconnection_delay=0.01)
    with pytest.raises(ConnectError, match="not authorized"):  # refused by a middleware
        SyncClient(server.url + "/admin", auth={"token": "no"}, force_new=True)
    assert set(threading.enumerate()) == before


def _accepted(listener: socket.socket) -> int:
    count = 0
    while True:
        try:
            conn, _ = listener.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


def test_a_failed_connect_leaves_nothing_reconnecting(server: RunningServer) -> None:
    # a peer that accepts TCP connections and never answers: the handshake times out
    with socket.create_server(("127.0.0.1", 0)) as silent, SyncClient() as client:
        silent.setblocking(False)
        got = threading.Event()
        client.on("welcome", lambda auth: got.set())
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(ConnectError, match="timeout"):
            client.connect(url, transports=["websocket"], timeout=0.2, reconnection_delay=0.01)
        time.sleep(0.3)  # the old client reconnected here, every 10 ms
        assert _accepted(silent) == 1
        assert not client.connected
        # the handlers registered before a failed connect serve the next one
        client.connect(server.url + "/admin", auth={"token": "secret"}, force_new=True)
        assert got.wait(5)


def test_the_ack_timeout_keyword(server: RunningServer) -> None:
    with SyncClient(server.url, force_new=True) as client:
        started = time.monotonic()
        with pytest.raises(AckTimeout):
            client.emit_with_ack("no_ack", timeout=0.2)
        assert 0.15 < time.monotonic() - started < 2
        assert client.emit_with_ack("echo", "x", timeout=5) == "x"


@pytest.mark.parametrize("mode", sorted(TRANSPORTS))
def test_close_is_clean_and_frees_the_thread(server: RunningServer, mode: str) -> None:
    """``close()`` right after connecting: the server sees the namespace disconnect (the
    closing handshake or final POSTs are over before it returns), and no thread is left."""
    before = set(threading.enumerate())
    ids: list[str] = []
    for n in range(10):
        client = SyncClient(server.url + "/greet", force_new=True, **TRANSPORTS[mode])
        assert client.id is not None
        ids.append(client.id)
        client.emit("record", n)
        client.close()
        assert set(threading.enumerate()) == before
        assert client._loop.is_closed() and not client.connected
    reasons: dict[str, str] = {}
    deadline = time.monotonic() + scaled(10)
    while len(reasons) < len(ids) and time.monotonic() < deadline:
        try:
            line = server.lines.get(timeout=0.1)
        except queue.Empty:
            continue
        if line.get("id") in ids and "disconnect" in line:
            reasons[line["id"]] = line["disconnect"]
    assert [reasons.get(sid) for sid in ids] == ["client namespace disconnect"] * len(ids)
