"""Quiet logs under attack: malformed packets are counted, and logged at DEBUG, rate-limited.

A malformed packet is the peer's fault, not the server's: the connection is closed
(``parse error``, as Node does), the server's ``stats`` counts it, and the log gets at
most one DEBUG line per kind every 10 seconds, without a traceback.
"""

from __future__ import annotations

import json
import logging
import math
import time

import httpx
import pytest

from aiosocketio import Server, Socket
from aiosocketio.frontends.stats import LOG_EVERY
from tests.support.timeouts import scaled

RECORD_SEP = "\x1e"


async def _session(http: httpx.AsyncClient) -> str:
    opened = await http.get("/socket.io/?EIO=4&transport=polling")
    assert opened.status_code == 200, opened.text
    sid: str = json.loads(opened.text[1:])["sid"]
    return sid


async def test_a_thousand_malformed_packets_are_counted_and_barely_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="aiosocketio")
    io = Server()
    reasons: list[str] = []

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        socket.on("disconnect", reasons.append)

    await io.listen(0, "127.0.0.1")
    started = time.monotonic()
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{io.port}", timeout=scaled(10)
        ) as http:
            # one raw client: join "/", then an EVENT whose JSON is broken, 1,000 times
            for _ in range(1000):
                sid = await _session(http)
                await http.post(
                    f"/socket.io/?EIO=4&transport=polling&sid={sid}",
                    content=f"40{RECORD_SEP}42[bad",
                    headers={"Content-Type": "text/plain;charset=UTF-8"},
                )
            # and 20 Engine.IO packets of no known type
            for _ in range(20):
                sid = await _session(http)
                await http.post(
                    f"/socket.io/?EIO=4&transport=polling&sid={sid}",
                    content="x",
                    headers={"Content-Type": "text/plain;charset=UTF-8"},
                )
    finally:
        await io.close()
    windows = math.ceil((time.monotonic() - started) / LOG_EVERY)  # 1 on a quiet machine
    assert io.stats.limits["sio_parse_error"] == 1000
    assert io.stats.limits["eio_parse_error"] == 20
    assert reasons == ["parse error"] * 1000
    # (DEBUG also has each connection's life, "connected" and "leaves: parse error": those
    # are per connection, not per packet, and off below DEBUG)
    about_input = [r for r in caplog.records if "malformed" in r.getMessage()]
    # one line per kind and per 10 s window
    assert 2 <= len(about_input) <= 2 * windows, [r.getMessage() for r in about_input]
    assert all(r.levelno == logging.DEBUG and r.exc_info is None for r in about_input)
    first = about_input[0].getMessage()
    assert first.startswith("connection closed (parse error): malformed Socket.IO packet from ")
    # nothing above DEBUG, and no traceback anywhere
    loud = [r for r in caplog.records if r.levelno > logging.DEBUG]
    assert loud == [], [r.getMessage() for r in loud]
    assert all(r.exc_info is None for r in caplog.records)


async def test_a_packet_in_the_wrong_state_is_counted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="aiosocketio")
    io = Server()
    await io.listen(0, "127.0.0.1")
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{io.port}", timeout=scaled(10)
        ) as http:
            for _ in range(5):
                sid = await _session(http)
                # an EVENT for a namespace the client never joined: Node closes the connection
                await http.post(
                    f"/socket.io/?EIO=4&transport=polling&sid={sid}",
                    content='42/nowhere,["x"]',
                    headers={"Content-Type": "text/plain;charset=UTF-8"},
                )
    finally:
        await io.close()
    assert io.stats.limits["sio_invalid_state"] == 5
    assert [r for r in caplog.records if r.levelno >= logging.INFO] == []
