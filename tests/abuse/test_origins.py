"""``allowed_origins``: a page of another site cannot open (or hijack) a session.

Headless Chromium loads pages from two origins (two loopback ports) and runs the official
browser client in each, on both transports, against our server on both front ends: the
allowed origin connects, the other is refused (403, Engine.IO code 4) before any session
exists.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.abuse.harness import fetch_stats, start_target
from tests.support.chromium import ensure_chromium
from tests.support.node import run_node
from tests.support.servers import ServerProcess

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# two pages of two origins (the Node script serves them)
GOOD_PORT, EVIL_PORT = _free_port(), _free_port()
GOOD = f"http://127.0.0.1:{GOOD_PORT}"
EVIL = f"http://127.0.0.1:{EVIL_PORT}"


@pytest.fixture(scope="module")
def chromium() -> Path:
    return ensure_chromium()


@pytest.fixture(scope="module", params=["native", "asgi"])
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    options = {
        "allowed_origins": [GOOD],
        # polling from the allowed page is a cross-origin XHR: it needs CORS as well
        "cors": {"origin": GOOD, "credentials": True},
    }
    target = start_target(str(request.param), options)
    yield target
    target.stop()


async def test_only_the_allowed_origin_connects(chromium: Path, server: ServerProcess) -> None:
    result = await run_node(
        "browser_origin.js",
        f"http://127.0.0.1:{server.port}",
        str(GOOD_PORT),
        str(EVIL_PORT),
        timeout=90,
    )
    result.check()
    assert all("error" not in line for line in result.lines), result.lines
    lines = {(line["origin"], line["transport"]): line for line in result.lines}
    for transport in ("websocket", "polling"):
        assert lines[(GOOD, transport)]["result"] == "connected", lines
        assert lines[(EVIL, transport)]["result"] == "refused", lines
    # refused by the server, not only by the browser's CORS check: no session was made
    # for the other site (the allowed page's sessions closed when it disconnected)
    stats = await fetch_stats(server.port)
    assert stats["clients"] == 0, stats
