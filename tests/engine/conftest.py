"""The ``make`` fixture of the engine tests: an Engine on the built-in server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from aiosocketio.engine.engine import Engine
from aiosocketio.frontends.native.server import NativeServer, serve
from tests.engine.harness import Harness, Make


@pytest.fixture
async def make() -> AsyncIterator[Make]:
    servers: list[NativeServer] = []

    async def factory(**options: Any) -> Harness:
        options.setdefault("path", "/engine.io/")
        engine = Engine(**options)
        server = await serve(engine, "127.0.0.1", 0)
        servers.append(server)
        return Harness(engine, server)

    yield factory
    for server in servers:
        server.close()
        await server.wait_closed()
