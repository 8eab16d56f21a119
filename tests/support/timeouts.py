"""Timeouts for tests, scaled by ``AIOSOCKETIO_TEST_TIMEOUT_FACTOR`` on slow machines."""

from __future__ import annotations

import os

FACTOR = float(os.environ.get("AIOSOCKETIO_TEST_TIMEOUT_FACTOR", "1"))


def scaled(seconds: float) -> float:
    """Return ``seconds`` multiplied by the machine's timeout factor."""
    return seconds * FACTOR
