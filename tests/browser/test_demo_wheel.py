"""``aiosocketio demo`` from an installed wheel, in Chromium, with the internet cut off.

The wheel is built and installed into a fresh venv; the demo runs from a folder outside the
repository. With ``socket.io-client`` installed there (npm's ``node_modules``), the server
serves it and two pages chat; without it, the pages load the CDN build with its Subresource
Integrity hash: playwright answers the CDN URL with the npm package's file (SRI passes, the
pages chat), with that file plus one injected line of code (SRI blocks it: neither runs) or
not at all (offline), and in the last two cases the page itself says what is missing and how
to fix it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.browser.loader_cases import (
    CDN,
    LOCAL,
    OFFLINE,
    TAMPERED,
    assert_loaded,
    assert_told,
    run_cases,
)
from tests.browser.server_process import CLIProcess, free_port
from tests.support.node import NODE_MODULES
from tests.support.wheel import build_dist, install_wheel, user_env

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = build_dist(tmp_path_factory.mktemp("dist"))
    return install_wheel(dist, tmp_path_factory.mktemp("user"))


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[tuple[Path, list[CLIProcess]]]:
    procs: list[CLIProcess] = []
    yield tmp_path, procs
    codes = [await proc.stop() for proc in procs]
    assert codes == [0] * len(procs), "\n".join(p.text for p in procs)
    assert all("Traceback" not in p.text for p in procs)


async def start_demo(venv: Path, cwd: Path, procs: list[CLIProcess]) -> tuple[str, str]:
    port = free_port()
    proc = await CLIProcess.start(
        "demo", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
        "--shutdown-grace", "1",  # the pages are closed without leaving
        cwd=cwd, program=(str(venv / "bin" / "aiosocketio"),), env=user_env(),
    )  # fmt: skip
    procs.append(proc)
    line = await proc.wait_for_output("the browser client:", timeout=30)
    await proc.wait_port(port)
    return f"http://127.0.0.1:{port}/", line


async def test_the_wheels_demo_serves_an_installed_client_and_two_pages_chat(
    chromium: Path, venv: Path, demo: tuple[Path, list[CLIProcess]]
) -> None:
    project, procs = demo
    # `npm install socket.io-client` in the user's project folder
    (project / "node_modules").mkdir()
    (project / "node_modules" / "socket.io-client").symlink_to(NODE_MODULES / "socket.io-client")
    url, line = await start_demo(venv, project, procs)
    assert "served by this server from" in line
    assert str(project / "node_modules" / "socket.io-client" / "dist") in line
    results = await run_cases(url, "chat", LOCAL)
    assert_loaded(results["local"], "local")
    assert results["local"]["transports"] == {"alice": "websocket", "bob": "polling"}


async def test_without_a_client_the_wheels_demo_uses_the_cdn_with_integrity(
    chromium: Path, venv: Path, demo: tuple[Path, list[CLIProcess]]
) -> None:
    project, procs = demo
    url, line = await start_demo(venv, project, procs)
    assert "https://cdn.socket.io/" in line and "Subresource Integrity" in line
    results = await run_cases(url, "chat", OFFLINE, CDN, TAMPERED)
    assert_told(results["offline"])
    assert results["offline"]["state"] == "error"  # the chat's status line says it too
    assert_loaded(results["cdn"], "cdn")
    assert_told(results["tampered"])
    assert results["tampered"]["state"] == "error"
    # Chromium refused the bytes because of their hash
    refused = "'integrity' attribute"
    assert any(refused in e for e in results["tampered"]["consoleErrors"]), results
    assert not any(refused in e for e in results["offline"]["consoleErrors"]), results
