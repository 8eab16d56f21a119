"""The ``aiosocketio`` command line: its sub-commands, options and their help."""

from __future__ import annotations

import argparse

from aiosocketio import __version__
from aiosocketio.cli.asyncapi import add_asyncapi_parser
from aiosocketio.cli.redis_adapters import REDIS_ADAPTERS
from aiosocketio.cli.serve import SHUTDOWN_GRACE, SHUTDOWN_MARGIN

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "LOG_LEVELS", "build_parser"]

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3000


def build_parser() -> argparse.ArgumentParser:
    """Build the ``aiosocketio`` argument parser (sub-commands ``run``, ``demo``, ``asyncapi``)."""
    parser = argparse.ArgumentParser(
        prog="aiosocketio",
        description=(
            "Socket.IO v5 / Engine.IO v4 for asyncio. Serve a Server object with 'run', "
            "or try the chat demo with 'demo'. Servers run on uvloop when it is installed "
            "(set AIOSOCKETIO_NO_UVLOOP=1 to use the standard asyncio loop) and stop "
            "gracefully on SIGINT (Ctrl-C) or SIGTERM (see --shutdown-grace); a second "
            f"signal, or a close that takes {SHUTDOWN_MARGIN:g} s over the grace period, "
            "makes them exit at once (status 1)."
        ),
        epilog="Run 'aiosocketio <command> --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"aiosocketio {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    sub.required = True

    run = sub.add_parser(
        "run",
        help="serve a Server object (or a factory) given as module:attr",
        description=(
            "Import APP ('module:attr', e.g. 'myapp:sio' or 'pkg.mod:create_server') and serve "
            "it on the built-in HTTP/1.1 + WebSocket server. If the attribute is an "
            "aiosocketio Server it is served as is; if it is any other callable (or --factory "
            "is given) it is called with no arguments and must return a Server (an async "
            "factory is awaited)."
        ),
        epilog=(
            "Example: aiosocketio run myapp:sio --host 0.0.0.0 --port 8000 "
            "--redis redis://127.0.0.1:6379"
        ),
    )
    run.add_argument("app", metavar="APP", help="the Server to serve, as 'module:attr'")
    _add_common(run)
    run.add_argument(
        "--factory",
        action="store_true",
        help="treat APP as a factory: call it (no arguments) to get the Server",
    )
    run.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        metavar="N",
        help=(
            "run N server processes (default: 1), sharing the port through SO_REUSEPORT. "
            "The kernel spreads connections over the processes, so use --redis for "
            "broadcasts to reach every process, and have clients use the WebSocket "
            "transport only: HTTP long-polling needs every request of a session to reach "
            "the same process. With --port-per-worker, worker i listens on PORT+i instead, "
            "for a sticky load balancer in front (nginx ip_hash)"
        ),
    )
    run.add_argument(
        "--port-per-worker",
        action="store_true",
        help=(
            "with --workers N: worker i listens on PORT+i (PORT .. PORT+N-1) instead of "
            "sharing PORT, so that a sticky load balancer can keep each session on one "
            "process (HTTP long-polling needs it)"
        ),
    )
    run.add_argument(
        "--app-dir",
        default=".",
        metavar="DIR",
        help="directory added to sys.path before importing APP (default: the current one)",
    )
    run.add_argument(
        "--postgres",
        metavar="DSN",
        default=None,
        help=(
            "attach the Postgres adapter (aiosocketio.adapters.postgres, LISTEN/NOTIFY, "
            "compatible with Node's @socket.io/postgres-adapter) connected to DSN, e.g. "
            "postgresql://user@127.0.0.1/app; the attachment table socket_io_attachments "
            "is created if missing (needs the 'postgres' extra: pip install "
            "'aiosocketio[postgres]')"
        ),
    )
    run.add_argument(
        "--postgres-prefix",
        metavar="PREFIX",
        default="socket.io",
        help=(
            "prefix of the notification channels of --postgres (the adapter's "
            "channel_prefix, default: socket.io); servers with the same prefix form one cluster"
        ),
    )
    # Internal: set on the worker processes started by --workers.
    run.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)

    demo = sub.add_parser(
        "demo",
        help="run the chat demo (http://127.0.0.1:3000 by default)",
        description=(
            "Run the chat demo (shipped in the package): a static page using the official "
            "socket.io-client, with rooms, nicknames, a typing indicator and delivery "
            "receipts. It uses the in-memory adapter unless --redis is given. The page loads "
            "the browser client through /socket.io/client.js: from an installed "
            "socket.io-client (--client-dist, or node_modules in the working directory or a "
            "parent), else from the official CDN with a Subresource Integrity hash."
        ),
    )
    add_asyncapi_parser(sub)
    _add_common(demo)
    demo.add_argument(
        "--client-dist",
        metavar="DIR",
        default=None,
        help=(
            "serve the browser client from DIR, the dist folder of an installed "
            "socket.io-client (default: node_modules/socket.io-client/dist in the working "
            "directory or a parent, else the CDN)"
        ),
    )
    return parser


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"interface to bind (default: {DEFAULT_HOST}; use 0.0.0.0 for every interface)",
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help=f"TCP port to bind (default: {DEFAULT_PORT}; 0 picks a free port)",
    )
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default="info",
        type=str.lower,
        help="logging level of the 'aiosocketio' loggers (default: info)",
    )
    parser.add_argument(
        "--shutdown-grace",
        type=_seconds,
        default=SHUTDOWN_GRACE,
        metavar="SECONDS",
        help=(
            "on SIGINT/SIGTERM, the server stops accepting, sends every client what is "
            "queued for it and then a DISCONNECT, and gives the clients this many seconds "
            f"to read it before it drops them and exits (default: {SHUTDOWN_GRACE:g})"
        ),
    )
    parser.add_argument(
        "--redis",
        metavar="URL",
        default=None,
        help=(
            "attach the Redis adapter (aiosocketio.adapters.redis) connected to URL, e.g. "
            "redis://127.0.0.1:6379, so that several processes or machines share rooms and "
            "broadcasts; a Redis Cluster is redis+cluster://HOST:PORT,HOST:PORT (any of "
            "its nodes; pubsub and sharded adapters) "
            "(needs the 'redis' extra: pip install 'aiosocketio[redis]')"
        ),
    )
    parser.add_argument(
        "--redis-key",
        metavar="KEY",
        default="socket.io",
        help=(
            "prefix of the Redis channels (the adapter's 'key', default: socket.io; the "
            "stream's name too with --redis-adapter streams); servers with the same key "
            "form one cluster, Node servers included"
        ),
    )
    parser.add_argument(
        "--redis-adapter",
        choices=REDIS_ADAPTERS,
        default="pubsub",
        help=(
            "which Redis adapter --redis attaches: pubsub (PUBLISH/PSUBSCRIBE, Node's "
            "@socket.io/redis-adapter createAdapter; the default), sharded (Redis 7 "
            "SPUBLISH/SSUBSCRIBE, createShardedAdapter) or streams (one Redis stream, "
            "@socket.io/redis-streams-adapter; with connection_state_recovery on the "
            "Server, clients recover their session on any process)"
        ),
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds: {text}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range 0-65535: {value}")
    return value
