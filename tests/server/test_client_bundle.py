"""ClientBundle: Node's answers for the browser client files, from a dist folder."""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

import pytest

from aiosocketio import Server
from aiosocketio.server.client_bundle import CLIENT_FILES, ClientBundle


def make_dist(root: Path, version: str = "4.8.9") -> Path:
    package = root / "node_modules" / "socket.io-client"
    dist = package / "dist"
    dist.mkdir(parents=True)
    (package / "package.json").write_text(
        json.dumps({"name": "socket.io-client", "version": version})
    )
    for name in CLIENT_FILES:
        (dist / name).write_text(f"/* {name} */ " + "x" * 2000)
    return dist


def test_answers(tmp_path: Path) -> None:
    bundle = ClientBundle(make_dist(tmp_path))
    assert bundle.etag == '"4.8.9"'
    assert bundle.answer("nope.js", {}) is None
    assert bundle.answer("", {}) is None
    answer = bundle.answer("socket.io.min.js", {})
    assert answer is not None
    status, headers, body = answer
    assert status == 200 and body.startswith(b"/* socket.io.min.js */")
    assert dict(headers) == {
        "Cache-Control": "public, max-age=0",
        "Content-Type": "application/javascript; charset=utf-8",
        "ETag": '"4.8.9"',
    }
    status, headers, _ = bundle.answer("socket.io.js.map", {}) or (0, [], b"")
    assert dict(headers)["Content-Type"] == "application/json; charset=utf-8"
    assert bundle.answer("socket.io.js", {"if-none-match": '"4.8.9"'}) == (304, [], b"")
    assert bundle.answer("socket.io.js", {"if-none-match": 'W/"4.8.9"'}) == (304, [], b"")
    assert bundle.answer("socket.io.js", {"if-none-match": '"4.8.8"'})[0] == 200  # type: ignore[index]


@pytest.mark.parametrize(
    ("accept", "coding"),
    [
        ("gzip", "gzip"),
        ("br, gzip;q=0.5, deflate", "gzip"),  # no brotli in the standard library
        ("deflate", "deflate"),
        ("gzip;q=0, deflate;q=0.1", "deflate"),
        ("gzip;q=0", None),
        ("identity", None),
        ("", None),
        ("gzip;q=bogus", None),
    ],
)
def test_compression(tmp_path: Path, accept: str, coding: str | None) -> None:
    bundle = ClientBundle(make_dist(tmp_path))
    plain = (tmp_path / "node_modules/socket.io-client/dist/socket.io.js").read_bytes()
    answer = bundle.answer("socket.io.js", {"accept-encoding": accept})
    assert answer is not None
    _, headers, body = answer
    assert dict(headers).get("Content-Encoding") == coding
    if coding == "gzip":
        assert gzip.decompress(body) == plain
    elif coding == "deflate":
        assert zlib.decompress(body) == plain
    else:
        assert body == plain
    # compressed once, then reused
    again = bundle.answer("socket.io.js", {"accept-encoding": accept})
    assert again is not None and again[2] is body


def test_locate_walks_up_and_explains_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deep = tmp_path / "app" / "src"
    deep.mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"npm install socket\.io-client"):
        ClientBundle.locate(deep)
    make_dist(tmp_path / "app")
    assert ClientBundle.locate(deep).version == "4.8.9"
    monkeypatch.chdir(deep)
    io = Server(serve_client=True)
    assert io.engine.static_files is not None
    with pytest.raises(FileNotFoundError, match=r"no socket\.io client files"):
        ClientBundle(tmp_path)


def test_off_by_default() -> None:
    assert Server().engine.static_files is None
