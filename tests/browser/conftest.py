"""Browser tests need Debian's chromium; install it (once, idempotently) when it is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.chromium import ensure_chromium


@pytest.fixture(scope="session")
def chromium() -> Path:
    """The Chromium binary, installed with ``scripts/ensure_chromium.sh`` if needed."""
    return ensure_chromium()
