"""``/socket.io/client.js`` in Chromium for the cases the demo and the guide do not cover:
a server on another path (the loader finds the client next to itself), and a server with
no local copy and the CDN turned off (``client_cdn=False``: the page says so at once and
never asks the internet)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import pytest

from aiosocketio import Server, Socket
from aiosocketio.server.client_loader import INSTALL_COMMAND
from tests.browser.loader_cases import LOCAL, assert_loaded, run_cases
from tests.support.node import NODE_MODULES

pytestmark = pytest.mark.browser

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>client.js</title></head>
<body data-state="loading"><p id="reply"></p>
<script src="PATH client.js"></script>
<script>
  aiosocketio.ready.then(
    (io) => {
      const socket = io({ path: "PATH" });
      socket.emit("hello", "browser", (reply) => {
        document.getElementById("reply").textContent = reply;
        document.body.dataset.state = "connected";
      });
    },
    () => (document.body.dataset.state = "no-client"),
  );
</script></body></html>
"""

Scope = MutableMapping[str, Any]


def page_app(path: str) -> Callable[..., Awaitable[None]]:
    body = PAGE.replace("PATH ", path).replace("PATH", path).encode()

    async def app(
        scope: Scope,
        receive: Callable[[], Awaitable[Scope]],
        send: Callable[[Scope], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            return
        headers = [(b"content-type", b"text/html; charset=utf-8")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def greeter(io: Server) -> Server:
    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        socket.on("hello", lambda name: f"hello {name}")

    return io


async def test_on_another_path_the_loader_finds_the_client_next_to_itself(
    chromium: Path,
) -> None:
    dist = NODE_MODULES / "socket.io-client" / "dist"
    io = greeter(Server(path="/live/", serve_client=True, client_dist=dist))
    await io.listen(0, "127.0.0.1", app=page_app("/live/"))
    try:
        results = await run_cases(f"http://127.0.0.1:{io.port}/", "own", LOCAL)
    finally:
        await io.close()
    assert_loaded(results["local"], "local")
    assert results["local"]["reply"] == "hello browser"


async def test_without_a_copy_and_without_the_cdn_the_page_says_so(
    chromium: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no node_modules here or above
    io = greeter(Server(serve_client=True, client_cdn=False))
    assert io.client_files is not None and io.client_files.source is None
    await io.listen(0, "127.0.0.1", app=page_app("/socket.io/"))
    nocdn = {"name": "nocdn", "cdn": "offline", "expect": "fail"}
    try:
        results = await run_cases(f"http://127.0.0.1:{io.port}/", "own", nocdn)
    finally:
        await io.close()
    line = results["nocdn"]
    assert "failure" not in line, line
    assert line["source"] is None and line["ioType"] == "undefined"
    assert line["state"] == "no-client"
    assert line["banner"] == line["error"]
    assert "loading it from the CDN is turned off (client_cdn=False)" in line["banner"]
    assert INSTALL_COMMAND in line["banner"]
    assert line["external"] == []  # the internet was never asked
