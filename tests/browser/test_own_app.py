"""docs/guides/own-app.md, run as written: its ``static/index.html`` and ``app.py`` are
written to a project folder and started with ``python app.py PORT`` (Starlette's
StaticFiles and Socket.IO on the built-in server, one port), then the page runs in
Chromium with the internet cut off: with ``socket.io-client`` installed in the project
(served by the server), without it (the CDN build, answered by playwright with the npm
file, passes its integrity check) and with neither (the page shows what is missing).
The guide's ``# runnable`` block runs too.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.browser.loader_cases import CDN, LOCAL, OFFLINE, assert_loaded, assert_told, run_cases
from tests.browser.server_process import REPO_ROOT, CLIProcess, free_port
from tests.support.node import NODE_MODULES
from tests.support.timeouts import scaled

GUIDE = REPO_ROOT / "docs" / "guides" / "own-app.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.S | re.M)


def blocks(language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(GUIDE.read_text()) if lang == language]


def guide_project(folder: Path) -> Path:
    """The guide's files, as a reader would save them."""
    (page,) = blocks("html")
    (app,) = [b for b in blocks("python") if b.startswith("# app.py\n")]
    (folder / "static").mkdir(parents=True)
    (folder / "static" / "index.html").write_text(page)
    (folder / "app.py").write_text(app)
    return folder


@pytest.fixture
async def started() -> AsyncIterator[list[CLIProcess]]:
    procs: list[CLIProcess] = []
    yield procs
    codes = [await proc.stop(signal.SIGINT) for proc in procs]  # Ctrl-C
    assert codes == [0] * len(procs), "\n".join(p.text for p in procs)
    assert all("Traceback" not in p.text for p in procs)


async def start_app(folder: Path, procs: list[CLIProcess]) -> str:
    port = free_port()
    proc = await CLIProcess.start(
        str(port), cwd=folder, program=(sys.executable, str(folder / "app.py"))
    )
    procs.append(proc)
    url = await proc.wait_for_output("http://127.0.0.1:")
    await proc.wait_port(port)
    assert url == f"http://127.0.0.1:{port}/"
    return url


@pytest.mark.browser
async def test_the_guides_app_with_the_client_installed_in_the_project(
    chromium: Path, tmp_path: Path, started: list[CLIProcess]
) -> None:
    project = guide_project(tmp_path / "myapp")
    (project / "node_modules").mkdir()
    (project / "node_modules" / "socket.io-client").symlink_to(NODE_MODULES / "socket.io-client")
    url = await start_app(project, started)
    results = await run_cases(url, "own", LOCAL)
    assert_loaded(results["local"], "local")
    assert results["local"]["reply"] == "hello browser, from Python"


@pytest.mark.browser
async def test_the_guides_app_without_the_client_uses_the_cdn_or_says_so(
    chromium: Path, tmp_path: Path, started: list[CLIProcess]
) -> None:
    url = await start_app(guide_project(tmp_path / "myapp"), started)
    results = await run_cases(url, "own", CDN, OFFLINE)
    assert_loaded(results["cdn"], "cdn")
    assert results["cdn"]["reply"] == "hello browser, from Python"
    assert_told(results["offline"])
    assert results["offline"]["state"] == "no-client"  # the page's rejection handler ran


def test_the_guides_runnable_block(tmp_path: Path) -> None:
    (program,) = [b for b in blocks("python") if b.startswith("# runnable\n")]
    script = tmp_path / "check.py"
    script.write_text(program)
    run = subprocess.run(
        [sys.executable, "-W", "error", str(script)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=scaled(60),
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith("ok: socket.io-client is not installed here"), run.stdout
