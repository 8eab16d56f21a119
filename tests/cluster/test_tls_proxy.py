"""TLS terminated by nginx in front of one aiosocketio process, with the configuration of
docs/deployment.md (``<!-- config: nginx-tls -->``), a throwaway certificate, on loopback.

The official client (socket.io-client, trusting that certificate) and the Python client
connect over ``https://`` and ``wss://``: long-polling that upgrades, and WebSocket only;
the process sees plain HTTP and nginx's ``X-Forwarded-Proto: https``.
"""

from __future__ import annotations

import re
import shutil
import ssl
import subprocess
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aiosocketio import Server, Socket, client_socket
from tests.cluster.deployment import balancer, doc_config, find_binary
from tests.cluster.support import free_port
from tests.cluster.test_deployment import NGINX_MAIN
from tests.support.node import run_node

pytestmark = pytest.mark.cluster


def localize_tls(config: str, listen: int, upstream: int, cert: Path, key: Path) -> str:
    """The doc's block on the test's ports and certificate, nothing else changed."""
    replacements = [
        (r"listen 443 ssl;", f"listen 127.0.0.1:{listen} ssl;"),
        (r"proxy_pass http://127\.0\.0\.1:3000;", f"proxy_pass http://127.0.0.1:{upstream};"),
        (r"ssl_certificate +\S+;", f"ssl_certificate {cert};"),
        (r"ssl_certificate_key +\S+;", f"ssl_certificate_key {key};"),
    ]
    for pattern, replacement in replacements:
        config, count = re.subn(pattern, replacement, config)
        assert count == 1, pattern
    return config


def self_signed(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
async def behind_nginx() -> AsyncIterator[tuple[str, Path]]:
    """One process behind the doc's TLS server block; yields (https URL, certificate)."""
    nginx = find_binary("nginx")
    prefix = Path(tempfile.mkdtemp(prefix="aiosocketio-nginx-tls-"))
    io = Server()

    def on_connection(socket: Socket) -> None:
        socket.on("echo", lambda text: text)
        socket.on("proto", lambda: socket.handshake.headers.get("x-forwarded-proto"))

    io.on("connection", on_connection)
    await io.listen(0, "127.0.0.1")
    try:
        cert, key = self_signed(prefix)
        listen = free_port()
        site = localize_tls(doc_config("nginx-tls"), listen, io.port, cert, key)
        (prefix / "nginx.conf").write_text(NGINX_MAIN.format(prefix=prefix, site=site))
        argv = [nginx, "-p", str(prefix), "-c", f"{prefix}/nginx.conf"]
        async with balancer(argv, listen):
            yield f"https://127.0.0.1:{listen}", cert
    finally:
        await io.close()
        shutil.rmtree(prefix, ignore_errors=True)


async def test_the_official_client_over_https_and_wss(behind_nginx: tuple[str, Path]) -> None:
    url, cert = behind_nginx
    result = await run_node("guide_tls_client.js", url, str(cert))
    result.check()
    assert result.lines == [
        {"transports": transports, "echo": "secret", "proto": "https", "transport": "websocket"}
        for transports in (["polling", "websocket"], ["websocket"])
    ]


async def test_the_python_client_over_https_and_wss(behind_nginx: tuple[str, Path]) -> None:
    url, cert = behind_nginx
    trust = ssl.create_default_context(cafile=str(cert))
    for transports in (["polling", "websocket"], ["websocket"]):
        client = client_socket(
            url, ssl_context=trust, transports=transports, force_new=True, reconnection=False
        )
        await client.connect(timeout=10)
        try:
            assert await client.emit_with_ack("echo", "secret", timeout=5) == "secret"
            assert await client.emit_with_ack("proto", timeout=5) == "https"
        finally:
            client.disconnect()
