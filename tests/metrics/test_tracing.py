"""aiosocketio.tracing: OpenTelemetry spans of event handlers and acknowledgements,
recorded by the OpenTelemetry SDK, the server driven through aiosocketio.testing."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from aiosocketio import AckTimeout, Server, Socket
from aiosocketio.testing import TestClient
from aiosocketio.tracing import trace


def traced_app() -> tuple[Server, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    io = Server()

    @io.on("connection")
    def connection(socket: Socket) -> None:
        @socket.on("slow")
        async def slow(n: int) -> int:
            await asyncio.sleep(2)
            return n

        @socket.on("boom")
        def boom() -> None:
            raise ValueError("bad")

    trace(io, tracer_provider=provider)
    return io, exporter


async def test_off_by_default() -> None:
    assert Server().tracer is None


async def test_handler_and_ack_spans() -> None:
    io, exporter = traced_app()
    async with TestClient(io) as client:
        sock = await client.connect()
        sid = sock.id
        sock.on("question", lambda: "yes")
        answer = asyncio.ensure_future(sock.socket.emit_with_ack("slow", 7))
        await client.settle()
        assert exporter.get_finished_spans() == ()  # the async handler still runs
        await client.clock.advance(2)
        assert await answer == 7
        sock.emit("boom")
        server_socket = io.of("/").sockets[sid or ""]
        assert await client.until(server_socket.emit_with_ack("question")) == "yes"
        pending = asyncio.ensure_future(server_socket.timeout(1).emit_with_ack("unanswered"))
        await client.clock.advance(1)
        with pytest.raises(AckTimeout):
            await pending
        spans = {span.name: span for span in exporter.get_finished_spans()}
    slow = spans["socketio event slow"]
    assert slow.kind is SpanKind.CONSUMER
    # (span times are wall-clock: that it ended only after the clock moved 2 s is checked
    # above, by no span having finished before)
    assert slow.attributes is not None
    assert dict(slow.attributes) == {
        "messaging.system": "socket.io",
        "messaging.destination.name": "/",
        "messaging.operation.name": "slow",
        "socketio.socket_id": sid,
    }
    assert spans["socketio event boom"].status.status_code is StatusCode.ERROR
    assert spans["socketio ack question"].kind is SpanKind.PRODUCER
    assert spans["socketio ack question"].status.status_code is StatusCode.UNSET
    assert spans["socketio ack unanswered"].status.status_code is StatusCode.ERROR
