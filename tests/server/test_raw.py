"""Frame-level checks with a raw WebSocket client, and the server's close paths."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aiosocketio import Server, Socket
from tests.server.interop_app import make_app
from tests.support.node import run_node
from tests.support.timeouts import scaled

pytestmark = pytest.mark.interop


async def raw(port: int, scenario: str) -> dict[str, Any]:
    result = (await run_node("server_raw_ws.js", str(port), scenario, timeout=20)).check()
    assert result.lines, result.stdout + result.stderr
    line: dict[str, Any] = result.lines[-1]
    assert "error" not in line, line
    return line


async def test_emit_is_exactly_one_text_frame() -> None:
    io, _ = make_app()
    await io.listen(0, "127.0.0.1")
    try:
        r = await raw(io.port, "frames")
    finally:
        await io.close()
    texts = [f.get("text") for f in r["frames"]]
    assert '42["hello","world"]' in texts
    # the "welcome" event has two attachments: a text frame then two binary frames
    i = next(i for i, t in enumerate(texts) if t and t.startswith('452-["welcome"'))
    assert r["frames"][i + 1] == {"binary": "0102"} and r["frames"][i + 2] == {"binary": "03"}


async def test_heartbeat_ping_timeout() -> None:
    io, record = make_app(ping_interval=0.2, ping_timeout=0.2)
    await io.listen(0, "127.0.0.1")
    try:
        r = await raw(io.port, "pingtimeout")
        await asyncio.sleep(0.05)
    finally:
        await io.close()
    assert r["pings"] >= 1
    assert 300 <= r["sinceConnectMs"] <= scaled(1.5) * 1000
    assert list(record.disconnects.values()) == ["ping timeout"]


async def test_malformed_packet_closes_within_100ms() -> None:
    io = Server()
    reasons: list[str] = []
    errors: list[Exception] = []

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        socket.on("disconnect", reasons.append)
        socket.on("error", errors.append)

    await io.listen(0, "127.0.0.1")
    try:
        r = await raw(io.port, "parse")
        await asyncio.sleep(0.05)
    finally:
        await io.close()
    assert r["sinceBadMs"] is not None and r["sinceBadMs"] < scaled(0.1) * 1000
    assert reasons == ["parse error"] and len(errors) == 1


async def test_close_disconnects_everyone() -> None:
    io = Server()
    reasons: list[str] = []
    io.on("connection", lambda s: s.on("disconnect", reasons.append))
    chat = io.of("/chat")
    chat.on("connection", lambda s: s.on("disconnect", reasons.append))
    await io.listen(0, "127.0.0.1")
    port = io.port
    proc_task = asyncio.ensure_future(run_node("server_close_clients.js", str(port), timeout=20))
    for _ in range(200):
        if len(io.sockets.sockets) == 2 and len(chat.sockets) == 2:
            break
        await asyncio.sleep(0.02)
    assert len(io.sockets.sockets) == 2 and len(chat.sockets) == 2
    await io.close()
    result = (await proc_task).check()
    finals = [line for line in result.lines if "reason" in line]
    assert len(finals) == 4, result.stdout
    assert {line["reason"] for line in finals} == {"io server disconnect"}, result.stdout
    assert not any(line["active"] for line in finals)
    assert reasons == ["server shutting down"] * 4
    with pytest.raises(OSError):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()
