"""TLS (verification on by default) and the small HTTP/1.1 client under the polling transport."""

from __future__ import annotations

import asyncio
import gzip
import ssl
import subprocess
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from aiosocketio.client import connect
from aiosocketio.exceptions import ConnectionError
from aiosocketio.io.client_transports import Endpoint, HttpConnection, TransportError
from tests.client.conftest import NodeServer, start_node_server


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


@pytest.fixture
async def tls_node_server(certificate: tuple[Path, Path]) -> AsyncIterator[NodeServer]:
    key, cert = certificate
    server = await start_node_server(env={"TLS_KEY": str(key), "TLS_CERT": str(cert)})
    try:
        yield server
    finally:
        await server.proc.stop()


@pytest.mark.interop
async def test_tls_is_verified_by_default(
    tls_node_server: NodeServer, transport_opts: dict[str, Any]
) -> None:
    url = f"https://127.0.0.1:{tls_node_server.port}"
    with pytest.raises(ConnectionError):
        await connect(url, reconnection=False, **transport_opts)


@pytest.mark.interop
async def test_tls_with_verification_off(
    tls_node_server: NodeServer, transport_opts: dict[str, Any]
) -> None:
    url = f"https://127.0.0.1:{tls_node_server.port}"
    sock = await connect(url, ssl_verify=False, **transport_opts)
    try:
        assert await sock.emit_with_ack("echo", b"\x01", "tls") == (b"\x01", "tls")
    finally:
        sock.disconnect()


@pytest.mark.interop
async def test_tls_with_a_trusted_ca(
    tls_node_server: NodeServer, certificate: tuple[Path, Path]
) -> None:
    ctx = ssl.create_default_context(cafile=str(certificate[1]))
    sock = await connect(f"wss://127.0.0.1:{tls_node_server.port}", ssl_context=ctx, force_new=True)
    try:
        assert await sock.emit_with_ack("echo", 1) == 1
    finally:
        sock.disconnect()


Handler = Callable[[bytes], Awaitable[bytes]]


async def serve(answer: Handler) -> tuple[asyncio.Server, Endpoint, list[bytes]]:
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

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, Endpoint(False, "127.0.0.1", port, "/socket.io/"), heads


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

    server, endpoint, heads = await serve(answer)
    try:
        conn = await HttpConnection.open(endpoint, None)
        first = await conn.request("GET", "/socket.io/?EIO=4")
        assert first.status == 200 and first.body == payload
        second = await conn.request("GET", "/socket.io/?deflate-please")
        assert second.body == payload
        assert len(heads) == 2  # the same connection served both
        assert b"accept-encoding: gzip, deflate" in heads[0]
        conn.close()
    finally:
        server.close()
        await server.wait_closed()


async def test_connection_close_and_bad_responses_fail_cleanly() -> None:
    async def answer(head: bytes) -> bytes:
        if b"garbage" in head:
            return b"NOT HTTP AT ALL\r\n\r\n"
        return b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok"

    server, endpoint, _ = await serve(answer)
    try:
        conn = await HttpConnection.open(endpoint, None)
        resp = await conn.request("POST", "/x", body=b"1")
        assert resp.body == b"ok"
        await asyncio.sleep(0.05)
        assert conn.closed
        with pytest.raises(TransportError):
            await conn.request("GET", "/again")
        conn2 = await HttpConnection.open(endpoint, None)
        with pytest.raises(TransportError):
            await conn2.request("GET", "/garbage")
    finally:
        server.close()
        await server.wait_closed()


async def test_refused_connection_is_a_transport_error() -> None:
    server, endpoint, _ = await serve(lambda head: asyncio.sleep(0, b""))
    server.close()
    await server.wait_closed()
    with pytest.raises(TransportError):
        await HttpConnection.open(endpoint, None)


async def test_handshake_refusal_is_a_connect_error() -> None:
    async def answer(head: bytes) -> bytes:
        body = b'{"code":3,"message":"Bad request"}'
        return (
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )

    server, endpoint, _ = await serve(answer)
    try:
        with pytest.raises(ConnectionError) as info:
            await connect(f"http://127.0.0.1:{endpoint.port}", reconnection=False, force_new=True)
        assert info.value.message == "xhr poll error"
        assert "400" in str(info.value.data)
    finally:
        server.close()
        await server.wait_closed()


async def test_connect_timeout(node_server: NodeServer) -> None:
    # Node's HTTP server never answers outside its Engine.IO path: the handshake times out
    sock = await connect(
        node_server.url, path="/nope/", timeout=0.3, reconnection=False, force_new=True, wait=False
    )
    errors: asyncio.Queue[ConnectionError] = asyncio.Queue()
    sock.on("connect_error", errors.put_nowait)
    err = await asyncio.wait_for(errors.get(), 5)
    assert err.message == "timeout"
    sock.disconnect()
