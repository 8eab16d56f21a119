"""``aiosocketio demo``: the chat demo, shipped inside the package.

The demo is a package of its own so that it runs from an installed wheel:
:mod:`~aiosocketio.cli.demo.chat` is the Socket.IO side,
:mod:`~aiosocketio.cli.demo.static_app` serves the page (``static/``, package data). The
page gets the official browser client from the server's ``/socket.io/client.js``
(``serve_client``): served from an installed ``socket.io-client`` when there is one
(``--client-dist`` or ``node_modules`` from the working directory up), from the CDN with a
Subresource Integrity hash otherwise, and the page says what is missing when neither works.
"""

from __future__ import annotations

import argparse
from typing import Any

from aiosocketio.cli.demo.chat import create_server
from aiosocketio.cli.demo.static_app import STATIC_DIR, create_static_app
from aiosocketio.cli.errors import CLIError
from aiosocketio.cli.redis_adapters import check_redis
from aiosocketio.cli.serve import announce, bound_port, serve_until_stopped

__all__ = ["STATIC_DIR", "announce_demo", "run_demo"]


async def run_demo(args: argparse.Namespace) -> None:
    """The ``demo`` command: the chat demo on the built-in server."""
    if args.redis:
        await check_redis(args.redis)
    try:
        server = create_server(
            redis_url=args.redis,
            redis_key=args.redis_key,
            redis_adapter=args.redis_adapter,
            client_dist=args.client_dist,
        )
    except FileNotFoundError as exc:  # --client-dist names a folder without the client
        raise CLIError(str(exc)) from None
    await serve_until_stopped(
        server,
        args.host,
        args.port,
        app=create_static_app(),
        on_listening=lambda: announce_demo(server, args.host, args.port, args.redis),
        shutdown_grace=args.shutdown_grace,
    )


def announce_demo(server: Any, host: str, port: int, redis: str | None) -> None:
    """Print where the demo is and where its browser client comes from."""
    announce(server, host, port, "the chat demo")
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    url = f"http://{shown}:{bound_port(server) or port}/"
    adapter = f"the Redis adapter at {redis}" if redis else "the in-memory adapter"
    print(
        f"aiosocketio: open {url} in two browser windows to chat "
        f"(add ?transport=polling to force HTTP long-polling); using {adapter}; "
        "Ctrl-C stops it",
        flush=True,
    )
    files = server.client_files
    if files is not None:
        print(f"aiosocketio: the browser client: {files.describe()}", flush=True)
