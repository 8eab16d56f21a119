"""Past one process: 100,000 WebSocket clients held by a cluster, then broadcast to.

usage (from the repository root; not part of ``bench/run.py``'s default run)::

    .venv/bin/python bench/scale.py                            # the full run (about 30 minutes)
    .venv/bin/python bench/scale.py --clients 5000 --hold 30   # a small check (about 2 minutes)
    .venv/bin/python bench/scale.py --servers aiosocketio --workers 4 --clients 2000 --hold 10

For each server (aiosocketio, then Node socket.io as the anchor) the run:

1. starts its own redis-server on a free loopback port, then the cluster: for aiosocketio
   ``aiosocketio run --workers N --port-per-worker --redis URL`` (one command, N processes
   on ports P .. P+N-1), for Node N processes of bench/servers/node_socketio.js on
   @socket.io/redis-adapter;
2. connects ``--clients`` WebSocket clients through N C load generators (bench/loadgen; one
   per server process, each from its own loopback source address: a process may open at
   most 20,000 files and the ephemeral ports are about 28,000 per source address);
3. holds them ``--hold`` seconds with the default heartbeat (a ping every 25 s); the run
   fails if a single one is dropped;
4. broadcasts to all of them across the cluster (one client emits ``all``, its server does
   ``io.emit``, the Redis adapter carries it to the other processes): ``--rounds`` single
   broadcasts (time until the last client has it), then a burst of ``--burst`` broadcasts
   (deliveries per second), then ``--redis-burst`` broadcasts to an empty room followed by
   one marker broadcast (Redis messages per second, and what they cost Redis and each
   process);
5. checks every client got every broadcast, in order, and none was dropped.

Memory per connection is each process's RSS after the clients connected minus its RSS
before, divided by its clients. Nothing is pinned to a core: the servers, the load
generators and Redis share the machine's cores, and the CPU other jobs used in the same
window is reported. Everything runs on loopback and is bounded in time (``--deadline``).
Results go to bench/results/scale-<date>T<hhmm>.json; a full-size run (100,000 clients,
600 s) also updates the table between the ``scale`` markers of bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from peers import build_loadgen  # noqa: E402
from procs import Cluster, LoadgenProcess, RedisServer, RunError, busy_seconds  # noqa: E402
from run import _replace_between  # noqa: E402
from scale_report import render_scale_markdown  # noqa: E402

SERVER_KINDS = ("aiosocketio", "node")
FULL_CLIENTS = 100_000
FULL_HOLD = 600.0
PING_INTERVAL = 25.0


@dataclass
class ScaleParams:
    """The sizes of one run."""

    clients: int = FULL_CLIENTS
    workers: int = 8
    hold: float = FULL_HOLD
    rounds: int = 5
    burst: int = 5
    redis_burst: int = 20_000
    concurrency: int = 64
    payload: int = 32
    deadline: float = 1800.0


# -- one run --------------------------------------------------------------------------------


@dataclass
class Run:
    """One server kind through every step; the figures accumulate in ``result``."""

    kind: str
    p: ScaleParams
    python: str
    result: dict[str, Any] = field(default_factory=dict)
    lines: queue.Queue[Any] = field(default_factory=queue.Queue)
    gens: list[LoadgenProcess] = field(default_factory=list)
    backlog: list[tuple[int, Any]] = field(default_factory=list)
    seq: int = 0
    idle: dict[str, float] = field(default_factory=dict)  # CPU s/s while only holding

    def __post_init__(self) -> None:
        self.deadline = time.monotonic() + self.p.deadline

    def remaining(self, limit: float) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise RunError(f"--deadline of {self.p.deadline:g} s reached")
        return min(limit, left)

    def expect(self, phase: str, count: int, timeout: float, **match: Any) -> list[Any]:
        """Wait for ``count`` lines of ``phase`` (from different load generators)."""
        got: dict[int, Any] = {}
        end = time.monotonic() + self.remaining(timeout)
        earlier, self.backlog = self.backlog, []
        while len(got) < count:
            if earlier:
                index, msg = earlier.pop(0)
            else:
                try:
                    index, msg = self.lines.get(timeout=max(0.01, end - time.monotonic()))
                except queue.Empty:
                    raise RunError(f"{phase}: {len(got)} of {count} in {timeout:g} s") from None
            if msg.get("phase") in ("drop", "error", "exit"):
                raise RunError(f"load generator {index}: {msg}")
            if msg.get("phase") == phase and all(msg.get(k) == v for k, v in match.items()):
                got[index] = msg
            else:  # a line that came early (threads read the pipes): for a later wait
                self.backlog.append((index, msg))
        self.backlog += earlier
        return list(got.values())

    def execute(self) -> dict[str, Any]:
        p = self.p
        r = self.result
        r.update(server=self.kind, processes=p.workers, clients=p.clients)
        build_loadgen()
        redis = RedisServer()
        cluster = None
        try:
            cluster = Cluster(self.kind, p.workers, redis.url, self.python)
            time.sleep(2.0)
            for w in cluster.workers:
                w.base_rss = w.rss()
            self.connect(cluster)
            self.hold(cluster, redis)
            self.broadcast(cluster, redis)
            self.finish()
        except RunError as exc:
            r["error"] = str(exc)
        finally:
            for gen in self.gens:
                if gen.proc.poll() is None:
                    gen.finish()
            if cluster is not None:
                cluster.stop()
            redis.stop()
        return r

    def connect(self, cluster: Cluster) -> None:
        p = self.p
        share, extra = divmod(p.clients, p.workers)
        t0 = time.monotonic()
        for i, w in enumerate(cluster.workers):
            w.clients = share + (1 if i < extra else 0)
            gen = LoadgenProcess(
                i,
                w.port,
                w.clients,
                self.lines,
                concurrency=p.concurrency,
                payload=p.payload,
                timeout=max(120, p.clients // 200),
            )
            self.gens.append(gen)
        ready = self.expect("ready", len(self.gens), max(120, p.clients / 200))
        failed = sum(m.get("failed", 0) for m in ready)
        connected = sum(m.get("clients", 0) for m in ready)
        self.result["connect_seconds"] = round(time.monotonic() - t0, 2)
        if failed or connected != p.clients:
            raise RunError(f"connect: {connected} of {p.clients} ready, {failed} failed")
        time.sleep(2.0)
        self.result["memory"] = self.memory(cluster)
        print(
            f"[{self.kind}] {p.clients} clients in {self.result['connect_seconds']} s", flush=True
        )

    def memory(self, cluster: Cluster) -> dict[str, Any]:
        per: list[dict[str, Any]] = []
        for w in cluster.workers:
            rss = w.rss()
            per.append(
                {
                    "pid": w.pid,
                    "clients": w.clients,
                    "rss_base_kib": w.base_rss,
                    "rss_kib": rss,
                    "kib_per_conn": round((rss - w.base_rss) / w.clients, 2),
                }
            )
        kib = [m["kib_per_conn"] for m in per]
        return {
            "per_process": per,
            "kib_per_conn_mean": round(statistics.fmean(kib), 2),
            "kib_per_conn_max": max(kib),
            "rss_total_mib": round(sum(m["rss_kib"] for m in per) / 1024, 1),
        }

    def cpu_snapshot(self, cluster: Cluster, redis: RedisServer) -> dict[str, float]:
        return {
            "servers": sum(w.cpu() for w in cluster.workers),
            "loadgens": sum(g.cpu() for g in self.gens),
            "redis": redis.cpu(),
            "busy": busy_seconds(),
            "t": time.monotonic(),
            **{f"w{i}": w.cpu() for i, w in enumerate(cluster.workers)},
        }

    @staticmethod
    def cpu_delta(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
        d = {k: b[k] - a[k] for k in a}
        d["other"] = max(0.0, d["busy"] - d["servers"] - d["loadgens"] - d["redis"])
        return d

    def busy_cpu(self, d: dict[str, float], key: str) -> float:
        """CPU seconds of ``key`` ("servers" or "w<i>") in window ``d``, minus what it spends
        anyway holding its clients (its heartbeats, measured over the hold)."""
        return max(0.0, d[key] - self.idle[key] * d["t"])

    def hold(self, cluster: Cluster, redis: RedisServer) -> None:
        p = self.p
        cpu0 = self.cpu_snapshot(cluster, redis)
        t0 = time.monotonic()
        end = t0 + p.hold
        while time.monotonic() < end:
            if not cluster.alive():
                raise RunError("a server process exited during the hold")
            try:
                index, msg = self.lines.get(timeout=min(5.0, max(0.01, end - time.monotonic())))
                raise RunError(f"during the hold, load generator {index}: {msg}")
            except queue.Empty:
                pass
            self.remaining(p.hold)
        held = time.monotonic() - t0
        d = self.cpu_delta(cpu0, self.cpu_snapshot(cluster, redis))
        self.idle = {k: v / d["t"] for k, v in d.items() if k == "servers" or k[:1] == "w"}
        self.result["hold"] = {
            "seconds": round(held, 1),
            "server_cpu_s": round(d["servers"], 2),
            "server_us_per_client_second": round(1e6 * d["servers"] / (p.clients * held), 3),
            "other_cpu_pct": round(100 * d["other"] / held, 1),
        }
        self.result["memory_after_hold"] = self.memory(cluster)
        print(f"[{self.kind}] held {held:.0f} s", flush=True)

    def send(self, command: str, match: dict[str, Any], timeout: float) -> Any:
        """A controller command; returns its "sent" line."""
        self.gens[0].command(command)
        return self.expect("sent", 1, timeout, **match)[0]

    def wait_seq(self, seq: int, timeout: float) -> list[Any]:
        return self.expect("got", len(self.gens), timeout, seq=seq)

    def broadcast(self, cluster: Cluster, redis: RedisServer) -> None:
        p = self.p
        n = p.clients
        rounds = []
        for _ in range(p.rounds):
            cpu0 = self.cpu_snapshot(cluster, redis)
            sent = self.send("b 1", {"event": "all"}, 30)
            got = self.wait_seq(sent["seq"], 120)
            d = self.cpu_delta(cpu0, self.cpu_snapshot(cluster, redis))
            last = max(g["last"] for g in got) - sent["t"]
            first = min(g["first"] for g in got) - sent["t"]
            rounds.append(
                {
                    "first_ms": round(1e3 * first, 1),
                    "last_ms": round(1e3 * last, 1),
                    "server_us_per_delivery": round(1e6 * self.busy_cpu(d, "servers") / n, 3),
                    "loadgen_us_per_delivery": round(1e6 * d["loadgens"] / n, 3),
                    "other_cpu_s": round(d["other"], 2),
                }
            )
            time.sleep(1.0)
        lasts = [x["last_ms"] for x in rounds]
        self.result["single"] = {
            "rounds": rounds,
            "last_ms_median": statistics.median(lasts),
            "last_ms_max": max(lasts),
            "deliveries_per_s": round(n / (statistics.median(lasts) / 1e3)),
            "server_us_per_delivery": statistics.median(
                x["server_us_per_delivery"] for x in rounds
            ),
        }

        cpu0 = self.cpu_snapshot(cluster, redis)
        sent = self.send(f"b {p.burst}", {"event": "all"}, 30)
        got = self.wait_seq(sent["seq"] + p.burst - 1, 300)
        secs = max(g["last"] for g in got) - sent["t"]
        d = self.cpu_delta(cpu0, self.cpu_snapshot(cluster, redis))
        self.result["burst"] = {
            "broadcasts": p.burst,
            "deliveries": p.burst * n,
            "seconds": round(secs, 3),
            "deliveries_per_s": round(p.burst * n / secs),
            "server_us_per_delivery": round(1e6 * self.busy_cpu(d, "servers") / (p.burst * n), 3),
            "server_us_per_delivery_with_heartbeats": round(1e6 * d["servers"] / (p.burst * n), 3),
            "loadgen_cpu_s": round(d["loadgens"], 2),
            "other_cpu_s": round(d["other"], 2),
        }
        time.sleep(1.0)

        m = p.redis_burst
        cpu0 = self.cpu_snapshot(cluster, redis)
        cmds0 = redis.stat("total_commands_processed")
        sent = self.send(f"r {m} none", {"event": "bcast"}, 30)
        marker = self.send("b 1", {"event": "all"}, 30)
        got = self.wait_seq(marker["seq"], 300)
        secs = max(g["last"] for g in got) - sent["t"]
        d = self.cpu_delta(cpu0, self.cpu_snapshot(cluster, redis))
        receivers = [self.busy_cpu(d, f"w{i}") for i in range(1, p.workers)]
        self.result["redis"] = {
            "messages": m,
            "seconds": round(secs, 3),
            "messages_per_s": round(m / secs),
            "redis_cpu_s": round(d["redis"], 3),
            "redis_us_per_message": round(1e6 * d["redis"] / m, 2),
            "redis_commands": redis.stat("total_commands_processed") - cmds0,
            "subscribers": p.workers,
            "origin_us_per_message": round(1e6 * self.busy_cpu(d, "w0") / m, 2),
            "receiver_us_per_message": round(1e6 * statistics.fmean(receivers) / m, 2)
            if receivers
            else None,
            "other_cpu_s": round(d["other"], 2),
        }
        self.seq = marker["seq"] + 1
        self.result["memory_after_broadcasts"] = self.memory(cluster)
        print(f"[{self.kind}] broadcasts done", flush=True)

    def finish(self) -> None:
        errors = [gen.finish() for gen in self.gens]
        reports = [gen.report for gen in self.gens]
        if len([rep for rep in reports if rep]) != len(self.gens):
            raise RunError(f"a load generator gave no report: {[e for e in errors if e]}")
        total = {
            k: sum(rep.get(k, 0) for rep in reports)
            for k in ("ready", "failed", "dropped", "pings", "deliveries", "order_errors")
        }
        total["bad_frames"] = sum(rep.get("bad_frames", 0) for rep in reports)
        total["min_got"] = min(rep.get("min_got", 0) for rep in reports)
        total["max_got"] = max(rep.get("max_got", 0) for rep in reports)
        total["broadcasts"] = self.seq
        self.result["clients_report"] = total
        problems = [k for k in ("failed", "dropped", "order_errors", "bad_frames") if total[k]]
        if total["ready"] != self.p.clients:
            problems.append(f"ready={total['ready']}")
        if not total["min_got"] == total["max_got"] == self.seq:
            problems.append(f"got {total['min_got']}..{total['max_got']} of {self.seq}")
        if problems:
            raise RunError("clients: " + ", ".join(problems))


# -- the command ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    d = ScaleParams()
    parser.add_argument("--servers", default=",".join(SERVER_KINDS))
    parser.add_argument("--clients", type=int, default=d.clients)
    parser.add_argument("--workers", type=int, default=d.workers, help="server processes")
    parser.add_argument("--hold", type=float, default=d.hold, help="seconds (default 600)")
    parser.add_argument("--rounds", type=int, default=d.rounds)
    parser.add_argument("--burst", type=int, default=d.burst)
    parser.add_argument("--redis-burst", type=int, default=d.redis_burst)
    parser.add_argument("--concurrency", type=int, default=d.concurrency)
    parser.add_argument("--deadline", type=float, help="seconds per server (default: hold + 1200)")
    parser.add_argument("--python", default=sys.executable, help="runs `-m aiosocketio`")
    parser.add_argument("--out", type=Path, help="also write the results (JSON) there")
    parser.add_argument("--no-write", action="store_true", help="do not write bench/results/")
    args = parser.parse_args(argv)
    servers = [s for s in args.servers.split(",") if s]
    for s in servers:
        if s not in SERVER_KINDS:
            parser.error(f"unknown server {s!r}; choose from {', '.join(SERVER_KINDS)}")
    if args.clients // args.workers > 18_000:
        parser.error("more than 18,000 clients per process: use more --workers")
    p = ScaleParams(
        clients=args.clients,
        workers=args.workers,
        hold=args.hold,
        rounds=args.rounds,
        burst=args.burst,
        redis_burst=args.redis_burst,
        concurrency=args.concurrency,
        deadline=args.deadline if args.deadline is not None else args.hold + 1200,
    )
    data: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "params": p.__dict__,
        "loadavg_before": os.getloadavg(),
        "cores": os.cpu_count(),
        "results": [],
    }
    for kind in servers:
        result = Run(kind, p, args.python).execute()
        data["results"].append(result)
        print(json.dumps(result, indent=1), flush=True)
    data["loadavg_after"] = os.getloadavg()
    markdown = render_scale_markdown(data)
    print(markdown)
    if args.out is not None:
        args.out.write_text(json.dumps(data, indent=2) + "\n")
    if not args.no_write:
        out = BENCH / "results"
        out.mkdir(exist_ok=True)
        stamp = time.strftime("%Y-%m-%dT%H%M", time.gmtime())
        (out / f"scale-{stamp}.json").write_text(json.dumps(data, indent=2) + "\n")
        print(f"wrote bench/results/scale-{stamp}.json")
        if p.clients >= FULL_CLIENTS and p.hold >= FULL_HOLD:
            readme = BENCH / "README.md"
            _replace_between(readme, "<!-- scale:begin -->", "<!-- scale:end -->", markdown)
    return 1 if any("error" in r for r in data["results"]) else 0


if __name__ == "__main__":
    sys.exit(main())
