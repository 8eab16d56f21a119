"""Helpers shared by the Python servers under test."""

from __future__ import annotations

import json
import sys


def port_from_argv() -> int:
    """The port to listen on: the first command-line argument (0 = any free port)."""
    return int(sys.argv[1]) if len(sys.argv) > 1 else 0


def announce(port: int) -> None:
    """Tell the runner the server is listening (one JSON line on stdout)."""
    sys.stdout.write(json.dumps({"ready": True, "port": port}) + "\n")
    sys.stdout.flush()
