"""1,000 clients from one process against one server, on loopback (bounded and quick)."""

from __future__ import annotations

import asyncio
import time

import pytest

from aiosocketio.client import ClientSocket, connect
from tests.client.conftest import RunningServer
from tests.support.timeouts import scaled

pytestmark = [pytest.mark.interop, pytest.mark.usefixtures("settle")]

CLIENTS = 1000
BATCH = 100  # connect in batches: stay well under the listen backlog


async def test_a_thousand_websocket_clients(server: RunningServer) -> None:
    started = time.monotonic()
    sockets: list[ClientSocket] = []
    try:
        for _ in range(0, CLIENTS, BATCH):
            batch = await asyncio.wait_for(
                asyncio.gather(
                    *(
                        connect(server.url, transports=["websocket"], force_new=True)
                        for _ in range(BATCH)
                    )
                ),
                scaled(30),
            )
            sockets.extend(batch)
        assert len({s.id for s in sockets}) == CLIENTS
        results = await asyncio.wait_for(
            asyncio.gather(*(s.emit_with_ack("echo", i) for i, s in enumerate(sockets))),
            scaled(30),
        )
        assert results == list(range(CLIENTS))
    finally:
        for s in sockets:
            s.disconnect()
    assert all(not s.connected for s in sockets)
    assert time.monotonic() - started < scaled(60)


async def test_two_hundred_polling_clients_share_nothing(server: RunningServer) -> None:
    sockets = await asyncio.wait_for(
        asyncio.gather(
            *(connect(server.url, transports=["polling"], force_new=True) for _ in range(200))
        ),
        scaled(30),
    )
    try:
        results = await asyncio.wait_for(
            asyncio.gather(*(s.emit_with_ack("echo", s.id) for s in sockets)), scaled(30)
        )
        assert results == [s.id for s in sockets]
    finally:
        for s in sockets:
            s.disconnect()
