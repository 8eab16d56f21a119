"""aiosocketio.metrics: Prometheus metrics read from the server's one source of stats.

A live server scraped over HTTP while the official socket.io-client (Node) drives it; the
exact counts through aiosocketio.testing's client; the adapter requests on Redis.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from aiosocketio import ConnectionRefused, Server, Socket
from aiosocketio.adapters.redis import create_redis_adapter
from aiosocketio.exceptions import AdapterTimeout
from aiosocketio.metrics import instrument, metrics_app
from aiosocketio.testing import TestClient
from tests.cluster.support import REDIS_URL, unique_key
from tests.support.node import NodeProcess
from tests.support.timeouts import scaled


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The scrape as ``{(sample name, sorted labels): value}``."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(scrape: dict[Any, float], name: str, **labels: str) -> float:
    return scrape.get((name, tuple(sorted(labels.items()))), 0.0)


def make_app() -> Server:
    io = Server()

    @io.on("connection")
    def connection(socket: Socket) -> None:
        @socket.on("echo")
        def echo(text: str) -> str:
            return text

        socket.on("note", lambda n: None)

    private = io.of("/private")

    @private.use
    def refuse(socket: Socket) -> None:
        raise ConnectionRefused("no")

    return io


async def test_a_live_server_scraped_while_the_official_client_drives_it() -> None:
    io = make_app()
    registry = CollectorRegistry()
    instrument(io, registry)
    await io.listen(0, "127.0.0.1", app=metrics_app(registry))
    url = f"http://127.0.0.1:{io.port}"
    node = await NodeProcess.start("metrics_client.js", url)
    try:
        seen = await node.wait_for("ready", timeout=20)
        assert seen["errors"] == [None, None] and seen["echoes"] == ["x" * 10] * 5
        assert (seen["refused"], seen["unknown"], seen["eio3"]) == ("no", "Invalid namespace", 400)
        for socket in list(io.of("/").sockets.values()):
            for n in (1, 2):
                assert await socket.timeout(scaled(5)).emit_with_ack("question", n) == n * 2

        async with httpx.AsyncClient() as http:
            scrape: dict[Any, float] = {}
            for _ in range(100):  # the refused clients' connections close meanwhile
                answer = await http.get(f"{url}/metrics")
                assert answer.status_code == 200
                scrape = samples(answer.text)
                if value(scrape, "socketio_connections", transport="websocket") == 1:
                    break
                await asyncio.sleep(scaled(0.05))
        assert value(scrape, "socketio_sockets_connected", namespace="/") == 2
        assert value(scrape, "socketio_sockets_connected", namespace="/private") == 0
        assert value(scrape, "socketio_connections", transport="websocket") == 1
        assert value(scrape, "socketio_connections", transport="polling") == 1
        assert value(scrape, "socketio_events_received_total") == 5 + 3 + 1
        # the EIO=3 handshake refused: no connection; /private and /nowhere's closed
        assert value(scrape, "socketio_connections_opened_total") == 4
        closed = "socketio_connections_closed_total"
        assert value(scrape, closed, reason="transport close") == 2
        # 4 CONNECTs, 9 events, 4 acks of the "question"s
        assert value(scrape, "socketio_packets_received_total") == 4 + 9 + 4
        assert value(scrape, "socketio_events_sent_total") == 4
        assert value(scrape, "socketio_bytes_received_total") > 5 * len('0["echo","xxxxxxxxxx"]')
        assert value(scrape, "socketio_bytes_sent_total") >= 4 * len('0["question",1]')
        assert value(scrape, "socketio_ack_latency_seconds_count") == 4
        assert value(scrape, "socketio_ack_latency_seconds_bucket", le="+Inf") == 4
        rejected = "socketio_rejected_handshakes_total"
        assert value(scrape, rejected, reason="middleware") == 1
        assert value(scrape, rejected, reason="invalid namespace") == 1
        assert value(scrape, rejected, reason="Unsupported protocol version") == 1
    finally:
        await node.stop()
        await io.close()


async def test_exact_counts_in_process() -> None:
    io = make_app()
    registry = CollectorRegistry()
    instrument(io, registry)
    async with TestClient(io) as client:
        a = await client.connect()
        b = await client.connect()
        b.on("news", lambda n: n)
        assert await a.emit_with_ack("echo", "hi") == "hi"
        io.emit("news", 1)  # to each of the 2 sockets
        await client.settle()
        server_b = io.of("/").sockets[b.id or ""]
        assert await client.until(server_b.emit_with_ack("news", 2)) == 2
        ids = (a.id, b.id)
        scrape = samples(generate_latest(registry).decode())
    assert value(scrape, "socketio_events_received_total") == 1
    assert value(scrape, "socketio_events_sent_total") == 3
    received = ["0", "0", '20["echo","hi"]', "30[2]"]  # 2 CONNECTs, the event, b's ack
    assert value(scrape, "socketio_bytes_received_total") == sum(map(len, received))
    connected = [f'0{{"sid":"{sid}"}}' for sid in ids]
    sent = [*connected, '30["hi"]', '2["news",1]', '2["news",1]', '20["news",2]']
    assert value(scrape, "socketio_bytes_sent_total") == sum(map(len, sent))
    assert value(scrape, "socketio_packets_received_total") == len(received)
    assert value(scrape, "socketio_packets_sent_total") == len(sent)
    assert value(scrape, "socketio_ack_latency_seconds_count") == 1
    assert value(scrape, "socketio_ack_latency_seconds_bucket", le="0.001") == 1  # no time


@pytest.mark.cluster
async def test_adapter_requests_are_timed_and_failures_counted() -> None:
    key = unique_key()
    redis = aioredis.Redis.from_url(REDIS_URL)
    one = Server(adapter=create_redis_adapter(redis, key=key, requests_timeout=0.5))
    two = Server(adapter=create_redis_adapter(redis, key=key, requests_timeout=0.5))

    @two.on("ping")
    def ping(callback: Any = None) -> None:
        """Never calls the acknowledgement: the request times out."""

    registry = CollectorRegistry()
    instrument(one, registry)
    try:
        await asyncio.sleep(scaled(0.2))  # both subscribed
        assert await one.fetch_sockets() == []
        with pytest.raises(AdapterTimeout):
            await one.server_side_emit_with_ack("ping", timeout=0.5)
        scrape = samples(generate_latest(registry).decode())
    finally:
        await one.close()
        await two.close()
        await redis.aclose()
    duration = "socketio_adapter_request_duration_seconds_count"
    assert value(scrape, duration, type="fetch_sockets") == 1
    assert value(scrape, duration, type="server_side_emit") == 1
    failures = "socketio_adapter_request_failures_total"
    assert value(scrape, failures, type="fetch_sockets") == 0
    assert value(scrape, failures, type="server_side_emit") == 1
