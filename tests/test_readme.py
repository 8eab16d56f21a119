"""The README's Python examples: every block compiles, the runnable ones run.

Conventions (stated in the README too):

* every fenced ``python`` block must compile (top-level ``await`` allowed: the fragments
  are the bodies of coroutines);
* a block whose first line is ``# runnable`` is a complete program: it is run in a
  subprocess, with a timeout, and must exit cleanly;
* in the "API by example" and "Client" sections, the fragments only use names the library
  has: their imports are performed, every attribute they read must exist on one of the
  public classes (or on what the block itself imports or assigns), keyword arguments must
  be accepted by the called function or method, and each topic shows Node beside Python;
* those fragments also run against a live server and client (see ``run_fragment``),
  except the two that start servers of their own (``examples/api`` runs those).
"""

from __future__ import annotations

import ast
import asyncio
import builtins
import dataclasses
import importlib
import inspect
import logging
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import aiosocketio
from aiosocketio.adapters.base import Adapter
from aiosocketio.client import FlaggedEmitter
from aiosocketio.client.connection import wait_closing
from aiosocketio.client.sync import SyncClient
from aiosocketio.engine.engine import Engine
from aiosocketio.engine.http import HttpRequest
from aiosocketio.engine.socket import EngineSocket
from aiosocketio.exceptions import ConnectError
from aiosocketio.protocol.engineio.options import EngineOptions
from aiosocketio.server.handshake import Handshake
from aiosocketio.server.namespace import ParentNamespace
from aiosocketio.server.socket import SocketEmitter
from tests.support.timeouts import scaled

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RUNNABLE = "# runnable"
CHECKED_SECTIONS = ("## API by example (Node beside Python)", "## Client")

# Every object a README fragment may reach through attributes.
API_OBJECTS: tuple[Any, ...] = (
    aiosocketio,
    aiosocketio.Server,
    aiosocketio.Namespace,
    ParentNamespace,
    aiosocketio.Socket,
    SocketEmitter,
    aiosocketio.BroadcastOperator,
    aiosocketio.RemoteSocket,
    Handshake,
    Adapter,
    Engine,
    EngineSocket,
    HttpRequest,
    aiosocketio.ClientSocket,
    FlaggedEmitter,
    aiosocketio.Manager,
    SyncClient,
    ConnectError,
    aiosocketio.AckTimeout,
    aiosocketio.Disconnected,
    aiosocketio.DisconnectReason,
    # plain Python values the fragments handle: dicts (data, auth, headers), sets (rooms)
    dict,
    set,
    str,
    list,
    BaseException,
)


@dataclass(frozen=True)
class Block:
    """One fenced ``python`` block of the README."""

    line: int  # 1-based line of its first code line
    section: str  # the ``## `` heading it is under
    code: str

    @property
    def runnable(self) -> bool:
        return self.code.startswith(RUNNABLE)

    def __str__(self) -> str:
        return f"README.md:{self.line}"


def fenced_blocks(text: str, language: str) -> Iterator[Block]:
    """The fenced blocks of ``language`` in ``text``, with their line and section."""
    section = ""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line.strip()
        if line.strip() == f"```{language}":
            start = i + 1
            end = start
            while end < len(lines) and lines[end].strip() != "```":
                end += 1
            assert end < len(lines), f"unclosed block at README.md:{start}"
            yield Block(start + 1, section, "\n".join(lines[start:end]) + "\n")
            i = end
        i += 1


def readme_text() -> str:
    return README.read_text(encoding="utf-8")


BLOCKS = list(fenced_blocks(readme_text(), "python"))
CHECKED = [b for b in BLOCKS if b.section in CHECKED_SECTIONS]


def test_the_readme_has_examples() -> None:
    assert len(CHECKED) >= 20
    assert sum(b.runnable for b in BLOCKS) >= 2
    for section in CHECKED_SECTIONS:
        assert any(b.section == section and b.runnable for b in BLOCKS), section


@pytest.mark.parametrize("block", BLOCKS, ids=str)
def test_block_compiles(block: Block) -> None:
    compile(block.code, str(block), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.runnable], ids=str)
def test_runnable_block_runs(block: Block) -> None:
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-c", block.code],
        capture_output=True,
        text=True,
        timeout=scaled(30),
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, f"{block} failed:\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, f"{block} logged an error:\n{proc.stderr}"
    assert proc.stdout.strip(), f"{block} printed nothing"


# -- the names the fragments use ----------------------------------------------------------


def _imported(tree: ast.AST) -> list[Any]:
    """Perform the block's imports; the imported objects (modules, classes, functions)."""
    out: list[Any] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                out.append(importlib.import_module(alias.name))
        elif isinstance(node, ast.ImportFrom):
            assert node.module is not None
            module = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(module, alias.name), f"{node.module} has no {alias.name}"
                out.append(getattr(module, alias.name))
    return out


def _known_attributes(objects: tuple[Any, ...] | list[Any]) -> set[str]:
    names: set[str] = set()
    for obj in objects:
        names.update(dir(obj))
        if dataclasses.is_dataclass(obj):
            names.update(f.name for f in dataclasses.fields(obj))
        if inspect.isclass(obj):
            try:
                # instance attributes set in __init__ (self.x = ...)
                source = inspect.getsource(obj)
            except (OSError, TypeError):
                continue
            names.update(re.findall(r"self\.([a-z_][a-z0-9_]*)\s*(?::[^=\n]+)?=", source))
    return names


API_ATTRIBUTES = _known_attributes(API_OBJECTS)


def _signatures(name: str, imported: list[Any]) -> list[inspect.Signature] | None:
    """The signatures a call of method or function ``name`` may be resolved to.

    None when one of the candidates has no signature to inspect (a builtin such as
    ``dict.update``): its keywords are then not checked.
    """
    found: list[inspect.Signature] = []
    for obj in (*API_OBJECTS, *imported):
        fn: Callable[..., Any] | None = getattr(obj, name, None)
        if fn is None and getattr(obj, "__name__", None) == name and callable(obj):
            fn = obj
        if fn is None or not callable(fn):
            continue
        try:
            found.append(inspect.signature(fn))
        except (TypeError, ValueError):
            return None
    return found


EXTRA_KEYWORDS: dict[str, set[str]] = {
    # Server(**engine_options), connect(**manager_options), SyncClient(url, **connect options)
    "Server": {f.name for f in dataclasses.fields(EngineOptions)},
    "connect": set(inspect.signature(aiosocketio.Manager).parameters),
    "client_socket": set(inspect.signature(aiosocketio.Manager).parameters) - {"auto_connect"},
    "SyncClient": set(inspect.signature(aiosocketio.client_socket).parameters)
    | set(inspect.signature(aiosocketio.Manager).parameters) - {"auto_connect"},
}


def _accepts(sig: inspect.Signature, keyword: str, name: str) -> bool:
    params = sig.parameters
    param = params.get(keyword)
    if param is not None and param.kind in (
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.KEYWORD_ONLY,
    ):
        return True
    if name in EXTRA_KEYWORDS:  # their **options are known exactly
        return keyword in EXTRA_KEYWORDS[name]
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def check_names(block: Block) -> list[str]:
    """What in ``block`` does not exist in the library (empty when all is well)."""
    tree = ast.parse(block.code)
    imported = _imported(tree)
    known = API_ATTRIBUTES | _known_attributes(imported) | set(dir(builtins))
    assigned = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
    }
    problems: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr not in known | assigned:
            problems.append(f"unknown attribute .{node.attr} (line {node.lineno})")
        if isinstance(node, ast.Call) and node.keywords:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            sigs = _signatures(name, imported)
            if sigs is None:
                continue
            for kw in node.keywords:
                if kw.arg is None:
                    continue
                if not any(_accepts(sig, kw.arg, name) for sig in sigs):
                    problems.append(f"{name}() takes no {kw.arg}= (line {node.lineno})")
    return problems


@pytest.mark.parametrize("block", CHECKED, ids=str)
def test_fragment_uses_real_names(block: Block) -> None:
    assert check_names(block) == []


def test_the_name_check_catches_mistakes() -> None:
    wrong = Block(
        1,
        CHECKED_SECTIONS[0],
        "from aiosocketio import Server\n"
        "io = Server(pingInterval=25)\n"
        "await io.fetchSockets()\n"
        "await io.listen(3000, hostname='0.0.0.0')\n",
    )
    assert sorted(check_names(wrong)) == [
        "Server() takes no pingInterval= (line 2)",
        "listen() takes no hostname= (line 4)",
        "unknown attribute .fetchSockets (line 3)",
    ]
    with pytest.raises(AssertionError, match="no Serverr"):
        check_names(Block(1, CHECKED_SECTIONS[0], "from aiosocketio import Serverr\n"))


def test_each_topic_shows_node_beside_python() -> None:
    text = readme_text()
    for section in CHECKED_SECTIONS:
        body = text[text.index(section + "\n") :]
        body = body[: body.index("\n## ", 1)]
        topics = re.split(r"\n### ", body)[1:]
        assert len(topics) >= 5, section
        for topic in topics:
            title = topic.splitlines()[0]
            if title in ("A complete program", "The blocking client"):
                continue
            assert "```js\n" in topic and "```python\n" in topic, f"{section} / {title}"


# -- running the fragments against a live server ---------------------------------------------
#
# A fragment of the server API runs with ``io`` a listening Server and ``socket`` the
# server-side socket of a connected client; a fragment of the client API runs with
# ``socket`` a connected client socket, its server answering the events the fragments
# emit, and the README's example URLs pointing at that server. The few free names the
# fragments use (``data``, ``is_valid``...) are stubs. Afterwards a second client connects
# and emits, so the handlers and middlewares a fragment registered run too. Nothing may
# log an error and the fragment must finish in time.

NOT_RUN_HERE = ("io.listen(", "io.serve(", "FastAPI", RUNNABLE)
EXAMPLE_URLS = ("https://example.com", "http://localhost:3000")
CLIENT_ANSWERS: dict[str, Any] = {"question": "an answer", "ready?": "ready", "my-event": "ok"}
SERVER_ANSWERS: dict[str, Any] = {"update": {"status": "ok"}, "order": "ordered"}


async def _is_valid(token: Any) -> bool:
    return True


async def _fetch_user(token: Any) -> Any:
    return SimpleNamespace(name="ada")


def _stubs() -> dict[str, Any]:
    return {
        "data": {"title": "hello"},
        "n": 1,
        "x": 10,
        "y": 20,
        "item": "book",
        "is_valid": _is_valid,
        "is_unauthorized": lambda event: event == "forbidden",
        "fetch_user": _fetch_user,
    }


def _answering_client(sock: aiosocketio.ClientSocket, answers: dict[str, Any]) -> None:
    for event, answer in answers.items():
        sock.on(event, lambda *args, _answer=answer: _answer)


def _build_server() -> aiosocketio.Server:
    io = aiosocketio.Server()

    def answer_everything(socket: aiosocketio.Socket) -> None:
        for event, answer in SERVER_ANSWERS.items():
            socket.on(event, lambda *args, _answer=answer: _answer)

    for name in ("/", "/admin", "/chat"):
        io.of(name).on("connection", answer_everything)
    return io


async def _run_code(code: str, namespace: dict[str, Any], in_thread: bool) -> None:
    compiled = compile(code, "README", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    if in_thread:  # blocking code (the SyncClient) must not block the server's loop
        await asyncio.wait_for(asyncio.to_thread(exec, compiled, namespace), scaled(20))
        return
    result = eval(compiled, namespace)
    if inspect.iscoroutine(result):
        await asyncio.wait_for(result, scaled(20))


HARNESSED = [b for b in CHECKED if not any(marker in b.code for marker in NOT_RUN_HERE)]


def test_most_fragments_run() -> None:
    assert len(HARNESSED) >= len(CHECKED) - 4


@pytest.mark.parametrize("block", HARNESSED, ids=str)
async def test_fragment_runs(block: Block, caplog: pytest.LogCaptureFixture) -> None:
    await run_fragment(block, caplog)


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
        await run_fragment(Block(1, CHECKED_SECTIONS[0], code), caplog)


async def run_fragment(block: Block, caplog: pytest.LogCaptureFixture) -> None:
    """Run ``block`` against a live server (see above); raise if anything goes wrong."""
    io = _build_server()
    await io.listen(0, "127.0.0.1")
    url = f"http://127.0.0.1:{io.port}"
    clients: list[aiosocketio.ClientSocket] = []

    async def client(path: str = "/") -> aiosocketio.ClientSocket:
        sock = await aiosocketio.connect(url + path, force_new=True, reconnection=False)
        _answering_client(sock, CLIENT_ANSWERS)
        clients.append(sock)
        return sock

    code = block.code
    for example in EXAMPLE_URLS:
        code = code.replace(example, url)
    namespace: dict[str, Any] = {"__name__": "readme", "url": url, **_stubs()}
    try:
        with caplog.at_level(logging.ERROR, logger="aiosocketio"):
            first = await client()
            if block.section == "## Client":
                namespace["socket"] = first
            else:
                [server_side] = io.sockets.sockets.values()
                namespace.update(io=io, socket=server_side, socket_id=server_side.id)
            await _run_code(code, namespace, in_thread="SyncClient" in code)
            if "io.close()" not in code:
                second = await client()  # runs the handlers the fragment registered
                second.emit("hello", "world")
                await second.timeout(5).emit_with_ack("update", 1)
                second.emit("forbidden")  # refused by the per-packet middleware example
            await asyncio.sleep(0.05)
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert errors == [], f"errors logged: {errors}"
    finally:
        for sock in clients:
            sock.disconnect()
        for value in list(namespace.values()):
            if isinstance(value, (aiosocketio.ClientSocket, aiosocketio.Manager)):
                value.disconnect()
        await io.close()
        await wait_closing()
