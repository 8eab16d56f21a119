"""Quiet logs under attack: malformed packets are counted, and logged at DEBUG, rate-limited.

A malformed packet is the peer's fault, not the server's: the connection is closed
(``parse error``, as Node does), the server's ``stats`` counts it, and the log gets at
most one DEBUG line per kind every 10 seconds, without a traceback.
"""

from __future__ import annotations

import asyncio
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


class RawHttp:
    """One keep-alive HTTP/1.1 connection, written by hand: the 2,040 requests of the test
    below take a fraction of httpx's time, which the test is not about."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> RawHttp:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def request(self, method: str, path: str, body: str = "") -> tuple[int, str]:
        data = body.encode()
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(data)}\r\n"
            "Content-Type: text/plain;charset=UTF-8\r\n\r\n"
        )
        self.writer.write(head.encode() + data)
        status_line = await asyncio.wait_for(self.reader.readline(), scaled(10))
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        payload = await self.reader.readexactly(length)
        return int(status_line.split()[1]), payload.decode()

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


async def _raw_session(http: RawHttp) -> str:
    status, text = await http.request("GET", "/socket.io/?EIO=4&transport=polling")
    assert status == 200, text
    sid: str = json.loads(text[1:])["sid"]
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
        http = await RawHttp.open(io.port)
        try:
            # one raw client: join "/", then an EVENT whose JSON is broken, 1,000 times
            for _ in range(1000):
                sid = await _raw_session(http)
                path = f"/socket.io/?EIO=4&transport=polling&sid={sid}"
                assert (await http.request("POST", path, f"40{RECORD_SEP}42[bad"))[0] == 200
            # and 20 Engine.IO packets of no known type
            for _ in range(20):
                sid = await _raw_session(http)
                path = f"/socket.io/?EIO=4&transport=polling&sid={sid}"
                assert (await http.request("POST", path, "x"))[0] == 200
        finally:
            await http.close()
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
