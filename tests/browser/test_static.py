"""The chat demo's static-files ASGI app (no server needed: called as an ASGI app)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.browser.server_process import REPO_ROOT

APP_PATH = REPO_ROOT / "examples" / "chat" / "app.py"


@pytest.fixture(scope="module")
def chat() -> ModuleType:
    spec = importlib.util.spec_from_file_location("aiosocketio_chat_demo_test", APP_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


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


async def test_index_page_is_served_at_root(chat: ModuleType) -> None:
    status, headers, body = await call(chat.create_static_app(), "/")
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert b"/vendor/socket.io.min.js" in body
    assert b"/app.js" in body


@pytest.mark.parametrize(
    ("path", "kind"), [("/style.css", "text/css"), ("/app.js", "text/javascript")]
)
async def test_assets_have_their_content_type(chat: ModuleType, path: str, kind: str) -> None:
    status, headers, body = await call(chat.create_static_app(), path)
    assert status == 200
    assert headers["content-type"].split(";")[0] in (kind, "application/javascript")
    assert body


async def test_official_client_bundle_is_served(chat: ModuleType) -> None:
    status, _, body = await call(chat.create_static_app(), "/vendor/socket.io.min.js")
    assert status == 200
    assert b"Socket.IO v4" in body[:200]


async def test_head_has_no_body(chat: ModuleType) -> None:
    status, headers, body = await call(chat.create_static_app(), "/", "HEAD")
    assert status == 200
    assert body == b""
    assert int(headers["content-length"]) > 0


@pytest.mark.parametrize(
    "path", ["/nope.html", "/../app.py", "/%2e%2e/app.py", "/../../pyproject.toml"]
)
async def test_missing_and_escaping_paths_are_404(chat: ModuleType, path: str) -> None:
    status, _, body = await call(chat.create_static_app(), path)
    assert status == 404
    assert body == b"not found\n"


async def test_other_methods_are_refused(chat: ModuleType) -> None:
    status, _, _ = await call(chat.create_static_app(), "/", "POST")
    assert status == 405


def test_vendor_bundle_is_copied_from_the_npm_peers(chat: ModuleType) -> None:
    assert chat.install_vendor_bundle() is True
    copied = Path(chat.VENDOR_DIR) / "socket.io.min.js"
    assert copied.read_bytes() == (Path(chat.VENDOR_BUNDLE) / "socket.io.min.js").read_bytes()
