"""The Admin UI's aggregated events and the Prometheus metrics come from one source.

A server instrumented by both (``aiosocketio.admin.instrument`` and
``aiosocketio.metrics.instrument``) is driven by the official socket.io-client (WebSocket,
polling, an upgraded client, binary attachments, a broadcast, refused clients). Each
``server_stats`` the dashboard receives reports, as its ``packetsIn``, ``bytesOut``,
``rawConnection``, ``rawDisconnection``..., exactly the differences of the exporter's
counters between that ``server_stats`` and the previous one.
"""

from __future__ import annotations

import asyncio
import importlib
from itertools import pairwise
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from aiosocketio import ConnectionRefused, Server, Socket, client_socket
from aiosocketio.admin import instrument as admin_instrument
from aiosocketio.metrics import instrument as metrics_instrument
from tests.metrics.test_metrics import samples
from tests.support.node import NodeProcess
from tests.support.timeouts import scaled

Scrape = dict[tuple[str, tuple[tuple[str, str], ...]], float]
Figures = dict[tuple[str, str | None], int]

# the dashboard's aggregated event -> the exporter's counter
COUNTERS = {
    "rawConnection": "socketio_connections_opened_total",
    "packetsIn": "socketio_packets_received_total",
    "packetsOut": "socketio_packets_sent_total",
    "bytesIn": "socketio_bytes_received_total",
    "bytesOut": "socketio_bytes_sent_total",
}
CLOSED = "socketio_connections_closed_total"


def prometheus_deltas(before: Scrape, after: Scrape) -> Figures:
    """What the exporter counted between two scrapes, named as the dashboard names it."""
    out: Figures = {}
    for kind, name in COUNTERS.items():
        delta = int(after.get((name, ()), 0) - before.get((name, ()), 0))
        if delta:
            out[(kind, None)] = delta
    for (name, labels), value in after.items():
        if name == CLOSED:
            delta = int(value - before.get((name, labels), 0))
            if delta:
                out[("rawDisconnection", dict(labels)["reason"])] = delta
    return out


def aggregated(payload: dict[str, Any]) -> Figures:
    events = payload["aggregatedEvents"]
    out = {(e["type"], e.get("subType")): e["count"] for e in events}
    assert len(out) == len(events)  # one item per type (and reason)
    return out


def total(figures: list[Figures]) -> Figures:
    out: Figures = {}
    for one in figures:
        for key, count in one.items():
            out[key] = out.get(key, 0) + count
    return out


def make_app() -> Server:
    io = Server()

    @io.on("connection")
    def connection(socket: Socket) -> None:
        socket.on("echo", lambda text: text)
        socket.on("blob", lambda *args: None)
        socket.on("note", lambda n: io.emit("news", n))

    @io.of("/private").use
    def refuse(socket: Socket) -> None:
        raise ConnectionRefused("no")

    return io


async def test_server_stats_report_the_deltas_of_the_prometheus_counters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # (the module, which the package's ``instrument`` function hides)
    monkeypatch.setattr(
        importlib.import_module("aiosocketio.admin.instrument"), "STATS_INTERVAL", 0.25
    )
    io = make_app()
    registry = CollectorRegistry()
    metrics_instrument(io, registry)
    tool = admin_instrument(io, auth=False, mode="production", server_id="one")
    assert io.counters.detailed
    # Each server_stats payload, and the exporter's scrape at the same instant.
    taken: list[tuple[dict[str, Any], Scrape]] = []
    build = tool.server_stats

    def server_stats() -> dict[str, Any]:
        payload = build()
        taken.append((payload, samples(generate_latest(registry).decode())))
        return payload

    monkeypatch.setattr(tool, "server_stats", server_stats)
    await io.listen(0, "127.0.0.1")
    url = f"http://127.0.0.1:{io.port}"
    received: list[dict[str, Any]] = []
    dashboard = client_socket(url + "/admin", reconnection=False, force_new=True)
    dashboard.on("server_stats", received.append)
    await dashboard.connect()

    async def next_stats(condition: Any = lambda payload: True) -> int:
        """Wait for a server_stats taken from now on that meets ``condition``."""
        start = len(taken)
        for _ in range(200):
            for index in range(start, len(taken)):
                if condition(taken[index][0]):
                    return index
            await asyncio.sleep(scaled(0.05))
        raise AssertionError("no such server_stats")

    first = await next_stats()
    node = await NodeProcess.start("admin_traffic_client.js", url)
    try:
        seen = await node.wait_for("ready", timeout=20)
        assert seen["errors"] == [None, None, None]
        assert seen["transports"] == ["websocket", "polling", "websocket"]
        assert seen["echoes"][2] == "héllo wörld"
        assert (seen["refused"], seen["unknown"]) == ("no", "Invalid namespace")
        # the refused clients gone: the 3 clients and the dashboard, 1 of them polling
        busy = await next_stats(lambda payload: payload["clientsCount"] == 4)
        assert taken[busy][0]["pollingClientsCount"] == 1
        node.send({"close": True})
        await node.wait_for("closed")
        last = await next_stats(lambda payload: payload["clientsCount"] == 1)
        last = await next_stats()  # a later one: every close is in
    finally:
        await node.stop()
    dashboard.disconnect()
    await io.close()

    # every server_stats reports what the exporter counted since the previous one
    for (_, before), (payload, after) in pairwise(taken):
        assert aggregated(payload) == prometheus_deltas(before, after)
    # and the dashboard got those payloads over the wire
    by_uptime = {payload["uptime"]: payload for payload, _ in taken}
    assert len(received) >= last - first
    for payload in received:
        assert payload["aggregatedEvents"] == by_uptime[payload["uptime"]]["aggregatedEvents"]

    # the traffic of the Node clients, as both count it
    window = total([aggregated(payload) for payload, _ in taken[first + 1 : last + 1]])
    assert window == prometheus_deltas(taken[first][1], taken[last][1])
    assert window[("rawConnection", None)] == 5  # ws, poll, up, /private, /nowhere
    assert window[("rawDisconnection", "transport close")] == 5
    # Messages from the clients: 5 CONNECTs, 7 echoes, 2 blobs with 3 attachments in all,
    # 3 notes, 3 DISCONNECTs (the upgrade's probes are not counted).
    assert window[("packetsIn", None)] == 5 + 7 + 2 + 3 + 3 + 3
    assert window[("bytesIn", None)] > 1000  # the blob's attachment
    # To them: 3 CONNECTs, 2 CONNECT_ERRORs, 7 acks, 3 news to 3 clients, and the
    # server_stats to the dashboard (one per payload in the window).
    stats_sent = last - first
    assert window[("packetsOut", None)] == 3 + 2 + 7 + 9 + stats_sent
    assert window[("bytesOut", None)] > 0
