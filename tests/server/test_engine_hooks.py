"""Engine pass-through: server.engine hooks, connection_error, generate_id, clients_count."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiosocketio import Server, Socket
from aiosocketio.engine.http import HttpRequest


async def http(
    port: int, method: str, target: str, body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request with ``Connection: close``; returns status, headers, body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
        f"Content-Length: {len(body)}\r\nContent-Type: text/plain;charset=UTF-8\r\n\r\n"
    )
    writer.write(head.encode() + body)
    raw = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    header_blob, _, payload = raw.partition(b"\r\n\r\n")
    lines = header_blob.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, payload


async def test_engine_hooks_connection_error_and_generate_id() -> None:
    io = Server()
    errors: list[dict[str, Any]] = []
    io.engine.on("connection_error", errors.append)
    io.engine.on("initial_headers", lambda headers, req: headers.__setitem__("x-initial", "1"))
    io.engine.on("headers", lambda headers, req: headers.__setitem__("x-every", "yes"))

    def custom_id(request: HttpRequest) -> str:
        return "custom-engine-id-0001"

    io.engine.generate_id = custom_id  # type: ignore[method-assign]
    connected: list[Socket] = []
    io.on("connection", connected.append)
    await io.listen(0, "127.0.0.1")
    port = io.port
    try:
        status, headers, body = await http(port, "GET", "/socket.io/?EIO=4&transport=bogus")
        assert status == 400
        assert json.loads(body) == {"code": 0, "message": "Transport unknown"}
        assert errors and errors[0]["code"] == 0 and errors[0]["message"] == "Transport unknown"

        status, headers, body = await http(port, "GET", "/socket.io/?EIO=4&transport=polling")
        assert status == 200 and headers["x-initial"] == "1" and headers["x-every"] == "yes"
        handshake = json.loads(body.decode()[1:])
        sid = handshake["sid"]
        assert sid == "custom-engine-id-0001"
        assert io.engine.clients_count == 1

        target = f"/socket.io/?EIO=4&transport=polling&sid={sid}"
        status, headers, _ = await http(port, "POST", target, b'40{"token":"t"}')
        assert status == 200 and "x-initial" not in headers and headers["x-every"] == "yes"
        status, _, body = await http(port, "GET", target)
        text = body.decode()
        assert text.startswith("40{")
        socket_sid = json.loads(text[2:])["sid"]
        assert connected[0].id == socket_sid and socket_sid != sid and len(socket_sid) == 20
        assert connected[0].conn.id == sid
        assert connected[0].handshake.auth == {"token": "t"}
    finally:
        await io.close()
    assert io.engine.clients_count == 0
