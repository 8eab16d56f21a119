"""Two chat demo processes on one Redis form one chat (the demo's ``--redis`` mode).

The demo is served through ``aiosocketio run ... --factory`` with a private Redis channel
prefix, so concurrent test runs on the same Redis do not hear each other.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.browser.server_process import REPO_ROOT, CLIProcess, free_port
from tests.support.node import run_node

pytestmark = pytest.mark.cluster

REDIS_URL = "redis://127.0.0.1:6379"

FACTORY = """
import importlib.util
import sys

spec = importlib.util.spec_from_file_location("chat_demo_app", {path!r})
chat = importlib.util.module_from_spec(spec)
sys.modules["chat_demo_app"] = chat
spec.loader.exec_module(chat)


def make():
    return chat.create_server({url!r}, redis_key={key!r})
"""


async def test_two_demo_processes_share_rooms_and_messages(tmp_path: Path) -> None:
    key = f"aiosocketio-test-{uuid.uuid4().hex[:8]}"
    app = REPO_ROOT / "examples" / "chat" / "app.py"
    (tmp_path / "demo_factory.py").write_text(FACTORY.format(path=str(app), url=REDIS_URL, key=key))
    ports = [free_port(), free_port()]
    procs: list[CLIProcess] = []
    try:
        for port in ports:
            proc = await CLIProcess.start(
                "run", "demo_factory:make", "--factory", "--port", str(port),
                "--app-dir", str(tmp_path), "--log-level", "warning",
            )  # fmt: skip
            procs.append(proc)
        for proc in procs:
            await proc.wait_for_output("serving demo_factory:make")
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        result = await run_node("browser_demo_cluster.js", *urls, timeout=30)
        result.check()
        ack = next(line["ack"] for line in result.lines if "ack" in line)
        received = next(line for line in result.lines if "received" in line)
        assert received["received"]["nickname"] == "alice"
        assert received["received"]["text"] == "across processes"
        assert received["received"]["id"] == ack["id"]
        general = next(r for r in received["rooms"] if r["name"] == "general")
        assert general["members"] == 2
    finally:
        codes = [await proc.stop() for proc in procs]
    assert codes == [0, 0], "\n".join(p.text for p in procs)
