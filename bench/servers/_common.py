"""Helpers shared by the Python servers under test."""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def port_from_argv() -> int:
    """The port to listen on: the first command-line argument that is a number (0 = any
    free port; options such as ``--metrics`` may come before it)."""
    return next((int(arg) for arg in sys.argv[1:] if arg.isdigit()), 0)


def announce(port: int) -> None:
    """Tell the runner the server is listening (one JSON line on stdout)."""
    sys.stdout.write(json.dumps({"ready": True, "port": port}) + "\n")
    sys.stdout.flush()


def redis_url() -> str | None:
    """The ``--redis URL`` argument (the cluster scenario), if given."""
    if "--redis" in sys.argv:
        return sys.argv[sys.argv.index("--redis") + 1]
    return None


def redis_manager() -> Any:
    """python-socketio's AsyncRedisManager for ``--redis URL``, else None (in memory)."""
    url = redis_url()
    if url is None:
        return None
    import socketio  # type: ignore[import-not-found, unused-ignore]

    return socketio.AsyncRedisManager(url, channel=os.environ.get("BENCH_REDIS_KEY", "bench"))
