"""Drive pages that load the browser client through ``/socket.io/client.js`` in Chromium,
with the internet cut off and the CDN answered by playwright (``browser_client_loader.js``)."""

from __future__ import annotations

import json
from typing import Any

from aiosocketio.server.client_loader import CDN_URL, INSTALL_COMMAND
from tests.support.node import NODE_MODULES, run_node
from tests.support.servers import REPO_ROOT

ARTIFACTS = REPO_ROOT / "artifacts"  # gitignored: the failing pages' screenshots
NPM_FILE = NODE_MODULES / "socket.io-client" / "dist" / "socket.io.min.js"

#: No local copy, no internet: the CDN request fails; the page must say so.
OFFLINE = {"name": "offline", "cdn": "offline", "expect": "fail"}
#: No local copy; the CDN answers with the npm package's file: SRI passes.
CDN = {"name": "cdn", "cdn": "npm", "expect": "chat"}
#: No local copy; the CDN answers with the file plus injected code: SRI blocks it.
TAMPERED = {"name": "tampered", "cdn": "tampered", "expect": "fail"}
#: A local copy (the CDN unreachable, and never asked).
LOCAL = {"name": "local", "cdn": "offline", "expect": "chat"}


async def run_cases(url: str, page: str, *cases: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Run ``cases`` against the page at ``url`` (``page``: ``"chat"`` or ``"own"``)."""
    spec = {
        "url": url,
        "page": page,
        "cdnUrl": CDN_URL,
        "npmFile": str(NPM_FILE),
        "cases": list(cases),
        "screenshots": str(ARTIFACTS),
    }
    ARTIFACTS.mkdir(exist_ok=True)
    result = await run_node("browser_client_loader.js", json.dumps(spec), timeout=180)
    lines = result.check().lines
    by_case = {line["case"]: line for line in lines}
    assert list(by_case) == [c["name"] for c in cases], result.stdout + result.stderr
    for line in by_case.values():
        assert line["pageErrors"] == [], line
    return by_case


def assert_loaded(line: dict[str, Any], source: str) -> None:
    """The page got the client from ``source`` and worked."""
    assert "failure" not in line, line
    assert line["source"] == source, line
    assert line["ioType"] == "function"
    assert line["state"] == "connected"
    assert line["banner"] is None and line["error"] is None
    if source == "local":
        assert line["external"] == [], line  # the CDN was never asked
    else:
        assert set(line["external"]) == {CDN_URL}, line


def assert_told(line: dict[str, Any]) -> None:
    """The page shows what is missing and how to fix it (the CDN did not give the client)."""
    assert "failure" not in line, line
    assert line["source"] == "cdn"
    assert line["ioType"] == "undefined"  # no client ran
    assert line["tamperedRan"] is False  # nor anything else from the CDN
    banner = line["banner"]
    assert banner is not None and banner == line["error"]
    assert "The Socket.IO browser client could not be loaded" in banner
    assert CDN_URL in banner
    assert INSTALL_COMMAND in banner
    assert line["bannerHeight"] > 0  # visible
    assert set(line["external"]) == {CDN_URL}, line
