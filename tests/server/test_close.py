"""``Server.close()`` in one process: refusals while it runs, polling backlogs, the deadline,
``Server.stats``. (The 1,000-client runs through SIGTERM are in test_shutdown.py.)"""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from aiosocketio import Server, Socket
from tests.support.node import NodeProcess
from tests.support.timeouts import scaled

pytestmark = pytest.mark.interop


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def _fleet(port: int, clients: int, messages: int, size: int, *extra: str) -> NodeProcess:
    node = await NodeProcess.start(
        "shutdown_fleet.js",
        "--url",
        f"http://127.0.0.1:{port}",
        "--clients",
        str(clients),
        "--expect",
        str(messages),
        "--size",
        str(size),
        *extra,
    )
    await node.wait_for("ready", timeout=30)
    return node


def _burst(io: Server, messages: int, size: int) -> None:
    filler = "x" * size
    for i in range(messages):
        io.emit("m", i, filler)


async def _http(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    try:
        return await asyncio.wait_for(reader.read(65536), scaled(5))
    finally:
        writer.close()


async def test_polling_clients_get_their_backlog_then_disconnect() -> None:
    """On polling the backlog waits in the session's outbox: the GETs take it in pieces,
    the DISCONNECT after it, then the CLOSE packet."""
    io = Server()
    reasons: list[str] = []
    io.on("connection", lambda s: s.on("disconnect", reasons.append))
    await io.listen(0, "127.0.0.1")
    node = await _fleet(io.port, 20, 200, 10 * 1024, "--transport", "polling")
    try:
        _burst(io, 200, 10 * 1024)
        assert io.engine.clients_count == 20
        started = time.monotonic()
        await io.close(grace=scaled(10))
        elapsed = time.monotonic() - started
        report = await node.wait_for("report", timeout=20)
    finally:
        await node.stop()
    assert (report["complete"], report["inOrder"]) == (20, 20), str(report)
    assert report["reasons"] == {"io server disconnect": 20}, str(report)
    assert reasons == ["server shutting down"] * 20
    assert elapsed < scaled(10)
    assert io.stats.clients == 0 and io.stats.closing == 0


async def test_new_sessions_are_refused_while_it_drains() -> None:
    io = Server()
    await io.listen(0, "127.0.0.1")
    port = io.port
    # a keep-alive connection opened before the close
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    node = await _fleet(port, 3, 50, 10 * 1024)  # three WebSockets that do not read
    try:
        _burst(io, 50, 10 * 1024)
        closing = asyncio.ensure_future(io.close(grace=scaled(2)))
        await asyncio.sleep(0.2)
        assert not closing.done()
        assert io.stats.accepting is False
        # the listening socket is closed ...
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", port)
        # ... and a handshake on a connection still open gets 503
        writer.write(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(65536), scaled(5))
        assert answer.startswith(b"HTTP/1.1 503 "), answer
        await closing
    finally:
        writer.close()
        await node.stop()


async def test_the_deadline_drops_clients_that_do_not_read_and_leaks_nothing() -> None:
    io = Server()
    reasons: list[str] = []
    io.on("connection", lambda s: s.on("disconnect", reasons.append))
    await io.listen(0, "127.0.0.1")
    http = io._http
    assert http is not None
    node = await _fleet(io.port, 20, 200, 10 * 1024, "--never-read")
    try:
        _burst(io, 200, 10 * 1024)
        await asyncio.sleep(0.3)
        stats = io.stats
        assert stats.sockets == {"/": 20} and stats.transports == {"websocket": 20}
        before = _fds()
        started = time.monotonic()
        await io.close(grace=1.0)
        elapsed = time.monotonic() - started
        assert 1.0 <= elapsed < 1.0 + scaled(0.5)
        assert io.engine.clients_count == 0 and not http.connections
        assert io.stats.limits["shutdown_dropped"] == 20
        assert reasons == ["server shutting down"] * 20
        node.send("resume")
        report = await node.wait_for("report", timeout=20)
        assert report["complete"] == 0
        # the listening socket and the 20 connections are closed, nothing else
        assert before - _fds() == 21
    finally:
        await node.stop()


async def test_stats_snapshot() -> None:
    io = Server()
    chat = io.of("/chat")

    @chat.on("connection")
    def on_chat(socket: Socket) -> None:
        socket.join("room")

    await io.listen(0, "127.0.0.1")
    node = await _fleet(io.port, 2, 1, 10, "--transport", "polling")
    try:
        stats = io.stats
        assert stats.sockets == {"/": 2, "/chat": 0}
        assert stats.clients == 2 and stats.transports == {"polling": 2}
        assert stats.accepting is True and stats.upgrading == 0
        assert stats.as_dict()["clients"] == 2
        with pytest.raises(AttributeError):
            stats.clients = 3  # type: ignore[misc]
        with pytest.raises(TypeError):
            stats.sockets["/"] = 3  # type: ignore[index]
    finally:
        await io.close(grace=scaled(5))
        await node.stop()


async def test_asgi_app_under_uvicorn_drains_polling_clients_on_sigterm() -> None:
    """Under uvicorn the app takes SIGTERM before uvicorn closes anything: the polling
    clients, which need new requests (and connections) to fetch their backlog, get all of
    it, then the DISCONNECT; uvicorn then stops."""
    import uvicorn

    io = Server()
    reasons: list[str] = []
    io.on("connection", lambda s: s.on("disconnect", reasons.append))
    app = io.asgi_app(shutdown_grace=scaled(10))
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    # uvicorn re-raises the signal it caught once it has stopped: let that one pass
    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    node: NodeProcess | None = None
    try:
        task = asyncio.ensure_future(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        node = await _fleet(port, 20, 200, 10 * 1024, "--transport", "polling")
        _burst(io, 200, 10 * 1024)
        started = time.monotonic()
        signal.raise_signal(signal.SIGTERM)
        await asyncio.wait_for(task, scaled(20))
        elapsed = time.monotonic() - started
        report = await node.wait_for("report", timeout=20)
    finally:
        signal.signal(signal.SIGTERM, previous)
        if node is not None:
            await node.stop()
    assert (report["complete"], report["inOrder"]) == (20, 20), str(report)
    assert report["reasons"] == {"io server disconnect": 20}, str(report)
    assert reasons == ["server shutting down"] * 20
    assert elapsed < scaled(10)
