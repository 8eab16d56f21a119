"""Test an aiosocketio application in process: no sockets, no ports, a clock moved by hand.

::

    from aiosocketio.testing import ManualClock, TestClient

    async def test_hello():
        async with TestClient(io) as client:
            sock = await client.connect(auth={"name": "alice"})
            assert await sock.emit_with_ack("hello") == "hi alice"
            await client.clock.advance(25)  # the heartbeat runs in no time

The clients are the library's own (:mod:`aiosocketio.client`), connected to the server's
Engine through an in-memory WebSocket; the pytest fixtures are in
:mod:`aiosocketio.testing.pytest_plugin`. See docs/guides/testing.md.
:func:`probe_handlers` uses them to find an app's ``socket.on`` handlers for its AsyncAPI
document (:mod:`aiosocketio.testing.probe`).
"""

from __future__ import annotations

from aiosocketio.testing.client import NothingHappened, TestClient, TestSocket
from aiosocketio.testing.clock import ClockStalled, ManualClock
from aiosocketio.testing.probe import ProbeReport, probe_handlers
from aiosocketio.testing.transport import MemoryWebSocket, memory_opener

__all__ = [
    "ClockStalled",
    "ManualClock",
    "MemoryWebSocket",
    "NothingHappened",
    "ProbeReport",
    "TestClient",
    "TestSocket",
    "memory_opener",
    "probe_handlers",
]
