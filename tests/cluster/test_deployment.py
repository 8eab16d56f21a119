"""Deployment: ``aiosocketio run --workers N --port-per-worker --redis URL`` behind nginx
(ip_hash), on loopback.

The clients use HTTP long-polling only, each from its own loopback /24 (127.0.X.1), so that
ip_hash spreads them over the processes; a session works only if nginx keeps it on one
process, and a broadcast made by any process reaches the clients of every process.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cluster.support import eventually, free_port, own_redis
from tests.support.timeouts import scaled

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "cluster"
WORKERS = 3


def ensure_nginx() -> str:
    """The nginx binary; installs Debian's nginx if it is missing (idempotent)."""
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(
        ["apt-get", "install", "-y", "--no-install-recommends", "nginx"],
        check=False,
        env=env,
        capture_output=True,
    )
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if not found:
        subprocess.run(["apt-get", "update"], check=False, env=env, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", "nginx"],
            check=True,
            env=env,
            capture_output=True,
        )
        found = shutil.which("nginx") or "/usr/sbin/nginx"
    return found


def consecutive_free_ports(count: int) -> int:
    """A port P such that P .. P+count-1 are all free on loopback (for --port-per-worker)."""
    for _ in range(50):
        base = free_port()
        socks: list[socket.socket] = []
        try:
            for i in range(count):
                sock = socket.socket()
                socks.append(sock)
                sock.bind(("127.0.0.1", base + i))
            return base
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise RuntimeError(f"no {count} consecutive free ports")


async def wait_port(port: int, proc: asyncio.subprocess.Process, timeout: float = 15) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + scaled(timeout)
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            await writer.wait_closed()
            return
        except OSError:
            if proc.returncode is not None:
                err = b""
                if proc.stderr is not None:
                    err = await proc.stderr.read()
                raise AssertionError(f"process exited {proc.returncode}: {err.decode()}") from None
            if loop.time() > deadline:
                raise AssertionError(f"nothing listens on {port}") from None
            await asyncio.sleep(0.05)


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()  # our own process, by PID
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except TimeoutError:
            proc.kill()
            await proc.wait()


class PollingClient:
    """A Socket.IO client on HTTP long-polling only (EIO=4), from one source address."""

    def __init__(self, base: str, source: str) -> None:
        self.base = base
        self.source = source
        self.http = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(local_address=source), timeout=30
        )
        self.sid = ""
        self.events: list[list[Any]] = []
        self.acks: dict[int, list[Any]] = {}
        self.errors: list[str] = []
        self._task: asyncio.Task[None] | None = None

    def _url(self) -> str:
        return f"{self.base}/socket.io/?EIO=4&transport=polling&sid={self.sid}"

    async def connect(self) -> None:
        r = await self.http.get(f"{self.base}/socket.io/?EIO=4&transport=polling")
        assert r.status_code == 200, r.text
        assert r.text.startswith("0")
        self.sid = json.loads(r.text[1:])["sid"]
        await self.send("40")
        self._task = asyncio.ensure_future(self._poll())

    async def send(self, packet: str) -> None:
        r = await self.http.post(self._url(), content=packet.encode())
        assert r.status_code == 200, r.text

    async def emit(self, *args: Any, ack: int | None = None) -> None:
        await self.send("42" + ("" if ack is None else str(ack)) + json.dumps(list(args)))

    async def _poll(self) -> None:
        while True:
            r = await self.http.get(self._url())
            if r.status_code != 200:
                self.errors.append(f"{r.status_code} {r.text}")
                return
            for packet in r.text.split("\x1e"):
                if packet == "2":
                    await self.send("3")
                elif packet.startswith("42"):
                    self.events.append(json.loads(packet[2:]))
                elif packet.startswith("43"):
                    body = packet[2:]
                    bracket = body.index("[")
                    self.acks[int(body[:bracket])] = json.loads(body[bracket:])
                elif packet.startswith("1"):
                    self.errors.append("closed")
                    return

    def received(self, event: str) -> list[Any]:
        return [e[1] if len(e) > 1 else None for e in self.events if e[0] == event]

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, httpx.HTTPError):
                pass
        await self.http.aclose()


@pytest.fixture
async def deployment() -> AsyncIterator[str]:
    nginx = ensure_nginx()
    async with own_redis() as redis_server:
        base = consecutive_free_ports(WORKERS)
        ports = [base + i for i in range(WORKERS)]
        procs: list[asyncio.subprocess.Process] = []
        prefix = tempfile.mkdtemp(prefix="aiosocketio-nginx-")
        try:
            # One command, N worker processes on PORT .. PORT+N-1 (the parent forwards
            # SIGTERM to them).
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "aiosocketio", "run", "app:sio",
                "--app-dir", str(EXAMPLE), "--host", "127.0.0.1", "--port", str(base),
                "--workers", str(WORKERS), "--port-per-worker", "--redis", redis_server.url,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            procs.append(proc)
            for port in ports:
                await wait_port(port, proc)
            listen = free_port()
            upstreams = " ".join(f"server 127.0.0.1:{p};" for p in ports)
            conf = (EXAMPLE / "nginx.conf.template").read_text()
            conf = conf.replace("{{PREFIX}}", prefix).replace("{{LISTEN}}", f"127.0.0.1:{listen}")
            conf = conf.replace("{{UPSTREAMS}}", upstreams)
            Path(prefix, "nginx.conf").write_text(conf)
            proxy = await asyncio.create_subprocess_exec(
                nginx, "-p", prefix, "-c", f"{prefix}/nginx.conf",
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            procs.append(proxy)
            await wait_port(listen, proxy)
            yield f"http://127.0.0.1:{listen}"
        finally:
            for proc in reversed(procs):
                await stop(proc)
            shutil.rmtree(prefix, ignore_errors=True)


async def test_polling_clients_behind_nginx_get_broadcasts_from_every_worker(
    deployment: str,
) -> None:
    # one client per loopback /24: ip_hash hashes the first three octets
    clients = [PollingClient(deployment, f"127.0.{i}.1") for i in range(1, 9)]
    try:
        for client in clients:
            await client.connect()
        for client in clients:
            await eventually(lambda c=client: bool(c.received("welcome")))  # type: ignore[misc]
        worker_of = {c.source: c.received("welcome")[0]["worker"] for c in clients}
        workers = set(worker_of.values())
        assert len(workers) >= 2, worker_of  # ip_hash spread the clients

        await clients[0].emit("count", ack=1)
        await eventually(lambda: 1 in clients[0].acks)
        assert clients[0].acks[1] == [WORKERS]

        for i, client in enumerate(clients):
            await client.emit("shout", f"hello from {i}")
        expected = {(worker_of[c.source], f"hello from {i}") for i, c in enumerate(clients)}
        for client in clients:

            def got_all(c: PollingClient = client) -> bool:
                return {(m["worker"], m["message"]) for m in c.received("shouted")} == expected

            await eventually(got_all, timeout=10, what=f"{client.source} got every shout")
        # the sessions stayed on their process (no "Session ID unknown")
        assert all(not c.errors for c in clients), [c.errors for c in clients]
    finally:
        for client in clients:
            await client.close()
