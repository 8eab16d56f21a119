"""Smoke test of the benchmark's load generator (bench/loadgen/loadgen.c).

It builds the C load generator and runs every scenario, tiny and bounded, against the
benchmark app on the official Node socket.io server, so the load generator's Engine.IO v4 /
Socket.IO v5 handling (handshake, "40" connect, acks, binary attachments, broadcast order,
long-polling) is checked against the reference; then against aiosocketio's own server.
No timing is asserted.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from aiosocketio import Server, Socket
from tests.support.node import NODE_MODULES
from tests.support.timeouts import scaled

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def loadgen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gcc = shutil.which("gcc")
    assert gcc is not None, "gcc is needed to build the load generator"
    out = tmp_path_factory.mktemp("loadgen") / "loadgen"
    subprocess.run(
        [gcc, "-O2", "-Wall", "-Werror", "-o", str(out), str(BENCH / "loadgen" / "loadgen.c")],
        check=True,
        timeout=scaled(60),
    )
    return out


def _serve(argv: list[str], cwd: Path | None = None) -> Iterator[int]:
    """Start a benchmark server process; yield the port of its ready line; stop it."""
    env = dict(os.environ, NODE_PATH=str(NODE_MODULES))
    proc = subprocess.Popen(
        argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else f"{argv} did not start"
        yield int(json.loads(line)["port"])
    finally:
        proc.terminate()
        proc.wait(timeout=scaled(10))
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture(scope="module")
def node_port() -> Iterator[int]:
    yield from _serve(["node", str(BENCH / "servers" / "node_socketio.js"), "0"])


def run_loadgen(binary: Path, port: int, scenario: str, *args: str) -> list[dict[str, Any]]:
    """Run the load generator to the end; its JSON lines (phases, then the report)."""
    done = subprocess.run(
        [str(binary), "--port", str(port), "--scenario", scenario, "--timeout", "20", *args],
        capture_output=True,
        text=True,
        timeout=scaled(40),
        check=False,
    )
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
    assert lines and lines[-1]["scenario"] == scenario, done.stdout
    report = lines[-1]
    assert report["failed"] == 0
    assert report["dropped"] == 0
    assert report["bad_frames"] == 0
    return lines


def test_connect_counts_every_handshake(loadgen: Path, node_port: int) -> None:
    lines = run_loadgen(loadgen, node_port, "connect", "--clients", "50", "--hold", "0.1")
    phases = [line["phase"] for line in lines if "phase" in line]
    assert phases == ["ready"]
    assert lines[-1]["ready"] == 50
    assert lines[-1]["handshakes_per_s"] > 0


def test_echo_gets_every_ack(loadgen: Path, node_port: int) -> None:
    lines = run_loadgen(
        loadgen, node_port, "echo", "--clients", "3", "--inflight", "4",
        "--duration", "0.3", "--warmup", "0.1",
    )  # fmt: skip
    report = lines[-1]
    assert report["acks"] > 0
    assert 0 < report["p50_us"] <= report["p99_us"]


def test_broadcast_delivers_everything_in_order(loadgen: Path, node_port: int) -> None:
    lines = run_loadgen(
        loadgen, node_port, "broadcast", "--clients", "20", "--emits", "10", "--duration", "0.2"
    )
    report = lines[-1]
    assert report["all_delivered"] is True
    assert report["order_errors"] == 0
    assert report["deliveries"] == 20 * report["emits"]
    assert report["emits"] == 10 * report["rounds"]


def test_rooms_deliver_to_members_only(loadgen: Path, node_port: int) -> None:
    lines = run_loadgen(
        loadgen, node_port, "rooms", "--clients", "30", "--rooms", "5", "--emits", "10",
        "--duration", "0.2",
    )  # fmt: skip
    report = lines[-1]
    assert report["all_delivered"] is True
    # every room has 6 members, so each emit reaches exactly 6 clients
    assert report["deliveries"] == 6 * report["emits"]


def test_binary_echo_counts_attachment_bytes(loadgen: Path, node_port: int) -> None:
    lines = run_loadgen(
        loadgen, node_port, "binary", "--clients", "2", "--inflight", "1", "--binsize", "4096",
        "--duration", "0.3", "--warmup", "0.1",
    )  # fmt: skip
    report = lines[-1]
    assert report["acks"] > 0
    assert report["bytes"] == 4096 * report["acks"]


def test_polling_echo(loadgen: Path, node_port: int) -> None:
    lines = run_loadgen(
        loadgen, node_port, "polling", "--clients", "3", "--inflight", "1",
        "--duration", "0.3", "--warmup", "0.1",
    )  # fmt: skip
    assert lines[-1]["acks"] > 0


def test_refused_upgrade_is_a_clean_failure(loadgen: Path, node_port: int) -> None:
    done = subprocess.run(
        [str(loadgen), "--port", str(node_port), "--path", "/nope/", "--scenario", "connect",
         "--clients", "2", "--timeout", "5"],
        capture_output=True, text=True, timeout=scaled(20), check=False,
    )  # fmt: skip
    assert done.returncode == 1
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["failed"] == 2
    assert "loadgen:" in done.stderr


async def run_loadgen_async(binary: Path, port: int, scenario: str, *args: str) -> dict[str, Any]:
    """Like :func:`run_loadgen`, without blocking the event loop that runs the server."""
    proc = await asyncio.create_subprocess_exec(
        str(binary), "--port", str(port), "--scenario", scenario, "--timeout", "20", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), scaled(40))
    assert proc.returncode == 0, (proc.returncode, out, err)
    report: dict[str, Any] = json.loads(out.decode().splitlines()[-1])
    assert report["scenario"] == scenario
    assert report["failed"] == 0
    assert report["bad_frames"] == 0
    return report


async def test_aiosocketio_runs_the_bench_app(loadgen: Path) -> None:
    server = Server()

    @server.on("connection")
    def on_connection(socket: Socket) -> None:
        def join(room: str) -> bool:
            socket.join(room)
            return True

        socket.on("echo", lambda data: data)
        socket.on("join", join)
        socket.on("bcast", lambda room, data: server.to(room).emit("m", data))
        socket.on("bin", lambda data: data)

    await server.listen(0, "127.0.0.1")
    try:
        echo = await run_loadgen_async(
            loadgen, server.port, "echo", "--clients", "3", "--inflight", "4",
            "--duration", "0.3", "--warmup", "0.1",
        )  # fmt: skip
        assert echo["acks"] > 0
        bcast = await run_loadgen_async(
            loadgen, server.port, "rooms", "--clients", "20", "--rooms", "4", "--emits", "10",
            "--duration", "0.2",
        )  # fmt: skip
        assert bcast["all_delivered"] is True
        assert bcast["deliveries"] == 5 * bcast["emits"]
        binary = await run_loadgen_async(
            loadgen, server.port, "binary", "--clients", "1", "--inflight", "1",
            "--binsize", "2048", "--duration", "0.2", "--warmup", "0.05",
        )  # fmt: skip
        assert binary["bytes"] == 2048 * binary["acks"] > 0
    finally:
        await server.close()


def test_the_metrics_server_counts_what_the_scenarios_send(loadgen: Path) -> None:
    # bench/run.py's aiosocketio-metrics row: the same app with the Prometheus exporter on.
    # Its cost is only meaningful if the exporter really counts the benchmark's traffic.
    # as bench/run.py starts it: the server's own argv, then the port
    argv = [sys.executable, "aiosocketio_native.py", "--metrics", "0"]
    for port in _serve(argv, cwd=BENCH / "servers"):
        echo = run_loadgen(
            loadgen, port, "echo", "--clients", "3", "--inflight", "4",
            "--duration", "0.3", "--warmup", "0.1",
        )[-1]  # fmt: skip
        rooms = run_loadgen(
            loadgen, port, "rooms", "--clients", "20", "--rooms", "4", "--emits", "10",
            "--duration", "0.2",
        )[-1]  # fmt: skip
        assert rooms["all_delivered"] is True
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
            text = answer.read().decode()
        samples = {
            sample.name: sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if not sample.labels
        }
        # every echo (warm-up included) and every join/bcast came in; every ack and every
        # delivery went out
        assert samples["socketio_events_received_total"] >= echo["acks"] + rooms["emits"]
        assert samples["socketio_events_sent_total"] >= rooms["deliveries"]


@pytest.fixture(scope="module")
def floor_port() -> Iterator[int]:
    """bench/servers/asgi_floor.py (the bare ASGI app) under uvicorn."""
    yield from _serve([sys.executable, "asgi_floor.py", "0"], cwd=BENCH / "servers")


def test_the_bare_asgi_floor_does_the_work_the_scenarios_count(
    loadgen: Path, floor_port: int
) -> None:
    # The floor row of the benchmark is only a fair bound if the load generator sees it
    # do the same observable work as a Socket.IO server: every ack, every delivery in
    # order, every attachment byte, over WebSocket and long-polling.
    echo = run_loadgen(
        loadgen, floor_port, "echo", "--clients", "3", "--inflight", "4",
        "--duration", "0.3", "--warmup", "0.1",
    )[-1]  # fmt: skip
    assert echo["acks"] > 0
    rooms = run_loadgen(
        loadgen, floor_port, "rooms", "--clients", "30", "--rooms", "5", "--emits", "10",
        "--duration", "0.2",
    )[-1]  # fmt: skip
    assert rooms["all_delivered"] is True
    assert rooms["deliveries"] == 6 * rooms["emits"]
    binary = run_loadgen(
        loadgen, floor_port, "binary", "--clients", "2", "--inflight", "1", "--binsize", "4096",
        "--duration", "0.3", "--warmup", "0.1",
    )[-1]  # fmt: skip
    assert binary["acks"] > 0
    assert binary["bytes"] == 4096 * binary["acks"]
    polling = run_loadgen(
        loadgen, floor_port, "polling", "--clients", "3", "--inflight", "2",
        "--duration", "0.3", "--warmup", "0.1",
    )[-1]  # fmt: skip
    assert polling["acks"] > 0
