"""Headless Chromium loads the client from ``/socket.io/socket.io.min.js`` (``serve_client``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import pytest

from aiosocketio import Server, Socket
from tests.support.node import NODE_MODULES, run_node

pytestmark = pytest.mark.browser

PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>serve_client</title>
<script src="/socket.io/socket.io.min.js"></script></head><body></body></html>
"""


async def page_app(
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
    send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
) -> None:
    """The page, for every path outside /socket.io/."""
    if scope["type"] != "http":
        return
    headers = [(b"content-type", b"text/html; charset=utf-8")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": PAGE})


async def test_chromium_runs_the_served_client(chromium: Path) -> None:
    io = Server(serve_client=True, client_dist=NODE_MODULES / "socket.io-client" / "dist")

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        socket.on("hello", lambda text: f"python got {text}")

    await io.listen(0, "127.0.0.1", app=page_app)
    try:
        result = await run_node(
            "browser_serve_client.js", f"http://127.0.0.1:{io.port}/", timeout=60
        )
        [line] = result.check().lines
    finally:
        await io.close()
    assert "error" not in line, line
    assert line["ioType"] == "function"
    assert line["ack"] == "python got from chromium"
    assert line["transport"] in ("polling", "websocket")
    first, *later = line["scripts"]
    assert first["status"] == 200 and first["etag"].startswith('"')
    # the reload revalidated the script with its ETag: the server answered 304
    assert [s["status"] for s in later] == [304]
