"""Reconnection after the server process is killed and restarted on the same port."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aiosocketio.client import connect
from aiosocketio.exceptions import ConnectError
from tests.client.conftest import RunningServer, start_server
from tests.support.timeouts import scaled

pytestmark = [pytest.mark.interop, pytest.mark.usefixtures("settle")]


async def test_offline_buffer_is_delivered_once_and_in_order_after_a_restart(
    server_kind: str, transport_opts: dict[str, Any]
) -> None:
    first = await start_server(server_kind)
    server: RunningServer | None = first
    port = first.port
    sock = await connect(
        first.url,
        reconnection_delay=0.1,
        reconnection_delay_max=0.3,
        randomization_factor=0.0,
        **transport_opts,
    )
    disconnects: asyncio.Queue[str] = asyncio.Queue()
    connects: asyncio.Queue[str | None] = asyncio.Queue()
    manager_events: list[tuple[str, Any]] = []
    connect_errors: list[ConnectError] = []
    sock.on("disconnect", disconnects.put_nowait)
    sock.on("connect", lambda: connects.put_nowait(sock.id))
    sock.on("connect_error", connect_errors.append)
    for name in ("reconnect_attempt", "reconnect_error", "reconnect"):
        sock.io.on(name, lambda arg=None, name=name: manager_events.append((name, arg)))
    try:
        sock.emit("record", "before")
        assert (await first.wait_for("record", id=sock.id))["record"] == "before"
        await asyncio.sleep(0.2)  # let the upgrade (if any) finish

        first.stop()  # kill the server process (ours, by PID)
        server = None
        reason = await asyncio.wait_for(disconnects.get(), scaled(10))
        assert reason in ("transport close", "transport error")
        assert not sock.connected

        for i in range(10):
            sock.emit("record", i)
        sock.volatile.emit("record", "volatile-must-be-dropped")
        await asyncio.sleep(0.5)  # a few failing reconnection attempts
        assert any(name == "reconnect_error" for name, _ in manager_events)
        assert connect_errors, "each failed attempt reports connect_error"

        second = server = await start_server(server_kind, port)
        await asyncio.wait_for(connects.get(), scaled(10))
        assert sock.connected
        got = [(await second.wait_for("record", id=sock.id))["record"] for _ in range(10)]
        assert got == list(range(10))
        # nothing more: no duplicate, and the volatile packet was dropped
        assert await sock.emit_with_ack("echo", "sync") == "sync"
        await asyncio.sleep(0.1)
        for line in second.drain():
            assert "record" not in line, line
        attempts = [arg for name, arg in manager_events if name == "reconnect_attempt"]
        assert attempts == list(range(1, len(attempts) + 1))
        assert manager_events[-1] == ("reconnect", attempts[-1])
    finally:
        sock.disconnect()
        if server is not None:
            server.stop()


async def test_reconnection_attempts_limit_gives_reconnect_failed(server_kind: str) -> None:
    server = await start_server(server_kind)
    sock = await connect(
        server.url,
        force_new=True,
        reconnection_attempts=2,
        reconnection_delay=0.05,
        reconnection_delay_max=0.05,
    )
    failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    attempts: list[int] = []
    sock.io.on("reconnect_attempt", attempts.append)
    sock.io.on("reconnect_failed", lambda: failed.set_result(None))
    try:
        server.stop()
        await asyncio.wait_for(failed, scaled(10))
        assert attempts == [1, 2]
        assert not sock.connected
    finally:
        sock.disconnect()


async def test_no_reconnection_when_disabled(server_kind: str) -> None:
    server = await start_server(server_kind)
    sock = await connect(server.url, force_new=True, reconnection=False)
    reasons: asyncio.Queue[str] = asyncio.Queue()
    sock.on("disconnect", reasons.put_nowait)
    attempts: list[int] = []
    sock.io.on("reconnect_attempt", attempts.append)
    try:
        sock.emit("close_engine")
        assert await asyncio.wait_for(reasons.get(), scaled(5)) == "transport close"
        await asyncio.sleep(0.3)
        assert attempts == [] and not sock.connected
    finally:
        sock.disconnect()
        server.stop()


async def test_first_connection_refused_then_server_comes_up(server_kind: str) -> None:
    # find a free port, then start the server there only after the client began trying
    probe = await start_server(server_kind)
    port = probe.port
    probe.stop()
    sock = await connect(
        f"http://127.0.0.1:{port}",
        wait=False,
        force_new=True,
        reconnection_delay=0.1,
        reconnection_delay_max=0.2,
    )
    errors: list[ConnectError] = []
    sock.on("connect_error", errors.append)
    sock.emit("record", "early")
    await asyncio.sleep(0.3)
    assert errors and not sock.connected
    server = await start_server(server_kind, port)
    try:
        await sock.wait_connected(scaled(10))
        assert (await server.wait_for("record"))["record"] == "early"
    finally:
        sock.disconnect()
        server.stop()


@pytest.mark.parametrize("kind", ["node", "python"])
async def test_connection_state_recovery(kind: str) -> None:
    server = await start_server(kind, env={"RECOVERY": "1"})
    sock = await connect(server.url, force_new=True, reconnection_delay=0.4, randomization_factor=0)
    got: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
    one_arg: list[str] = []
    sock.on("news", lambda *args: got.put_nowait(args))
    # JavaScript ignores the extra offset argument; a Python handler that takes fewer
    # arguments does not receive it either.
    sock.on("news", lambda text: one_arg.append(text))
    try:
        assert not sock.recovered
        sock.emit("push", "news", "first")
        first = await asyncio.wait_for(got.get(), scaled(5))
        assert first[0] == "first" and isinstance(first[-1], str)  # the offset comes last
        first_id = sock.id
        sock.emit("push_later", 150, "news", "missed")
        sock.emit("close_engine")  # "transport close": a recoverable disconnection
        await until_disconnected(sock)
        missed = await asyncio.wait_for(got.get(), scaled(5))
        assert missed[0] == "missed"  # replayed on reconnection
        await sock.wait_connected(scaled(5))
        assert sock.recovered and sock.id == first_id
        assert one_arg == ["first", "missed"]
    finally:
        sock.disconnect()
        server.stop()


async def until_disconnected(sock: Any) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + scaled(5)
    while sock.connected:
        assert loop.time() < deadline
        await asyncio.sleep(0.005)


async def test_retries_queue_survives_a_restart(server_kind: str) -> None:
    first = await start_server(server_kind)
    port = first.port
    sock = await connect(
        first.url,
        force_new=True,
        transports=["websocket"],
        ack_timeout=2,
        retries=3,
        reconnection_delay=0.1,
        reconnection_delay_max=0.2,
    )
    second = None
    try:
        assert await sock.emit_with_ack("echo", "up") == "up"
        first.stop()
        await until_disconnected(sock)
        pending = [asyncio.ensure_future(sock.emit_with_ack("echo", i)) for i in range(5)]
        await asyncio.sleep(0.3)
        assert not any(p.done() for p in pending)
        second = await start_server(server_kind, port)
        results = await asyncio.wait_for(asyncio.gather(*pending), scaled(15))
        assert results == list(range(5))
    finally:
        sock.disconnect()
        if second is not None:
            second.stop()


async def test_polling_writes_are_split_under_max_payload(server_kind: str) -> None:
    # one tick of emits is larger than the server's maxPayload: the client must split it
    # into several POSTs (a single one would be refused with 413)
    srv = await start_server(server_kind, env={"MAX_HTTP_BUFFER": "100000"})
    sock = await connect(srv.url, force_new=True, transports=["polling"], reconnection=False)
    reasons: list[str] = []
    sock.on("disconnect", reasons.append)
    try:
        chunk = "x" * 30_000
        for i in range(8):
            sock.emit("record", f"{i}{chunk}")
        got = [(await srv.wait_for("record", id=sock.id))["record"] for _ in range(8)]
        assert [g[0] for g in got] == [str(i) for i in range(8)]
        assert all(len(g) == 30_001 for g in got)
        assert reasons == [] and sock.connected
    finally:
        sock.disconnect()
        srv.stop()
