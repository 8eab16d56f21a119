"""The figures of docs/scaling.md that bench/scale.py does not give: what a Redis message
costs Redis as the number of subscribed processes grows, and what a connection and a
message cost the load balancers of docs/deployment.md.

usage (from the repository root; about 3 minutes)::

    .venv/bin/python bench/capacity.py                 # both parts
    .venv/bin/python bench/capacity.py --part redis    # or: --part balancers

redis: an own redis-server; S subscriber connections (the shape of the adapters' own:
``PSUBSCRIBE socket.io#/#*`` for @socket.io/redis-adapter's createAdapter, ``SSUBSCRIBE``
of one room's channel for createShardedAdapter), drained by this process; redis-benchmark
publishes ``--messages`` messages of 150 bytes over 8 connections (8 publishing processes).
Redis's CPU (INFO cpu, getrusage) over the run, divided by the messages, is its cost per
broadcast for S subscribers.

balancers: three aiosocketio processes (``aiosocketio run --workers 3 --port-per-worker``)
behind nginx and then HAProxy, configured with the blocks of docs/deployment.md (only the
ports changed); one load generator holds ``--clients`` WebSocket clients through the
balancer (it opens two sockets per client: at most 9,900 under 20,000 open files), then
sends broadcasts to all. The balancer's RSS per connection and CPU per forwarded message.

Results: bench/results/capacity-<date>T<hhmm>.json, and a Markdown summary on stdout.
"""

from __future__ import annotations

import argparse
import json
import queue
import re
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from peers import build_loadgen  # noqa: E402
from procs import (  # noqa: E402
    Cluster,
    LoadgenProcess,
    RedisServer,
    RunError,
    children,
    wait_listening,
)
from run import cpu_seconds, free_port, rss_kib  # noqa: E402

DOC = BENCH.parent / "docs" / "deployment.md"
PAYLOAD = "x" * 150
CHANNEL = "socket.io#/#room#"


# -- Redis ----------------------------------------------------------------------------------


class Drainer:
    """``count`` subscriber connections, read (and thrown away) by one thread."""

    def __init__(self, port: int, count: int, command: str) -> None:
        self.socks = []
        self.received = 0
        for _ in range(count):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(command.encode() + b"\r\n")
            s.recv(4096)  # the subscribe confirmation
            s.setblocking(False)
            self.socks.append(s)
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        for s in self.socks:
            sel.register(s, selectors.EVENT_READ)
        buf = bytearray(1 << 20)
        while not self.stopping:
            for key, _ in sel.select(timeout=0.1):
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                try:
                    self.received += sock.recv_into(buf)
                except BlockingIOError:
                    pass

    def close(self) -> None:
        self.stopping = True
        self.thread.join()
        for s in self.socks:
            s.close()


def _resp_size(*parts: str) -> int:
    """The size of a RESP array of bulk strings."""
    return len(f"*{len(parts)}\r\n") + sum(len(f"${len(p)}\r\n{p}\r\n") for p in parts)


def redis_cost(subscribers: int, sharded: bool, messages: int, pipeline: int) -> dict[str, Any]:
    """Redis's CPU per published message with ``subscribers`` subscribed connections."""
    redis = RedisServer()
    try:
        if sharded:
            command, publish = f"SSUBSCRIBE {CHANNEL}", "SPUBLISH"
            per_copy = _resp_size("smessage", CHANNEL, PAYLOAD)
        else:
            command, publish = "PSUBSCRIBE socket.io#/#*", "PUBLISH"
            per_copy = _resp_size("pmessage", "socket.io#/#*", CHANNEL, PAYLOAD)
        drainer = Drainer(redis.port, subscribers, command)
        try:
            cpu0 = redis.cpu()
            t0 = time.monotonic()
            bench = ["redis-benchmark", "-p", str(redis.port), "-c", "8", "-P", str(pipeline)]
            subprocess.run(
                [*bench, "-n", str(messages), "-q", publish, CHANNEL, PAYLOAD],
                check=True,
                capture_output=True,
                timeout=300,
            )
            expected = subscribers * messages * per_copy
            deadline = time.monotonic() + 120
            while drainer.received < expected and time.monotonic() < deadline:
                time.sleep(0.01)
            secs = time.monotonic() - t0
            cpu = redis.cpu() - cpu0
        finally:
            drainer.close()
        if drainer.received < expected:
            raise RunError(f"subscribers got {drainer.received} of {expected} bytes")
        return {
            "command": publish,
            "subscribers": subscribers,
            "pipeline": pipeline,
            "messages": messages,
            "redis_us_per_message": round(1e6 * cpu / messages, 3),
            "messages_per_s": round(messages / secs),
            "copies_per_s": round(subscribers * messages / secs),
        }
    finally:
        redis.stop()


def redis_part(messages: int) -> list[dict[str, Any]]:
    """Redis's cost per message as the subscribers grow (up to the thousands of processes of
    a large deployment); fewer messages for many subscribers, so that the copies, which this
    process reads, stay at most ``messages`` x 32."""
    rows = []
    for sharded, counts in ((False, (0, 1, 8, 32, 128, 1024, 4096)), (True, (1, 8, 32))):
        for n in counts:
            count = max(200, min(messages, messages * 32 // max(n, 1)))
            rows.append(redis_cost(n, sharded, count, 1))
            print(json.dumps(rows[-1]), flush=True)
    # 16 commands in flight per connection: what a busy adapter's publish queue does
    for sharded, counts in ((False, (8, 128, 1024)), (True, (8, 32))):
        for n in counts:
            count = max(200, min(messages, messages * 32 // n))
            rows.append(redis_cost(n, sharded, count, 16))
            print(json.dumps(rows[-1]), flush=True)
    return rows


# -- the load balancers ---------------------------------------------------------------------


def doc_config(name: str, listen: int, ports: list[int]) -> str:
    """The block after ``<!-- config: NAME -->`` in docs/deployment.md, on our ports."""
    text = DOC.read_text().split(f"<!-- config: {name} -->", 1)[1]
    found = re.match(r"\s*```[a-z]*\n(.*?)```", text, re.S)
    if found is None:
        raise RunError(f"no config {name} in {DOC}")
    config = found.group(1)
    for i, port in enumerate(ports):
        config = config.replace(f"127.0.0.1:{3001 + i}", f"127.0.0.1:{port}")
    return re.sub(r"\b(listen|bind) :?3000\b", rf"\1 127.0.0.1:{listen}", config)


NGINX_MAIN = """
worker_processes 1;
worker_rlimit_nofile 20000;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 19900; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
{site}
}}
"""


def start_balancer(kind: str, folder: str, ports: list[int]) -> tuple[subprocess.Popen[Any], int]:
    listen = free_port()
    if kind == "nginx":
        site = doc_config("nginx", listen, ports)
        Path(folder, "nginx.conf").write_text(NGINX_MAIN.format(prefix=folder, site=site))
        argv = [shutil.which("nginx") or "/usr/sbin/nginx", "-p", folder, "-c"]
        argv.append(f"{folder}/nginx.conf")
    else:
        Path(folder, "haproxy.cfg").write_text(doc_config("haproxy-cookie", listen, ports))
        argv = [shutil.which("haproxy") or "/usr/sbin/haproxy", "-db", "-f"]
        argv.append(f"{folder}/haproxy.cfg")
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_listening(listen, proc, 15)
    return proc, listen


def balancer_cost(kind: str, clients: int, broadcasts: int) -> dict[str, Any]:
    """Hold ``clients`` through one balancer, then broadcast to them."""
    redis = RedisServer()
    folder = tempfile.mkdtemp(prefix=f"bench-{kind}-")
    cluster = proc = gen = None
    try:
        cluster = Cluster("aiosocketio", 3, redis.url, sys.executable)
        proc, listen = start_balancer(kind, folder, [w.port for w in cluster.workers])
        time.sleep(1.0)
        # nginx: its one worker process holds the connections (the master only waits)
        pid = children(proc.pid)[0] if kind == "nginx" else proc.pid
        base = rss_kib(pid)
        lines: queue.Queue[Any] = queue.Queue()
        gen = LoadgenProcess(0, listen, clients, lines, concurrency=64, payload=32, timeout=300)
        msg = _next(lines, "ready", 300)
        if msg.get("failed") or msg.get("clients") != clients:
            raise RunError(f"{kind}: {msg}")
        time.sleep(2.0)
        rss = rss_kib(pid)
        cpu0 = cpu_seconds(pid)
        gen.command(f"b {broadcasts}")
        sent = _next(lines, "sent", 30)
        got = _next(lines, "got", 300, seq=sent["seq"] + broadcasts - 1)
        cpu = cpu_seconds(pid) - cpu0
        secs = got["last"] - sent["t"]
        return {
            "balancer": kind,
            "clients": clients,
            "rss_base_kib": base,
            "rss_kib": rss,
            "kib_per_conn": round((rss - base) / clients, 2),
            "deliveries": clients * broadcasts,
            "deliveries_per_s": round(clients * broadcasts / secs),
            "us_per_delivery": round(1e6 * cpu / (clients * broadcasts), 3),
        }
    finally:
        if gen is not None:
            gen.finish()
        if proc is not None and proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=15)
        if cluster is not None:
            cluster.stop()
        redis.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _next(lines: queue.Queue[Any], phase: str, timeout: float, **match: Any) -> Any:
    end = time.monotonic() + timeout
    while True:
        try:
            _, msg = lines.get(timeout=max(0.01, end - time.monotonic()))
        except queue.Empty:
            raise RunError(f"no {phase} line in {timeout:g} s") from None
        if msg.get("phase") in ("drop", "error", "exit"):
            raise RunError(str(msg))
        if msg.get("phase") == phase and all(msg.get(k) == v for k, v in match.items()):
            return msg


def balancer_part(clients: int, broadcasts: int) -> list[dict[str, Any]]:
    rows = []
    for kind in ("nginx", "haproxy"):
        rows.append(balancer_cost(kind, clients, broadcasts))
        print(json.dumps(rows[-1]), flush=True)
    return rows


# -- the command ----------------------------------------------------------------------------


def render(data: dict[str, Any]) -> str:
    out = []
    if data.get("redis"):
        out += [
            "| command | subscribers | pipeline | Redis CPU per message | messages/s | copies/s |",
            "|---|---|---|---|---|---|",
        ]
        for r in data["redis"]:
            out.append(
                f"| {r['command']} | {r['subscribers']} | {r['pipeline']} | "
                f"{r['redis_us_per_message']:.2f} µs | {r['messages_per_s']:,} | "
                f"{r['copies_per_s']:,} |"
            )
        out.append("")
    if data.get("balancers"):
        out += [
            "| balancer | clients | RSS per connection | CPU per forwarded message | msgs/s |",
            "|---|---|---|---|---|",
        ]
        for r in data["balancers"]:
            out.append(
                f"| {r['balancer']} | {r['clients']:,} | {r['kib_per_conn']:.1f} KiB | "
                f"{r['us_per_delivery']:.2f} µs | {r['deliveries_per_s']:,} |"
            )
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("all", "redis", "balancers"), default="all")
    parser.add_argument("--messages", type=int, default=100_000, help="Redis: per measurement")
    parser.add_argument("--clients", type=int, default=9000, help="balancers: held clients")
    parser.add_argument("--broadcasts", type=int, default=50, help="balancers: to all clients")
    parser.add_argument("--out", type=Path, help="also write the results (JSON) there")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    build_loadgen()
    data: dict[str, Any] = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if args.part in ("all", "redis"):
        data["redis"] = redis_part(args.messages)
    if args.part in ("all", "balancers"):
        data["balancers"] = balancer_part(args.clients, args.broadcasts)
    print(render(data))
    if args.out is not None:
        args.out.write_text(json.dumps(data, indent=2) + "\n")
    if not args.no_write:
        out = BENCH / "results"
        out.mkdir(exist_ok=True)
        stamp = time.strftime("%Y-%m-%dT%H%M", time.gmtime())
        (out / f"capacity-{stamp}.json").write_text(json.dumps(data, indent=2) + "\n")
        print(f"wrote bench/results/capacity-{stamp}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
