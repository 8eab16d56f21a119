"""Fixtures for the client tests: servers to talk to and the transport matrix.

Every interop scenario runs against two servers with the same handlers: the official
Node socket.io 4.8 (``tests/interop/js/client_node_server.js``) and aiosocketio's own
``Server`` (``tests/client/py_server.py``). Each runs in its own process, so a test can
kill it by PID and restart it on the same port. Tests that do not kill the server share
one process per kind (started once per session); each server prints one JSON line per
observed event, tagged with the socket id, so tests only look at their own lines.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from aiosocketio.client.connection import wait_closing
from tests.support.node import JS_DIR, NODE_MODULES
from tests.support.timeouts import scaled

REPO = Path(__file__).resolve().parents[2]
SERVER_KINDS = ("node", "python")

TRANSPORTS: dict[str, dict[str, Any]] = {
    "polling": {"transports": ["polling"]},
    "websocket": {"transports": ["websocket"]},
    "upgrade": {"transports": ["polling", "websocket"], "upgrade": True},
}


class ServerProcess:
    """A test server process (Node or aiosocketio), usable from any event loop.

    Its stdout is read by a thread into a queue of JSON lines.
    """

    def __init__(self, kind: str, port: int = 0, env: dict[str, str] | None = None) -> None:
        self.kind = kind
        full_env = {**os.environ, "NODE_PATH": str(NODE_MODULES), **(env or {})}
        if kind == "node":
            cmd = ["node", str(JS_DIR / "client_node_server.js"), str(port)]
        else:
            cmd = [sys.executable, "-m", "tests.client.py_server", str(port)]
        self.popen = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=full_env,
            cwd=str(REPO),
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.stderr: list[str] = []
        assert self.popen.stdout is not None and self.popen.stderr is not None
        self._threads = [
            threading.Thread(target=self._read, args=(self.popen.stdout,), daemon=True),
            threading.Thread(target=self._read_err, args=(self.popen.stderr,), daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        try:
            first = self.lines.get(timeout=scaled(20))
        except queue.Empty:
            self.stop()
            raise AssertionError(f"{kind} server did not start: {''.join(self.stderr)}") from None
        self.port = int(first["port"])

    def _read(self, stream: IO[bytes]) -> None:
        for raw in stream:
            try:
                item = json.loads(raw)
            except ValueError:
                continue
            if isinstance(item, dict):
                self.lines.put(item)

    def _read_err(self, stream: IO[bytes]) -> None:
        for raw in stream:
            self.stderr.append(raw.decode(errors="replace"))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def drain(self) -> list[dict[str, Any]]:
        """Return (and forget) the lines received so far."""
        out = []
        while True:
            try:
                out.append(self.lines.get_nowait())
            except queue.Empty:
                return out

    async def wait_for(
        self, key: str, value: Any = None, timeout: float = 10.0, **match: Any
    ) -> dict[str, Any]:
        """Skip lines until one has ``key`` (equal to ``value`` if given, and ``match``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + scaled(timeout)
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                if loop.time() > deadline:
                    raise AssertionError(
                        f"no line with {key}={value!r} {match}; stderr:\n{''.join(self.stderr)}"
                    ) from None
                await asyncio.sleep(0.005)
                continue
            if key in line and (value is None or line[key] == value):
                if all(line.get(k) == v for k, v in match.items()):
                    return line

    def stop(self) -> None:
        """Kill the process (ours, by PID) and reap it."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(5)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        for thread in self._threads:
            thread.join(5)  # the readers end at EOF, once the process is gone
        for stream in (self.popen.stdout, self.popen.stderr):
            if stream is not None:
                stream.close()


RunningServer = ServerProcess


async def start_server(
    kind: str = "node", port: int = 0, env: dict[str, str] | None = None
) -> ServerProcess:
    """Start a private server process of ``kind`` (for tests that kill it)."""
    return await asyncio.get_running_loop().run_in_executor(None, ServerProcess, kind, port, env)


@pytest.fixture
async def settle() -> AsyncIterator[None]:
    """After the test, let closed clients finish their closing I/O before the loop ends."""
    yield
    await wait_closing()
    await asyncio.sleep(0.02)  # TLS transports that failed their handshake close lazily


@pytest.fixture(params=SERVER_KINDS)
def server_kind(request: pytest.FixtureRequest) -> str:
    """Which server implementation the test talks to."""
    kind: str = request.param
    return kind


@pytest.fixture(scope="session")
def shared_servers() -> Iterator[dict[str, ServerProcess]]:
    servers: dict[str, ServerProcess] = {}
    yield servers
    for srv in servers.values():
        srv.stop()


@pytest.fixture
def server(server_kind: str, shared_servers: dict[str, ServerProcess]) -> ServerProcess:
    """The shared server of this kind (restarted if a test broke it)."""
    srv = shared_servers.get(server_kind)
    if srv is None or not srv.alive:
        srv = shared_servers[server_kind] = ServerProcess(server_kind)
    srv.drain()
    return srv


@pytest.fixture(params=sorted(TRANSPORTS))
def transport_opts(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Client options for polling only, WebSocket only, and polling upgraded to WebSocket."""
    name: str = request.param
    return {**TRANSPORTS[name], "force_new": True}
