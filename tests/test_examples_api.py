"""Run each script of examples/api/ (a server and its clients in one process, port 0).

Each script prints what happens, one fact per line; the tests check those lines, so a
change in the library that breaks a documented example fails here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.timeouts import scaled

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "api"


def run_example(name: str) -> list[str]:
    """Run ``examples/api/<name>`` on an ephemeral port; its stdout lines."""
    proc = subprocess.run(
        [sys.executable, "-W", "error", str(EXAMPLES / name), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=scaled(30),
        check=False,
    )
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stdout.splitlines()


def test_every_example_is_tested() -> None:
    tested = {
        "asgi_fastapi.py",
        "client_features.py",
        "middlewares.py",
        "namespaces.py",
        "rooms_and_acks.py",
        "utility_methods.py",
    }
    assert {p.name for p in EXAMPLES.glob("*.py")} == tested


def test_rooms_and_acks() -> None:
    lines = run_example("rooms_and_acks.py")
    expected_in_order = [
        "ack: alice is in kitchen",
        "ack: bob is in kitchen",
        "ack: carol is in garden",
        "sum: (6, 3)",
        "binary: 13",
        "ack from client: carol answers hi",
        "room acks: ['alice answers who is here?', 'bob answers who is here?']",
        "timeout: operation has timed out",
    ]
    assert lines[: len(expected_in_order)] == expected_in_order
    events = sorted(line for line in lines if line.startswith("event: "))
    # carol (garden) hears nothing of the kitchen; bob does not see his own join
    assert events == [
        "event: alice got 'dinner is ready' from alice",
        "event: alice saw bob join kitchen",
        "event: alice saw bob leave kitchen",
        "event: bob got 'dinner is ready' from alice",
    ]


def test_middlewares() -> None:
    lines = run_example("middlewares.py")
    assert lines[:4] == [
        "refused: not authorized {'content': 'Please retry later'}",
        "admin: reset by admin (checked)",
        "alice: hello alice (checked)",
        "alice disconnected: io server disconnect",
    ]
    logs = [line for line in lines if line.startswith("log: ")]
    assert logs.count("log: attempt from 127.0.0.1") == 3
    assert "log: error on alice: unauthorized event" in logs
    assert "log: server: alice disconnected: server namespace disconnect" in logs
    assert "log: server: admin disconnected: client namespace disconnect" in logs
    assert len(logs) == 6


def test_namespaces() -> None:
    lines = run_example("namespaces.py")
    assert lines[:6] == [
        "connections: 1",  # four namespaces multiplexed on one Engine.IO connection
        "admin says: /admin",
        "workspace says: /workspace-42",
        "vip connected: True",
        "refused: Invalid namespace",
        "announcement: hello every workspace",
    ]
    logs = lines[6:]
    assert logs[0].startswith("log: main: ") and len(logs[0]) == len("log: main: ") + 20
    assert logs[1:] == [
        "log: admin: a client connected",
        "log: new namespace /workspace-42",
        "log: workspace: a client joined /workspace-42",
        "log: new namespace /vip-lounge",
        "log: vip: /vip-lounge",
    ]


def test_utility_methods() -> None:
    lines = run_example("utility_methods.py")
    assert lines == [
        "engine ids: ['engine-0001', 'engine-0002', 'engine-0003']",
        "clients_count: 3",
        "everyone: ['ann', 'ben', 'cat']",
        "lobby: ['ann']",
        "players: ['ben', 'cat']",
        "nobody: []",
        "rooms of ann: ['lobby']",
        "ticks: ['players only', 'players only']",
        "server answers: []",
        "handshake: HTTP/1.1 200 OK aiosocketio session=abc; Path=/",
        "refusal: HTTP/1.1 400 Bad Request",
        "ann's client: io server disconnect",
        "left: ['ben', 'cat']",
        "on close: ['io server disconnect', 'io server disconnect']",
        "clients_count after close: 0",
        "log: connection_error 0: Transport unknown",
    ]


def test_asgi_fastapi() -> None:
    assert run_example("asgi_fastapi.py") == [
        'fastapi /health: {"clients":1}',  # FastAPI answers the other paths
        "socket.io ack: 42",
        "mounted ack: 2",  # under a Starlette Mount, with path="/realtime/socket.io/"
    ]


def test_client_features() -> None:
    assert run_example("client_features.py") == [
        "order answer: (None, 'confirmed')",  # retried after the unacknowledged delivery
        "news: before the drop",
        "disconnect: transport close",
        "reconnect_attempt 1",
        "reconnect after 1 attempt(s)",
        "news: sent while you were away",  # missed while disconnected, replayed
        "recovered: True same id: True",
        "disconnect: io client disconnect",
        "server: connect token=t1 recovered=False",
        "server: order book: first delivery, not acknowledged",
        "server: order book: delivery 2, acknowledged",
        "server: connect token=t2 recovered=True",  # the auth callable ran again
    ]
