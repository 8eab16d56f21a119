"""The Python in README.md, SECURITY.md and docs/*.md: it compiles, and what claims to run runs.

The conventions are in tests/docs/markdown.py (and, for readers, in the README's
"Development" section): every block compiles; ``# runnable`` blocks run; server blocks
(``# app.py  (serve it: <command>)``) are started with their command and the page's
runnable blocks run against them; the tours' fragments use only the library's names and
run against a live server and client (tests/docs/fragments.py).
"""

from __future__ import annotations

import ast
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.docs.fragments import NOT_RUN_HERE, run_fragment
from tests.docs.markdown import (
    CHECKED_SECTION,
    ROOT,
    TOURS,
    Block,
    Page,
    blocks,
    fenced_blocks,
    pages,
    section_text,
)
from tests.docs.names import check_names
from tests.support.timeouts import scaled

BLOCKS = blocks("python")
SERVERS = [b for b in BLOCKS if b.server]
PAGES_WITH_SERVERS = {b.page.path for b in SERVERS}
CHECKED = [b for b in BLOCKS if b.checked]
NAMED = [b for b in BLOCKS if b.checked or (b.page.names and b.page.role is None)]
HARNESSED = [b for b in CHECKED if not any(marker in b.code for marker in NOT_RUN_HERE)]
README = next(p for p in pages() if p.path == "README.md")
REPO_URL = "https://github.com/aiosocketio/aiosocketio/"
# Guides written on other branches (guides, demo), linked from the README before they
# land here. Once they exist in this checkout, they are checked like every other link.
# Pages whose runnable blocks follow the guides' convention (they import the page's own
# `# app.py` block) and run in tests/docs/test_guides.py.
RUN_BY_GUIDES = {"docs/deployment.md"}

PENDING_LINKS: set[str] = set()  # links to pages another change adds (none now)


def test_the_docs_have_examples() -> None:
    assert len(CHECKED) >= 20
    assert sum(b.runnable for b in BLOCKS) >= 3
    for tour in TOURS:
        assert any(b.page == tour and b.checked and b.runnable for b in BLOCKS), tour.path
    readme = [b for b in BLOCKS if b.page == README]
    assert [b.server["module"] for b in readme if b.server] == ["app", "main"]
    assert any(b.runnable for b in readme)


def test_the_guides_are_not_checked_here() -> None:
    assert all(not p.path.startswith("docs/guides/") for p in pages())


@pytest.mark.parametrize("block", BLOCKS, ids=str)
def test_block_compiles(block: Block) -> None:
    compile(block.code, str(block), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


def _run_program(code: str, name: str, cwd: Path = ROOT) -> str:
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        timeout=scaled(30),
        cwd=cwd,
        check=False,
    )
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, f"{name} logged an error:\n{proc.stderr}"
    assert proc.stdout.strip(), f"{name} printed nothing"
    return proc.stdout


@pytest.mark.parametrize(
    "block",
    [
        b
        for b in BLOCKS
        if b.runnable and b.page.path not in PAGES_WITH_SERVERS and b.page.path not in RUN_BY_GUIDES
    ],
    ids=str,
)
def test_runnable_block_runs(block: Block) -> None:
    _run_program(block.code, str(block))


# -- server blocks: started with their own command, the page's runnable blocks run against them


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_listening(port: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + scaled(20)
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the server exited: {proc.communicate()}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port}")


@pytest.mark.parametrize("server", SERVERS, ids=str)
def test_server_block_serves_the_pages_clients(server: Block, tmp_path: Path) -> None:
    match = server.server
    assert match is not None
    command = match["command"].split()
    assert command[0] in ("aiosocketio", "uvicorn"), command
    assert "3000" in command, "a server block's command names port 3000"
    page_blocks = [b for b in BLOCKS if b.page == server.page]
    for block in page_blocks:  # the page's modules, importable from one directory
        if block.server:
            (tmp_path / f"{block.server['module']}.py").write_text(block.code)
    clients = [b for b in page_blocks if b.runnable]
    assert clients, f"{server.page.path} has no runnable block to run against {server}"
    port = _free_port()
    argv = [sys.executable, "-m", *(str(port) if word == "3000" else word for word in command)]
    proc = subprocess.Popen(
        argv,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(tmp_path)},
    )
    try:
        _wait_listening(port, proc)
        for client in clients:
            _run_program(client.code.replace(":3000", f":{port}"), str(client), cwd=tmp_path)
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=scaled(15))
    assert proc.returncode == 0, output
    assert "Traceback" not in output, output


# -- the tours' fragments: real names, Node beside Python, run against a live server -------


@pytest.mark.parametrize("block", NAMED, ids=str)
def test_fragment_uses_real_names(block: Block) -> None:
    assert check_names(block.code) == []


def test_the_name_check_catches_mistakes() -> None:
    wrong = (
        "from aiosocketio import Server\n"
        "io = Server(pingInterval=25)\n"
        "await io.fetchSockets()\n"
        "await io.listen(3000, hostname='0.0.0.0')\n"
    )
    assert sorted(check_names(wrong)) == [
        "Server() takes no pingInterval= (line 2)",
        "listen() takes no hostname= (line 4)",
        "unknown attribute .fetchSockets (line 3)",
    ]
    with pytest.raises(AssertionError, match="no Serverr"):
        check_names("from aiosocketio import Serverr\n")


@pytest.mark.parametrize("tour", TOURS, ids=lambda p: p.path)
def test_each_topic_shows_node_beside_python(tour: Page) -> None:
    body = section_text(tour, CHECKED_SECTION)
    topics = re.split(r"\n### ", body)[1:]
    assert len(topics) >= 5, tour.path
    for topic in topics:
        title = topic.splitlines()[0]
        if title in ("A complete program", "The blocking client"):
            continue
        assert "```js\n" in topic and "```python\n" in topic, f"{tour.path} / {title}"


def test_most_fragments_run() -> None:
    assert len(HARNESSED) >= len(CHECKED) - 4


@pytest.mark.parametrize("block", HARNESSED, ids=str)
async def test_fragment_runs(block: Block, caplog: pytest.LogCaptureFixture) -> None:
    assert block.page.role is not None
    await run_fragment(block.code, block.page.role, caplog)


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("socket.emit('connect')", "reserved event name"),
        ("io.on('connection', lambda socket: socket.no_such_method())", "errors logged"),
        ("await socket.timeout(0.05).emit_with_ack('unanswered')", "timed out"),
    ],
)
async def test_the_fragment_runner_catches_mistakes(
    code: str, error: str, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(Exception, match=error):
        await run_fragment(code, "server", caplog)


# -- links: the README is shown on the package index, where relative links do not resolve ---


def test_the_readme_links_are_absolute_and_exist() -> None:
    links = re.findall(r"\]\(([^)\s]+)\)", README.text)
    assert links
    for link in links:
        assert link.startswith("https://"), f"relative link in the README: {link}"
        if not link.startswith(REPO_URL):
            continue
        path = re.sub(r"^(blob|tree|raw)/main/", "", link[len(REPO_URL) :]).split("#")[0]
        assert (ROOT / path).exists() or path in PENDING_LINKS, f"no {path} for {link}"


@pytest.mark.parametrize(
    "page", [p for p in pages() if p.path.startswith("docs/")], ids=lambda p: p.path
)
def test_the_docs_relative_links_exist(page: Page) -> None:
    base = (ROOT / page.path).parent
    for link in re.findall(r"\]\(([^)\s]+)\)", page.text):
        if re.match(r"[a-z]+:", link) or link.startswith("#"):
            continue
        path = (base / link.split("#")[0]).resolve()
        relative = path.relative_to(ROOT).as_posix()
        assert path.exists() or relative in PENDING_LINKS, f"{page.path}: no {link}"


def test_no_block_is_left_out() -> None:
    """Each tested page's Python blocks are all collected (none hides in an odd fence)."""
    for page in pages():
        fences = page.text.count("```python\n")
        assert fences == len(list(fenced_blocks(page, "python"))), page.path


def test_the_readme_keeps_the_benchmark_markers() -> None:
    """bench/run.py replaces what is between them with bench/report.py's table."""
    text = README.text
    assert text.count("<!-- bench:begin -->\n") == 1
    assert text.count("<!-- bench:end -->") == 1
    block = text[text.index("<!-- bench:begin -->") : text.index("<!-- bench:end -->")]
    assert "Latest full run: " in block and "| scenario | aiosocketio |" in block
