"""The Engine behind the built-in server, with what a test reads of it (``make`` builds
one per test; see ``conftest.py``)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiosocketio.engine.engine import Engine
from aiosocketio.engine.socket import EngineSocket
from aiosocketio.frontends.native.server import NativeServer
from tests.support.http_fakes import get, http_exchange

Response = tuple[int, dict[str, str], bytes]


class Harness:
    def __init__(self, engine: Engine, server: NativeServer) -> None:
        self.engine = engine
        self.server = server
        self.conns: list[EngineSocket] = []
        self.messages: list[str | bytes] = []
        self.closes: list[tuple[str, str | None]] = []
        self.errors: list[dict[str, Any]] = []
        engine.on_connection = self._connected
        engine.on("connection_error", self.errors.append)

    def _connected(self, conn: EngineSocket) -> None:
        self.conns.append(conn)
        conn.on_message = self.messages.append
        conn.on("close", lambda reason, desc: self.closes.append((reason, desc)))

    @property
    def port(self) -> int:
        return self.server.port

    async def request(self, raw: bytes) -> Response:
        return (await http_exchange(self.port, raw))[0]

    async def handshake(self, query: str = "") -> tuple[str, dict[str, str]]:
        status, headers, body = await self.request(
            get(f"/engine.io/?EIO=4&transport=polling{query}", close=True)
        )
        assert status == 200, body
        assert body.startswith(b"0{")
        return json.loads(body[1:])["sid"], headers


Make = Callable[..., Awaitable[Harness]]
