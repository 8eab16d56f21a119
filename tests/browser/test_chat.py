"""The chat demo in real headless Chromium: two pages (WebSocket and forced long-polling)
chat both ways with delivery receipts, and keep chatting after the server process restarts
(gracefully, then after a crash).
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from tests.browser.server_process import REPO_ROOT, CLIProcess, free_port
from tests.support.node import NODE_MODULES, NodeProcess

pytestmark = pytest.mark.browser

ARTIFACTS = REPO_ROOT / "artifacts"


async def start_demo(port: int) -> CLIProcess:
    server = await CLIProcess.start(
        "demo", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
        "--shutdown-grace", "1",  # the pages are closed without leaving
        "--client-dist", str(NODE_MODULES / "socket.io-client" / "dist"),
    )  # fmt: skip
    await server.wait_for_output("serving the chat demo")
    await server.wait_port(port)
    return server


async def next_step(driver: NodeProcess, name: str, timeout: float = 30.0) -> Any:
    line = await driver.next_line(timeout)
    assert isinstance(line, dict), line
    assert "error" not in line, f"{line['error']}\nstderr:\n{driver.stderr}"
    assert line.get("step") == name, line
    return line


async def test_chat_in_two_browsers_survives_a_server_restart(chromium: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "chat.png"
    screenshot.unlink(missing_ok=True)
    port = free_port()
    server = await start_demo(port)
    driver = await NodeProcess.start("browser_chat.js", f"http://127.0.0.1:{port}", str(screenshot))
    try:
        launched = await next_step(driver, "launched")
        assert launched["version"]

        login = await next_step(driver, "login")
        assert login["refused"] == "nickname longer than 24 characters"
        assert login["me"] == "carol"

        connected = await next_step(driver, "connected")
        assert connected["transports"] == {"alice": "websocket", "bob": "polling"}
        assert connected["status"] == "connected"

        typing = await next_step(driver, "typing")
        assert "alice is typing" in typing["text"]

        round1 = await next_step(driver, "chatted")
        assert round1["round"] == 1
        assert round1["receiptA"] == "✓"
        assert round1["receiptB"] == "✓"

        rooms = await next_step(driver, "rooms")
        assert rooms["general"] == "2"
        assert rooms["leaked"] is False  # a message sent in #random stays in #random

        # The server process goes away and comes back on the same port, twice: a graceful
        # restart (SIGTERM, the server closes every socket) and a crash (SIGKILL).
        for round_, how, sig, code in [
            (2, "graceful", signal.SIGTERM, 0),
            (3, "crash", signal.SIGKILL, -signal.SIGKILL),
        ]:
            restart = await next_step(driver, "ready_for_restart")
            assert restart["how"] == how
            assert await server.stop(sig) == code, server.text
            assert "Traceback" not in server.text
            driver.send({"cmd": "stopped"})

            reconnecting = await next_step(driver, "reconnecting")
            assert "reconnecting" in reconnecting["alice"]
            assert "reconnecting" in reconnecting["bob"]

            server = await start_demo(port)
            driver.send({"cmd": "restarted"})

            reconnected = await next_step(driver, "reconnected")
            assert reconnected["how"] == how
            assert reconnected["transports"]["bob"] == "polling"

            chatted = await next_step(driver, "chatted")
            assert chatted["round"] == round_
            assert chatted["receiptA"] == "✓"
            assert chatted["receiptB"] == "✓"

        done = await driver.next_line(30)
        assert done.get("done") is True, done
        assert done["errors"] == []
        assert screenshot.stat().st_size > 10_000
        assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        await driver.stop()
        await server.stop()
