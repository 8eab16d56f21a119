"""Headless Chromium's WebSocket against the native server, with and without deflate."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aiosocketio.frontends.native.server import NativeServer
from tests.support.chromium import ensure_chromium
from tests.support.echo import echo_server
from tests.support.node import run_node

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def chromium() -> Path:
    return ensure_chromium()


@pytest.fixture(params=[False, True], ids=["plain", "deflate"])
async def server(request: pytest.FixtureRequest) -> AsyncIterator[NativeServer]:
    async with echo_server(per_message_deflate=request.param) as srv:
        yield srv


async def test_chromium_websocket_echo(chromium: Path, server: NativeServer) -> None:
    url = f"ws://127.0.0.1:{server.port}/engine.io/?EIO=4&transport=websocket"
    result = (await run_node("browser_ws_deflate.js", url, timeout=60)).check()
    [line] = result.lines
    assert "error" not in line, line
    assert line["echoes"] == [True, True, True, True]
    assert line["closeCode"] == 1000
    if server.engine.options.deflate_threshold is None:
        assert line["extensions"] == ""
    else:
        # Chromium offers permessage-deflate; our answer is what it uses
        assert line["extensions"].startswith("permessage-deflate")
