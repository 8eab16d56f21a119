"""Broadcast latency through one Redis vs a Redis Cluster of three masters (a quick loop).

usage (from the repository root; about a minute)::

    .venv/bin/python bench/cluster_latency.py [--rounds 300] [--burst 5000]

Two aiosocketio servers in this process, on the classic adapter and then on the sharded
one; an aiosocketio client of the second server. Each round, the first server broadcasts
one message and waits until the client has it (latency: the Redis hop, both servers and
the client, all on this process's loop); then a burst of ``--burst`` broadcasts, timed
until the client has the last one. The same with an own redis-server and with an own
Redis Cluster (tests/cluster/redis_cluster.py). Not a benchmark assertion: the figures go
to docs/scaling.md ("Redis Cluster") and bench/results/cluster-latency-<date>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiosocketio  # noqa: E402
from aiosocketio import Server  # noqa: E402
from aiosocketio.adapters.redis import RedisAdapter  # noqa: E402
from aiosocketio.adapters.redis_cluster import client_from_url  # noqa: E402
from aiosocketio.adapters.sharded import ShardedRedisAdapter  # noqa: E402
from tests.cluster.redis_cluster import free_cluster_ports, redis_cluster  # noqa: E402


async def measure(url: str, kind: str, rounds: int, burst: int) -> dict[str, Any]:
    client = client_from_url(url)
    key = f"lat-{kind}-{time.monotonic_ns()}"
    if kind == "sharded":
        factory: Any = ShardedRedisAdapter.factory(client, channel_prefix=key)
    else:
        factory = RedisAdapter.factory(client, key=key)
    servers = [Server(adapter=factory) for _ in range(2)]
    for server in servers:
        await server.listen(0, "127.0.0.1")
    got: asyncio.Queue[int] = asyncio.Queue()
    socket = aiosocketio.client_socket(
        f"http://127.0.0.1:{servers[1].port}", force_new=True, transports=["websocket"]
    )
    socket.on("m", got.put_nowait)
    try:
        await socket.connect()
        while await servers[0].sockets.adapter.server_count() < 2:
            await asyncio.sleep(0.05)
        samples = []
        for n in range(rounds + 20):
            start = time.perf_counter()
            servers[0].emit("m", n)
            while await got.get() != n:
                pass
            if n >= 20:  # warm-up
                samples.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        for n in range(burst):
            servers[0].emit("m", -1 - n)
        while await got.get() != -burst:
            pass
        burst_s = time.perf_counter() - start
    finally:
        socket.disconnect()
        for server in servers:
            await server.close()
        await client.aclose()
    samples.sort()
    return {
        "median_ms": round(statistics.median(samples), 3),
        "p99_ms": round(samples[int(len(samples) * 0.99) - 1], 3),
        "burst": burst,
        "burst_per_s": round(burst / burst_s),
    }


async def run_all(urls: dict[str, str], rounds: int, burst: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, url in urls.items():
        for kind in ("classic", "sharded"):
            out[f"{name}/{kind}"] = await measure(url, kind, rounds, burst)
            print(f"{name:8} {kind:8} {out[f'{name}/{kind}']}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--burst", type=int, default=5000)
    args = parser.parse_args()
    (port,) = free_cluster_ports(1)
    single = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(0.3)
        with redis_cluster(masters=3) as cluster:
            urls = {"single": f"redis://127.0.0.1:{port}", "cluster": cluster.url}
            results = asyncio.run(run_all(urls, args.rounds, args.burst))
    finally:
        single.terminate()
        single.wait()
    print(f"\n| Redis | adapter | latency median | p99 | burst of {args.burst} |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        where, kind = name.split("/")
        print(
            f"| {where} | {kind} | {r['median_ms']} ms | {r['p99_ms']} ms "
            f"| {r['burst_per_s']:,} a second |"
        )
    stamp = time.strftime("%Y-%m-%dT%H%M", time.gmtime())
    path = ROOT / "bench" / "results" / f"cluster-latency-{stamp}.json"
    path.write_text(json.dumps({"rounds": args.rounds, "results": results}, indent=2) + "\n")
    print(f"\nwrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
