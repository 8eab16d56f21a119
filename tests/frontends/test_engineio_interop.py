"""The conformance server, both front ends, driven by the official engine.io-client."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.node import run_node
from tests.support.timeouts import scaled

pytestmark = pytest.mark.interop

ROOT = Path(__file__).resolve().parents[2]
SERVER = ROOT / "examples" / "conformance" / "engineio_server.py"
MESSAGES = 6


@pytest.fixture(params=["native", "asgi"])
async def server_port(request: pytest.FixtureRequest) -> AsyncIterator[int]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SERVER),
        "--frontend",
        request.param,
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=str(ROOT),
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), scaled(15))
        port = int(json.loads(line)["port"])
        yield port
    finally:
        if proc.returncode is None:
            proc.terminate()  # our own child, by PID
        _, err = await asyncio.wait_for(proc.communicate(), scaled(10))
        assert b"Traceback" not in err and b"ERROR" not in err, err.decode()


def _check(lines: list[Any], mode: str) -> None:
    echoes = [line for line in lines if "echo" in line]
    assert [e["echo"] for e in echoes] == list(range(MESSAGES)), lines
    assert all(e["ok"] for e in echoes), lines
    assert [e["kind"] for e in echoes] == ["text", "text", "binary", "text", "binary", "text"]
    done = next(line for line in lines if line.get("done"))
    assert done["pings"] >= 2  # the session survives several heartbeats
    assert done["closeReason"] == "forced close"
    opened = next(line["open"] for line in lines if "open" in line)
    if mode == "polling":
        assert opened == "polling" and done["transport"] == "polling"
        assert {e["transport"] for e in echoes} == {"polling"}
    elif mode == "websocket":
        assert opened == "websocket" and done["transport"] == "websocket"
    else:
        assert opened == "polling"
        assert {"upgrade": "websocket"} in lines
        assert {e["transport"] for e in echoes} == {"websocket"}
    assert not [line for line in lines if "error" in line], lines


async def test_official_client_polling_websocket_and_upgrade(server_port: int) -> None:
    modes = ("polling", "websocket", "upgrade")
    results = await asyncio.gather(
        *(
            run_node(
                "eio_client_echo.js",
                "--url",
                f"http://127.0.0.1:{server_port}",
                "--mode",
                mode,
                timeout=30,
            )
            for mode in modes
        )
    )
    for mode, result in zip(modes, results, strict=True):
        result.check()
        _check(result.lines, mode)


async def test_protocol_checks(server_port: int) -> None:
    """Status codes, aborts, heartbeats, upgrades and closes, driven by Node (fetch + ws)."""
    result = (
        await run_node("eio_protocol_checks.js", "--port", str(server_port), timeout=60)
    ).check()
    checks = [line for line in result.lines if "check" in line]
    failed = [line for line in checks if not line["ok"]]
    assert not failed, failed
    assert len(checks) == result.lines[-1]["done"] == 13
