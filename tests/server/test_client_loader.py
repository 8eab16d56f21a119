"""``/socket.io/client.js``: the loader that gets every page the browser client (local copy,
else the CDN with Subresource Integrity, else a message in the page)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from aiosocketio import Server
from aiosocketio.server import client_loader
from aiosocketio.server.client_bundle import ClientBundle
from aiosocketio.server.client_loader import (
    CDN_INTEGRITY,
    CDN_URL,
    CLIENT_VERSION,
    INSTALL_COMMAND,
    ClientFiles,
)
from tests.server.test_client_bundle import make_dist
from tests.support.node import INTEROP_DIR, NODE_MODULES

CONFIG = re.compile(rb"var CONFIG = (\{.*?\});\n")


def loader_config(files: ClientFiles) -> dict[str, Any]:
    answer = files.answer("client.js", {})
    assert answer is not None
    status, headers, body = answer
    assert status == 200
    assert dict(headers)["Content-Type"] == "application/javascript; charset=utf-8"
    assert dict(headers)["Cache-Control"] == "no-cache"
    match = CONFIG.search(body)
    assert match is not None, body[:400]
    config: dict[str, Any] = json.loads(match.group(1))
    assert b"__AIOSOCKETIO_CONFIG__" not in body
    return config


def test_the_cdn_build_is_the_pinned_release_and_its_hash_is_the_npm_files() -> None:
    pinned = json.loads((INTEROP_DIR / "package.json").read_text())["dependencies"]
    assert pinned["socket.io-client"] == CLIENT_VERSION
    installed = json.loads((NODE_MODULES / "socket.io-client" / "package.json").read_text())
    assert installed["version"] == CLIENT_VERSION
    data = (NODE_MODULES / "socket.io-client" / "dist" / "socket.io.min.js").read_bytes()
    digest = base64.b64encode(hashlib.sha384(data).digest()).decode()
    assert f"sha384-{digest}" == CDN_INTEGRITY
    assert CDN_URL == f"https://cdn.socket.io/{CLIENT_VERSION}/socket.io.min.js"


def test_with_a_local_copy_the_loader_points_next_to_itself(tmp_path: Path) -> None:
    files = ClientFiles(ClientBundle(make_dist(tmp_path)))
    assert files.source == "local"
    config = loader_config(files)
    assert config["source"] == "local"
    assert config["src"] == "socket.io.min.js"
    assert config["integrity"] is None
    # the client files are still answered as Node answers them
    answer = files.answer("socket.io.min.js", {})
    assert answer is not None and answer[0] == 200
    assert files.answer("nope.js", {}) is None
    assert "served by this server from" in files.describe()


def test_without_a_copy_the_loader_uses_the_cdn_with_integrity() -> None:
    files = ClientFiles(None)
    assert files.source == "cdn"
    config = loader_config(files)
    assert config == {
        "source": "cdn",
        "src": CDN_URL,
        "integrity": CDN_INTEGRITY,
        "message": config["message"],
    }
    assert CDN_URL in config["message"]
    assert INSTALL_COMMAND in config["message"]
    assert files.answer("socket.io.min.js", {}) is None  # nothing to serve locally
    assert CDN_URL in files.describe()


def test_without_a_copy_and_without_the_cdn_the_page_is_told() -> None:
    files = ClientFiles(None, cdn=False)
    assert files.source is None
    config = loader_config(files)
    assert config["src"] is None
    assert "client_cdn=False" in config["message"]
    assert INSTALL_COMMAND in config["message"]


def test_the_loader_is_cached_by_etag() -> None:
    files = ClientFiles(None)
    answer = files.answer("client.js", {})
    assert answer is not None
    etag = dict(answer[1])["ETag"]
    assert files.answer("client.js", {"if-none-match": etag}) == (304, [], b"")
    assert files.answer("client.js", {"if-none-match": "W/" + etag}) == (304, [], b"")
    assert files.answer("client.js", {"if-none-match": '"other"'})[0] == 200  # type: ignore[index]
    assert ClientFiles(None, cdn=False).loader_etag != etag


def test_the_config_stays_one_javascript_literal() -> None:
    config: dict[str, str | None] = {"source": None, "src": None, "integrity": None}
    rendered = client_loader._render_loader(config | {"message": "</script>\u2028"})
    match = CONFIG.search(rendered)
    assert match is not None
    assert b"</script>" not in match.group(1)
    assert "\u2028".encode() not in match.group(1)
    assert json.loads(match.group(1))["message"] == "</script>\u2028"


def test_serve_client_without_a_copy_falls_back_to_the_cdn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    io = Server(serve_client=True)
    assert io.client_files is not None and io.client_files.source == "cdn"
    assert io.engine.static_files is not None
    assert io.engine.static_files("client.js", {}) is not None
    off = Server(serve_client=True, client_cdn=False)
    assert off.client_files is not None and off.client_files.source is None
    make_dist(tmp_path)
    local = Server(serve_client=True)
    assert local.client_files is not None and local.client_files.source == "local"
    with pytest.raises(FileNotFoundError, match=r"no socket\.io client files"):
        Server(serve_client=True, client_dist=tmp_path / "empty")
    assert Server().client_files is None
