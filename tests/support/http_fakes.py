"""A fake Engine (the §4 surface) and a raw WebSocket client for front-end tests."""

from __future__ import annotations

import asyncio
import base64
import datetime
import ipaddress
import json
import os
import ssl
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from aiosocketio.engine.http import (
    HttpRequest,
    HttpResponse,
    Responder,
    WebSocketAccept,
    WebSocketChannel,
    WebSocketHandler,
)
from aiosocketio.protocol.engineio.options import EngineOptions
from aiosocketio.protocol.websocket import (
    Close,
    DeflateParams,
    WebSocketProtocol,
    accept_key,
    client_parse_deflate_response,
    text_frame,
)
from tests.support.timeouts import scaled


class EchoHandler:
    """Echoes every message; ``close:<code>`` makes the server close with that code."""

    def __init__(self, engine: FakeEngine, channel: WebSocketChannel) -> None:
        self.engine = engine
        self.channel = channel
        self.messages: list[str | bytes] = []

    def on_message(self, data: str | bytes) -> None:
        self.messages.append(data)
        if isinstance(data, str) and data.startswith("close:"):
            self.channel.close(int(data[6:]), "bye")
        elif isinstance(data, str) and data == "info":
            self.channel.send_message("x")
            self.channel.send_message(
                json.dumps(
                    {
                        "frames": self.channel.can_write_frames,
                        "buffered": self.channel.buffered_amount,
                    }
                )
            )
        elif isinstance(data, str) and self.channel.can_write_frames:
            self.channel.write_frames(text_frame(data))
        else:
            self.channel.send_message(data)

    def on_close(self, code: int | None) -> None:
        self.engine.closed.append(code)
        self.engine.close_event.set()


class FakeEngine:
    """Answers requests under ``/engine.io/`` in ways the tests can observe.

    Query parameters select the behaviour: ``wait`` keeps a GET pending (long poll),
    ``async`` answers from a coroutine, ``boom`` raises; otherwise the answer is a JSON
    echo of the request.
    """

    def __init__(self, **options: object) -> None:
        opts: dict[str, object] = {"path": "/engine.io/", "max_http_buffer_size": 1000}
        opts.update(options)
        self._options = EngineOptions(**opts)  # type: ignore[arg-type]
        self.pending: list[Responder] = []
        self.aborted = 0
        self.abort_event = asyncio.Event()
        self.requests: list[HttpRequest] = []
        self.closed: list[int | None] = []
        self.close_event = asyncio.Event()
        self.handlers: list[EchoHandler] = []

    @property
    def options(self) -> EngineOptions:
        return self._options

    def _echo(self, request: HttpRequest, body: bytes) -> bytes:
        return json.dumps(
            {
                "method": request.method,
                "path": request.path,
                "qs": request.query_string,
                "query": request.query,
                "url": request.url,
                "body": body.decode("latin-1"),
                "remote": [request.remote_address, request.remote_port],
                "secure": request.secure,
                "scope": request.scope is not None,
                "headers": request.headers,
            }
        ).encode()

    def handle_request(
        self, request: HttpRequest, body: bytes | None, responder: Responder
    ) -> Awaitable[None] | None:
        self.requests.append(request)
        if body is None:
            responder.respond(413, [("Content-Type", "text/plain")], b"too big")
            return None
        query = request.query
        if "boom" in query:
            raise RuntimeError("boom")
        if "wait" in query:
            self.pending.append(responder)

            def on_abort() -> None:
                self.aborted += 1
                self.abort_event.set()

            responder.on_abort = on_abort
            return None
        if "async" in query:
            return self._answer_later(request, body, responder)
        responder.respond(200, [("Content-Type", "application/json")], self._echo(request, body))
        return None

    async def _answer_later(self, request: HttpRequest, body: bytes, responder: Responder) -> None:
        await asyncio.sleep(0.01)
        responder.respond(201, [("X-Async", "1")], self._echo(request, body))

    def handle_websocket(
        self, request: HttpRequest
    ) -> WebSocketAccept | HttpResponse | Awaitable[WebSocketAccept | HttpResponse]:
        self.requests.append(request)
        if "refuse" in request.query:
            return HttpResponse(403, [("Content-Type", "text/plain")], b"nope")
        accept = WebSocketAccept([("X-Engine", "fake")], self._attach)
        if "async" in request.query:
            return self._accept_later(accept)
        return accept

    async def _accept_later(self, accept: WebSocketAccept) -> WebSocketAccept | HttpResponse:
        await asyncio.sleep(0.01)
        return accept

    def _attach(self, channel: WebSocketChannel) -> WebSocketHandler:
        handler = EchoHandler(self, channel)
        self.handlers.append(handler)
        return handler


@dataclass(frozen=True, slots=True)
class Message:
    """A data message, as :meth:`RawWebSocket.recv_event` reports it among the events."""

    data: str | bytes


def frame_end(buf: bytes | bytearray) -> int | None:
    """The length of the first frame in ``buf`` if it is complete (RFC 6455 §5.2)."""
    if len(buf) < 2:
        return None
    length = buf[1] & 0x7F
    head = 2
    if length == 126:
        head = 4
        length = int.from_bytes(buf[2:4], "big") if len(buf) >= 4 else 1 << 64
    elif length == 127:
        head = 10
        length = int.from_bytes(buf[2:10], "big") if len(buf) >= 10 else 1 << 64
    if buf[1] & 0x80:
        head += 4
    end = head + length
    return end if end <= len(buf) else None


class RawWebSocket:
    """A minimal WebSocket client over asyncio streams, using our client-side protocol."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        protocol: WebSocketProtocol,
        headers: dict[str, str],
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.protocol = protocol
        self.headers = headers
        self.events: list[object] = []
        self.pending = bytearray()

    @classmethod
    async def connect(
        cls,
        port: int,
        target: str = "/engine.io/?EIO=4&transport=websocket",
        *,
        extensions: str | None = None,
        protocols: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        max_size: int = 10_000_000,
    ) -> RawWebSocket:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ssl_context)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {target} HTTP/1.1",
            f"Host: 127.0.0.1:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
        if protocols:
            lines.append(f"Sec-WebSocket-Protocol: {protocols}")
        if extensions:
            lines.append(f"Sec-WebSocket-Extensions: {extensions}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        if " 101 " not in status_line:
            writer.close()
            raise ConnectionRefusedError(status_line)
        headers: dict[str, str] = {}
        for line in header_lines:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        assert headers["sec-websocket-accept"] == accept_key(key)
        deflate: DeflateParams | None = client_parse_deflate_response(
            headers.get("sec-websocket-extensions"), threshold=0
        )
        protocol = WebSocketProtocol("client", max_message_size=max_size, deflate=deflate)
        return cls(reader, writer, protocol, headers)

    def send(self, data: str | bytes) -> None:
        self.writer.write(self.protocol.send_message(data))

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)

    async def recv_event(self, timeout: float = 5.0) -> object:
        """The next event (Message, Ping, Pong, Close); Close(1006) on EOF."""
        while not self.events:
            data = await asyncio.wait_for(self.reader.read(65536), scaled(timeout))
            if not data:
                return Close(1006, "eof")
            # one frame at a time, so that messages and control events keep their order
            # on the wire (the protocol returns messages and events apart)
            self.pending += data
            protocol = self.protocol
            while (end := frame_end(self.pending)) is not None:
                frame = bytes(self.pending[:end])
                del self.pending[:end]
                self.events.extend(Message(m) for m in protocol.receive_data(frame))
                if protocol.events_pending:
                    out = protocol.data_to_send()
                    if out:
                        self.writer.write(out)
                    self.events.extend(protocol.events_received())
        return self.events.pop(0)

    async def recv(self, timeout: float = 5.0) -> str | bytes:
        event = await self.recv_event(timeout)
        assert isinstance(event, Message), event
        return event.data

    async def close(self, code: int = 1000) -> Close:
        self.writer.write(self.protocol.send_close(code))
        while True:
            event = await self.recv_event()
            if isinstance(event, Close):
                break
        self.writer.close()
        return event

    async def wait_eof(self, timeout: float = 5.0) -> bytes:
        data = await asyncio.wait_for(self.reader.read(), scaled(timeout))
        self.writer.close()
        return data


def make_tls_contexts(tmp: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate for 127.0.0.1: ``(server_context, client_context)``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file = tmp / "cert.pem"
    key_file = tmp / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert_file, key_file)
    client_ctx = ssl.create_default_context(cafile=str(cert_file))
    return server_ctx, client_ctx


async def http_exchange(
    port: int,
    raw: bytes,
    *,
    responses: int = 1,
    ssl_context: ssl.SSLContext | None = None,
    timeout: float = 5.0,
) -> list[tuple[int, dict[str, str], bytes]]:
    """Send raw bytes and read ``responses`` HTTP responses (content-length framed)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ssl_context)
    try:
        writer.write(raw)
        return [await read_response(reader, timeout) for _ in range(responses)]
    finally:
        writer.close()


async def read_response(
    reader: asyncio.StreamReader, timeout: float = 5.0
) -> tuple[int, dict[str, str], bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), scaled(timeout))
    status_line, *lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split()[1])
    headers: dict[str, str] = {}
    for line in lines:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await asyncio.wait_for(reader.readexactly(length), scaled(timeout)) if length else b""
    return status, headers, body


def get(target: str, *, extra: str = "", close: bool = False) -> bytes:
    conn = "Connection: close\r\n" if close else ""
    return f"GET {target} HTTP/1.1\r\nHost: x\r\n{conn}{extra}\r\n".encode()


def post(target: str, body: bytes, *, close: bool = False) -> bytes:
    conn = "Connection: close\r\n" if close else ""
    return (
        f"POST {target} HTTP/1.1\r\nHost: x\r\n{conn}Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


__all__ = [
    "Close",
    "EchoHandler",
    "FakeEngine",
    "Message",
    "RawWebSocket",
    "get",
    "http_exchange",
    "make_tls_contexts",
    "post",
    "read_response",
]
