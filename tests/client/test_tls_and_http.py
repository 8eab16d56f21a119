"""TLS (verification on by default) and the small HTTP/1.1 client under the polling transport."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import ssl
import subprocess
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aiosocketio.client import connect
from aiosocketio.client.connection import wait_closing
from aiosocketio.client.transports import ClientHttpConnection, Endpoint, TransportError
from aiosocketio.exceptions import ConnectError
from tests.client.conftest import RunningServer, ServerProcess
from tests.client.fake_server import loopback_server

pytestmark = pytest.mark.usefixtures("settle")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made with the openssl command)."""
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return key, cert


@pytest.fixture(scope="module")
def tls_servers(certificate: tuple[Path, Path]) -> Iterator[dict[str, ServerProcess]]:
    servers: dict[str, ServerProcess] = {}
    yield servers
    for srv in servers.values():
        srv.stop()


@pytest.fixture
def tls_server(
    certificate: tuple[Path, Path], server_kind: str, tls_servers: dict[str, ServerProcess]
) -> ServerProcess:
    """An HTTPS server of this kind with the self-signed certificate (one per module)."""
    srv = tls_servers.get(server_kind)
    if srv is None or not srv.alive:
        key, cert = certificate
        env = {"TLS_KEY": str(key), "TLS_CERT": str(cert)}
        srv = tls_servers[server_kind] = ServerProcess(server_kind, env=env)
    return srv


@pytest.mark.interop
async def test_tls_is_verified_by_default(
    tls_server: RunningServer, transport_opts: dict[str, Any]
) -> None:
    url = f"https://127.0.0.1:{tls_server.port}"
    with pytest.raises(ConnectError):
        await connect(url, reconnection=False, **transport_opts)


@pytest.mark.interop
async def test_tls_with_verification_off(
    tls_server: RunningServer, transport_opts: dict[str, Any]
) -> None:
    url = f"https://127.0.0.1:{tls_server.port}"
    sock = await connect(url, ssl_verify=False, **transport_opts)
    try:
        assert await sock.emit_with_ack("echo", b"\x01", "tls") == (b"\x01", "tls")
    finally:
        sock.disconnect()


@pytest.mark.interop
async def test_tls_with_a_trusted_ca(
    tls_server: RunningServer, certificate: tuple[Path, Path]
) -> None:
    ctx = ssl.create_default_context(cafile=str(certificate[1]))
    sock = await connect(f"wss://127.0.0.1:{tls_server.port}", ssl_context=ctx, force_new=True)
    try:
        assert await sock.emit_with_ack("echo", 1) == 1
    finally:
        sock.disconnect()


Handler = Callable[[bytes], Awaitable[bytes]]


@contextlib.asynccontextmanager
async def serving(answer: Handler) -> AsyncIterator[tuple[Endpoint, list[bytes]]]:
    """A raw HTTP server: ``answer(request_head)`` gives the whole response bytes."""
    heads: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                heads.append(head)
                writer.write(await answer(head))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionResetError):
            pass
        finally:
            writer.close()

    try:
        async with loopback_server(handle) as port:
            yield Endpoint(False, "127.0.0.1", port, "/socket.io/"), heads
    finally:
        await asyncio.sleep(0.01)  # let the closed transports release their sockets


def chunked(body: bytes, size: int = 7) -> bytes:
    out = b""
    for i in range(0, len(body), size):
        part = body[i : i + size]
        out += f"{len(part):x}\r\n".encode() + part + b"\r\n"
    return out + b"0\r\n\r\n"


async def test_chunked_gzip_and_keep_alive() -> None:
    payload = ("4" + "x" * 3000).encode()

    async def answer(head: bytes) -> bytes:
        if b"deflate-please" in head:
            body = zlib.compress(payload)
            return (
                b"HTTP/1.1 200 OK\r\ncontent-encoding: deflate\r\n"
                b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )
        return (
            b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ntransfer-encoding: chunked\r\n\r\n"
            + chunked(gzip.compress(payload))
        )

    async with serving(answer) as (endpoint, heads):
        conn = await ClientHttpConnection.open(endpoint, None)
        first = await conn.request("GET", "/socket.io/?EIO=4")
        assert first.status == 200 and first.body == payload
        second = await conn.request("GET", "/socket.io/?deflate-please")
        assert second.body == payload
        assert len(heads) == 2  # the same connection served both
        assert b"accept-encoding: gzip, deflate" in heads[0]
        conn.close()


async def test_connection_close_and_bad_responses_fail_cleanly() -> None:
    async def answer(head: bytes) -> bytes:
        if b"garbage" in head:
            return b"NOT HTTP AT ALL\r\n\r\n"
        return b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok"

    async with serving(answer) as (endpoint, _):
        conn = await ClientHttpConnection.open(endpoint, None)
        resp = await conn.request("POST", "/x", body=b"1")
        assert resp.body == b"ok"
        await asyncio.sleep(0.05)
        assert conn.closed
        with pytest.raises(TransportError):
            await conn.request("GET", "/again")
        conn2 = await ClientHttpConnection.open(endpoint, None)
        with pytest.raises(TransportError):
            await conn2.request("GET", "/garbage")
        conn2.close()


async def test_refused_connection_is_a_transport_error() -> None:
    async with serving(lambda head: asyncio.sleep(0, b"")) as (endpoint, _):
        pass
    with pytest.raises(TransportError):
        await ClientHttpConnection.open(endpoint, None)


async def test_handshake_refusal_is_a_connect_error() -> None:
    async def answer(head: bytes) -> bytes:
        body = b'{"code":3,"message":"Bad request"}'
        return (
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )

    async with serving(answer) as (endpoint, _):
        with pytest.raises(ConnectError) as info:
            await connect(f"http://127.0.0.1:{endpoint.port}", reconnection=False, force_new=True)
        assert info.value.message == "xhr poll error"
        assert "400" in str(info.value.data)
        await wait_closing()


async def test_connect_timeout() -> None:
    async def never(head: bytes) -> bytes:
        await asyncio.sleep(30)
        return b""

    async with serving(never) as (endpoint, _):
        sock = await connect(
            f"http://127.0.0.1:{endpoint.port}",
            timeout=0.3,
            reconnection=False,
            force_new=True,
            wait=False,
        )
        errors: asyncio.Queue[ConnectError] = asyncio.Queue()
        sock.on("connect_error", errors.put_nowait)
        err = await asyncio.wait_for(errors.get(), 5)
        assert err.message == "timeout"
        sock.disconnect()
        await wait_closing()
