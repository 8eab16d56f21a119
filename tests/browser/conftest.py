"""Browser tests need Debian's chromium; install it (once, idempotently) when it is missing."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.browser.server_process import REPO_ROOT

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="session")
def chromium() -> Path:
    """The Chromium binary, installed with ``scripts/ensure_chromium.sh`` if needed."""
    if not CHROMIUM.exists():
        subprocess.run([str(REPO_ROOT / "scripts" / "ensure_chromium.sh")], check=True)
    assert CHROMIUM.exists(), "chromium is not installed"
    return CHROMIUM
