"""Every JavaScript snippet of README.md and docs/*.md is real socket.io 4.8 code: it runs.

Each ``js`` block becomes a Node program (tests/docs/node_snippets.py) that uses the pinned
npm packages of tests/interop: a server snippet runs inside a socket.io server with a
connected socket.io-client; a client snippet runs with socket.io-client against a live
aiosocketio server. The program must exit 0, with nothing on stderr. A block whose first
line says ``(not run: <why>)`` is skipped (one today: the Redis Cluster snippet of
docs/scaling.md, whose code tests/cluster/test_redis_cluster.py runs against a cluster on
loopback; at most two may be, each with its reason).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from aiosocketio.client.connection import wait_closing
from tests.docs.fragments import build_server
from tests.docs.markdown import Block, blocks
from tests.docs.node_snippets import (
    client_program,
    imported_names,
    not_run_reason,
    server_program,
    split_imports,
    standalone,
    standalone_program,
)
from tests.support.node import NODE_MODULES
from tests.support.timeouts import scaled

pytestmark = pytest.mark.interop

SNIPPETS = blocks("js")
RUN = [b for b in SNIPPETS if not_run_reason(b) is None]


def _role(block: Block) -> str:
    return "client" if block.page.role == "client" else "server"


def _write(tmp_path: Path, program: str) -> Path:
    (tmp_path / "node_modules").symlink_to(NODE_MODULES, target_is_directory=True)
    path = tmp_path / "snippet.mjs"
    path.write_text(program)
    return path


@dataclass
class NodeRun:
    """A finished Node program, and the errors its aiosocketio server logged."""

    returncode: int | None
    stdout: str
    stderr: str
    server_errors: list[str]


def _check(proc_returncode: int | None, stdout: str, stderr: str, block: Block) -> None:
    assert proc_returncode == 0, f"{block} failed:\n{stdout}\n{stderr}"
    assert stderr == "", f"{block} wrote to stderr:\n{stderr}"


def test_every_snippet_runs_but_a_few_with_a_reason() -> None:
    assert len(SNIPPETS) >= 20
    skipped = [b for b in SNIPPETS if b not in RUN]
    assert len(skipped) <= 2, [str(b) for b in skipped]
    for block in skipped:
        assert len(str(not_run_reason(block))) > 20, block  # a reason, not a word
    assert {_role(b) for b in RUN} == {"server", "client"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _server_side_program(code: str) -> str:
    return standalone_program(code, _free_port()) if standalone(code) else server_program(code)


@pytest.mark.parametrize("block", [b for b in RUN if _role(b) == "server"], ids=str)
def test_server_snippet_runs_under_node(block: Block, tmp_path: Path) -> None:
    path = _write(tmp_path, _server_side_program(block.code))
    proc = subprocess.run(
        ["node", str(path)],
        capture_output=True,
        text=True,
        timeout=scaled(60),
        cwd=tmp_path,
        check=False,
    )
    _check(proc.returncode, proc.stdout, proc.stderr, block)


async def _run_client(code: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> NodeRun:
    """Run a client snippet under Node against a live aiosocketio server."""
    path = _write(tmp_path, client_program(code))
    io = build_server()
    await io.listen(0, "127.0.0.1")
    try:
        with caplog.at_level(logging.ERROR, logger="aiosocketio"):
            proc = await asyncio.create_subprocess_exec(
                "node",
                str(path),
                f"http://127.0.0.1:{io.port}",
                cwd=tmp_path,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=dict(os.environ),
            )
            out, err = await asyncio.wait_for(proc.communicate(), scaled(60))
    finally:
        await io.close()
        await wait_closing()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    return NodeRun(proc.returncode, out.decode(), err.decode(), errors)


@pytest.mark.parametrize("block", [b for b in RUN if _role(b) == "client"], ids=str)
async def test_client_snippet_runs_under_node_against_aiosocketio(
    block: Block, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = await _run_client(block.code, tmp_path, caplog)
    _check(run.returncode, run.stdout, run.stderr, block)
    assert run.server_errors == [], f"the server logged errors: {run.server_errors}"


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("socket.emitt('hello');", "is not a function"),
        ('await socket.timeout(50).emitWithAck("unanswered");', "operation has timed out"),
        ('import { Nope } from "socket.io-client";\nnew Nope();', "Nope"),
    ],
)
async def test_the_client_harness_catches_mistakes(
    code: str, error: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = await _run_client(code, tmp_path, caplog)
    assert run.returncode != 0, run.stdout
    assert error in run.stderr, run.stderr


# -- the harness itself catches mistakes ----------------------------------------------------


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ('const r = await io.timeout(5000).serverSideEmitWithAck("ping");', "is not a function"),
        ("socket.emitt('hello');", "is not a function"),
        ('io.on("connection", (socket) => { socket.nope(); });', "is not a function"),
        ('await socket.timeout(50).emitWithAck("unanswered");', "operation has timed out"),
        ('io.use((socket, next) => next(new Error("refused")));', "refused"),
        ('console.warn("this adapter does not support it");', "does not support"),
        (
            'const { Server } = require("socket.io");\nconst io = new Server();\n'
            'io.use((socket, next) => next(new Error("closed shop")));\nio.listen(3000);',
            "closed shop",
        ),
    ],
)
def test_the_server_harness_catches_mistakes(code: str, error: str, tmp_path: Path) -> None:
    path = _write(tmp_path, _server_side_program(code))
    proc = subprocess.run(
        ["node", str(path)],
        capture_output=True,
        text=True,
        timeout=scaled(60),
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode != 0, proc.stdout
    assert error in proc.stderr, proc.stderr


def test_imports_are_hoisted_and_provided_names_not_shadowed() -> None:
    imports, rest = split_imports('import { io } from "socket.io-client";\nconst s = io(url);\n')
    assert imports == ['import { io } from "socket.io-client";']
    assert rest == "const s = io(url);"
    assert imported_names(['import { io as connect, Manager } from "x";']) == {
        "connect",
        "Manager",
    }
    program = client_program('import { io } from "socket.io-client";\nio("https://example.com/a");')
    assert "const io = __io;" not in program and "const Manager = __Manager;" in program
    assert 'io(url + "/a")' in program
