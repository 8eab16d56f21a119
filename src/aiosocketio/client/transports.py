"""What the client's transports share, and its HTTP/1.1 connection.

:class:`Endpoint` says where the server is, :class:`TransportError` how a transport
failed, :data:`CLOSE_TIMEOUT` how long a closing connection waits for the server.
:class:`ClientHttpConnection` is a small HTTP/1.1 client (keep-alive, content-length and
chunked bodies, gzip and deflate) on top of httptools' response parser, a thin pump under
the long-polling transport (``aiosocketio.client.polling``). The WebSocket transport is
``aiosocketio.client.websocket``; the Engine.IO logic lives in
``aiosocketio.protocol.engineio.client_session`` and ``aiosocketio.client.connection``.
"""

from __future__ import annotations

import asyncio
import logging
import ssl as ssl_module
import zlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import quote, urlencode

import httptools

__all__ = [
    "CLOSE_TIMEOUT",
    "ClientHttpConnection",
    "ClientHttpResponse",
    "ClientWebSocket",
    "Endpoint",
    "TransportError",
    "WebSocketOpener",
    "make_ssl_context",
]

logger = logging.getLogger("aiosocketio.client")

USER_AGENT = "aiosocketio-client"

CLOSE_TIMEOUT = 5.0
"""Seconds a closing client waits for the server: for its close frame after ours (RFC 6455
§7.1.1: the client closes TCP once the server's close frame came back; ``ws`` waits up to
30 s), and for the answers to the final POSTs of a polling connection. After that the
connection is dropped."""


class TransportError(Exception):
    """A transport failed: the connection broke or the server answered with an error.

    Attributes:
        message: engine.io-client's message ("xhr poll error", "websocket error", ...).
        description: what went wrong underneath (an HTTP status, an exception).
    """

    def __init__(self, message: str, description: object = None) -> None:
        self.message = message
        self.description = description
        super().__init__(message if description is None else f"{message}: {description}")


class ClientWebSocket(Protocol):
    """What the client's Engine.IO connection uses of an open WebSocket."""

    @property
    def writable(self) -> bool:
        """The connection is open and its write buffer is not backed up."""

    def attach(
        self,
        on_message: Callable[[str | bytes], None],
        on_close: Callable[[str, str | None], None],
    ) -> None:
        """Set the callbacks, then deliver what arrived before (messages, a close)."""

    def send(self, messages: Iterable[str | bytes]) -> None:
        """Write messages, one frame each."""

    def close(self, timeout: float | None = None) -> None:
        """Start the closing handshake; no callback fires any more."""

    async def wait_closed(self) -> None:
        """Wait until the connection is closed."""

    def abort(self) -> None:
        """Drop the connection at once."""


WebSocketOpener = Callable[
    ["Endpoint", str, Sequence[tuple[str, str]], "ssl_module.SSLContext | None", "float | None"],
    Awaitable[ClientWebSocket],
]
"""``(endpoint, target, headers, ssl, timeout)`` -> an open :class:`ClientWebSocket`."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where the server is: scheme, host, port and the Engine.IO path."""

    secure: bool
    host: str
    port: int
    path: str
    opener: WebSocketOpener | None = field(default=None, compare=False, repr=False)
    """Opens the WebSocket instead of a TCP connection (``aiosocketio.testing`` connects
    clients to a server in the same process with it); ``None``: over the network."""

    def target(self, query: dict[str, str]) -> str:
        """The request target: the path and the encoded query string."""
        return f"{quote(self.path, safe='/')}?{urlencode(query)}"

    @property
    def host_header(self) -> str:
        default = 443 if self.secure else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def make_ssl_context(verify: bool = True) -> ssl_module.SSLContext:
    """A client TLS context: certificates checked unless ``verify`` is false."""
    ctx = ssl_module.create_default_context()
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl_module.CERT_NONE
    return ctx


@dataclass(slots=True)
class ClientHttpResponse:
    """A complete HTTP response."""

    status: int
    headers: dict[str, str]
    body: bytes


def _decompress(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding == "gzip":
        return zlib.decompress(body, 16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        try:
            return zlib.decompress(body)
        except zlib.error:
            return zlib.decompress(body, -zlib.MAX_WBITS)
    return body


class ClientHttpConnection(asyncio.Protocol):
    """One persistent HTTP/1.1 connection; one request at a time."""

    __slots__ = (
        "_body",
        "_headers",
        "_keep_alive",
        "_parser",
        "_waiter",
        "closed",
        "endpoint",
        "transport",
    )

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[ClientHttpResponse] | None = None
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._keep_alive = True

    @classmethod
    async def open(
        cls, endpoint: Endpoint, ssl: ssl_module.SSLContext | None, timeout: float | None = None
    ) -> ClientHttpConnection:
        """Connect to ``endpoint`` (TLS when ``ssl`` is given)."""
        loop = asyncio.get_running_loop()
        try:
            _, proto = await asyncio.wait_for(
                loop.create_connection(
                    lambda: cls(endpoint),
                    endpoint.host,
                    endpoint.port,
                    ssl=ssl,
                    server_hostname=endpoint.host if ssl is not None else None,
                ),
                timeout,
            )
        except (OSError, TimeoutError, ssl_module.SSLError) as exc:
            raise TransportError("connection error", exc) from exc
        return proto

    # -- asyncio.Protocol ------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(TransportError("parse error", exc))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(TransportError("connection closed", exc))

    # -- httptools callbacks ---------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        self._headers[key] = f"{self._headers[key]}, {text}" if key in self._headers else text

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        status = self._parser.get_status_code()
        self._keep_alive = self._parser.should_keep_alive()
        body = b"".join(self._body)
        headers = self._headers
        self._headers = {}
        self._body = []
        waiter = self._waiter
        self._waiter = None
        encoding = headers.get("content-encoding")
        if encoding:
            try:
                body = _decompress(body, encoding)
            except zlib.error as exc:
                if waiter is not None and not waiter.done():
                    waiter.set_exception(TransportError("decompression error", exc))
                return
        if waiter is not None and not waiter.done():
            waiter.set_result(ClientHttpResponse(status, headers, body))
        if not self._keep_alive:
            self.close()

    # -- API -------------------------------------------------------------------------
    def _fail(self, exc: TransportError) -> None:
        waiter = self._waiter
        self._waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    @property
    def busy(self) -> bool:
        """A request is in flight."""
        return self._waiter is not None

    async def request(
        self,
        method: str,
        target: str,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> ClientHttpResponse:
        """Send one request and wait for the whole response."""
        if self.closed or self.transport is None:
            raise TransportError("connection closed")
        if self._waiter is not None:
            raise TransportError("request in flight")
        lines = [
            f"{method} {target} HTTP/1.1",
            f"host: {self.endpoint.host_header}",
            "accept: */*",
            "accept-encoding: gzip, deflate",
            f"user-agent: {USER_AGENT}",
        ]
        if body or method == "POST":
            lines.append(f"content-length: {len(body)}")
        lines.extend(f"{k}: {v}" for k, v in headers)
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        waiter: asyncio.Future[ClientHttpResponse] = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        self.transport.write(head + body if body else head)
        return await waiter

    def close(self) -> None:
        """Close the connection (a pending request fails)."""
        self.closed = True
        if self.transport is not None:
            self.transport.close()
        self._fail(TransportError("connection closed"))
