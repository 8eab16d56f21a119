"""HTTP/1.1 response encoding for the native server.

The Engine answers with a handful of distinct header lists, so the status line and
headers of each distinct ``(status, headers)`` pair are encoded once and cached; only the
framing headers (``Content-Length`` or ``Transfer-Encoding``, ``Connection``) and the body
are added per response.

A :class:`QueuedResponder` is one request's place in its connection's response queue:
it holds the encoded answer until the connection writes the answers in request order.
"""

from __future__ import annotations

import http
import logging
from collections.abc import Callable
from typing import Protocol

__all__ = [
    "QueuedResponder",
    "ResponseQueue",
    "encode_response",
    "header_line",
    "response_head",
    "status_line",
]

logger = logging.getLogger("aiosocketio.frontends.native")

_STATUS_LINES: dict[int, bytes] = {}


def status_line(status: int) -> bytes:
    """``HTTP/1.1 <status> <phrase>\\r\\n`` (cached per status)."""
    line = _STATUS_LINES.get(status)
    if line is None:
        try:
            phrase = http.HTTPStatus(status).phrase
        except ValueError:
            phrase = "Unknown"
        line = _STATUS_LINES[status] = f"HTTP/1.1 {status} {phrase}\r\n".encode()
    return line


def header_line(name: str, value: str) -> bytes:
    """``name: value\\r\\n``; CR/LF in either part is dropped (no header injection)."""
    line = f"{name}: {value}"
    if "\r" in line or "\n" in line:
        logger.warning("dropping CR/LF from response header %r", name)
        line = line.replace("\r", "").replace("\n", "")
    return line.encode("latin-1", "replace") + b"\r\n"


_HEAD_CACHE: dict[tuple[int, tuple[tuple[str, str], ...]], bytes] = {}
_HEAD_CACHE_SIZE = 256


def response_head(status: int, headers: list[tuple[str, str]]) -> bytes:
    """The status line and headers (without the framing ones), cached per distinct pair:
    the Engine answers with a handful of header lists."""
    key = (status, tuple(headers))
    head = _HEAD_CACHE.get(key)
    if head is None:
        parts = [status_line(status)]
        for name, value in headers:
            low = name.lower()
            if low in ("content-length", "connection", "transfer-encoding"):
                continue
            parts.append(header_line(name, value))
        head = b"".join(parts)
        if len(_HEAD_CACHE) >= _HEAD_CACHE_SIZE:
            _HEAD_CACHE.clear()
        _HEAD_CACHE[key] = head
    return head


def encode_response(
    status: int,
    headers: list[tuple[str, str]],
    body: bytes,
    keep_alive: bool,
    head: bool = False,
    chunked: bool = False,
) -> bytes:
    """Encode a whole response (or, with ``chunked``, the head of a chunked one).

    Args:
        status: the status code.
        headers: the headers; framing headers among them are replaced by ours.
        body: the body (left out for ``HEAD`` requests, 1xx, 204 and 304).
        keep_alive: ``Connection: keep-alive`` rather than ``close``.
        head: the request was a ``HEAD``.
        chunked: announce ``Transfer-Encoding: chunked`` instead of a length.
    """
    parts = [response_head(status, headers)]
    if status in (204, 304) or status < 200:
        body = b""  # RFC 9110 §8.6: no Content-Length (and no body) on these
    elif chunked:
        parts.append(b"Transfer-Encoding: chunked\r\n")
    else:
        parts.append(b"Content-Length: %d\r\n" % len(body))
    parts.append(b"Connection: keep-alive\r\n\r\n" if keep_alive else b"Connection: close\r\n\r\n")
    if not head:
        parts.append(body)
    return b"".join(parts)


class ResponseQueue(Protocol):
    """The connection a :class:`QueuedResponder` belongs to."""

    @property
    def closing(self) -> bool:
        """The connection is closing: nothing more is written."""

    def flush_responses(self) -> None:
        """Write the complete answers at the head of the queue, in order."""


class QueuedResponder:
    """One request's place in the connection's response queue (the §4 ``Responder``).

    Args:
        conn: the connection; :meth:`ResponseQueue.flush_responses` is called whenever
            this answer has new bytes.
        keep_alive: the connection stays open after this answer.
        head: the request was a ``HEAD`` (no body is written).
    """

    __slots__ = ("chunks", "complete", "conn", "done", "head", "keep_alive", "on_abort", "started")

    def __init__(self, conn: ResponseQueue, keep_alive: bool, head: bool = False) -> None:
        self.conn = conn
        self.keep_alive = keep_alive
        self.head = head
        self.chunks: list[bytes] = []  # bytes ready to go out once this is the head
        self.complete = False  # the whole answer is in (or has gone through) ``chunks``
        self.done = False  # respond() or start() was called
        self.started = False
        self.on_abort: Callable[[], None] | None = None

    def respond(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        """Send the whole answer (the first call wins)."""
        if self.done:
            return
        self.done = True
        self.on_abort = None
        self.chunks.append(encode_response(status, headers, body, self.keep_alive, self.head))
        self.complete = True
        self.conn.flush_responses()

    # streaming (chunked) answers, used by the ASGI bridge

    def start(self, status: int, headers: list[tuple[str, str]]) -> None:
        """Begin a chunked answer; follow with :meth:`write` and :meth:`end`."""
        if self.done:
            return
        self.done = self.started = True
        self.chunks.append(
            encode_response(status, headers, b"", self.keep_alive, self.head, chunked=True)
        )
        self.conn.flush_responses()

    def write(self, data: bytes) -> None:
        """Send one chunk of a chunked answer."""
        if self.started and not self.complete and data and not self.head and not self.conn.closing:
            self.chunks.append(b"%x\r\n%b\r\n" % (len(data), data))
            self.conn.flush_responses()

    def end(self) -> None:
        """Finish the chunked answer."""
        if self.started and not self.complete:
            if not self.head:
                self.chunks.append(b"0\r\n\r\n")
            self.complete = True
            self.conn.flush_responses()
