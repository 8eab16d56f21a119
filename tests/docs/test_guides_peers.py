"""The official npm client (socket.io-client, tests/interop) against the guides' servers.

test_guides.py runs each guide's programs with the Python client; here the servers the
guides define (their ``# file:`` modules, as written) meet the official client:

* the JWT middleware of docs/guides/authentication.md: what ``connect_error`` receives
  (``err.message``, ``err.data``) on each refusal, on both transport modes;
* the chat of docs/guides/migrating-from-python-socketio.md: the python-socketio server
  and its aiosocketio port (under uvicorn, and on the built-in server) give the official
  client the same transcript.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.docs.guide_blocks import GUIDES_DIR, child_env, write_modules
from tests.support.node import run_node
from tests.support.timeouts import scaled

pytestmark = pytest.mark.interop


def load(path: Path) -> ModuleType:
    """Import a guide's module under a name of its own (nothing left in sys.modules)."""
    spec = importlib.util.spec_from_file_location(f"guide_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@asynccontextmanager
async def uvicorn_serving(app: str, folder: Path) -> AsyncIterator[str]:
    """``uvicorn APP`` in ``folder`` on a free port; yields its URL."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--log-level", "warning"]
    server = subprocess.Popen(command, cwd=folder, env=child_env(folder))
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + scaled(30)
        while True:
            assert server.poll() is None, f"uvicorn {app} exited with {server.returncode}"
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                assert loop.time() < deadline, f"uvicorn {app} does not listen"
                await asyncio.sleep(0.1)
                continue
            writer.close()
            break
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(scaled(15))
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


async def test_the_official_client_gets_the_jwt_refusals_with_their_data(tmp_path: Path) -> None:
    write_modules(GUIDES_DIR / "authentication.md", tmp_path)
    guide = load(tmp_path / "jwt_auth.py")
    io = guide.io
    await io.listen(0, "127.0.0.1")
    try:
        valid = guide.issue_token("ada")
        attempts: list[dict[str, Any]] = []
        for transports in (["polling", "websocket"], ["websocket"]):
            attempts += [
                {"name": "valid", "auth": {"token": valid}, "transports": transports},
                {"name": "none", "auth": {}, "transports": transports},
                {"name": "expired", "auth": {"token": guide.issue_token("ada", ttl=-60)}},
                {"name": "forged", "auth": {"token": valid[:-4] + "AAAA"}},
            ]
        result = await run_node(
            "guide_auth_client.js", f"http://127.0.0.1:{io.port}", json.dumps(attempts)
        )
        result.check()
        refused = {"connected": False}
        expected = [
            {"name": "valid", "connected": True, "whoami": "ada"},
            {"name": "none", **refused, "message": "authentication required",
             "data": {"code": "NO_TOKEN"}},
            {"name": "expired", **refused, "message": "token expired",
             "data": {"code": "TOKEN_EXPIRED"}},
            {"name": "forged", **refused, "message": "invalid token",
             "data": {"code": "BAD_TOKEN"}},
        ]  # fmt: skip
        assert result.lines == expected * 2
    finally:
        await io.close()


EXPECTED_CHAT = {
    "seen": {
        "ada": [["joined", "ada"], ["joined", "bob"], ["left", "bob"]],
        "bob": [["joined", "bob"], ["said", "hello"]],
    },
    "acks": ["ok", "ok", 5, "right"],
    "refusal": ["name required", {"field": "name"}],
}


async def chat_transcript(url: str) -> Any:
    result = await run_node("guide_chat_client.js", url)
    result.check()
    [line] = result.lines
    return line


async def test_the_official_client_sees_the_same_chat_on_both_servers(tmp_path: Path) -> None:
    write_modules(GUIDES_DIR / "migrating-from-python-socketio.md", tmp_path)
    async with uvicorn_serving("chat_psio:app", tmp_path) as url:
        before = await chat_transcript(url)
    assert before == EXPECTED_CHAT
    async with uvicorn_serving("chat_aio:app", tmp_path) as url:
        assert await chat_transcript(url) == before
    port = load(tmp_path / "chat_aio.py")
    await port.io.listen(0, "127.0.0.1")
    try:
        assert await chat_transcript(f"http://127.0.0.1:{port.io.port}") == before
    finally:
        await port.io.close()
