"""Helpers of the deployment tests: the configurations of docs/deployment.md on the test's
ports, ``aiosocketio run --workers N --port-per-worker --redis URL`` on loopback, the load
balancer processes, and a raw HTTP long-polling client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from tests.cluster.support import eventually, free_port, own_redis
from tests.support.timeouts import scaled

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "deployment.md"
EXAMPLE = ROOT / "examples" / "cluster"
WORKERS = 3
#: The ports the doc's configurations use: the balancer, then the processes.
DOC_LISTEN = 3000
DOC_PORTS = (3001, 3002, 3003)


def doc_config(name: str) -> str:
    """The fenced block that follows ``<!-- config: NAME -->`` in docs/deployment.md."""
    text = DOC.read_text()
    marker = f"<!-- config: {name} -->"
    assert text.count(marker) == 1, f"{marker} must appear once in {DOC}"
    found = re.match(r"\s*```[a-z]*\n(.*?)```", text.split(marker, 1)[1], re.S)
    assert found is not None, f"no fenced block after {marker}"
    return found.group(1)


def localize(config: str, listen: int, ports: Sequence[int]) -> str:
    """The doc's configuration on the test's ports, and nothing else changed: the balancer's
    port (nginx ``listen 3000;``, HAProxy ``bind :3000``) and the processes' addresses."""
    assert len(ports) == len(DOC_PORTS)
    for doc_port, port in zip(DOC_PORTS, ports, strict=True):
        assert config.count(f"127.0.0.1:{doc_port}") == 1, doc_port
        config = config.replace(f"127.0.0.1:{doc_port}", f"127.0.0.1:{port}")
    config, count = re.subn(rf"\b(listen|bind) :?{DOC_LISTEN}\b", rf"\1 127.0.0.1:{listen}", config)
    assert count == 1, "one listen/bind on the balancer's port"
    return config


def find_binary(name: str) -> str:
    """A Debian binary (nginx, haproxy), installed by scripts/ensure_<name>.sh if missing."""
    for candidate in (shutil.which(name), f"/usr/sbin/{name}"):
        if candidate and Path(candidate).exists():
            return candidate
    script = ROOT / "scripts" / f"ensure_{name}.sh"
    if script.exists():
        subprocess.run([str(script)], check=True, capture_output=True)
    else:  # no script of its own: the same apt-get install
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        apt = ["apt-get", "install", "-y", "--no-install-recommends", name]
        if subprocess.run(apt, check=False, env=env, capture_output=True).returncode:
            subprocess.run(["apt-get", "update"], check=False, env=env, capture_output=True)
            subprocess.run(apt, check=True, env=env, capture_output=True)
    found = shutil.which(name) or f"/usr/sbin/{name}"
    assert Path(found).exists(), f"{name} is not installed"
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


@contextlib.asynccontextmanager
async def workers() -> AsyncIterator[list[int]]:
    """``aiosocketio run --workers 3 --port-per-worker --redis URL`` with the example app
    (examples/cluster/app.py), on its own Redis; yields the three ports."""
    async with own_redis() as redis_server:
        base = consecutive_free_ports(WORKERS)
        ports = [base + i for i in range(WORKERS)]
        # One command, N worker processes on PORT .. PORT+N-1 (the parent forwards SIGTERM).
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "aiosocketio", "run", "app:sio",
            "--app-dir", str(EXAMPLE), "--host", "127.0.0.1", "--port", str(base),
            "--workers", str(WORKERS), "--port-per-worker", "--redis", redis_server.url,
            "--shutdown-grace", "1",  # raw polling clients in the tests never say goodbye
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            for port in ports:
                await wait_port(port, proc)
            yield ports
        finally:
            await stop(proc)


@contextlib.asynccontextmanager
async def balancer(argv: Sequence[str], listen: int) -> AsyncIterator[str]:
    """Run a load balancer (our own process) until the block ends; yields its base URL."""
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    try:
        await wait_port(listen, proc)
        yield f"http://127.0.0.1:{listen}"
    finally:
        await stop(proc)


class PollingClient:
    """A Socket.IO client on HTTP long-polling only (EIO=4), from one source address. It
    keeps the cookies the answers set, as a browser does."""

    def __init__(self, base: str, source: str = "127.0.0.1") -> None:
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


async def check_polling_clients(clients: Sequence[PollingClient]) -> None:
    """Connect the clients through the balancer; each must stay on its process: it is told
    which process serves it, the processes are at least two, a count over the cluster sees
    every process, and a shout of each client reaches every client."""
    for client in clients:
        await client.connect()
    for client in clients:
        await eventually(lambda c=client: bool(c.received("welcome")))  # type: ignore[misc]
    worker_of = {id(c): c.received("welcome")[0]["worker"] for c in clients}
    assert len(set(worker_of.values())) >= 2, worker_of  # the balancer spread the clients

    await clients[0].emit("count", ack=1)
    await eventually(lambda: 1 in clients[0].acks)
    assert clients[0].acks[1] == [WORKERS]

    for i, client in enumerate(clients):
        await client.emit("shout", f"hello from {i}")
    expected = {(worker_of[id(c)], f"hello from {i}") for i, c in enumerate(clients)}
    for client in clients:

        def got_all(c: PollingClient = client) -> bool:
            return {(m["worker"], m["message"]) for m in c.received("shouted")} == expected

        await eventually(got_all, timeout=10, what=f"{client.source} got every shout")
    # the sessions stayed on their process (no "Session ID unknown")
    assert all(not c.errors for c in clients), [c.errors for c in clients]
