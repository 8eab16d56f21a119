"""Fixtures for the client tests: servers to talk to and the transport matrix."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.node import NodeProcess

NODE_SCRIPT = "client_node_server.js"

TRANSPORTS: dict[str, dict[str, Any]] = {
    "polling": {"transports": ["polling"]},
    "websocket": {"transports": ["websocket"]},
    "upgrade": {"transports": ["polling", "websocket"], "upgrade": True},
}


@dataclass
class NodeServer:
    """A running ``client_node_server.js`` and its port."""

    proc: NodeProcess
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


async def start_node_server(port: int = 0, env: dict[str, str] | None = None) -> NodeServer:
    proc = await NodeProcess.start(NODE_SCRIPT, str(port), env=env)
    line = await proc.wait_for("port", timeout=15)
    return NodeServer(proc, int(line["port"]))


@pytest.fixture
async def node_server() -> AsyncIterator[NodeServer]:
    server = await start_node_server()
    try:
        yield server
    finally:
        await server.proc.stop()


@pytest.fixture(params=sorted(TRANSPORTS))
def transport_opts(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Client options for polling only, WebSocket only, and polling upgraded to WebSocket."""
    name: str = request.param
    return {**TRANSPORTS[name], "force_new": True}
