"""Hypothesis throws garbage at the built-in server; it must answer or close, never crash.

Each example opens a TCP connection to a real server with a real Engine, writes bytes
(random, or a valid request with a random part), and reads until the server answers or
closes. After every example a clean handshake must still succeed, and nothing may have
been logged at ERROR level (a traceback in a protocol callback is logged there).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiosocketio.engine.engine import Engine
from aiosocketio.frontends.native.server import NativeServer, serve


class ServerThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.engine = Engine(path="/engine.io/", max_http_buffer_size=10_000)
        self.engine.on_connection = lambda conn: setattr(conn, "on_message", conn.send)
        self.server: NativeServer = self.loop.run_until_complete(serve(self.engine, "127.0.0.1", 0))

    def exchange(self, data: bytes) -> bytes:
        async def go() -> bytes:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.server.port)
            writer.write(data)
            try:
                writer.write_eof()
            except OSError:
                pass
            try:
                return await asyncio.wait_for(reader.read(65536), 2)
            except (TimeoutError, ConnectionError):
                return b""
            finally:
                writer.close()
                try:
                    await writer.wait_closed()
                except ConnectionError:
                    pass

        return self.loop.run_until_complete(go())

    def close(self) -> None:
        async def stop() -> None:
            self.server.close()
            await self.server.wait_closed()
            await asyncio.sleep(0.01)

        self.loop.run_until_complete(stop())
        self.loop.close()


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    s = ServerThread()
    yield s
    s.close()


def _healthy(server: ServerThread) -> None:
    answer = server.exchange(
        b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    assert b'0{"sid":"' in answer


REQUEST_LINES = st.sampled_from(
    [
        b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\n",
        b"POST /engine.io/?EIO=4&transport=polling&sid=x HTTP/1.1\r\n",
        b"GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\n",
        b"GET /other HTTP/1.1\r\n",
        b"OPTIONS /engine.io/ HTTP/1.1\r\n",
        b"",
    ]
)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(prefix=REQUEST_LINES, junk=st.binary(max_size=600))
def test_garbage_never_crashes_the_server(
    server: ServerThread, prefix: bytes, junk: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    server.exchange(prefix + junk)
    _healthy(server)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    header=st.sampled_from([b"Content-Length", b"Transfer-Encoding", b"Upgrade", b"Connection"]),
    value=st.binary(max_size=40).filter(lambda v: b"\r" not in v and b"\n" not in v),
    body=st.binary(max_size=200),
)
def test_hostile_headers_and_bodies(
    server: ServerThread, header: bytes, value: bytes, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    raw = (
        b"POST /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n"
        + header
        + b": "
        + value
        + b"\r\n\r\n"
        + body
    )
    server.exchange(raw)
    _healthy(server)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
