"""Two chat demo processes on one Redis form one chat (``aiosocketio demo --redis URL``).

A private ``--redis-key`` keeps concurrent test runs on the same Redis apart.
"""

from __future__ import annotations

import uuid

import pytest

from tests.browser.server_process import CLIProcess, free_port
from tests.support.node import run_node

pytestmark = pytest.mark.cluster

REDIS_URL = "redis://127.0.0.1:6379"


async def test_two_demo_processes_share_rooms_and_messages() -> None:
    key = f"aiosocketio-demo-test-{uuid.uuid4().hex[:8]}"
    ports = [free_port(), free_port()]
    procs: list[CLIProcess] = []
    try:
        for port in ports:
            proc = await CLIProcess.start(
                "demo", "--port", str(port), "--log-level", "warning",
                "--redis", REDIS_URL, "--redis-key", key,
                "--shutdown-grace", "1",  # the pages are closed without leaving
            )  # fmt: skip
            procs.append(proc)
        for proc in procs:
            line = await proc.wait_for_output("using the Redis adapter")
            assert REDIS_URL in line
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
    assert all("Traceback" not in p.text for p in procs)
