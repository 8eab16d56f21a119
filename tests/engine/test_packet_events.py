"""The engine's packet events (``packet``, ``packet_create``) against Node's, packet by packet.

The same official client session (``tests/interop/js/packet_events_client.js``: connect,
two heartbeats, an acked text event, an acked binary event, an event emitted back, then a
close by the client or by the server) runs against Node's socket.io 4.8 server
(``packet_events_server.js``, engine.io 6.6) and against ours, on the built-in server and
the ASGI app, over polling, WebSocket and polling→WebSocket. Both servers record the
engine's events of that connection in order; the counts per type and direction, and the
order of every event relative to the others, must be Node's.

What Node does (engine.io 6.6 ``lib/socket.ts``): ``packetCreate`` fires for the packets
the socket queues itself (its pings, the messages) and ``packet`` for the packets its
current transport receives (the pongs, the messages). The probe's ``2probe``/``3probe``
and ``5``, the NOOP that releases a GET during an upgrade and the CLOSE packets are
transport-level packets, and the OPEN packet is created before anyone can listen: none of
them is an event, there as here.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from aiosocketio import Server, Socket
from aiosocketio.engine.socket import EngineSocket
from aiosocketio.protocol.engineio.packets import Packet, PacketType
from tests.server.test_interop import running
from tests.support.node import NodeProcess, run_node
from tests.support.timeouts import scaled

pytestmark = pytest.mark.interop

PING_INTERVAL = 0.4
PING_TIMEOUT = 2.0
MODES = ["polling", "websocket", "upgrade"]
CLOSERS = ["client", "server"]


def _name(packet: Packet) -> str:
    binary = isinstance(packet.data, bytes)
    return PacketType(packet.type).name.lower() + (":bin" if binary else "")


class Recorder:
    """Records each engine connection's events as the Node server script does."""

    def __init__(self) -> None:
        self.closed: list[list[str]] = []
        self.done = asyncio.Event()

    def attach(self, conn: EngineSocket) -> None:
        events: list[str] = []
        conn.on("packet", lambda packet: events.append("in:" + _name(packet)))
        conn.on("packet_create", lambda packet: events.append("out:" + _name(packet)))
        conn.on("heartbeat", lambda: events.append("heartbeat"))
        conn.on("message", lambda data: events.append("message"))
        conn.on("upgrading", lambda transport: events.append("upgrading"))
        conn.on("upgrade", lambda transport: events.append("upgrade"))

        def on_close(reason: str, description: str | None) -> None:
            events.append("close:" + reason)
            # anything that would still come after the close is recorded too
            asyncio.get_running_loop().call_later(0.1, self._finished, events)

        conn.on("close", on_close)

    def _finished(self, events: list[str]) -> None:
        self.closed.append(events)
        self.done.set()


def make_server(recorder: Recorder) -> Server:
    """Our server with the handlers of ``packet_events_server.js``."""
    io = Server(ping_interval=PING_INTERVAL, ping_timeout=PING_TIMEOUT)
    io.engine.on("connection", recorder.attach)

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        socket.on("echo", lambda value: value)
        socket.on("bin", lambda value: b"\x01\x02\x03")
        socket.on("note", lambda value: socket.emit("note", value))
        socket.on("bye", lambda: socket.disconnect(close=True))

    return io


async def run_session(port: int, mode: str, closer: str) -> dict[str, Any]:
    """Run the client's session once; return what it printed."""
    result = await run_node(
        "packet_events_client.js", f"http://127.0.0.1:{port}", mode, closer, timeout=30
    )
    result.check()
    done = [line["done"] for line in result.lines if "done" in line]
    assert done, result.stdout + result.stderr
    summary: dict[str, Any] = done[0]
    assert summary["pings"] == 2 and summary["echoed"] == "hello"
    assert summary["bin"] == [1, 2, 3]
    assert summary["transport"] == ("polling" if mode == "polling" else "websocket")
    expected = "io client disconnect" if closer == "client" else "io server disconnect"
    assert summary["reason"] == expected
    return summary


@contextlib.asynccontextmanager
async def node_server() -> AsyncIterator[tuple[int, NodeProcess]]:
    env = {"PING_INTERVAL": str(round(PING_INTERVAL * 1000)), "PING_TIMEOUT": "2000"}
    node = await NodeProcess.start("packet_events_server.js", env=env)
    try:
        port = (await node.wait_for("port"))["port"]
        yield port, node
    finally:
        await node.stop()


async def node_events(mode: str, closer: str) -> list[str]:
    """The events Node's server records for one session."""
    async with node_server() as (port, node):
        await run_session(port, mode, closer)
        line = await node.wait_for("conn", timeout=5)
        events: list[str] = line["events"]
        return events


async def our_events(frontend: str, mode: str, closer: str) -> list[str]:
    """The events our server records for one session."""
    recorder = Recorder()
    io = make_server(recorder)
    async with running(io, frontend) as port:
        await run_session(port, mode, closer)
        await asyncio.wait_for(recorder.done.wait(), scaled(5))
        await asyncio.sleep(0.15)
    assert len(recorder.closed) == 1, recorder.closed
    return recorder.closed[0]


def counts(events: list[str]) -> dict[str, int]:
    """How many packet events of each direction and type."""
    return dict(collections.Counter(e for e in events if e.startswith(("in:", "out:"))))


def without_upgrade(events: list[str]) -> list[str]:
    """The events without the upgrade's two, whose place among the first packets depends
    on when the client's probe overtakes its polling requests."""
    return [e for e in events if e not in ("upgrading", "upgrade")]


def check_upgrade_place(events: list[str]) -> None:
    """The upgrade comes before the first ping, ``upgrading`` before ``upgrade``."""
    assert events.count("upgrading") == 1 and events.count("upgrade") == 1, events
    first_ping = events.index("out:ping")
    assert events.index("upgrading") < events.index("upgrade") < first_ping, events


def pairs(events: list[str]) -> Iterator[tuple[str, str]]:
    return itertools.pairwise(events)


@pytest.mark.parametrize("closer", CLOSERS)
@pytest.mark.parametrize("mode", MODES)
async def test_packet_events_match_node(mode: str, closer: str) -> None:
    reference = await node_events(mode, closer)
    # the shape of Node's record, so that a change of the script is noticed here
    assert counts(reference)["out:ping"] == 2 and counts(reference)["in:pong"] == 2, reference
    for frontend in ("native", "asgi"):
        ours = await our_events(frontend, mode, closer)
        assert counts(ours) == counts(reference), (frontend, ours, reference)
        assert without_upgrade(ours) == without_upgrade(reference), (frontend, ours, reference)
        if mode == "upgrade":
            check_upgrade_place(ours)
            check_upgrade_place(reference)
        # Node's order, packet by packet: the packet event comes before what it causes
        for before, after in pairs(ours):
            if after == "heartbeat":
                assert before == "in:pong", ours
            if after == "message":
                assert before.startswith("in:message"), ours
