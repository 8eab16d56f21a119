"""Serving the browser client under the path (Node's ``serveClient``), run against Node's
socket.io (on by default there) and both aiosocketio front ends with ``serve_client=True``.

The answers must match Node's: the file names, the content types, ``Cache-Control``, the
quoted-version ``ETag`` and its ``304``, the compression a client asks for, a query string,
and an unknown file falling through to Engine.IO's "Transport unknown" (except ``client.js``,
the loader aiosocketio adds).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from tests.conformance.helpers import FRONTENDS, Target, http_client, start_target

pytestmark = pytest.mark.interop

ETAG = re.compile(r'^"\d+\.\d+\.\d+"$')
SCRIPTS = ["socket.io.js", "socket.io.min.js", "socket.io.msgpack.min.js", "socket.io.esm.min.js"]


@pytest.fixture(scope="module", params=FRONTENDS)
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    yield from start_target("socketio", request.param)


@pytest.mark.parametrize("name", SCRIPTS)
async def test_every_build_and_its_map(target: Target, name: str) -> None:
    async with http_client() as client:
        script = await client.get(target.http + name, headers={"accept-encoding": "identity"})
        assert script.status_code == 200
        assert script.headers["content-type"] == "application/javascript; charset=utf-8"
        assert script.headers["cache-control"] == "public, max-age=0"
        assert ETAG.match(script.headers["etag"]), script.headers["etag"]
        assert "content-encoding" not in script.headers
        assert script.content.startswith(b"/*!\n * Socket.IO v")
        source_map = await client.get(target.http + name + ".map")
        assert source_map.status_code == 200
        assert source_map.headers["content-type"] == "application/json; charset=utf-8"
        assert json.loads(source_map.content)["version"] == 3


async def test_etag_gives_304(target: Target) -> None:
    url = target.http + "socket.io.min.js"
    async with http_client() as client:
        etag = (await client.get(url)).headers["etag"]
        for tag in (etag, "W/" + etag):
            again = await client.get(url, headers={"if-none-match": tag})
            assert again.status_code == 304 and again.content == b""
        stale = await client.get(url, headers={"if-none-match": '"0.0.1"'})
        assert stale.status_code == 200 and stale.headers["etag"] == etag


@pytest.mark.parametrize(
    ("accept", "coding"),
    [("gzip, deflate", "gzip"), ("deflate", "deflate"), ("gzip;q=0, deflate", "deflate")],
)
async def test_compression_the_client_asks_for(target: Target, accept: str, coding: str) -> None:
    async with http_client() as client:
        plain = await client.get(
            target.http + "socket.io.min.js", headers={"accept-encoding": "identity"}
        )
        packed = await client.get(
            target.http + "socket.io.min.js", headers={"accept-encoding": accept}
        )
    assert packed.status_code == 200
    assert packed.headers["content-encoding"] == coding
    assert packed.content == plain.content  # httpx undid the coding


async def test_query_string_and_cors(target: Target) -> None:
    async with http_client() as client:
        answer = await client.get(
            target.http + "socket.io.min.js?v=3", headers={"origin": "http://example.com"}
        )
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "*"


async def test_other_names_fall_through_to_the_engine(target: Target) -> None:
    async with http_client() as client:
        for name in ("socket.io.min.jsx", "socket.js", "socket.io.min.js/x"):
            answer = await client.get(target.http + name)
            assert answer.status_code == 400, name
            assert answer.json() == {"code": 0, "message": "Transport unknown"}


async def test_client_js_is_the_one_name_aiosocketio_adds(target: Target) -> None:
    """Node does not know ``client.js``; aiosocketio answers its loader there (the client
    from the server's copy, else the CDN with Subresource Integrity, else a message)."""
    async with http_client() as client:
        answer = await client.get(target.http + "client.js")
    if target.frontend == "node":
        assert answer.status_code == 400
        assert answer.json() == {"code": 0, "message": "Transport unknown"}
    else:
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/javascript; charset=utf-8"
        assert b'"source": "local"' in answer.content  # the example server has a copy
