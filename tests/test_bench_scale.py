"""Smoke tests of bench/scale.py and bench/capacity.py, tiny and bounded.

scale.py runs its whole course at a small size against both clusters (aiosocketio run
--workers 2 --redis, and two Node socket.io processes on @socket.io/redis-adapter): several
load generators from their own loopback addresses, broadcasts to all across the cluster
sent by the controlling load generator, and its checks (nobody dropped, every client got
every broadcast in order). capacity.py runs its Redis part and its balancer part, which
puts WebSocket clients through the nginx and HAProxy blocks of docs/deployment.md. No
timing is asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.timeouts import scaled

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"

pytestmark = [pytest.mark.interop, pytest.mark.cluster]


def run_bench(script: str, out: Path, *args: str, timeout: float = 240) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(BENCH / script), "--no-write", "--out", str(out), *args],
        capture_output=True,
        text=True,
        timeout=scaled(timeout),
        check=False,
    )
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def test_scale_holds_and_broadcasts_across_both_clusters(tmp_path: Path) -> None:
    rounds, burst = 2, 3
    data = run_bench(
        "scale.py", tmp_path / "scale.json",
        "--clients", "300", "--workers", "2", "--hold", "1",
        "--rounds", str(rounds), "--burst", str(burst), "--redis-burst", "200",
    )  # fmt: skip
    assert [r["server"] for r in data["results"]] == ["aiosocketio", "node"]
    for result in data["results"]:
        assert "error" not in result, result
        report = result["clients_report"]
        # every broadcast (the rounds, the burst, the marker after the Redis burst)
        assert report["broadcasts"] == rounds + burst + 1
        assert report["min_got"] == report["max_got"] == report["broadcasts"]
        assert report["deliveries"] == 300 * report["broadcasts"]
        assert report["ready"] == 300
        assert report["dropped"] == report["failed"] == report["order_errors"] == 0
        per_process = result["memory"]["per_process"]
        assert [m["clients"] for m in per_process] == [150, 150]
        assert len(result["single"]["rounds"]) == rounds
        assert result["burst"]["deliveries"] == 300 * burst
        assert result["redis"]["messages"] == 200
        assert result["redis"]["subscribers"] == 2


def test_capacity_measures_redis_and_both_documented_balancers(tmp_path: Path) -> None:
    data = run_bench(
        "capacity.py", tmp_path / "capacity.json",
        "--messages", "500", "--clients", "200", "--broadcasts", "2",
    )  # fmt: skip
    shapes = {(r["command"], r["subscribers"], r["pipeline"]) for r in data["redis"]}
    assert ("PUBLISH", 4096, 1) in shapes
    assert ("SPUBLISH", 32, 1) in shapes
    assert ("PUBLISH", 1024, 16) in shapes
    assert [b["balancer"] for b in data["balancers"]] == ["nginx", "haproxy"]
    for row in data["balancers"]:
        assert row["clients"] == 200
        assert row["deliveries"] == 400
