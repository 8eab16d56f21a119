"""From an ASGI scope to the Engine's :class:`~aiosocketio.engine.http.HttpRequest`, and
headers back to ASGI's byte pairs."""

from __future__ import annotations

from typing import Any

from aiosocketio.engine.http import HttpRequest
from aiosocketio.frontends.asgi_types import Scope

__all__ = ["build_request", "encode_headers", "route_path"]


def route_path(scope: Scope) -> str:
    """The path below the mount point (ASGI: ``path`` includes ``root_path``)."""
    path = str(scope.get("path", "/"))
    root = str(scope.get("root_path", ""))
    if root and path.startswith(root):
        path = path[len(root) :] or "/"
    return path


def _latin1(raw: Any) -> str:
    return (raw if type(raw) is bytes else bytes(raw)).decode("latin-1")


def build_request(scope: Scope, path: str | None = None) -> HttpRequest:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", ()):
        # ASGI gives bytes; anything bytes-like is accepted
        name = (raw_name if type(raw_name) is bytes else bytes(raw_name)).decode("latin-1")
        value = (raw_value if type(raw_value) is bytes else bytes(raw_value)).decode("latin-1")
        if not name.islower():
            name = name.lower()
        if name in headers:
            headers[name] = f"{headers[name]}, {value}"
        else:
            headers[name] = value
    client = scope.get("client") or ("", 0)
    if path is None:
        path = route_path(scope)
    method = scope.get("method", "GET")
    return HttpRequest(
        method=method if method == "GET" or method == "POST" else str(method).upper(),
        path=path,
        query_string=_latin1(scope.get("query_string", b"")),
        headers=headers,
        remote_address=str(client[0]),
        remote_port=int(client[1] or 0),
        secure=scope.get("scheme") in ("https", "wss"),
        scope=scope if isinstance(scope, dict) else dict(scope),
    )


def encode_headers(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1", "replace")) for k, v in headers]
