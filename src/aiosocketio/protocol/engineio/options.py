"""Engine.IO server options, with Node's defaults (times in seconds).

Node's engine.io takes milliseconds; aiosocketio takes seconds everywhere, so
``ping_interval=25`` is Node's ``pingInterval: 25000``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from aiosocketio.protocol.limits import ConnectionLimits

__all__ = ["CookieOptions", "CorsOptions", "EngineOptions", "TransportName"]

TransportName: TypeAlias = Literal["polling", "websocket"]

AllowRequest: TypeAlias = Callable[[Any], "bool | str | Awaitable[bool | str | None] | None"]
"""``allow_request(request)``: return ``True``/``None`` to accept; ``False`` or a message
string (or raise) to refuse with code 4 "Forbidden". May be a coroutine function."""

OriginCheck: TypeAlias = Callable[[str | None], "bool | Awaitable[bool]"]


@dataclass(frozen=True, slots=True)
class CookieOptions:
    """The session cookie set on the handshake answer (Node's ``cookie`` option)."""

    name: str = "io"
    path: str | None = "/"
    http_only: bool = True
    same_site: str | None = "lax"
    secure: bool = False
    domain: str | None = None
    max_age: int | None = None

    def serialize(self, value: str) -> str:
        """The ``Set-Cookie`` header value for ``value``."""
        parts = [f"{self.name}={value}"]
        if self.max_age is not None:
            parts.append(f"Max-Age={self.max_age}")
        if self.domain:
            parts.append(f"Domain={self.domain}")
        if self.path:
            parts.append(f"Path={self.path}")
        if self.http_only:
            parts.append("HttpOnly")
        if self.secure:
            parts.append("Secure")
        if self.same_site:
            parts.append(f"SameSite={self.same_site.capitalize()}")
        return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class CorsOptions:
    """Cross-origin answers for polling requests (the npm ``cors`` package's options).

    ``origin`` is ``"*"``, ``True`` (reflect the request's origin), one origin, a list
    of origins, or a callable ``origin -> bool`` (sync or async).
    """

    origin: str | bool | Sequence[str] | OriginCheck = "*"
    credentials: bool = False
    methods: Sequence[str] = ("GET", "HEAD", "PUT", "PATCH", "POST", "DELETE")
    allowed_headers: Sequence[str] | None = None
    exposed_headers: Sequence[str] | None = None
    max_age: int | None = None


def _cors(value: Any) -> CorsOptions | None:
    if value is None or value is False:
        return None
    if isinstance(value, CorsOptions):
        return value
    if isinstance(value, dict):
        return CorsOptions(**value)
    if value is True:
        return CorsOptions(origin=True)
    return CorsOptions(origin=value)


def _cookie(value: Any) -> CookieOptions | None:
    if value is None or value is False:
        return None
    if isinstance(value, CookieOptions):
        return value
    if value is True:
        return CookieOptions()
    if isinstance(value, str):
        return CookieOptions(name=value)
    if isinstance(value, dict):
        return CookieOptions(**value)
    raise TypeError(f"cookie must be a bool, a name, a dict or CookieOptions, not {value!r}")


def _normal_origin(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def _origins(value: Any) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not all(isinstance(item, str) for item in value):
        raise TypeError(f"allowed_origins must be origin strings, not {value!r}")
    return frozenset(_normal_origin(item) for item in value)


def _threshold(value: Any, option: str) -> int | None:
    """A compression option as a threshold in bytes, or None when it is off.

    ``True`` means Node's default threshold (1024), an int is the threshold, and a dict
    may give ``threshold``.
    """
    if value is None or value is False:
        return None
    if value is True:
        return 1024
    if isinstance(value, int):
        return value
    if isinstance(value, dict):
        return int(value.get("threshold", 1024))
    raise TypeError(f"{option} must be a bool, a threshold or a dict, not {value!r}")


@dataclass(slots=True)
class EngineOptions:
    """Every option of the Engine.IO server, with Node's defaults.

    Attributes:
        ping_interval: seconds between the server's pings (25).
        ping_timeout: seconds to wait for the pong before closing with "ping timeout" (20).
        upgrade_timeout: seconds a polling→WebSocket upgrade may take (10).
        max_http_buffer_size: largest message or polling body in bytes (1e6), also
            advertised to the client as ``maxPayload``.
        allow_request: optional check of each handshake (code 4 "Forbidden" when refused).
        transports: allowed transports, ``("polling", "websocket")``.
        allow_upgrades: whether polling sessions may upgrade to WebSocket.
        http_compression: gzip/deflate for polling answers from this many bytes (1024),
            or ``None``/``False`` to turn it off.
        per_message_deflate: permessage-deflate threshold, ``None`` (off, as in Node).
        cookie: the session cookie, off by default.
        cors: cross-origin answers for polling, off by default.
        path: the Engine.IO path, ``"/socket.io/"``.
        max_send_buffer: bytes a connection may have queued before volatile packets are
            dropped (soft limit) — and 16 times that before it is closed with
            "transport error" / "send buffer full".
        close_timeout: seconds a closing polling session waits for its last GET (30).
        allowed_origins: the browser origins (``"https://app.example.com"``) allowed to
            open or use a session, on both transports; a request whose ``Origin`` header
            is another gets code 4 "Forbidden" (403). Requests without ``Origin`` (not
            from a browser page, or same-origin GETs) pass. ``None`` (the default) allows
            every origin, as Node does.
        limits: the per-connection limits of the front ends, a
            :class:`~aiosocketio.protocol.limits.ConnectionLimits` or a dict of its fields.
        allow_eio3: serve Engine.IO v3 clients (socket.io-client 2.x), as Node's
            ``allowEIO3``; off by default (``EIO=3`` then gets code 5).
    """

    ping_interval: float = 25.0
    ping_timeout: float = 20.0
    upgrade_timeout: float = 10.0
    max_http_buffer_size: int = 1_000_000
    allow_request: AllowRequest | None = None
    transports: tuple[TransportName, ...] = ("polling", "websocket")
    allow_upgrades: bool = True
    http_compression: Any = 1024
    per_message_deflate: Any = None
    cookie: Any = None
    cors: Any = None
    path: str = "/socket.io/"
    max_send_buffer: int = 1 << 20
    close_timeout: float = 30.0
    allowed_origins: Any = None
    limits: Any = None
    allow_eio3: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.max_http_buffer_size = int(self.max_http_buffer_size)
        self.transports = tuple(self.transports)
        for name in self.transports:
            if name not in ("polling", "websocket"):
                raise ValueError(f"unknown transport {name!r}")
        self.http_compression = _threshold(self.http_compression, "http_compression")
        self.per_message_deflate = _threshold(self.per_message_deflate, "per_message_deflate")
        self.cookie = _cookie(self.cookie)
        self.cors = _cors(self.cors)
        self.allowed_origins = _origins(self.allowed_origins)
        self.limits = ConnectionLimits.coerce(self.limits)
        path = self.path or "/"
        if not path.startswith("/"):
            path = "/" + path
        if not path.endswith("/"):
            path += "/"
        self.path = path

    @property
    def path_prefix(self) -> str:
        """The path without its trailing slash, which also matches (``/socket.io``)."""
        return self.path.rstrip("/") or "/"

    def matches(self, path: str) -> bool:
        """Whether a request path belongs to the Engine (as Node's prefix check)."""
        return path.startswith(self.path_prefix)

    @property
    def http_compression_threshold(self) -> int | None:
        """The polling compression threshold in bytes, or None when it is off."""
        value: int | None = self.http_compression
        return value

    @property
    def deflate_threshold(self) -> int | None:
        """The permessage-deflate threshold in bytes, or None when it is off."""
        value: int | None = self.per_message_deflate
        return value

    @property
    def cookie_options(self) -> CookieOptions | None:
        """The normalized cookie options, or None when no cookie is set."""
        value: CookieOptions | None = self.cookie
        return value

    @property
    def connection_limits(self) -> ConnectionLimits:
        """The normalized per-connection limits."""
        value: ConnectionLimits = self.limits
        return value

    def origin_allowed(self, origin: str | None) -> bool:
        """Whether a request with this ``Origin`` header may use the Engine."""
        allowed: frozenset[str] | None = self.allowed_origins
        if allowed is None or origin is None:
            return True
        return _normal_origin(origin) in allowed

    @property
    def cors_options(self) -> CorsOptions | None:
        """The normalized CORS options, or None when CORS is off."""
        value: CorsOptions | None = self.cors
        return value

    def upgrades_for(self, transport: str) -> list[str]:
        """What a session opened on ``transport`` may upgrade to."""
        if transport == "polling" and self.allow_upgrades and "websocket" in self.transports:
            return ["websocket"]
        return []
