"""How the Engine answers HTTP: CORS, the session cookie, the headers hooks, compression.

One :class:`HttpAnswers` per :class:`~aiosocketio.engine.engine.Engine`, shared by the
Engine (handshakes, refusals) and its :class:`~aiosocketio.engine.socket.EngineSocket`
connections (polling answers). Every answer of the Engine is built here, so that CORS
(:mod:`aiosocketio.protocol.engineio.cors`), the ``initial_headers``/``headers`` hooks
and the ``connection_error`` event apply the same way to all of them.

A large polling answer is compressed a slice at a time: at most :data:`COMPRESS_SLICE`
seconds per turn of the event loop, so that one client's answer never holds the loop for
long (Node compresses on its thread pool for the same reason).
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Callable
from typing import Any

from aiosocketio.engine.http import HttpRequest, HttpResponse, Responder
from aiosocketio.exceptions import HandshakeError
from aiosocketio.protocol.engineio.cors import cors_headers, preflight_headers
from aiosocketio.protocol.engineio.handshake import error_body
from aiosocketio.protocol.engineio.options import EngineOptions
from aiosocketio.runtime.events import EventEmitter

__all__ = ["COMPRESS_CHUNK", "COMPRESS_SLICE", "HttpAnswers"]

Headers = list[tuple[str, str]]

COMPRESS_CHUNK = 1 << 14
"""Bytes compressed in one call (under a millisecond, even for data that does not shrink);
an answer up to this size is compressed at once."""

COMPRESS_SLICE = 0.0005
"""Seconds a larger answer is compressed for, a chunk after another, before the loop is
let turn once."""

_GZIP = 31  # zlib's wbits for a gzip stream (RFC 1952); 15 for a zlib stream ("deflate")
_ZLIB = 15
_LEVEL = 6
_SHUTTING_DOWN = b"server shutting down"


class HttpAnswers:
    """The Engine's HTTP answers.

    Args:
        options: the engine's options (CORS, cookie, compression threshold).
        emitter: the object whose ``initial_headers``, ``headers`` and
            ``connection_error`` listeners see the answers (the Engine).
    """

    __slots__ = ("_emitter", "_options")

    def __init__(self, options: EngineOptions, emitter: EventEmitter) -> None:
        self._options = options
        self._emitter = emitter

    # -- headers ----------------------------------------------------------------------

    def cors_headers(self, request: HttpRequest) -> Headers:
        """The CORS headers for an answer to ``request`` (none without CORS options)."""
        cors = self._options.cors_options
        if cors is None:
            return []
        return cors_headers(cors, request.headers.get("origin"))

    def hooked(self, request: HttpRequest, headers: Headers, initial: bool) -> Headers:
        """``headers`` as the ``initial_headers`` (on a handshake) and ``headers`` hooks
        leave them; unchanged when nobody listens."""
        emitter = self._emitter
        if not (
            (initial and emitter.has_listeners("initial_headers"))
            or emitter.has_listeners("headers")
        ):
            return headers
        mapping: dict[str, Any] = {}
        for name, value in headers:
            mapping[name] = value
        if initial:
            emitter.emit_reserved("initial_headers", mapping, request)
        emitter.emit_reserved("headers", mapping, request)
        out: Headers = []
        for name, value in mapping.items():
            if isinstance(value, (list, tuple)):
                out.extend((name, str(v)) for v in value)
            else:
                out.append((name, str(value)))
        return out

    def websocket_headers(
        self, request: HttpRequest, *, initial: bool, sid: str | None = None
    ) -> Headers:
        """The extra headers of a ``101`` answer: the cookie of a new session, then the
        hooks."""
        headers: Headers = []
        cookie = self._options.cookie_options
        if initial and cookie is not None and sid is not None:
            headers.append(("set-cookie", cookie.serialize(sid)))
        return self.hooked(request, headers, initial)

    # -- answers ----------------------------------------------------------------------

    def payload(
        self,
        request: HttpRequest,
        responder: Responder,
        payload: str | bytes,
        *,
        sid: str | None = None,
    ) -> None:
        """Answer the GET ``request`` with a polling payload, compressed when it is large
        and the client accepts it; ``sid`` marks the handshake answer (the cookie). A
        ``bytes`` payload (Engine.IO v3's binary format) is ``application/octet-stream``."""
        initial = sid is not None
        if isinstance(payload, bytes):
            body = payload
            out = [("content-type", "application/octet-stream"), ("cache-control", "no-store")]
        else:
            body = payload.encode("utf-8")
            out = [("content-type", "text/plain; charset=UTF-8"), ("cache-control", "no-store")]
        cookie = self._options.cookie_options
        if sid is not None and cookie is not None:
            out.append(("set-cookie", cookie.serialize(sid)))
        out.extend(self.cors_headers(request))
        threshold = self._options.http_compression_threshold
        if threshold is not None and len(body) >= threshold:
            accepted = request.headers.get("accept-encoding", "")
            wbits = _GZIP if "gzip" in accepted else _ZLIB if "deflate" in accepted else 0
            if wbits:
                out.append(("content-encoding", "gzip" if wbits == _GZIP else "deflate"))
                headers = self.hooked(request, out, initial)
                if len(body) <= COMPRESS_CHUNK:
                    responder.respond(200, headers, zlib.compress(body, _LEVEL, wbits))
                else:
                    _compress_in_steps(
                        body, wbits, lambda data: responder.respond(200, headers, data)
                    )
                return
        responder.respond(200, self.hooked(request, out, initial), body)

    def ok(self, request: HttpRequest, responder: Responder) -> None:
        """Answer a POST that was taken: ``200 ok``."""
        headers = [("content-type", "text/html")]
        headers.extend(self.cors_headers(request))
        responder.respond(200, self.hooked(request, headers, False), b"ok")

    def empty(self, responder: Responder, status: int, request: HttpRequest | None = None) -> None:
        """An empty answer with ``status`` (400, 413), with CORS headers if ``request``
        is given."""
        headers = self.cors_headers(request) if request is not None else []
        responder.respond(status, headers, b"")

    def unavailable(self, request: HttpRequest, responder: Responder) -> None:
        """Refuse a handshake while the server shuts down: ``503``."""
        headers = [("content-type", "text/plain")]
        headers.extend(self.cors_headers(request))
        responder.respond(503, headers, _SHUTTING_DOWN)

    def unavailable_upgrade(self, request: HttpRequest) -> HttpResponse:
        """Refuse a WebSocket handshake while the server shuts down: ``503``."""
        headers = [("content-type", "text/plain"), ("connection", "close")]
        return HttpResponse(503, headers, _SHUTTING_DOWN)

    def preflight(self, request: HttpRequest, responder: Responder) -> None:
        """Answer a CORS preflight (``OPTIONS``); only called with CORS options."""
        cors = self._options.cors_options
        assert cors is not None
        responder.respond(204, preflight_headers(cors, request.headers), b"")

    # -- refusals ---------------------------------------------------------------------

    def refuse(self, request: HttpRequest, responder: Responder, exc: HandshakeError) -> None:
        """Refuse a polling request with Node's JSON error, after ``connection_error``."""
        self._connection_error(request, exc)
        headers = [("content-type", "application/json")]
        headers.extend(self.cors_headers(request))
        responder.respond(exc.status, headers, error_body(exc))

    def refuse_late_poll(self, request: HttpRequest, responder: Responder) -> None:
        """A GET that waited during the probe, after the upgrade completed: what Node
        answers to a polling request on an upgraded session (TRANSPORT_MISMATCH)."""
        error = HandshakeError.for_code(
            3,
            context={
                "name": "TRANSPORT_MISMATCH",
                "transport": "polling",
                "previousTransport": "websocket",
            },
        )
        self.refuse(request, responder, error)

    def refuse_upgrade(self, request: HttpRequest, exc: HandshakeError) -> HttpResponse:
        """The answer that refuses a WebSocket upgrade, after ``connection_error``."""
        self._connection_error(request, exc)
        message = exc.context.get("message") if exc.code == 4 else None
        text = message if isinstance(message, str) and message else exc.message
        return HttpResponse(
            400, [("content-type", "text/html"), ("connection", "close")], text.encode()
        )

    def _connection_error(self, request: HttpRequest, exc: HandshakeError) -> None:
        self._emitter.emit_reserved(
            "connection_error",
            {"req": request, "code": exc.code, "message": exc.message, "context": exc.context},
        )


def _compress_in_steps(body: bytes, wbits: int, done: Callable[[bytes], None]) -> None:
    """Compress ``body`` for :data:`COMPRESS_SLICE` seconds per turn of the running loop
    (the first slice now), then call ``done`` with the result (the same bytes as
    ``zlib.compress(body, 6, wbits)``)."""
    loop = asyncio.get_running_loop()
    compressor = zlib.compressobj(_LEVEL, zlib.DEFLATED, wbits)
    view = memoryview(body)
    size = len(body)
    parts: list[bytes] = []
    position = 0
    clock = time.perf_counter

    def step() -> None:
        nonlocal position
        until = clock() + COMPRESS_SLICE
        while position < size:
            end = position + COMPRESS_CHUNK
            parts.append(compressor.compress(view[position:end]))
            position = end
            if position < size and clock() >= until:
                loop.call_soon(step)
                return
        parts.append(compressor.flush())
        view.release()
        done(b"".join(parts))

    step()
