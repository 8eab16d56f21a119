"""Counters of the limits the front ends enforce and of malformed input, and their quiet log.

Each front end (``NativeServer.stats``, ``ASGIApp.stats``) owns one :class:`LimitStats`.
Every time a connection passes a limit (and is refused, closed or paused), the front end
calls :meth:`LimitStats.count` with one of the kinds below. The Socket.IO server
(``Server.stats``) owns another, for the malformed packets its peers send (``sio_*`` and
``eio_*`` kinds, logged at DEBUG). The counts are exact; the log is one line per kind at
most every :data:`LOG_EVERY` seconds (with the number of events since the last line), so
that an attacker cannot flood the log.

The server's :class:`LimitStats` is also the one source of its traffic figures, which the
Prometheus exporter (:mod:`aiosocketio.metrics`) reads when it is scraped and the Admin UI
(:mod:`aiosocketio.admin`) reads for each ``server_stats``: with :attr:`LimitStats.detailed`
on, the server counts

* the Engine.IO messages of the Socket.IO layer in and out (:attr:`LimitStats.packets_in`,
  :attr:`LimitStats.packets_out`: one per Socket.IO packet and one per binary attachment,
  one per recipient of a broadcast) and their size (:attr:`LimitStats.bytes_in`,
  :attr:`LimitStats.bytes_out`: characters of text, bytes of binary);
* the Socket.IO events among them (:attr:`LimitStats.events_in`,
  :attr:`LimitStats.events_out`);
* the Engine.IO connections opened (:attr:`LimitStats.connections_opened`) and closed, by
  reason (``connection_closed/<reason>``: ``transport close``, ``ping timeout``, ...);
* rejected handshakes (``handshake_rejected/<reason>``);
* and times acknowledgements and adapter requests in :class:`Histogram` objects
  (:meth:`LimitStats.observe`).

Each figure is counted in one place, where the server handles what it counts anyway (no
listener per connection or per packet). Off by default: then the hot paths pay one
attribute test.
"""

from __future__ import annotations

import logging
import time
from bisect import bisect_left

from aiosocketio.protocol.prepared import PreparedMessage

__all__ = [
    "ACK_LATENCY",
    "ADAPTER_REQUEST",
    "ADAPTER_REQUEST_FAILED",
    "ASGI_CLOSE_ABORTED",
    "BUCKETS",
    "CONNECTION_CLOSED",
    "EIO_PARSE_ERROR",
    "HANDSHAKE_REJECTED",
    "HTTP_BAD_REQUEST",
    "HTTP_BODY_TOO_LARGE",
    "HTTP_HEADERS_TIMEOUT",
    "HTTP_HEADER_COUNT",
    "HTTP_HEADER_SIZE",
    "HTTP_NO_HOST",
    "HTTP_READ_PAUSED",
    "HTTP_REQUEST_TIMEOUT",
    "HTTP_URL_TOO_LONG",
    "LOG_EVERY",
    "SHUTDOWN_DROPPED",
    "SIO_INVALID_STATE",
    "SIO_PARSE_ERROR",
    "WS_READ_PAUSED",
    "WS_WRITE_BUFFER",
    "Histogram",
    "LimitStats",
    "prepared_size",
    "ws_close_kind",
]

logger = logging.getLogger("aiosocketio.frontends.limits")

LOG_EVERY = 10.0
"""Seconds between two log lines of one kind."""

HTTP_HEADER_SIZE = "http_431_header_size"
HTTP_HEADER_COUNT = "http_431_header_count"
HTTP_URL_TOO_LONG = "http_414_url"
HTTP_BODY_TOO_LARGE = "http_413_body"
HTTP_NO_HOST = "http_400_no_host"
HTTP_BAD_REQUEST = "http_400_malformed"
HTTP_HEADERS_TIMEOUT = "http_408_headers_timeout"
HTTP_REQUEST_TIMEOUT = "http_408_request_timeout"
HTTP_READ_PAUSED = "http_read_paused"
WS_READ_PAUSED = "ws_read_paused"
WS_WRITE_BUFFER = "ws_1008_write_buffer"
ASGI_CLOSE_ABORTED = "asgi_close_aborted"
SIO_PARSE_ERROR = "sio_parse_error"
SIO_INVALID_STATE = "sio_invalid_state"
EIO_PARSE_ERROR = "eio_parse_error"
SHUTDOWN_DROPPED = "shutdown_dropped"

CONNECTION_CLOSED = "connection_closed"
"""Prefix of the closed Engine.IO connections: ``connection_closed/<reason>``."""
HANDSHAKE_REJECTED = "handshake_rejected"
"""Prefix of the refused connections: ``handshake_rejected/<reason>``."""
ACK_LATENCY = "ack_latency"
"""Seconds from an ``emit_with_ack`` to a client until its acknowledgement."""
ADAPTER_REQUEST = "adapter_request"
"""Prefix of the adapter requests' durations: ``adapter_request/<type>``."""
ADAPTER_REQUEST_FAILED = "adapter_request_failed"
"""Prefix of the failed adapter requests: ``adapter_request_failed/<type>``."""

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""The upper bounds (seconds) of the histograms' buckets; the last bucket is +Inf."""

_DESCRIPTIONS = {
    HTTP_HEADER_SIZE: "431: request headers over max_header_size",
    HTTP_HEADER_COUNT: "431: more header fields than max_headers",
    HTTP_URL_TOO_LONG: "414: request target over max_url_size",
    HTTP_BODY_TOO_LARGE: "413: request body over the limit",
    HTTP_NO_HOST: "400: HTTP/1.1 request without Host",
    HTTP_BAD_REQUEST: "400: malformed HTTP",
    HTTP_HEADERS_TIMEOUT: "408: headers not complete within headers_timeout",
    HTTP_REQUEST_TIMEOUT: "408: request not complete within request_timeout",
    HTTP_READ_PAUSED: "reading paused: the client does not read its answers",
    WS_READ_PAUSED: "WebSocket reading paused: the client does not read",
    WS_WRITE_BUFFER: "WebSocket closed (1008): over max_write_buffer for a client that does"
    " not read",
    ASGI_CLOSE_ABORTED: "ASGI WebSocket dropped: its close could not be sent within abort_timeout",
    SIO_PARSE_ERROR: "connection closed (parse error): malformed Socket.IO packet",
    SIO_INVALID_STATE: "connection closed: Socket.IO packet in the wrong state",
    EIO_PARSE_ERROR: "connection closed (parse error): malformed Engine.IO packet",
    SHUTDOWN_DROPPED: "connection dropped at shutdown: not drained within the grace period",
}


def ws_close_kind(code: int) -> str:
    """The kind of a WebSocket connection failed by the protocol with ``code``
    (1002 protocol error, 1007 invalid data, 1008 too many fragments, 1009 too big)."""
    return f"ws_{code}_closed"


def prepared_size(prepared: PreparedMessage) -> int:
    """The size of a prepared packet's messages (characters of text, bytes of binary)."""
    parts = prepared.parts
    return len(parts[0]) if len(parts) == 1 else sum(map(len, parts))


class Histogram:
    """Durations in :data:`BUCKETS` (Prometheus' cumulative buckets are built on export).

    Attributes:
        counts: per bucket (and one more for +Inf), how many values fell in it.
        sum: the sum of the values.
        count: how many values.
    """

    __slots__ = ("count", "counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        """Record one value."""
        self.counts[bisect_left(BUCKETS, value)] += 1
        self.sum += value
        self.count += 1


class LimitStats:
    """How many times each limit was hit (``stats.counts[kind]``, ``stats[kind]``).

    Args:
        log: the logger of the quiet log (``aiosocketio.frontends.limits`` by default).
        level: its level (INFO by default).
    """

    __slots__ = (
        "_level",
        "_log",
        "_logged",
        "_unlogged",
        "bytes_in",
        "bytes_out",
        "connections_opened",
        "counts",
        "detailed",
        "events_in",
        "events_out",
        "histograms",
        "packets_in",
        "packets_out",
    )

    def __init__(self, log: logging.Logger | None = None, level: int = logging.INFO) -> None:
        self.counts: dict[str, int] = {}
        #: Count the traffic too (events and sizes in and out, latencies); see the module.
        self.detailed = False
        #: Durations by kind (:data:`ACK_LATENCY`, ``adapter_request/<type>``).
        self.histograms: dict[str, Histogram] = {}
        #: The traffic (counted while :attr:`detailed`): the Engine.IO messages of the
        #: Socket.IO layer each way (one per packet and per binary attachment, one per
        #: recipient of a broadcast), their size (characters of text, bytes of binary),
        #: the events among them, and the Engine.IO connections opened (their closes are
        #: ``counts["connection_closed/<reason>"]``). Plain attributes: the hot paths add
        #: to them.
        self.packets_in = 0
        self.packets_out = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.events_in = 0
        self.events_out = 0
        self.connections_opened = 0
        self._logged: dict[str, float] = {}
        self._unlogged: dict[str, int] = {}
        self._log = logger if log is None else log
        self._level = level

    def __getitem__(self, kind: str) -> int:
        return self.counts.get(kind, 0)

    def count(self, kind: str, peer: str = "", *, log: bool = True) -> None:
        """One more event of ``kind`` (from ``peer``, for the log line; ``log=False`` for
        the events of ordinary flow control, which are counted only)."""
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if not log:
            return
        now = time.monotonic()
        last = self._logged.get(kind)
        if last is not None and now - last < LOG_EVERY:
            self._unlogged[kind] = self._unlogged.get(kind, 0) + 1
            return
        self._logged[kind] = now
        more = self._unlogged.pop(kind, 0)
        out = self._log
        if out.isEnabledFor(self._level):
            text = _DESCRIPTIONS.get(kind, kind)
            suffix = f" (and {more} more since the last line)" if more else ""
            out.log(self._level, "%s%s%s", text, f" from {peer}" if peer else "", suffix)

    def add(self, kind: str, amount: int = 1) -> None:
        """Add ``amount`` to the counter of ``kind`` (no log line)."""
        counts = self.counts
        counts[kind] = counts.get(kind, 0) + amount

    def observe(self, kind: str, seconds: float) -> None:
        """Record a duration in the histogram of ``kind``."""
        histogram = self.histograms.get(kind)
        if histogram is None:
            histogram = self.histograms[kind] = Histogram()
        histogram.observe(seconds)

    def as_dict(self) -> dict[str, int]:
        """A copy of the counts."""
        return dict(self.counts)

    def __repr__(self) -> str:
        return f"LimitStats({self.counts!r})"
