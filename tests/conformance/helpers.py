"""Shared plumbing of the conformance tests: the servers under test and small clients.

The servers under test (one per front end) are started once per test module:

* ``native``: ``examples/conformance/<kind>_server.py --frontend native``
* ``asgi``: ``examples/conformance/<kind>_server.py --frontend asgi`` (uvicorn)
* ``node``: ``tests/interop/js/conformance_<kind>_server.js`` (the npm reference
  implementation; it proves the tests themselves right)

The clients are deliberately not aiosocketio's own: httpx for HTTP long-polling and the
``websockets`` package for WebSocket, both driven by hand, packet by packet.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from tests.support.servers import (
    NODE_ENV,
    ServerProcess,
    node_server_argv,
    python_server_argv,
    start_server,
)
from tests.support.timeouts import scaled

FRONTENDS = ["native", "asgi", "node"]

PING_INTERVAL = 300
PING_TIMEOUT = 200
MAX_PAYLOAD = 1_000_000
HANDSHAKE_KEYS = {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}
WAIT = 3.0
"""Seconds to wait for an expected message or close (scaled)."""


@dataclass(frozen=True)
class Target:
    """Where the server under test listens."""

    frontend: str
    port: int
    path: str  # "/engine.io/" or "/socket.io/"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}{self.path}"


def start_target(kind: str, frontend: str) -> Iterator[Target]:
    """Start the ``kind`` ("engineio" | "socketio") server for ``frontend``; yield; stop."""
    if frontend == "node":
        argv = node_server_argv(f"conformance_{kind}_server.js")
        env: dict[str, str] | None = NODE_ENV
    else:
        argv = python_server_argv(f"examples/conformance/{kind}_server.py", "--frontend", frontend)
        env = None
    server: ServerProcess = start_server(argv, env=env)
    path = "/engine.io/" if kind == "engineio" else "/socket.io/"
    try:
        yield Target(frontend, server.port, path)
    finally:
        alive = server.alive
        server.stop()
        if not alive:
            pytest.fail(f"the {frontend} {kind} server died during the tests:\n{server.stderr}")


# --------------------------------------------------------------------------- HTTP


@contextlib.asynccontextmanager
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client with generous timeouts and no connection reuse surprises."""
    async with httpx.AsyncClient(timeout=scaled(10.0)) as client:
        yield client


def query(target: Target, suffix: str) -> str:
    return f"{target.http}?{suffix}"


async def open_polling_session(client: httpx.AsyncClient, target: Target) -> str:
    """Do the polling handshake and return the sid."""
    response = await client.get(query(target, "EIO=4&transport=polling"))
    assert response.status_code == 200, response.text
    assert response.text.startswith("0"), response.text
    sid = json.loads(response.text[1:])["sid"]
    assert isinstance(sid, str)
    return sid


def ws_url(target: Target, sid: str | None = None) -> str:
    """The WebSocket URL of a new session, or of the upgrade of session ``sid``."""
    url = f"{target.ws}?EIO=4&transport=websocket"
    return url if sid is None else f"{url}&sid={sid}"


def session_url(target: Target, sid: str, extra: str = "") -> str:
    return query(target, f"EIO=4&transport=polling&sid={sid}{extra}")


def check_handshake(text: str, upgrades: list[str]) -> str:
    """Check an OPEN packet's JSON like the suite does; return the sid."""
    assert text.startswith("0"), text
    value = json.loads(text[1:])
    assert set(value) == HANDSHAKE_KEYS, value
    assert isinstance(value["sid"], str)
    assert value["upgrades"] == upgrades
    assert value["pingInterval"] == PING_INTERVAL
    assert value["pingTimeout"] == PING_TIMEOUT
    assert value["maxPayload"] == MAX_PAYLOAD
    sid: str = value["sid"]
    return sid


# --------------------------------------------------------------------------- WebSocket


class WS:
    """A hand-driven WebSocket client connection."""

    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn

    async def recv(self, timeout: float = WAIT) -> str | bytes:
        """The next message; AssertionError if none comes in time or the peer closed."""
        try:
            return await asyncio.wait_for(self.conn.recv(), scaled(timeout))
        except TimeoutError:
            raise AssertionError(f"no message within {timeout}s") from None
        except ConnectionClosed as exc:
            raise AssertionError(f"connection closed instead of a message: {exc}") from None

    async def recv_skip_pings(self, timeout: float = WAIT) -> str | bytes:
        """The next message that is not an Engine.IO ping ("2")."""
        while True:
            message = await self.recv(timeout)
            if message != "2":
                return message

    async def recv_many_skip_pings(self, count: int, timeout: float = WAIT) -> list[str | bytes]:
        return [await self.recv_skip_pings(timeout) for _ in range(count)]

    async def send(self, message: str | bytes) -> None:
        await self.conn.send(message)

    async def closed(self, timeout: float = WAIT) -> bool:
        """Read (and drop) messages until the server closes; False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + scaled(timeout)
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self.conn.recv(), remaining)
            except ConnectionClosed:
                return True
            except TimeoutError:
                return False

    async def close(self) -> None:
        await self.conn.close()


async def ws_connect(url: str) -> WS | None:
    """Open a WebSocket; ``None`` if the server refused the opening handshake."""
    try:
        conn = await connect(
            url,
            open_timeout=scaled(10.0),
            ping_interval=None,
            close_timeout=scaled(2.0),
            max_size=None,
        )
    except (InvalidHandshake, ConnectionClosed):
        return None
    return WS(conn)


@contextlib.asynccontextmanager
async def websocket(url: str) -> AsyncIterator[WS]:
    """Open a WebSocket that must be accepted; closed on exit."""
    ws = await ws_connect(url)
    assert ws is not None, f"the server refused the WebSocket {url}"
    try:
        yield ws
    finally:
        with contextlib.suppress(Exception):
            await ws.close()


async def refused_or_closed(url: str, timeout: float = WAIT) -> bool:
    """True if the server refuses the WebSocket or closes it right away."""
    ws = await ws_connect(url)
    if ws is None:
        return True
    try:
        return await ws.closed(timeout)
    finally:
        await ws.close()


async def with_retries(scenario: Callable[[], Awaitable[None]], tries: int = 3) -> None:
    """Run a timing-bound scenario on fresh sessions until it passes once.

    The servers under test answer within a 200 ms pong deadline; on a loaded 2-core
    machine the *client* can miss it now and then. A real server bug fails every try.
    """
    for attempt in range(tries):
        try:
            await scenario()
            return
        except AssertionError:
            if attempt == tries - 1:
                raise


def text(message: Any) -> str:
    assert isinstance(message, str), f"expected a text frame, got {message!r}"
    return message
