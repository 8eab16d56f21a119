"""The chat demo's static-files ASGI app (no server needed: called as an ASGI app)."""

from __future__ import annotations

from typing import Any

import pytest

from aiosocketio.cli.demo.static_app import STATIC_DIR, create_static_app


async def call(app: Any, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": []}
    await app(scope, receive, send)
    start, body = sent[0], sent[1]
    assert start["type"] == "http.response.start"
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    assert int(headers["content-length"]) >= len(body["body"])
    return start["status"], headers, body["body"]


async def test_index_page_is_served_at_root() -> None:
    status, headers, body = await call(create_static_app(), "/")
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert b'<script src="/socket.io/client.js"></script>' in body
    assert b"/app.js" in body


@pytest.mark.parametrize(
    ("path", "kind"), [("/style.css", "text/css"), ("/app.js", "text/javascript")]
)
async def test_assets_have_their_content_type(path: str, kind: str) -> None:
    status, headers, body = await call(create_static_app(), path)
    assert status == 200
    assert headers["content-type"].split(";")[0] in (kind, "application/javascript")
    assert body


async def test_head_has_no_body() -> None:
    status, headers, body = await call(create_static_app(), "/", "HEAD")
    assert status == 200
    assert body == b""
    assert int(headers["content-length"]) > 0


@pytest.mark.parametrize(
    "path", ["/nope.html", "/../chat.py", "/%2e%2e/chat.py", "/../../../server/server.py"]
)
async def test_missing_and_escaping_paths_are_404(path: str) -> None:
    status, _, body = await call(create_static_app(), path)
    assert status == 404
    assert body == b"not found\n"


async def test_other_methods_are_refused() -> None:
    status, _, _ = await call(create_static_app(), "/", "POST")
    assert status == 405


def test_the_page_ships_inside_the_package() -> None:
    assert STATIC_DIR.parts[-4:] == ("aiosocketio", "cli", "demo", "static")
    assert sorted(p.name for p in STATIC_DIR.iterdir()) == ["app.js", "index.html", "style.css"]
