"""Our RFC 6455 / RFC 7692 implementation against the npm ``ws`` client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from aiosocketio.frontends.native.server import NativeServer
from tests.support.echo import echo_server
from tests.support.node import run_node

pytestmark = pytest.mark.interop


@pytest.fixture
async def server() -> AsyncIterator[NativeServer]:
    async with echo_server(per_message_deflate=True) as srv:
        yield srv


@pytest.mark.parametrize("no_context", ["0", "1"])
async def test_permessage_deflate_with_npm_ws(server: NativeServer, no_context: str) -> None:
    url = f"ws://127.0.0.1:{server.port}/engine.io/?EIO=4&transport=websocket"
    result = (
        await run_node("ws_client_deflate.js", "--url", url, "--no-context", no_context)
    ).check()
    lines = result.lines
    extensions = lines[0]["extensions"]
    assert extensions.startswith("permessage-deflate")
    if no_context == "1":
        assert "server_no_context_takeover" in extensions
        assert "client_no_context_takeover" in extensions
    assert {"open": "0"} in lines
    echoes = [line for line in lines if "echo" in line]
    assert echoes == [{"echo": i, "ok": True} for i in range(4)], lines
    assert lines[-1] == {"done": True, "code": 1000}
