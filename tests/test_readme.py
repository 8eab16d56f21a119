"""The README's Python examples: every block compiles, the runnable ones run.

Conventions (stated in the README too):

* every fenced ``python`` block must compile (top-level ``await`` allowed: the fragments
  are the bodies of coroutines);
* a block whose first line is ``# runnable`` is a complete program: it is run in a
  subprocess, with a timeout, and must exit cleanly;
* in the "API by example" and "Client" sections, the fragments only use names the library
  has: their imports are performed, every attribute they read must exist on one of the
  public classes (or on what the block itself imports or assigns), keyword arguments must
  be accepted by the called function or method, and each topic shows Node beside Python.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import importlib
import inspect
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import aiosocketio
from aiosocketio.adapters.base import Adapter
from aiosocketio.client import FlaggedEmitter
from aiosocketio.client.sync import SyncClient
from aiosocketio.engineio.options import EngineOptions
from aiosocketio.exceptions import ConnectionError
from aiosocketio.io.engine import Engine, EngineSocket
from aiosocketio.io.http import HttpRequest
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
    ConnectionError,
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
    "SyncClient": set(inspect.signature(aiosocketio.connect).parameters)
    | set(inspect.signature(aiosocketio.Manager).parameters),
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
