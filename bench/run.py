"""The benchmark runner: every scenario against every server, side by side, in one run.

usage (from the repository root)::

    python bench/run.py                       # everything (about 12 minutes)
    python bench/run.py --quick               # small counts, about 3 minutes
    python bench/run.py --scenarios echo,broadcast --servers aiosocketio,node
    python bench/run.py --quick --profile     # py-spy profiles of aiosocketio (bench/profiles/)

For each scenario and server the runner starts the server pinned to core 0 (``taskset``),
the C load generator (bench/build/loadgen) pinned to core 1, and reads the CPU time of both
(user + system, from /proc/<pid>/stat for the server and getrusage inside the load
generator) over the measured window only, plus the server's RSS (VmRSS). It prints a table
with ratios against Node socket.io and python-socketio and writes bench/results/<date>T<time>.json
and bench/results/latest.md. The peers (python-socketio, aiohttp, uvicorn, py-spy, the
socket.io npm package) are installed by :mod:`peers` on first use, never committed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from peers import LOADGEN, NODE_MODULES, PEERS_PYTHON, ensure_all, machine_info  # noqa: E402
from report import render_markdown, render_readme_block, render_table  # noqa: E402

SERVERS_DIR = BENCH / "servers"
CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVER_CORE = "0"
LOADGEN_CORE = "1"
# On a shared machine other jobs compete for the two cores; as root, raise the priority of
# the measured processes so that the scheduler gives them their cores first.
PRIORITY: tuple[str, ...] = ("nice", "-n", "-10") if os.geteuid() == 0 else ()


@dataclass(frozen=True)
class ServerSpec:
    """How to start one server under test."""

    name: str
    label: str
    argv: tuple[str, ...]
    python: bool


SERVERS: dict[str, ServerSpec] = {
    "aiosocketio": ServerSpec(
        "aiosocketio", "aiosocketio (native)", ("aiosocketio_native.py",), True
    ),
    "aiosocketio-asgi": ServerSpec(
        "aiosocketio-asgi", "aiosocketio (ASGI, uvicorn)", ("aiosocketio_asgi.py",), True
    ),
    "python-socketio": ServerSpec(
        "python-socketio",
        "python-socketio (aiohttp, uvloop)",
        ("python_socketio_aiohttp.py",),
        True,
    ),
    "python-socketio-asgi": ServerSpec(
        "python-socketio-asgi",
        "python-socketio (ASGI, uvicorn)",
        ("python_socketio_asgi.py",),
        True,
    ),
    # The same native server with the Prometheus exporter on and scraped every second:
    # what metrics cost (run on METRICS_SCENARIOS only).
    "aiosocketio-metrics": ServerSpec(
        "aiosocketio-metrics",
        "aiosocketio (native) + Prometheus metrics",
        ("aiosocketio_native.py", "--metrics"),
        True,
    ),
    "node": ServerSpec("node", "Node socket.io 4.8", ("node_socketio.js",), False),
    # Not a Socket.IO server: the least any ASGI app costs under the same uvicorn.
    "asgi-floor": ServerSpec(
        "asgi-floor", "bare ASGI app (uvicorn floor)", ("asgi_floor.py",), True
    ),
}

ALL_SCENARIOS = ("connect", "echo", "broadcast", "rooms", "polling", "binary", "hold", "cluster")
METRICS_SCENARIOS = ("echo", "broadcast")
"""The scenarios the aiosocketio-metrics server runs (issue 15: within 5% on both)."""
METRICS_PAIRS = 3
"""How many times aiosocketio and aiosocketio-metrics alternate on those scenarios."""


@dataclass
class Params:
    """Scenario sizes; ``--quick`` shrinks them."""

    connect_clients: int = 10_000
    echo_clients: int = 50
    echo_inflight: int = 10
    duration: float = 5.0
    warmup: float = 1.0
    bcast_clients: int = 1000
    bcast_emits: int = 100
    rooms: int = 100
    polling_clients: int = 200
    binary_clients: int = 4
    binary_inflight: int = 2
    hold_steps: tuple[int, ...] = (1000, 4000, 5000, 5000)
    hold_seconds: float = 300.0
    hold_seconds_peers: float = 10.0

    @classmethod
    def quick(cls) -> Params:
        return cls(
            connect_clients=1000,
            duration=2.0,
            warmup=0.5,
            polling_clients=50,
            hold_steps=(500, 500, 1000),
            hold_seconds=5.0,
            hold_seconds_peers=3.0,
        )


# -- /proc ---------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        raw = f.read()
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_kib(pid: int) -> int:
    """Resident set size of a process in KiB (VmRSS)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def core_busy_seconds(core: str) -> float:
    """CPU time spent on one core by all processes (user, nice, system, steal), from
    /proc/stat. Interrupt and softirq time is left out: loopback traffic is processed there,
    and our own traffic would count as another job's."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{core} "):
                v = [int(x) for x in line.split()[1:]]
                # user nice system idle iowait irq softirq steal
                return (v[0] + v[1] + v[2] + v[7]) / CLK_TCK
    return 0.0


def free_port() -> int:
    """Ask the OS for a free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- processes -----------------------------------------------------------------------------


class ServerProcess:
    """A server under test, pinned to the server core; optionally under py-spy."""

    def __init__(
        self,
        spec: ServerSpec,
        extra: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        profile: Path | None = None,
    ) -> None:
        self.spec = spec
        self.port = free_port()
        if spec.python:
            cmd = [str(PEERS_PYTHON), *spec.argv, str(self.port), *extra]
        else:
            cmd = ["node", *spec.argv, str(self.port), *extra]
        if profile is not None:
            pyspy = PEERS_PYTHON.parent / "py-spy"
            cmd = [
                str(pyspy),
                "record",
                "-r",
                "250",
                "--format",
                "raw",
                "-o",
                str(profile),
                "--nonblocking",
                "--",
                *cmd,
            ]
        full_env = dict(os.environ)
        full_env["NODE_PATH"] = str(NODE_MODULES)
        full_env["PYTHONDONTWRITEBYTECODE"] = "1"
        if env:
            full_env.update(env)
        self.proc = subprocess.Popen(
            [*PRIORITY, "taskset", "-c", SERVER_CORE, *cmd],
            cwd=SERVERS_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=full_env,
            text=True,
        )
        self.pid = self.proc.pid
        self._wait_ready()
        if profile is not None:
            self.pid = self._find_child()

    def _wait_ready(self, timeout: float = 30.0) -> None:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            with contextlib.suppress(ValueError):
                if json.loads(line).get("ready"):
                    return
        self.stop()
        err = self.proc.stderr.read() if self.proc.stderr else ""
        raise RuntimeError(f"{self.spec.name} did not start: {err[-2000:]}")

    def _find_child(self) -> int:
        """Under py-spy, the measured process is py-spy's child."""
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
            return int(children.split()[0])
        except (OSError, IndexError, ValueError):
            return self.proc.pid

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def rss(self) -> int:
        return rss_kib(self.pid)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT if self.pid != self.proc.pid else signal.SIGTERM)
            if self.pid != self.proc.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


class Loadgen:
    """One load-generator process, pinned to the load-generator core."""

    def __init__(self, port: int, scenario: str, **opts: Any) -> None:
        args = [str(LOADGEN), "--port", str(port), "--scenario", scenario]
        for key, value in opts.items():
            args += [f"--{key.replace('_', '-')}", str(value)]
        self.proc = subprocess.Popen(
            [*PRIORITY, "taskset", "-c", LOADGEN_CORE, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def lines(self) -> Iterator[dict[str, Any]]:
        """JSON lines as the load generator prints them."""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with contextlib.suppress(ValueError):
                yield json.loads(line)

    def finish(self, timeout: float = 30.0) -> str:
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        err = self.proc.stderr.read() if self.proc.stderr else ""
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return err


# -- scenarios -----------------------------------------------------------------------------


@dataclass
class Result:
    """One scenario run against one server."""

    scenario: str
    server: str
    metric: str
    value: float
    unit: str
    messages: float = 0.0
    seconds: float = 0.0
    server_cpu_s: float = 0.0
    loadgen_cpu_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def server_us_per_msg(self) -> float | None:
        return self.server_cpu_s * 1e6 / self.messages if self.messages else None

    @property
    def server_cpu_pct(self) -> float | None:
        return 100 * self.server_cpu_s / self.seconds if self.seconds else None

    @property
    def loadgen_cpu_pct(self) -> float | None:
        return 100 * self.loadgen_cpu_s / self.seconds if self.seconds else None

    @property
    def loadgen_saturated(self) -> bool:
        pct = self.loadgen_cpu_pct
        return pct is not None and pct > 80.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "server": self.server,
            "metric": self.metric,
            "value": self.value,
            "unit": self.unit,
            "messages": self.messages,
            "seconds": self.seconds,
            "server_cpu_s": self.server_cpu_s,
            "loadgen_cpu_s": self.loadgen_cpu_s,
            "server_us_per_msg": self.server_us_per_msg,
            "server_cpu_pct": self.server_cpu_pct,
            "loadgen_cpu_pct": self.loadgen_cpu_pct,
            "loadgen_saturated": self.loadgen_saturated,
            "extra": self.extra,
            "error": self.error,
        }


def measured_run(server: ServerProcess, gen: Loadgen) -> tuple[dict[str, Any], float, float, float]:
    """Run ``gen`` to the end; measure between its "measure" phase and its report.

    Returns (report, server CPU seconds, wall seconds, share of the server's core used by
    other processes in %: a sign that the machine was busy with other jobs)."""
    cpu0 = server.cpu()
    busy0 = core_busy_seconds(SERVER_CORE)
    t0 = time.monotonic()
    report: dict[str, Any] = {}
    for msg in gen.lines():
        if msg.get("phase") == "measure":
            cpu0 = server.cpu()
            busy0 = core_busy_seconds(SERVER_CORE)
            t0 = time.monotonic()
        elif "scenario" in msg:
            report = msg
            break
    cpu1 = server.cpu() if server.alive() else cpu0
    busy1 = core_busy_seconds(SERVER_CORE)
    wall = time.monotonic() - t0
    err = gen.finish()
    if not report:
        raise RuntimeError(f"load generator gave no report: {err[-2000:]}")
    other = max(0.0, (busy1 - busy0) - (cpu1 - cpu0))
    return report, cpu1 - cpu0, wall, 100 * other / wall if wall > 0 else 0.0


def _check(report: dict[str, Any]) -> str | None:
    problems = []
    for key in ("failed", "dropped", "bad_frames", "order_errors", "incomplete_clients"):
        if report.get(key):
            problems.append(f"{key}={report[key]}")
    if (
        "all_delivered" in report
        and not report["all_delivered"]
        and not report.get("order_errors")
        and not report.get("incomplete_clients")
    ):
        problems.append("did not finish")
    return ", ".join(problems) or None


def run_connect(server: ServerProcess, p: Params) -> Result:
    base = server.rss()
    cpu0 = server.cpu()
    busy0 = core_busy_seconds(SERVER_CORE)
    gen = Loadgen(server.port, "connect", clients=p.connect_clients, hold=3, concurrency=256)
    report: dict[str, Any] = {}
    rss_after = base
    cpu1 = cpu0
    busy1 = busy0
    for msg in gen.lines():
        if msg.get("phase") == "ready":
            cpu1 = server.cpu()
            busy1 = core_busy_seconds(SERVER_CORE)
            time.sleep(1.0)
            rss_after = server.rss()
        elif "scenario" in msg:
            report = msg
            break
    gen.finish()
    n = report.get("ready", 0)
    per_conn = (rss_after - base) / n if n else 0.0
    secs = report.get("connect_seconds", 0.0)
    other = max(0.0, (busy1 - busy0) - (cpu1 - cpu0))
    return Result(
        "connect",
        server.spec.name,
        "handshakes/s",
        report.get("handshakes_per_s", 0.0),
        "handshakes/s",
        messages=n,
        seconds=report.get("connect_seconds", 0.0),
        server_cpu_s=cpu1 - cpu0,
        loadgen_cpu_s=report.get("cpu_seconds", 0.0),
        extra={
            "clients": n,
            "rss_base_kib": base,
            "rss_kib": rss_after,
            "rss_per_conn_kib": round(per_conn, 2),
            "core0_other_pct": round(100 * other / secs, 1) if secs else 0.0,
        },
        error=_check(report),
    )


def _load_result(
    scenario: str, server: ServerProcess, gen: Loadgen, metric: str, unit: str
) -> Result:
    report, cpu, wall, other = measured_run(server, gen)
    if scenario in ("broadcast", "rooms", "cluster"):
        messages = float(report.get("deliveries", 0))
        value = report.get("deliveries_per_s", 0.0)
        extra = {k: report.get(k) for k in ("emits", "rounds", "deliveries", "all_delivered")}
    else:
        messages = float(report.get("acks", 0))
        value = report.get("mb_per_s" if scenario == "binary" else "acks_per_s", 0.0)
        extra = {k: report.get(k) for k in ("acks", "p50_us", "p99_us")}
        if scenario == "binary":
            extra["acks_per_s"] = report.get("acks_per_s")
    extra["rss_kib"] = server.rss() if server.alive() else None
    extra["core0_other_pct"] = round(other, 1)
    return Result(
        scenario,
        server.spec.name,
        metric,
        value,
        unit,
        messages=messages,
        seconds=wall,
        server_cpu_s=cpu,
        loadgen_cpu_s=report.get("cpu_seconds", 0.0),
        extra=extra,
        error=_check(report),
    )


def run_echo(server: ServerProcess, p: Params) -> Result:
    gen = Loadgen(
        server.port,
        "echo",
        clients=p.echo_clients,
        inflight=p.echo_inflight,
        duration=p.duration,
        warmup=p.warmup,
        payload=32,
        timeout=p.duration + 60,
    )
    return _load_result("echo", server, gen, "acks/s", "acks/s")


def run_broadcast(
    server: ServerProcess, p: Params, port2: int = 0, name: str = "broadcast"
) -> Result:
    opts: dict[str, Any] = {
        "clients": p.bcast_clients,
        "emits": p.bcast_emits,
        "payload": 64,
        "duration": p.duration,
        "timeout": p.duration + 60,
    }
    if port2:
        opts["port2"] = port2
    gen = Loadgen(server.port, "broadcast", **opts)
    return _load_result(name, server, gen, "deliveries/s", "deliveries/s")


def run_rooms(server: ServerProcess, p: Params) -> Result:
    gen = Loadgen(
        server.port,
        "rooms",
        clients=p.bcast_clients,
        rooms=p.rooms,
        emits=p.bcast_emits,
        payload=64,
        duration=p.duration,
        timeout=p.duration + 60,
    )
    return _load_result("rooms", server, gen, "deliveries/s", "deliveries/s")


def run_polling(server: ServerProcess, p: Params) -> Result:
    gen = Loadgen(
        server.port,
        "polling",
        clients=p.polling_clients,
        inflight=1,
        duration=p.duration,
        warmup=p.warmup,
        payload=32,
        timeout=p.duration + 60,
    )
    return _load_result("polling", server, gen, "acks/s", "acks/s")


def run_binary(server: ServerProcess, p: Params) -> Result:
    gen = Loadgen(
        server.port,
        "binary",
        clients=p.binary_clients,
        inflight=p.binary_inflight,
        binsize=65536,
        duration=p.duration,
        warmup=p.warmup,
        timeout=p.duration + 60,
    )
    return _load_result("binary", server, gen, "MB/s", "MB/s")


def run_hold(server: ServerProcess, p: Params, seconds: float) -> Result:
    """Clients in steps (several load generators: 20,000 open files per process), RSS per
    connection at each step, then hold them with heartbeats; none may drop."""
    base = server.rss()
    gens: list[Loadgen] = []
    steps: list[dict[str, Any]] = []
    total = 0
    error = None
    for count in p.hold_steps:
        gen = Loadgen(server.port, "hold", clients=count, hold=-1, concurrency=256, timeout=120)
        gens.append(gen)
        ready = next((m for m in gen.lines() if m.get("phase") == "ready"), None)
        if ready is None or ready.get("failed"):
            error = f"step of {count} clients: {ready}"
            break
        total += count
        time.sleep(1.5)
        rss = server.rss()
        steps.append(
            {"clients": total, "rss_kib": rss, "rss_per_conn_kib": round((rss - base) / total, 2)}
        )
    t0 = time.monotonic()
    cpu0 = server.cpu()
    deadline = t0 + seconds
    while time.monotonic() < deadline and server.alive():
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
    cpu1 = server.cpu() if server.alive() else cpu0
    held = time.monotonic() - t0
    reports: list[dict[str, Any]] = []
    for gen in gens:
        gen.proc.send_signal(signal.SIGUSR1)
    for gen in gens:
        reports.extend(m for m in gen.lines() if "scenario" in m)
        gen.finish()
    dropped = sum(r.get("dropped", 0) for r in reports)
    pings = sum(r.get("pings", 0) for r in reports)
    if dropped and error is None:
        error = f"dropped={dropped}"
    return Result(
        "hold",
        server.spec.name,
        "clients held",
        float(total - dropped),
        "clients",
        messages=float(pings),
        seconds=held,
        server_cpu_s=cpu1 - cpu0,
        extra={
            "steps": steps,
            "dropped": dropped,
            "pings": pings,
            "rss_base_kib": base,
            "loadgen_cpu_total_s": sum(r.get("cpu_total_seconds", 0.0) for r in reports),
        },
        error=error,
    )


def run_cluster(spec: ServerSpec, p: Params) -> Result:
    """Two processes of one server on its Redis adapter; clients split across both, the
    controller on the first: half of every broadcast crosses Redis. Both servers share the
    server core; their CPU is added up."""
    env = {"BENCH_REDIS_KEY": f"bench-{os.getpid()}-{int(time.time())}"}
    extra = ("--redis", os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    a = ServerProcess(spec, extra, env)
    try:
        b = ServerProcess(spec, extra, env)
    except Exception:
        a.stop()
        raise
    try:
        time.sleep(0.5)
        cpu_b0 = b.cpu()
        result = run_broadcast(a, p, port2=b.port, name="cluster")
        b_cpu = b.cpu() - cpu_b0  # the second server's CPU, over a slightly longer window
        result.server_cpu_s += b_cpu
        other = result.extra.get("core0_other_pct")
        if other is not None and result.seconds:
            result.extra["core0_other_pct"] = round(
                max(0.0, other - 100 * b_cpu / result.seconds), 1
            )
        result.extra["rss_kib"] = (result.extra.get("rss_kib") or 0) + b.rss()
        return result
    finally:
        a.stop()
        b.stop()


CLUSTER_SERVERS = ("aiosocketio", "python-socketio", "node")


RUNNERS = {
    "connect": run_connect,
    "echo": run_echo,
    "broadcast": run_broadcast,
    "rooms": run_rooms,
    "polling": run_polling,
    "binary": run_binary,
}


def run_one(scenario: str, spec: ServerSpec, p: Params, profile_dir: Path | None) -> Result:
    profile = None
    if profile_dir is not None and spec.python:
        profile_dir.mkdir(parents=True, exist_ok=True)
        profile = profile_dir / f"{scenario}-{spec.name}.raw"
    server = ServerProcess(spec, profile=profile)
    try:
        if scenario == "hold":
            seconds = p.hold_seconds if spec.name == "aiosocketio" else p.hold_seconds_peers
            return run_hold(server, p, seconds)
        return RUNNERS[scenario](server, p)
    finally:
        server.stop()
        if profile is not None and profile.exists():
            from profiles import summarize

            summarize(profile, profile.with_suffix(".txt"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default=",".join(ALL_SCENARIOS))
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument("--quick", action="store_true", help="small counts, for a fast run")
    parser.add_argument("--profile", action="store_true", help="py-spy the Python servers")
    parser.add_argument("--no-write", action="store_true", help="do not write bench/results/")
    parser.add_argument(
        "--repeat", type=int, default=1, help="run each measurement N times, keep the best"
    )
    parser.add_argument(
        "--hold-seconds",
        type=float,
        help="how long aiosocketio holds 15k clients (default 300; 5 with --quick)",
    )
    args = parser.parse_args(argv)

    scenarios = [s for s in args.scenarios.split(",") if s]
    servers = [s for s in args.servers.split(",") if s]
    for s in scenarios:
        if s not in ALL_SCENARIOS:
            parser.error(f"unknown scenario {s!r}; choose from {', '.join(ALL_SCENARIOS)}")
    for s in servers:
        if s not in SERVERS:
            parser.error(f"unknown server {s!r}; choose from {', '.join(SERVERS)}")
    if (os.cpu_count() or 1) < 2:
        print("warning: fewer than 2 cores; server and load generator share a core")
    ensure_all()
    params = Params.quick() if args.quick else Params()
    if args.hold_seconds is not None:
        params.hold_seconds = args.hold_seconds
    profile_dir = BENCH / "profiles" if args.profile else None

    results: list[Result] = []
    started = time.monotonic()
    for scenario in scenarios:
        if scenario == "cluster":
            for name in servers:
                if name not in CLUSTER_SERVERS:
                    continue
                try:
                    res = run_cluster(SERVERS[name], params)
                except Exception as exc:
                    err = f"{type(exc).__name__}: {exc}"[:300]
                    res = Result("cluster", name, "", 0.0, "", error=err)
                results.append(res)
                print(_line(res), flush=True)
            continue
        paired = (
            scenario in METRICS_SCENARIOS
            and "aiosocketio" in servers
            and "aiosocketio-metrics" in servers
        )
        for name in servers:
            if scenario == "hold" and name == "asgi-floor":
                continue  # it has no heartbeat: there is nothing to hold
            if name == "aiosocketio-metrics" and (scenario not in METRICS_SCENARIOS or paired):
                continue  # measured with "aiosocketio", below
            runs = 1 if scenario == "hold" else max(1, args.repeat)
            if paired and name == "aiosocketio":
                # the cost of metrics is a few percent: measure off and on alternately, in
                # METRICS_PAIRS pairs, and keep the best of each, so that a change in the
                # machine's load between two runs does not pass for the cost
                pairs = max(METRICS_PAIRS, runs)
                off: list[Result] = []
                on: list[Result] = []
                for _ in range(pairs):
                    off.append(run_safely(scenario, "aiosocketio", params, profile_dir))
                    on.append(run_safely(scenario, "aiosocketio-metrics", params, None))
                for res in (best(off), best(on)):
                    results.append(res)
                    print(_line(res), flush=True)
                continue
            res = best(run_safely(scenario, name, params, profile_dir) for _ in range(runs))
            results.append(res)
            print(_line(res), flush=True)

    elapsed = time.monotonic() - started
    info = machine_info()
    data = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "quick": args.quick,
        "elapsed_seconds": round(elapsed, 1),
        "machine": info,
        "params": params.__dict__,
        "results": [r.as_dict() for r in results],
    }
    print()
    print(render_table(data))
    if not args.no_write:
        out = BENCH / "results"
        out.mkdir(exist_ok=True)
        stamp = time.strftime("%Y-%m-%dT%H%M", time.gmtime()) + ("-quick" if args.quick else "")
        (out / f"{stamp}.json").write_text(json.dumps(data, indent=2) + "\n")
        (out / "latest.md").write_text(render_markdown(data))
        print(f"\nwrote bench/results/{stamp}.json and bench/results/latest.md")
        if not args.quick and set(scenarios) == set(ALL_SCENARIOS) and set(servers) == set(SERVERS):
            update_readme(render_markdown(data), render_readme_block(data))
        elif not args.quick:
            print("a partial run: bench/README.md and README.md keep the last full run")
    return 0


def run_safely(scenario: str, name: str, params: Params, profile_dir: Path | None) -> Result:
    """One run; an exception becomes a result with an error."""
    try:
        return run_one(scenario, SERVERS[name], params, profile_dir)
    except Exception as exc:
        return Result(scenario, name, "", 0.0, "", error=f"{type(exc).__name__}: {exc}"[:300])


def best(runs: Iterable[Result]) -> Result:
    """The best of repeated runs: error-free first, then the highest throughput."""
    done = list(runs)
    return max(done, key=lambda r: (r.error is None, r.value))


def update_readme(markdown: str, summary: str) -> None:
    """Put the latest table between the markers of bench/README.md, and the summary
    between those of the project README."""
    _replace_between(BENCH / "README.md", "<!-- latest:begin -->", "<!-- latest:end -->", markdown)
    _replace_between(
        BENCH.parent / "README.md", "<!-- bench:begin -->", "<!-- bench:end -->", summary
    )


def _replace_between(path: Path, begin: str, end: str, content: str) -> None:
    text = path.read_text()
    if begin in text and end in text:
        head, _, rest = text.partition(begin)
        _, _, tail = rest.partition(end)
        path.write_text(f"{head}{begin}\n{content}{end}{tail}")


def _line(r: Result) -> str:
    us = r.server_us_per_msg
    lg = r.loadgen_cpu_pct
    parts = [f"{r.scenario:10s} {r.server:22s} {r.value:12.1f} {r.unit}"]
    if us is not None:
        parts.append(f"server {us:.2f} us/msg")
    if lg is not None:
        parts.append(f"loadgen {lg:.0f}%")
    if r.error:
        parts.append(f"ERROR {r.error}")
    return "  ".join(parts)


if __name__ == "__main__":
    sys.exit(main())
