"""The sans-I/O core never imports I/O: parse the imports of every core module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "aiosocketio"
FORBIDDEN = frozenset({"asyncio", "socket", "ssl", "selectors", "httptools", "uvloop", "redis"})


def _core_modules() -> list[Path]:
    assert (SRC / "protocol" / "__init__.py").is_file(), "protocol/ must exist"
    return sorted((SRC / "protocol").rglob("*.py"))


def _imported_roots(tree: ast.AST) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "__import__"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            roots.add(node.args[0].value.split(".")[0])
    return roots


def _absolute(node: ast.ImportFrom, path: Path) -> str | None:
    """The absolute module an ``from ... import`` names (relative ones resolved)."""
    if node.level == 0:
        return node.module
    try:
        package = ["aiosocketio", *path.relative_to(SRC).parent.parts]
    except ValueError:
        package = ["aiosocketio"]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


ALLOWED = (["aiosocketio", "protocol"], ["aiosocketio", "exceptions"], ["aiosocketio", "types"])


def _io_layer_imports(tree: ast.AST, path: Path) -> set[str]:
    """Imports of the package's own modules outside the sans-I/O layer (and the error tree
    and types it may use)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        module = _absolute(node, path)
        if not module:
            continue
        parts = module.split(".")
        if parts[0] != "aiosocketio":
            continue
        if parts == ["aiosocketio"]:
            found.update(f"aiosocketio.{alias.name}" for alias in node.names)
        elif parts[:2] not in ALLOWED:
            found.add(module)
    return found


MODULES = _core_modules()


def test_core_modules_are_found() -> None:
    names = {p.relative_to(SRC).as_posix() for p in MODULES}
    assert {
        "protocol/engineio/packets.py",
        "protocol/socketio/packets.py",
        "protocol/codec.py",
        "protocol/prepared.py",
    } <= names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.relative_to(SRC).as_posix())
def test_no_io_imports(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    bad = _imported_roots(tree) & FORBIDDEN
    assert not bad, f"{path.relative_to(SRC)} imports {sorted(bad)}"
    reaching = _io_layer_imports(tree, path)
    assert not reaching, f"{path.relative_to(SRC)} imports I/O layers {sorted(reaching)}"


def test_the_checker_catches_violations() -> None:
    tree = ast.parse(
        "import asyncio.events\nfrom ssl import SSLContext\n"
        "def f():\n    import redis\n    __import__('socket')\n"
    )
    assert _imported_roots(tree) & FORBIDDEN == {"asyncio", "ssl", "redis", "socket"}
    tree = ast.parse(
        "from aiosocketio.frontends.native.server import Server\n"
        "from aiosocketio.protocol.websocket import text_frame\n"
        "from ...server import socket\nfrom . import packets\nfrom aiosocketio import runtime\n"
        "from aiosocketio.exceptions import ProtocolError\n"
    )
    assert _io_layer_imports(tree, SRC / "protocol" / "engineio" / "x.py") == {
        "aiosocketio.frontends.native.server",
        "aiosocketio.server",
        "aiosocketio.runtime",
    }
