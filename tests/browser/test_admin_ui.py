"""The official Socket.IO Admin UI (@socket.io/admin-ui 0.5.1's static ``ui/dist``) in headless
Chromium, logged in to servers instrumented by :func:`aiosocketio.admin.instrument`.

The dashboard refuses a wrong password, logs in with basic auth (bcrypt), lists the servers,
namespaces, sockets (official socket.io-client clients) and rooms, makes a socket join a
room and disconnects another from its pages; the tests check those effects on the servers.
Three topologies: one Python server; two Python processes on the Redis adapter; a Node
server instrumented by @socket.io/admin-ui's own ``instrument`` beside a Python one.
"""

from __future__ import annotations

import json
import secrets
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import pytest

from tests.support.node import NODE_MODULES, NodeProcess
from tests.support.servers import (
    NODE_ENV,
    REPO_ROOT,
    ServerProcess,
    python_server_argv,
    start_server,
)
from tests.support.timeouts import scaled

pytestmark = pytest.mark.browser

PASSWORD = "correct horse"
PASSWORD_HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(6)).decode()
SERVER_SCRIPT = Path(__file__).with_name("admin_server.py")
ARTIFACTS = REPO_ROOT / "artifacts"
REDIS_URL = "redis://127.0.0.1:6379"


def python_server(server_id: str, *extra: str) -> ServerProcess:
    argv = python_server_argv(
        SERVER_SCRIPT, "--password-hash", PASSWORD_HASH, "--server-id", server_id, *extra
    )
    return start_server(argv)


def node_server(server_id: str, key: str) -> ServerProcess:
    cfg = {"key": key, "serverId": server_id, "passwordHash": PASSWORD_HASH, "redis": REDIS_URL}
    script = str(Path(NODE_MODULES).parent / "js" / "admin_node_server.js")
    return start_server(["node", script, json.dumps(cfg)], env=NODE_ENV)


@pytest.fixture
def servers() -> Iterator[list[ServerProcess]]:
    started: list[ServerProcess] = []
    yield started
    for server in started:
        server.stop()


def url(server: ServerProcess) -> str:
    return f"http://127.0.0.1:{server.port}"


async def step(driver: NodeProcess, name: str, timeout: float = 60.0) -> Any:
    line = await driver.next_line(timeout)
    assert isinstance(line, dict), line
    assert "error" not in line, f"{line['error']}\nstderr:\n{driver.stderr}"
    assert line.get("step") == name, line
    return line


def wait_output(server: ServerProcess, wanted: dict[str, Any], timeout: float = 10.0) -> None:
    """Wait for a JSON line on the server's stdout that holds every item of ``wanted``."""
    deadline = time.monotonic() + scaled(timeout)
    while time.monotonic() < deadline:
        for line in list(server.stdout_lines):
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict) and wanted.items() <= obj.items():
                return
        time.sleep(0.05)
    raise AssertionError(f"no {wanted} from the server; it printed {server.stdout_lines}")


async def drive(
    chromium: Path, members: list[ServerProcess], server_ids: list[str], screenshot: Path | None
) -> dict[str, Any]:
    """Run the dashboard scenario; the steps it printed, by name."""
    cfg = {
        "servers": [url(s) for s in members],
        "serverIds": server_ids,
        "password": PASSWORD,
        "screenshot": str(screenshot) if screenshot else None,
    }
    driver = await NodeProcess.start("browser_admin.js", json.dumps(cfg))
    steps: dict[str, Any] = {}
    try:
        for name in (
            "clients", "refused", "login", "dashboard", "servers", "sockets", "rooms",
            "joined", "disconnected", "shown_disconnected",
        ):  # fmt: skip
            steps[name] = await step(driver, name)
        done = await driver.next_line(30)
        assert done.get("done") is True, done
        assert done["errors"] == []
    finally:
        await driver.stop()
    return steps


def check_common(steps: dict[str, Any], members: list[ServerProcess]) -> None:
    ids = steps["clients"]["ids"]
    last = len(members) - 1
    # the sockets page lists every client of "/" of every server, with its transport
    listed = {row[0]: row[2] for row in steps["sockets"]["rows"]}
    for i in range(len(members)):
        assert listed[ids[f"a{i}"]] == "WebSocket"
        assert listed[ids[f"b{i}"]] == "HTTP long-polling"
    # the rooms page: "lobby" holds the two clients of each server
    rooms = {row[0]: row[1:] for row in steps["rooms"]["rows"] if row[1] in ("Public", "Private")}
    assert rooms["lobby"] == ["Public", str(2 * len(members))]
    # the join made from the dashboard, seen by the server of that socket
    assert steps["joined"]["socket"] == ids[f"a{last}"]
    assert "vip" in steps["joined"]["rooms"]
    wait_output(members[last], {"joined": "vip", "sid": ids[f"a{last}"]})
    # the disconnection made from the dashboard: the client got "io server disconnect", its
    # server "server namespace disconnect"
    assert steps["disconnected"]["socket"] == ids[f"b{last}"]
    assert steps["disconnected"]["reason"] == "io server disconnect"
    wait_output(
        members[last], {"disconnected": ids[f"b{last}"], "reason": "server namespace disconnect"}
    )


async def test_one_python_server_in_the_dashboard(
    chromium: Path, servers: list[ServerProcess]
) -> None:
    servers.append(python_server("py-1"))
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "admin-ui.png"
    shot.unlink(missing_ok=True)
    steps = await drive(chromium, servers, ["py-1"], shot)
    namespaces = dict(map(tuple, steps["dashboard"]["namespaces"]))
    assert namespaces == {"/": "2", "/chat": "1", "/admin": "1"}
    (row,) = steps["servers"]["rows"]
    assert row[0] == "py-1"
    assert row[2] == str(servers[0].proc.pid)
    assert row[4] == "3"  # Engine.IO clients: a0 (c0 shares its connection), b0, the dashboard
    assert row[6].lower() == "healthy"
    check_common(steps, servers)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


async def test_two_python_processes_on_redis(chromium: Path, servers: list[ServerProcess]) -> None:
    key = f"admin-test-{secrets.token_hex(4)}"
    for name in ("py-a", "py-b"):
        servers.append(python_server(name, "--redis", REDIS_URL, "--key", key))
    steps = await drive(chromium, servers, ["py-a", "py-b"], ARTIFACTS / "admin-ui-cluster.png")
    pids = {row[0]: row[2] for row in steps["servers"]["rows"]}
    assert pids == {"py-a": str(servers[0].proc.pid), "py-b": str(servers[1].proc.pid)}
    # the dashboard is logged in to py-a; the join and the disconnection are made on py-b's
    # sockets, through the cluster
    check_common(steps, servers)


async def test_node_and_python_servers_in_one_dashboard(
    chromium: Path, servers: list[ServerProcess]
) -> None:
    key = f"admin-mixed-{secrets.token_hex(4)}"
    servers.append(node_server("node-1", key))
    servers.append(python_server("py-1", "--redis", REDIS_URL, "--key", key))
    # logged in to the Node server; the actions are on the Python server's sockets
    steps = await drive(chromium, servers, ["node-1", "py-1"], None)
    pids = {row[0]: row[2] for row in steps["servers"]["rows"]}
    assert pids == {"node-1": str(servers[0].proc.pid), "py-1": str(servers[1].proc.pid)}
    check_common(steps, servers)


def test_the_docs_screenshot_is_one_of_these_runs() -> None:
    """docs/admin-ui.png is artifacts/admin-ui.png of a run: a PNG of the driver's viewport."""
    data = (REPO_ROOT / "docs" / "admin-ui.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1400, 900)
