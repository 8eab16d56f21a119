"""The ``aiosocketio`` command (also ``python -m aiosocketio``).

Two sub-commands::

    aiosocketio run module:attr [--host H] [--port P] [--log-level L] [--factory]
                                [--redis URL] [--redis-key KEY] [--redis-adapter KIND]
                                [--postgres DSN] [--postgres-prefix PREFIX]
                                [--workers N] [--port-per-worker] [--app-dir DIR]
                                [--shutdown-grace S]
    aiosocketio demo [--host H] [--port P] [--log-level L] [--redis URL] [--redis-key KEY]
                     [--redis-adapter KIND] [--client-dist DIR] [--shutdown-grace S]

``run`` serves a :class:`aiosocketio.Server` (or a factory returning one) on the built-in
HTTP/WebSocket server, the way ``uvicorn module:app`` serves an ASGI app. ``demo`` runs the
chat demo shipped in the package (:mod:`aiosocketio.cli.demo`). Both use uvloop when it is
installed, and both shut the server down gracefully (``await server.close(grace=S)``: the
clients get up to S seconds, 10 by default, to read what is queued for them) on SIGINT or
SIGTERM.

The package, one module per job: :mod:`~aiosocketio.cli.parser` (the options),
:mod:`~aiosocketio.cli.app` (loading ``module:attr``), :mod:`~aiosocketio.cli.run` and
:mod:`~aiosocketio.cli.demo` (the two commands), :mod:`~aiosocketio.cli.serve` (serving until
a signal), :mod:`~aiosocketio.cli.workers` (``--workers N``),
:mod:`~aiosocketio.cli.redis_adapters` (``--redis``),
:mod:`~aiosocketio.cli.postgres_adapter` (``--postgres``) and :mod:`~aiosocketio.cli.entry` (the
entry point, ``aiosocketio.cli:main``).
"""

from __future__ import annotations

from aiosocketio.cli.app import import_from_string, resolve_server
from aiosocketio.cli.entry import main
from aiosocketio.cli.errors import CLIError
from aiosocketio.cli.parser import build_parser
from aiosocketio.cli.redis_adapters import (
    REDIS_ADAPTERS,
    attach_redis,
    check_redis,
    redis_adapter_factory,
)
from aiosocketio.cli.serve import serve_until_stopped

__all__ = [
    "REDIS_ADAPTERS",
    "CLIError",
    "attach_redis",
    "build_parser",
    "check_redis",
    "import_from_string",
    "main",
    "redis_adapter_factory",
    "resolve_server",
    "serve_until_stopped",
]
