"""The attack harness: a server process, a healthy client beside it, and the attacks.

Each attack is one unauthenticated TCP connection on loopback, bounded in time, that
tries to grow the server's memory or to stall its event loop. While it runs,
:class:`Probe` samples the server process's RSS and a healthy official client
(``tests/interop/js/abuse_healthy_client.js``) emits an echo every 20 ms and measures the
longest gap between two acknowledgements. An :class:`Outcome` tells how the server ended
the attacking connection (an HTTP status, a WebSocket close code, or nothing).

The attacks themselves are in :mod:`tests.abuse.attacks`. They also drive
``tests/abuse/measure.py``, which prints the figures of the report (against this tree, an
older tree, or Node's socket.io).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.node import NodeProcess
from tests.support.servers import (
    NODE_ENV,
    ServerProcess,
    node_server_argv,
    python_server_argv,
    start_server,
)
from tests.support.timeouts import scaled

HERE = Path(__file__).resolve().parent
APP = HERE / "server_app.py"


# -- the server and its measures -----------------------------------------------------------


def start_target(
    frontend: str,
    options: dict[str, Any] | None = None,
    *,
    http: str = "httptools",
    ws: str = "websockets-sansio",
    uvicorn: dict[str, Any] | None = None,
    pythonpath: str | None = None,
) -> ServerProcess:
    """Start the server under attack: ``native``, ``asgi`` (uvicorn) or ``node``."""
    if frontend == "node":
        return start_server(node_server_argv("abuse_node_server.js"), env=NODE_ENV)
    argv = python_server_argv(
        APP,
        "--frontend",
        frontend,
        "--http",
        http,
        "--ws",
        ws,
        "--options",
        json.dumps(options or {}),
        "--uvicorn",
        json.dumps(uvicorn or {}),
    )
    env = {"PYTHONPATH": pythonpath} if pythonpath else None
    return start_server(argv, env=env)


def rss_mb(pid: int) -> float:
    """The resident set size of a process, in MB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def fetch_stats(port: int) -> dict[str, Any]:
    """``GET /stats`` of the server app (its limit counters and disconnect reasons)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = await asyncio.wait_for(reader.read(), scaled(5))
    finally:
        writer.transport.abort()
    head, _, body = data.partition(b"\r\n\r\n")
    if b"chunked" in head.lower():
        body = _unchunk(body)
    result: dict[str, Any] = json.loads(body)
    return result


def _unchunk(body: bytes) -> bytes:
    out = bytearray()
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return bytes(out)


class HealthyClient:
    """The official client echoing every 20 ms beside the attack."""

    def __init__(self, node: NodeProcess) -> None:
        self.node = node

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, port: int) -> AsyncIterator[HealthyClient]:
        node = await NodeProcess.start(
            "abuse_healthy_client.js", "--url", f"http://127.0.0.1:{port}"
        )
        try:
            await node.wait_for("connected", timeout=15)
            client = cls(node)
            await asyncio.sleep(0.3)  # warm up
            yield client
        finally:
            with contextlib.suppress(Exception):
                node.send("exit")
            await node.stop()

    async def reset(self) -> None:
        self.node.send("reset")
        await self.node.wait_for("reset")

    async def report(self) -> dict[str, Any]:
        self.node.send("report")
        line: dict[str, Any] = await self.node.wait_for("report")
        return line


@dataclass
class Outcome:
    """How the server ended the attacking connection."""

    status: int | None = None  # an HTTP status the server answered with
    close_code: int | None = None  # the code of the server's WebSocket close frame
    closed: bool = False  # the server closed (or dropped) the connection
    sent: int = 0  # bytes the attacker got the server to take
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Measure:
    """The figures of one attack."""

    baseline_mb: float
    peak_mb: float
    healthy: dict[str, Any]
    outcome: Outcome
    seconds: float
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def growth_mb(self) -> float:
        return self.peak_mb - self.baseline_mb

    def summary(self) -> dict[str, Any]:
        return {
            "rss_growth_mb": round(self.growth_mb, 1),
            "healthy_max_gap_ms": _round(self.healthy.get("maxGap")),
            "healthy_p99_ms": _round(self.healthy.get("p99")),
            "status": self.outcome.status,
            "close_code": self.outcome.close_code,
            "closed": self.outcome.closed,
            "sent_mb": round(self.outcome.sent / 1e6, 1),
            "seconds": round(self.seconds, 1),
        }


def _round(value: Any) -> Any:
    return round(value, 1) if isinstance(value, (int, float)) else value


Attack = Callable[[int, float], Awaitable[Outcome]]


async def measure(
    server: ServerProcess, attack: Attack, seconds: float, *, settle: float = 0.0
) -> Measure:
    """Run ``attack`` for ``seconds`` beside a healthy client; sample RSS meanwhile."""
    pid = server.proc.pid
    async with HealthyClient.running(server.port) as healthy:
        baseline = rss_mb(pid)
        peak = baseline
        await healthy.reset()
        started = time.monotonic()
        task = asyncio.ensure_future(attack(server.port, seconds))
        while not task.done():
            peak = max(peak, rss_mb(pid))
            await asyncio.wait({task}, timeout=0.1)
        outcome = task.result()
        if settle:
            end = time.monotonic() + settle
            while time.monotonic() < end:
                peak = max(peak, rss_mb(pid))
                await asyncio.sleep(0.1)
        elapsed = time.monotonic() - started
        report = await healthy.report()
    stats: dict[str, Any] = {}
    with contextlib.suppress(Exception):
        stats = await fetch_stats(server.port)
    return Measure(baseline, peak, report, outcome, elapsed, stats)


def node_available() -> bool:
    return (HERE.parent / "interop" / "node_modules" / "socket.io").is_dir()


__all__ = [
    "Attack",
    "HealthyClient",
    "Measure",
    "Outcome",
    "fetch_stats",
    "measure",
    "node_available",
    "rss_mb",
    "start_target",
]

os.environ.setdefault("PYTHONUNBUFFERED", "1")
