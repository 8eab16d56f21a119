"""Headless Chromium for the browser tests: Debian's package, installed once if missing."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.servers import REPO_ROOT

CHROMIUM = Path("/usr/bin/chromium")


def ensure_chromium() -> Path:
    """The Chromium binary, installed with ``scripts/ensure_chromium.sh`` if needed."""
    if not CHROMIUM.exists():
        subprocess.run([str(REPO_ROOT / "scripts" / "ensure_chromium.sh")], check=True)
    assert CHROMIUM.exists(), "chromium is not installed"
    return CHROMIUM
