"""What a documented Python fragment may name: the library's attributes and keywords.

A fragment's imports are performed; every attribute it reads must exist on one of the
public classes (or on what the block itself imports or assigns), and keyword arguments
must be accepted by the called function or method.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import importlib
import inspect
import re
from collections.abc import Callable
from typing import Any

import aiosocketio
from aiosocketio.adapters.base import Adapter
from aiosocketio.client import FlaggedEmitter
from aiosocketio.client.sync import SyncClient
from aiosocketio.engine.engine import Engine
from aiosocketio.engine.http import HttpRequest
from aiosocketio.engine.socket import EngineSocket
from aiosocketio.exceptions import ConnectError
from aiosocketio.protocol.engineio.options import EngineOptions
from aiosocketio.server.handshake import Handshake
from aiosocketio.server.namespace import ParentNamespace
from aiosocketio.server.socket import SocketEmitter

# Every object a documented fragment may reach through attributes.
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


def check_names(code: str) -> list[str]:
    """What in ``code`` does not exist in the library (empty when all is well)."""
    tree = ast.parse(code)
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
