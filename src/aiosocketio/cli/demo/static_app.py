"""The chat demo's page: a tiny ASGI app serving the files of ``static/`` (package data).

The built-in server hands it every request outside ``/socket.io/``; the page loads the
browser client from the Socket.IO server itself (``/socket.io/client.js``).
"""

from __future__ import annotations

import asyncio
import mimetypes
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

__all__ = ["STATIC_DIR", "StaticFiles", "create_static_app"]

#: The page's files, shipped inside the package.
STATIC_DIR = Path(__file__).resolve().parent / "static"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class StaticFiles:
    """A tiny ASGI app serving the files of one directory (GET and HEAD only).

    ``/`` (and any path ending in ``/``) serves ``index.html``. Paths that escape the
    directory get a 404, other methods a 405.

    Args:
        directory: the folder to serve.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()

    def _find(self, path: str) -> Path | None:
        relative = path.lstrip("/") or "index.html"
        if relative.endswith("/"):
            relative += "index.html"
        candidate = (self.directory / relative).resolve()
        if candidate.is_relative_to(self.directory) and candidate.is_file():
            return candidate
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1000})
            return
        method = scope.get("method", "GET")
        if method not in ("GET", "HEAD"):
            await _respond(send, 405, b"method not allowed\n", "text/plain", method == "HEAD")
            return
        found = await asyncio.to_thread(self._find, str(scope.get("path", "/")))
        if found is None:
            await _respond(send, 404, b"not found\n", "text/plain", method == "HEAD")
            return
        body = await asyncio.to_thread(found.read_bytes)
        kind = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind in ("application/javascript", "application/json"):
            kind += "; charset=utf-8"
        await _respond(send, 200, body, kind, method == "HEAD")


async def _respond(send: Send, status: int, body: bytes, kind: str, head: bool) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", kind.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-cache"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"" if head else body})


def create_static_app() -> StaticFiles:
    """The ASGI app serving the chat page (``static/``)."""
    return StaticFiles(STATIC_DIR)
