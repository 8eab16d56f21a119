"""HTTP data types and protocols shared by the front ends and the Engine.

These are the seams of ``docs/ARCHITECTURE.md`` §4: a front end (the native asyncio
server or the ASGI app) turns each HTTP request into an :class:`HttpRequest`, hands it to
the Engine together with a :class:`Responder`, and for WebSocket upgrades receives either
an :class:`HttpResponse` (refusal) or a :class:`WebSocketAccept`, after which it attaches
a :class:`WebSocketChannel` and gets back a :class:`WebSocketHandler`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote_plus

if TYPE_CHECKING:
    from aiosocketio.protocol.engineio.options import EngineOptions

__all__ = [
    "EngineLike",
    "HttpRequest",
    "HttpResponse",
    "Responder",
    "WebSocketAccept",
    "WebSocketChannel",
    "WebSocketHandler",
    "parse_query",
]


def parse_query(query_string: str) -> dict[str, str]:
    """Decode a query string: the first value of each key, blank values kept.

    The same result as ``urllib.parse.parse_qsl(qs, keep_blank_values=True)`` keeping
    first values, without its per-call overhead on the common undecorated case.
    """
    q: dict[str, str] = {}
    for part in query_string.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        if "%" in part or "+" in part:
            key = unquote_plus(key)
            value = unquote_plus(value)
        if key not in q:
            q[key] = value
    return q


@dataclass(slots=True)
class HttpRequest:
    """One HTTP request (or WebSocket upgrade request) as seen by the Engine.

    Attributes:
        method: the request method in upper case (``"GET"``, ``"POST"``, ...).
        path: the path, without the query string.
        query_string: the raw query string, without the leading ``"?"``.
        headers: lower-case header names; repeated headers joined with ``", "``.
        remote_address: the peer's IP address.
        remote_port: the peer's port.
        secure: ``True`` when the connection uses TLS.
        scope: the ASGI scope, when the request came through the ASGI front end.
    """

    method: str
    path: str
    query_string: str
    headers: dict[str, str]
    remote_address: str
    remote_port: int
    secure: bool
    scope: dict[str, Any] | None = None
    _query: dict[str, str] | None = field(default=None, repr=False, compare=False)

    @property
    def query(self) -> dict[str, str]:
        """The decoded query parameters (first value of each key), computed once."""
        q = self._query
        if q is None:
            q = self._query = parse_query(self.query_string)
        return q

    @property
    def url(self) -> str:
        """The request target: the path plus ``"?"`` and the query string if there is one."""
        if self.query_string:
            return f"{self.path}?{self.query_string}"
        return self.path


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A complete HTTP answer, used by the Engine to refuse a WebSocket upgrade.

    Attributes:
        status: the HTTP status code.
        headers: response headers (the front end adds ``content-length`` itself).
        body: the response body.
    """

    status: int
    headers: list[tuple[str, str]]
    body: bytes


class Responder(Protocol):
    """The front end's side of one HTTP request.

    The Engine calls :meth:`respond` exactly once. For a pending long-poll GET it sets
    :attr:`on_abort`; the front end calls it if the client goes away before the answer.
    """

    on_abort: Callable[[], None] | None

    def respond(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        """Send the response; the front end adds ``content-length`` and keep-alive."""


class WebSocketChannel(Protocol):
    """The front end's side of an accepted WebSocket connection."""

    can_write_frames: bool
    """``True`` when :meth:`write_frames` accepts prebuilt unmasked frame bytes."""

    def write_frames(self, data: bytes) -> None:
        """Queue prebuilt frame bytes; they are flushed once per loop tick."""

    def send_message(self, data: str | bytes) -> None:
        """Send one text (``str``) or binary (``bytes``) message."""

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake (or drop the connection if it is already gone)."""

    def drop(self) -> None:
        """Drop the connection at once, with what is queued (no close frame)."""

    @property
    def drained(self) -> bool:
        """Nothing is left to write: nothing queued, and the transport below has written
        what it was given (as far as the front end can see)."""

    @property
    def buffered_amount(self) -> int:
        """Bytes queued but not yet written to the network."""


class WebSocketHandler(Protocol):
    """The Engine's side of an accepted WebSocket connection."""

    def on_message(self, data: str | bytes) -> None:
        """One complete message arrived (``str`` for text, ``bytes`` for binary)."""

    def on_close(self, code: int | None) -> None:
        """The peer closed with ``code``, or the connection was lost (``None``)."""


class WebSocketAccept:
    """The Engine's acceptance of a WebSocket upgrade.

    Args:
        headers: extra headers for the ``101 Switching Protocols`` answer.
        attach: called by the front end once the handshake is written, with the channel
            for this connection; returns the handler that receives its events.
    """

    __slots__ = ("_attach", "headers")

    def __init__(
        self,
        headers: list[tuple[str, str]],
        attach: Callable[[WebSocketChannel], WebSocketHandler],
    ) -> None:
        self.headers = headers
        self._attach = attach

    def attach(self, channel: WebSocketChannel) -> WebSocketHandler:
        """Bind the accepted connection to the Engine and return its event handler."""
        return self._attach(channel)


class EngineLike(Protocol):
    """The part of :class:`aiosocketio.engine.engine.Engine` that the front ends use (§4)."""

    @property
    def options(self) -> EngineOptions:
        """The Engine's options (``path``, ``max_http_buffer_size``, ``per_message_deflate``)."""

    def handle_request(
        self, request: HttpRequest, body: bytes | None, responder: Responder
    ) -> Awaitable[None] | None:
        """Handle one polling/preflight request; ``body`` is ``None`` when too big."""

    def handle_websocket(
        self, request: HttpRequest
    ) -> WebSocketAccept | HttpResponse | Awaitable[WebSocketAccept | HttpResponse]:
        """Accept or refuse a WebSocket upgrade."""
