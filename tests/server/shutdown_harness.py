"""Drive a shutdown with a backlog: a server process, fleets of official clients, SIGTERM.

:func:`run_shutdown` starts the server of :mod:`tests.server.shutdown_app` (the built-in
server through ``aiosocketio run``, the ASGI app under uvicorn, or Node's socket.io for
comparison), connects fleets of socket.io-client sockets (``shutdown_fleet.js``) that do
not read, makes the server broadcast a backlog to all of them, sends SIGTERM, lets the
clients read (slowly, then fast; or never), and returns what happened: the time from
SIGTERM to the exit of the process, its exit status, what the clients received and why
they were disconnected, and the server's report at exit.

``python -m tests.server.shutdown_harness native|asgi|node [--never-read] ...`` prints
the figures (the report of issue 12).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosocketio
from tests.support.node import JS_DIR, NODE_MODULES, NodeProcess
from tests.support.timeouts import scaled

REPO_ROOT = Path(__file__).resolve().parents[2]
APP = Path(__file__).resolve().parent / "shutdown_app.py"


@dataclass
class ShutdownRun:
    """What one shutdown did."""

    frontend: str
    clients: int
    messages: int
    size: int
    queued: dict[str, Any]
    exit_seconds: float
    returncode: int
    reports: list[dict[str, Any]]
    server_exit: dict[str, Any] | None
    stderr: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def total(self, key: str) -> int:
        return sum(int(report[key]) for report in self.reports)

    def reasons(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for report in self.reports:
            for reason, count in report["reasons"].items():
                out[reason] = out.get(reason, 0) + count
        return out

    def ws_closes(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for report in self.reports:
            for code, count in report["wsCloses"].items():
                out[code] = out.get(code, 0) + count
        return out

    def summary(self) -> dict[str, Any]:
        return {
            "frontend": self.frontend,
            "clients": self.clients,
            "backlog": f"{self.messages} x {self.size} B",
            "buffered_at_sigterm_mb": round(self.queued.get("buffered", 0) / 1e6, 1),
            "exit_s": round(self.exit_seconds, 2),
            "returncode": self.returncode,
            "complete": self.total("complete"),
            "in_order": self.total("inOrder"),
            "read_before_sigterm": self.total("countAtGo"),
            "reasons": self.reasons(),
            "ws_closes": self.ws_closes(),
            "min_count": min(r["counts"]["min"] for r in self.reports),
            "last_disconnect_s": max((r["lastDisconnectMs"] or 0) / 1000 for r in self.reports),
            "server_exit": self.server_exit,
        }


class ServerProc:
    """The server process and the lines it prints."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: asyncio.Queue[str | None] = asyncio.Queue()
        self.kept: list[str] = []
        self.err: list[str] = []
        self._readers = [
            asyncio.ensure_future(self._read()),
            asyncio.ensure_future(self._read_err()),
        ]

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            self.kept.append(line)
            await self.lines.put(line)
        await self.lines.put(None)

    async def _read_err(self) -> None:
        assert self.proc.stderr is not None
        async for raw in self.proc.stderr:
            self.err.append(raw.decode(errors="replace"))

    async def port(self, timeout: float = 30.0) -> int:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + scaled(timeout)
        while True:
            try:
                line = await asyncio.wait_for(self.lines.get(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                raise AssertionError(f"no port from the server; stderr:\n{self.stderr}") from None
            if line is None:
                raise AssertionError(f"the server exited; stderr:\n{self.stderr}")
            match = re.search(r"http://127\.0\.0\.1:(\d+) ", line)
            if match:
                return int(match.group(1))
            if line.startswith("{"):
                obj = json.loads(line)
                if isinstance(obj.get("port"), int):
                    return int(obj["port"])

    @property
    def stderr(self) -> str:
        return "".join(self.err)

    def exit_report(self) -> dict[str, Any] | None:
        for line in self.kept:
            if line.startswith('{"exit"'):
                report: dict[str, Any] = json.loads(line)["exit"]
                return report
        return None

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        for task in self._readers:
            try:
                await asyncio.wait_for(task, 5)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()


async def start_server(frontend: str, grace: float, ws: str = "websockets-sansio") -> ServerProc:
    """Start the server: ``native`` (the CLI), ``asgi`` (uvicorn) or ``node``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    if frontend == "native":
        argv = [
            sys.executable,
            "-m",
            "aiosocketio",
            "run",
            "tests.server.shutdown_app:sio",
            "--port",
            "0",
            "--shutdown-grace",
            str(grace),
            "--log-level",
            "warning",
        ]
    elif frontend == "asgi":
        argv = [sys.executable, str(APP), "--port", "0", "--grace", str(grace), "--ws", ws]
    else:
        env["NODE_PATH"] = str(NODE_MODULES)
        argv = ["node", str(JS_DIR / "shutdown_node_server.js"), "--port", "0"]
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
        env=env,
        cwd=str(REPO_ROOT),
    )
    return ServerProc(proc)


async def run_shutdown(
    frontend: str,
    *,
    clients: int = 1000,
    fleets: int = 4,
    messages: int = 200,
    size: int = 10 * 1024,
    grace: float = 10.0,
    never_read: bool = False,
    slow_ms: int = 2000,
    transport: str = "websocket",
    ws: str = "websockets-sansio",
) -> ShutdownRun:
    """Run one shutdown with a backlog and return what happened (see the module)."""
    server = await start_server(frontend, grace, ws)
    fleet: list[NodeProcess] = []
    control: Any = None
    try:
        port = await server.port()
        url = f"http://127.0.0.1:{port}"
        per = [clients // fleets + (1 if i < clients % fleets else 0) for i in range(fleets)]
        for count in per:
            args = ["--url", url, "--clients", str(count), "--expect", str(messages)]
            args += ["--size", str(size), "--transport", transport, "--slow-ms", str(slow_ms)]
            if never_read:
                args.append("--never-read")
            fleet.append(await NodeProcess.start("shutdown_fleet.js", *args))
        for node in fleet:
            await node.wait_for("ready", timeout=60)
        control = await aiosocketio.connect(
            url + "/control", transports=["websocket"], reconnection=False
        )
        queued: dict[str, Any] = await control.emit_with_ack(
            "burst", messages, size, timeout=scaled(60)
        )
        started = time.monotonic()
        assert server.proc.pid is not None
        os.kill(server.proc.pid, signal.SIGTERM)
        for node in fleet:
            node.send("go")
        try:
            returncode = await asyncio.wait_for(server.proc.wait(), scaled(grace + 30))
            exit_seconds = time.monotonic() - started
        except TimeoutError:
            if frontend != "node":
                raise AssertionError(
                    f"the server did not exit in {grace + 30}s; stderr:\n{server.stderr}"
                ) from None
            returncode, exit_seconds = -1, float("inf")  # Node's io.close() may never end
        reports: list[dict[str, Any]] = []
        if never_read:
            for node in fleet:
                node.send("resume")  # a client that never read sees its connection gone now
            await asyncio.sleep(scaled(1.0))
            for node in fleet:
                node.send("report")
        # otherwise a fleet reports once its clients have all been disconnected (they may
        # still be reading what the kernel holds for them when the server exits)
        for node in fleet:
            reports.append(await node.wait_for("report", timeout=60))
        await server.stop()
        return ShutdownRun(
            frontend=frontend,
            clients=clients,
            messages=messages,
            size=size,
            queued=queued,
            exit_seconds=exit_seconds,
            returncode=returncode,
            reports=reports,
            server_exit=server.exit_report(),
            stderr=server.stderr,
        )
    finally:
        if control is not None:
            control.disconnect()
        for node in fleet:
            await node.stop()
        await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("frontend", choices=("native", "asgi", "node"))
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--fleets", type=int, default=4)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--size", type=int, default=10 * 1024)
    parser.add_argument("--grace", type=float, default=10.0)
    parser.add_argument("--never-read", action="store_true")
    parser.add_argument("--transport", default="websocket")
    args = parser.parse_args()
    run = asyncio.run(
        run_shutdown(
            args.frontend,
            clients=args.clients,
            fleets=args.fleets,
            messages=args.messages,
            size=args.size,
            grace=args.grace,
            never_read=args.never_read,
            transport=args.transport,
        )
    )
    print(json.dumps(run.summary()))


if __name__ == "__main__":
    main()
