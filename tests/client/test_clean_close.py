"""The client closes the way socket.io-client does, as the server sees it (issue 11, item 4).

A client that calls ``socket.disconnect()`` the moment it is connected, while the
server's on-connection emits (``/greet`` sends a 64 KiB one) are still in flight, must be
recorded by the server as ``client namespace disconnect`` every time, on every transport:

* WebSocket: the DISCONNECT packet, then a close frame; the TCP connection is closed only
  once the peer's close frame came back (or after :data:`CLOSE_TIMEOUT`), so the server's
  last writes never meet a reset connection ("transport error");
* polling: the DISCONNECT packet and then the close packet go in final POSTs, which are
  answered before the pending GET is dropped.

Each case runs :data:`TRIES` tries through the official socket.io 4.8 server and through
aiosocketio's own, with this client and, as the reference, with the official
socket.io-client (``tests/interop/js/close_official_client.js``). Every try also emits an
event just before disconnecting: the server must receive it (queued writes go out before
the close).
"""

from __future__ import annotations

import asyncio
import collections
import os
import queue
import signal
from typing import Any

import pytest

from aiosocketio.client import ClientSocket, client_socket, connect, transports
from aiosocketio.client.connection import wait_closing
from aiosocketio.client.websocket import ClientWebSocketConnection
from tests.client.conftest import TRANSPORTS, RunningServer, start_server
from tests.support.node import run_node
from tests.support.timeouts import scaled

pytestmark = [pytest.mark.interop, pytest.mark.usefixtures("settle")]

TRIES = 100
CLEAN = "client namespace disconnect"


async def collect(server: RunningServer, ids: list[str], timeout: float = 20.0) -> dict[str, Any]:
    """Read the server's lines until every id in ``ids`` has its disconnect reason.

    Returns the reason of each id and the ``record`` values that reached the server from
    each id (Node's server drops an event that arrives just before the DISCONNECT, without
    calling its handler; the Engine.IO ``packet`` event still shows it).
    """
    wanted = set(ids)
    reasons: dict[str, str] = {}
    records: dict[str, list[Any]] = collections.defaultdict(list)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + scaled(timeout)
    while len(reasons) < len(wanted):
        try:
            line = server.lines.get_nowait()
        except queue.Empty:
            if loop.time() > deadline:
                break
            await asyncio.sleep(0.01)
            continue
        sid = line.get("id")
        if sid not in wanted:
            continue
        if "disconnect" in line:
            reasons[sid] = line["disconnect"]
        elif "received" in line:
            records[sid].append(line["received"])
    return {"reasons": reasons, "records": records}


def tally(ids: list[str], seen: dict[str, Any]) -> collections.Counter[str]:
    """How many tries ended with each server-side reason ("missing": none logged)."""
    return collections.Counter(seen["reasons"].get(sid, "missing") for sid in ids)


def lost_records(ids: list[str], seen: dict[str, Any]) -> list[tuple[int, Any]]:
    """The tries whose "record" emit (sent just before disconnecting) the server missed."""
    return [
        (n, seen["records"].get(sid))
        for n, sid in enumerate(ids)
        if seen["records"].get(sid) != [n]
    ]


async def our_tries(url: str, mode: str, tries: int) -> list[str]:
    """Connect, emit ``record`` and disconnect in the ``connect`` listener, ``tries`` times."""
    ids: list[str] = []
    for n in range(tries):
        sock = client_socket(url, force_new=True, reconnection=False, **TRANSPORTS[mode])

        def on_connect(n: int = n, sock: ClientSocket = sock) -> None:
            assert sock.id is not None
            ids.append(sock.id)
            sock.emit("record", n)
            sock.disconnect()

        sock.on("connect", on_connect)
        await sock.connect(timeout=scaled(10))
        assert not sock.connected and not sock.active
        assert sock.io.ready_state == "closed" and sock.io.engine is None
    return ids


@pytest.mark.parametrize("mode", sorted(TRANSPORTS))
async def test_disconnect_right_after_connect_is_clean(server: RunningServer, mode: str) -> None:
    ids = await our_tries(server.url + "/greet", mode, TRIES)
    seen = await collect(server, ids)
    counts = tally(ids, seen)
    lost = lost_records(ids, seen)
    assert (counts, lost) == ({CLEAN: TRIES}, []), (
        f"{server.kind} server, {mode}: {dict(counts)}, {len(lost)} emits lost: {lost[:3]}"
    )


@pytest.mark.parametrize("mode", sorted(TRANSPORTS))
async def test_the_official_client_is_clean_too(server: RunningServer, mode: str) -> None:
    """The reference: the same tries with socket.io-client 4.8 (proves the harness)."""
    result = await run_node(
        "close_official_client.js", server.url + "/greet", mode, str(TRIES), timeout=120
    )
    result.check()
    ids = [line["id"] for line in result.lines if "id" in line]
    assert len(ids) == TRIES
    seen = await collect(server, ids)
    counts = tally(ids, seen)
    lost = lost_records(ids, seen)
    assert (counts, lost) == ({CLEAN: TRIES}, []), (
        f"{server.kind} server, {mode}: {dict(counts)}, {len(lost)} emits lost: {lost[:3]}"
    )


async def test_the_websocket_waits_for_the_servers_close_frame(server: RunningServer) -> None:
    sock = await connect(server.url, force_new=True, reconnection=False, transports=["websocket"])
    engine = sock.io.engine
    assert engine is not None and engine._ws is not None
    ws = engine._ws
    assert isinstance(ws, ClientWebSocketConnection)
    transport = ws.transport
    assert transport is not None
    sock.disconnect()
    # the close frame is written, but TCP stays open until the server's close frame
    assert ws._ws.close_sent and not ws._ws.close_received and not transport.is_closing()
    await asyncio.wait_for(wait_closing(), scaled(transports.CLOSE_TIMEOUT / 2))
    assert ws._ws.close_received and transport.is_closing()


@pytest.mark.parametrize("mode", ["polling", "websocket"])
async def test_a_silent_server_is_dropped_after_the_bound(
    server_kind: str, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server stops answering (SIGSTOP): the closing client gives up after the bound."""
    bound = 0.5
    monkeypatch.setattr(transports, "CLOSE_TIMEOUT", bound)
    srv = await start_server(server_kind)
    try:
        sock = await connect(srv.url, force_new=True, reconnection=False, transports=[mode])
        os.kill(srv.popen.pid, signal.SIGSTOP)  # our own server process, by PID
        try:
            loop = asyncio.get_running_loop()
            start = loop.time()
            sock.disconnect()
            await asyncio.wait_for(wait_closing(), scaled(5))
            elapsed = loop.time() - start
        finally:
            os.kill(srv.popen.pid, signal.SIGCONT)
        assert bound <= elapsed < bound + scaled(1)
    finally:
        srv.stop()


async def test_a_post_in_flight_is_answered_before_the_final_posts(server: RunningServer) -> None:
    """Polling: the close waits for the POST in flight, then POSTs the rest and the close
    packet (engine.io-client waits for its write buffer to drain before it closes)."""
    sock = await connect(
        server.url + "/greet", force_new=True, reconnection=False, transports=["polling"]
    )
    engine = sock.io.engine
    assert engine is not None and sock.id is not None
    sid = sock.id
    sock.emit("record", 0)
    for _ in range(100):
        if not engine.writable:  # its POST is on the way
            break
        await asyncio.sleep(0)
    assert not engine.writable
    sock.emit("record", 1)
    sock.disconnect()
    await asyncio.wait_for(wait_closing(), scaled(transports.CLOSE_TIMEOUT))
    seen = await collect(server, [sid])
    assert seen["reasons"] == {sid: CLEAN} and seen["records"][sid] == [0, 1]
