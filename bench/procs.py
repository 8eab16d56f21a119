"""The processes of bench/scale.py and bench/capacity.py: an own redis-server, a cluster of
server processes (aiosocketio or Node) joined through it, and C load generators holding
clients, each started and stopped by its PID."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peers import LOADGEN, ensure_node_modules
from run import CLK_TCK, cpu_seconds, free_port, rss_kib

SERVERS_DIR = Path(__file__).resolve().parent / "servers"


class RunError(RuntimeError):
    """The run cannot go on (a process died, a step timed out, clients were dropped)."""


# -- processes ------------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    """The child processes of ``pid``."""
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def busy_seconds() -> float:
    """CPU time spent by every process on every core (user, nice, system, steal)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (v[0] + v[1] + v[2] + v[7]) / CLK_TCK


def wait_listening(port: int, proc: subprocess.Popen[Any], timeout: float) -> None:
    """Wait until something accepts on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RunError(f"server exited with {proc.returncode} before listening on {port}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RunError(f"nothing listens on {port} after {timeout:g} s")


def consecutive_free_ports(count: int) -> int:
    """A port P such that P .. P+count-1 are free on loopback."""
    for _ in range(50):
        base = free_port()
        socks: list[socket.socket] = []
        try:
            for i in range(count):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", base + i))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RunError(f"no {count} consecutive free ports")


def stop_process(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, wait: float = 30) -> None:
    """Stop one of our processes, by its PID."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class RedisServer:
    """A redis-server of our own, so that its CPU and counters are the run's alone."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--daemonize", "no"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_listening(self.port, self.proc, 10)
        self.url = f"redis://127.0.0.1:{self.port}"

    def info(self, section: str) -> dict[str, str]:
        """One section of ``INFO`` (RESP over a plain socket)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(f"INFO {section}\r\n".encode())
            data = s.recv(65536)
            start = data.index(b"\r\n") + 2  # a bulk string: $<size>\r\n<data>\r\n
            while len(data) < start + int(data[1 : start - 2]) + 2:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        pairs = (line.split(":", 1) for line in data.decode().splitlines() if ":" in line)
        return {k: v for k, v in pairs}

    def cpu(self) -> float:
        """Redis's CPU seconds (getrusage inside Redis: microseconds, not clock ticks)."""
        info = self.info("cpu")
        return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])

    def stat(self, name: str) -> int:
        """One counter of ``INFO stats``."""
        return int(self.info("stats").get(name, 0))

    def stop(self) -> None:
        stop_process(self.proc)


@dataclass
class Worker:
    """One server process of the cluster."""

    pid: int
    port: int
    base_rss: int = 0
    clients: int = 0

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def rss(self) -> int:
        return rss_kib(self.pid)


class Cluster:
    """N server processes of one kind on ports P .. P+N-1, joined through Redis."""

    def __init__(self, kind: str, n: int, redis_url: str, python: str) -> None:
        self.kind = kind
        self.base = consecutive_free_ports(n)
        key = f"bench-scale-{os.getpid()}-{int(time.time())}"
        env = dict(os.environ, BENCH_REDIS_KEY=key, PYTHONDONTWRITEBYTECODE="1")
        env["NODE_PATH"] = str(ensure_node_modules())
        self.procs: list[subprocess.Popen[Any]] = []
        if kind == "aiosocketio":
            # one command, n worker processes (the parent forwards SIGTERM to them)
            cmd = [python, "-m", "aiosocketio", "run", "_aiosocketio_app:make_cluster_server"]
            cmd += ["--factory", "--app-dir", str(SERVERS_DIR), "--host", "127.0.0.1"]
            cmd += ["--port", str(self.base), "--workers", str(n), "--port-per-worker"]
            cmd += ["--redis", redis_url, "--redis-key", key, "--log-level", "warning"]
            self.procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL))
        else:
            for i in range(n):
                cmd = ["node", "node_socketio.js", str(self.base + i), "--redis", redis_url]
                self.procs.append(
                    subprocess.Popen(cmd, cwd=SERVERS_DIR, env=env, stdout=subprocess.DEVNULL)
                )
        try:
            for i in range(n):
                wait_listening(self.base + i, self.procs[min(i, len(self.procs) - 1)], 60)
            self.workers = [Worker(pid, port) for pid, port in self._pids(n)]
        except BaseException:
            self.stop()
            raise

    def _pids(self, n: int) -> list[tuple[int, int]]:
        if self.kind != "aiosocketio":
            return [(p.pid, self.base + i) for i, p in enumerate(self.procs)]
        out = []
        for pid in children(self.procs[0].pid):
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            out.append((pid, int(argv[argv.index(b"--port") + 1])))
        if len(out) != n:
            raise RunError(f"expected {n} worker processes, found {len(out)}")
        return sorted(out, key=lambda pp: pp[1])

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            stop_process(proc)


class LoadgenProcess:
    """One C load generator in the hold scenario; its JSON lines go to a shared queue."""

    def __init__(
        self, index: int, port: int, clients: int, lines: queue.Queue[Any], **opts: Any
    ) -> None:
        """Load generator ``index`` (0 is the controller, the others connect from
        127.0.0.<10+index>) holds ``clients`` on ``port``; ``opts`` are more of its options
        (``concurrency=64`` for ``--concurrency 64``)."""
        self.index = index
        self.clients = clients
        args = [str(LOADGEN), "--port", str(port), "--scenario", "hold", "--hold", "-1"]
        args += ["--clients", str(clients), "--source", f"127.0.0.{10 + index}"]
        for key, value in opts.items():
            args += [f"--{key}", str(value)]
        if index == 0:
            args.append("--control")
        # stderr to a file: a pipe nobody reads could fill up and block the load generator
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, text=True
        )
        self.report: dict[str, Any] = {}
        self.reader = threading.Thread(target=self._read, args=(lines,), daemon=True)
        self.reader.start()

    def _read(self, lines: queue.Queue[Any]) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if "scenario" in msg:
                self.report = msg
            lines.put((self.index, msg))
        lines.put((self.index, {"phase": "exit"}))

    def command(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid) if self.proc.poll() is None else 0.0

    def finish(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGUSR1)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(timeout=30)  # it has read the report once it saw the end of stdout
        self.stderr.seek(0)
        err = self.stderr.read()[-2000:]
        self.stderr.close()
        return err
