"""A Redis Cluster of our own for the tests: redis-server processes on loopback ports.

``RedisClusterProcs(masters=3, replicas=0)`` starts ``masters * (1 + replicas)`` processes
with ``--cluster-enabled yes`` in a temporary directory, joins them with
``redis-cli --cluster create``, waits until every node agrees the cluster is whole, and
stops them by PID. It can kill one node (a crash) and move a slot to another master.

It is synchronous (the processes do not need the test's event loop), so a module-scoped
fixture can hold it; a test that must keep its loop running while it waits calls it
through ``asyncio.to_thread``.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import redis

from aiosocketio.protocol.redis_cluster import SLOTS, key_slot
from tests.support.timeouts import scaled


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_cluster_ports(count: int) -> list[int]:
    """``count`` free ports whose cluster bus ports (port + 10000) are free too."""
    rng = random.Random()
    ports: list[int] = []
    while len(ports) < count:
        port = rng.randrange(20000, 30000)
        if port not in ports and _bindable(port) and _bindable(port + 10000):
            ports.append(port)
    return ports


class RedisClusterProcs:
    """A Redis Cluster on loopback: start, inspect, break, stop.

    Attributes:
        ports: every node's port (the first ``masters`` are the masters when created).
        procs: the redis-server process of each port.
    """

    def __init__(
        self,
        masters: int = 3,
        replicas: int = 0,
        node_timeout_ms: int = 2000,
        password: str | None = None,
    ) -> None:
        self.password = password
        self.masters = masters
        self.replicas = replicas
        self.node_timeout_ms = node_timeout_ms
        self.ports = free_cluster_ports(masters * (1 + replicas))
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.dir = tempfile.mkdtemp(prefix="aiosocketio-cluster-")

    @property
    def url(self) -> str:
        """``redis+cluster://`` with two seeds (one would do)."""
        auth = f":{self.password}@" if self.password else ""
        return f"redis+cluster://{auth}" + ",".join(f"127.0.0.1:{p}" for p in self.ports[:2])

    @property
    def node_urls(self) -> list[str]:
        """``redis://`` URLs of the first nodes (the Node server's seeds)."""
        auth = f":{self.password}@" if self.password else ""
        return [f"redis://{auth}127.0.0.1:{p}" for p in self.ports[:2]]

    def client(self, port: int) -> redis.Redis:
        """A plain client of one node (close it)."""
        return redis.Redis(host="127.0.0.1", port=port, password=self.password, socket_timeout=5)

    def command(self, port: int, *args: Any) -> Any:
        """One command on one node."""
        client = self.client(port)
        try:
            return client.execute_command(*args)  # type: ignore[no-untyped-call]
        finally:
            client.close()

    def start(self) -> None:
        for port in self.ports:
            self._spawn(port)
        for port in self.ports:
            self._wait_ping(port)
        create = subprocess.run(
            [
            "redis-cli", "--cluster", "create",
            *(f"127.0.0.1:{p}" for p in self.ports),
            "--cluster-replicas", str(self.replicas),
            "--cluster-yes",
            *(["-a", self.password, "--no-auth-warning"] if self.password else []),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=scaled(60),
            check=False,
        )  # fmt: skip
        if create.returncode != 0:
            raise AssertionError(f"redis-cli --cluster create: {create.stdout.decode()[-2000:]}")
        self.wait_healthy()

    def _spawn(self, port: int) -> None:
        self.procs[port] = subprocess.Popen(
                [
                "redis-server",
                "--port", str(port),
                "--bind", "127.0.0.1",
                "--dir", self.dir,
                "--cluster-enabled", "yes",
                "--cluster-config-file", f"nodes-{port}.conf",
                "--cluster-node-timeout", str(self.node_timeout_ms),
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
                *(["--requirepass", self.password, "--masterauth", self.password]
                  if self.password else []),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip

    def _wait_ping(self, port: int) -> None:
        client = self.client(port)
        try:
            for _ in range(400):
                try:
                    client.ping()
                    return
                except (OSError, redis.ConnectionError):
                    time.sleep(0.025)
            raise AssertionError(f"redis-server on {port} did not start")
        finally:
            client.close()

    def info(self, port: int, section: str) -> dict[str, str]:
        """``CLUSTER INFO`` (section "cluster") or ``INFO <section>`` of one node."""
        if section == "cluster":
            raw = self.command(port, "CLUSTER", "INFO")
        else:
            raw = self.command(port, "INFO", section)
        if isinstance(raw, dict):
            return {str(k): str(v) for k, v in raw.items()}
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        out: dict[str, str] = {}
        for line in text.splitlines():
            name, sep, value = line.partition(":")
            if sep:
                out[name.strip()] = value.strip()
        return out

    def slots(self, port: int) -> list[Any]:
        """``CLUSTER SLOTS`` as one node sees it."""
        reply: list[Any] = self.command(port, "CLUSTER", "SLOTS")
        return reply

    def owner(self, slot: int, port: int | None = None) -> int:
        """The port of the master that owns ``slot`` (as a live node sees it)."""
        for entry in self.slots(port or self.alive()[0]):
            if int(entry[0]) <= slot <= int(entry[1]):
                return int(entry[2][1])
        raise AssertionError(f"no owner for slot {slot}")

    def alive(self) -> list[int]:
        return [p for p, proc in self.procs.items() if proc.poll() is None]

    def wait_healthy(self, timeout: float = 60) -> None:
        """Until every live node says the cluster is ok, every slot served, replicas in sync."""
        deadline = time.monotonic() + scaled(timeout)
        while True:
            ok = True
            for port in self.alive():
                try:
                    info = self.info(port, "cluster")
                    covered = sum(int(e[1]) - int(e[0]) + 1 for e in self.slots(port))
                    if info.get("cluster_state") != "ok" or covered != SLOTS:
                        ok = False
                    elif self.replicas:
                        repl = self.info(port, "replication")
                        if repl.get("role") == "slave" and repl.get("master_link_status") != "up":
                            ok = False
                except (OSError, redis.RedisError):
                    ok = False
            if ok:
                return
            if time.monotonic() > deadline:
                raise AssertionError("the Redis Cluster did not become healthy")
            time.sleep(0.1)

    def master_ports(self) -> list[int]:
        """The masters' ports, as a live node sees them."""
        ports = []
        for entry in self.slots(self.alive()[0]):
            port = int(entry[2][1])
            if port not in ports:
                ports.append(port)
        return ports

    def kill(self, port: int) -> None:
        """Crash one node (SIGKILL, our own process by PID)."""
        proc = self.procs[port]
        proc.kill()
        proc.wait()

    def restart_killed(self) -> None:
        """Start the killed nodes again (they rejoin, as replicas); wait until healthy."""
        for port, proc in list(self.procs.items()):
            if proc.poll() is not None:
                self._spawn(port)
                self._wait_ping(port)
        self.wait_healthy()

    def move_slot(self, slot: int, to_port: int) -> None:
        """Move ``slot`` (no keys in it) to the master on ``to_port``, as a resharding does."""
        source = self.owner(slot)
        ids: dict[int, str] = {}
        for port in (source, to_port):
            ids[port] = self.command(port, "CLUSTER", "MYID").decode()
        commands = [
            (to_port, ("IMPORTING", ids[source])),
            (source, ("MIGRATING", ids[to_port])),
            (to_port, ("NODE", ids[to_port])),
            (source, ("NODE", ids[to_port])),
        ]
        commands += [(p, ("NODE", ids[to_port])) for p in self.master_ports()]
        for port, args in commands:
            self.command(port, "CLUSTER", "SETSLOT", slot, *args)
        deadline = time.monotonic() + scaled(20)
        while True:
            owners = {self.owner(slot, p) for p in self.alive()}
            if owners == {to_port}:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"slot {slot} did not move: {owners}")
            time.sleep(0.05)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()  # our own processes, by PID
        for proc in self.procs.values():
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def redis_cluster(
    masters: int = 3, replicas: int = 0, node_timeout_ms: int = 2000, password: str | None = None
) -> Iterator[RedisClusterProcs]:
    """A running Redis Cluster, stopped on exit."""
    cluster = RedisClusterProcs(masters, replicas, node_timeout_ms, password)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def slot_of(channel: str) -> int:
    """The slot of a sharded channel (the test's own computation, through the codec)."""
    return key_slot(channel)
