"""The per-connection limits of the front ends (what one client may make the server hold).

:class:`ConnectionLimits` is plain data: the built-in server and the ASGI app read it from
the Engine's options (``Server(limits={...})`` or ``EngineOptions(limits=...)``). Every
default is at least as strict as Node's (``http.Server`` and ``ws``); ``SECURITY.md`` lists
them with the answer a client gets when it passes one.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

__all__ = ["ConnectionLimits"]


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """Bounds on what one connection may make the server hold or wait for.

    Attributes:
        max_header_size: bytes of the request line plus the headers; more gets ``431``
            (Node's ``maxHeaderSize``, 16 KiB). Counted as the bytes arrive, not once
            the head is complete.
        max_url_size: bytes of the request target; more gets ``414`` (8 KiB).
        max_headers: header fields in one request; more gets ``431`` (100).
        require_host: an HTTP/1.1 request without a ``Host`` header gets ``400``
            (Node's ``requireHostHeader``).
        headers_timeout: seconds from a request's first byte to the end of its headers;
            past it the client gets ``408`` (Node's ``headersTimeout``, 60).
        request_timeout: seconds from a request's first byte to the end of its body;
            past it the client gets ``408`` (Node's ``requestTimeout``, 300).
        idle_timeout: seconds an idle keep-alive connection stays open (60).
        max_pipeline: unanswered pipelined requests before the server stops reading
            from the connection (64). Reading also stops while the client does not read
            what the server writes (back-pressure), on HTTP and WebSocket connections.
        max_fragments: frames of one WebSocket message; more closes with ``1008``
            (the ``ws`` package's ``maxFragments``, 16384). Empty fragments count.
        max_write_buffer: bytes a WebSocket connection of the built-in server may hold
            for a client that does not read, on every send path; more closes it with
            ``1008``. ``None`` (the default) means 32 times the Engine's
            ``max_send_buffer`` (32 MiB), above the Engine's own limit (16 times).
        abort_timeout: seconds a connection being closed may take to write what it
            holds before it is dropped (5).
        tcp_notsent_lowat: the built-in server sets the ``TCP_NOTSENT_LOWAT`` socket
            option of each connection to this many bytes (128 KiB; ``None`` leaves the
            system's default, which lets the kernel hold megabytes for a client that
            does not read). Writes past it wait in the server's buffer, which pauses the
            connection sooner. It does not limit the bytes in flight, so throughput is
            kept. (Linux and macOS; under an ASGI server, the ``net.ipv4.tcp_notsent_lowat``
            sysctl sets it for every socket.)
    """

    max_header_size: int = 16 * 1024
    max_url_size: int = 8 * 1024
    max_headers: int = 100
    require_host: bool = True
    headers_timeout: float = 60.0
    request_timeout: float = 300.0
    idle_timeout: float = 60.0
    max_pipeline: int = 64
    max_fragments: int = 16 * 1024
    max_write_buffer: int | None = None
    abort_timeout: float = 5.0
    tcp_notsent_lowat: int | None = 128 * 1024

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            if value is None or isinstance(value, bool):
                continue
            if not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"limits: {spec.name} must be a positive number, not {value!r}")

    @classmethod
    def coerce(cls, value: Any) -> ConnectionLimits:
        """``None`` (the defaults), a dict of fields, or a ``ConnectionLimits``."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            return cls(**value)
        raise TypeError(f"limits must be a dict or ConnectionLimits, not {value!r}")

    def write_buffer_for(self, max_send_buffer: int) -> int:
        """The WebSocket write-buffer bound for an Engine with this ``max_send_buffer``."""
        if self.max_write_buffer is not None:
            return self.max_write_buffer
        return 32 * max_send_buffer
