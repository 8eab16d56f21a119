"""Prometheus metrics of a :class:`~aiosocketio.server.Server` (the ``metrics`` extra).

::

    from aiosocketio.metrics import instrument, metrics_app

    io = Server()
    instrument(io)                      # into prometheus_client's default registry
    await io.listen(3000, app=metrics_app())   # GET /metrics on the same port

One source: every figure is read, when Prometheus scrapes, from what the server keeps
anyway: the server's :class:`~aiosocketio.frontends.stats.LimitStats` (``io.counters``: the
counters of malformed input, and with ``stats.detailed``, which :func:`instrument` turns
on, the traffic, the connections opened and closed, the refused connections and the
latencies), its namespaces' sockets and its engine's connections. Nothing is pushed to
``prometheus_client`` on the hot paths. The Admin UI (:mod:`aiosocketio.admin`) reads the
same counters: its ``packetsIn``/``bytesIn``/``rawConnection``... are the differences of
``packets_received_total``, ``bytes_received_total``, ``connections_opened_total``...
between two of its ``server_stats``.

Metrics (``socketio_`` by default):

* ``sockets_connected{namespace}``: connected sockets per namespace (gauge);
* ``connections{transport}``: open Engine.IO connections per transport (gauge);
* ``packets_received_total``, ``packets_sent_total``: the Engine.IO messages of the
  Socket.IO layer from and to clients: one per Socket.IO packet (CONNECT, EVENT, ACK,
  DISCONNECT...) and one per binary attachment, one per recipient of a broadcast;
* ``bytes_received_total``, ``bytes_sent_total``: their size (characters of text
  messages, bytes of binary ones);
* ``events_received_total``, ``events_sent_total``: the events among them;
* ``connections_opened_total``, ``connections_closed_total{reason}``: Engine.IO
  connections (after their handshake), the closes by Engine.IO's reason (``transport
  close``, ``ping timeout``, ``transport error``, ``forced close``, ``parse error``...);
* ``rejected_handshakes_total{reason}``: the Engine.IO refusals by their message
  ("Session ID unknown", "Forbidden", ...), ``invalid namespace`` and ``middleware`` (a
  connection middleware refused the client);
* ``ack_latency_seconds``: from ``socket.emit_with_ack`` to the client's answer (histogram);
* ``adapter_request_duration_seconds{type}`` and ``adapter_request_failures_total{type}``:
  the requests to the other servers of a cluster (``fetch_sockets``,
  ``server_side_emit``, ``all_rooms``);
* ``limit_events_total{kind}``: the counters of malformed input and limits
  (``sio_parse_error``, ...).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, make_asgi_app
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from aiosocketio.frontends.stats import (
    ACK_LATENCY,
    ADAPTER_REQUEST,
    ADAPTER_REQUEST_FAILED,
    BUCKETS,
    CONNECTION_CLOSED,
    HANDSHAKE_REJECTED,
    Histogram,
)
from aiosocketio.server import Server

__all__ = ["ServerCollector", "instrument", "metrics_app"]


class ServerCollector(Collector):
    """A Prometheus collector that reads ``server``'s figures when scraped.

    Args:
        server: the Socket.IO server.
        prefix: the metrics' name prefix.
    """

    def __init__(self, server: Server, prefix: str = "socketio") -> None:
        self.server = server
        self.prefix = prefix

    def collect(self) -> Iterator[Metric]:
        """The metrics now (called by the registry on each scrape)."""
        p = self.prefix
        server = self.server
        stats = server.counters
        counts = dict(stats.counts)
        sockets = GaugeMetricFamily(
            f"{p}_sockets_connected", "Connected sockets per namespace.", labels=["namespace"]
        )
        for name, nsp in list(server.namespaces.items()):
            sockets.add_metric([name], len(nsp.sockets))
        yield sockets
        transports = {"polling": 0, "websocket": 0, **server.engine.clients_by_transport()}
        connections = GaugeMetricFamily(
            f"{p}_connections", "Open Engine.IO connections per transport.", labels=["transport"]
        )
        for name, count in transports.items():
            connections.add_metric([name], count)
        yield connections
        for name, count, text in (
            ("packets_received", stats.packets_in, "Messages received from clients."),
            ("packets_sent", stats.packets_out, "Messages sent to clients (one per recipient)."),
            ("bytes_received", stats.bytes_in, "Size of the messages received."),
            ("bytes_sent", stats.bytes_out, "Size of the messages sent."),
            ("events_received", stats.events_in, "Events received from clients."),
            ("events_sent", stats.events_out, "Events sent to clients (one per recipient)."),
            ("connections_opened", stats.connections_opened, "Engine.IO connections opened."),
        ):
            yield CounterMetricFamily(f"{p}_{name}", text, value=count)
        closed = CounterMetricFamily(
            f"{p}_connections_closed", "Engine.IO connections closed, by reason.", labels=["reason"]
        )
        rejected = CounterMetricFamily(
            f"{p}_rejected_handshakes", "Connections refused, by reason.", labels=["reason"]
        )
        failures = CounterMetricFamily(
            f"{p}_adapter_request_failures",
            "Adapter requests that failed (timeout, closed adapter), by type.",
            labels=["type"],
        )
        limits = CounterMetricFamily(
            f"{p}_limit_events", "Malformed input and limits hit, by kind.", labels=["kind"]
        )
        for key, value in sorted(counts.items()):
            prefix, _, label = key.partition("/")
            if prefix == HANDSHAKE_REJECTED and label:
                rejected.add_metric([label], value)
            elif prefix == CONNECTION_CLOSED and label:
                closed.add_metric([label], value)
            elif prefix == ADAPTER_REQUEST_FAILED and label:
                failures.add_metric([label], value)
            else:
                limits.add_metric([key], value)
        yield closed
        yield rejected
        yield failures
        yield limits
        histograms = dict(stats.histograms)
        acks = HistogramMetricFamily(
            f"{p}_ack_latency_seconds", "From emit_with_ack to the client's acknowledgement."
        )
        ack = histograms.get(ACK_LATENCY)
        acks.add_metric([], *_buckets(ack))
        yield acks
        requests = HistogramMetricFamily(
            f"{p}_adapter_request_duration_seconds",
            "Requests to the other servers of a cluster, by type.",
            labels=["type"],
        )
        for key, histogram in sorted(histograms.items()):
            prefix, _, label = key.partition("/")
            if prefix == ADAPTER_REQUEST and label:
                requests.add_metric([label], *_buckets(histogram))
        yield requests


def _buckets(histogram: Histogram | None) -> tuple[list[tuple[str, float]], float]:
    counts: Iterable[int] = histogram.counts if histogram is not None else [0] * (len(BUCKETS) + 1)
    out: list[tuple[str, float]] = []
    total = 0
    for bound, count in zip([*map(str, BUCKETS), "+Inf"], counts, strict=True):
        total += count
        out.append((bound, float(total)))
    return out, histogram.sum if histogram is not None else 0.0


def instrument(
    server: Server, registry: CollectorRegistry | None = REGISTRY, *, prefix: str = "socketio"
) -> ServerCollector:
    """Count ``server``'s traffic and export its metrics to ``registry``.

    Turns ``server.counters.detailed`` on and counts the Engine.IO refusals
    (``connection_error``). With ``registry=None`` the collector is returned unregistered.
    """
    server.counters.detailed = True
    stats = server.counters

    def refused(error: dict[str, Any]) -> None:
        stats.add(f"{HANDSHAKE_REJECTED}/{error.get('message') or 'unknown'}")

    server.engine.on("connection_error", refused)
    collector = ServerCollector(server, prefix)
    if registry is not None:
        registry.register(collector)
    return collector


def metrics_app(registry: CollectorRegistry = REGISTRY) -> Any:
    """An ASGI app that answers Prometheus' scrapes (``GET /metrics``) from ``registry``:
    mount it, or pass it as ``Server.listen(app=...)``."""
    return make_asgi_app(registry)
