"""``aiosocketio run module:attr``: serve the user's Server."""

from __future__ import annotations

import argparse

from aiosocketio.cli.app import import_from_string, resolve_server
from aiosocketio.cli.errors import CLIError
from aiosocketio.cli.postgres_adapter import attach_postgres
from aiosocketio.cli.redis_adapters import attach_redis, check_redis
from aiosocketio.cli.serve import announce, serve_until_stopped

__all__ = ["run_app"]


async def run_app(args: argparse.Namespace) -> None:
    """The ``run`` command in one process (``--workers 1``)."""
    obj = import_from_string(args.app, args.app_dir)
    server = await resolve_server(obj, factory=args.factory, spec=args.app)
    if args.redis and args.postgres:
        raise CLIError("choose one of --redis and --postgres")
    if args.redis:
        await check_redis(args.redis)
        attach_redis(server, args.redis, args.redis_key, args.redis_adapter)
    if args.postgres:
        await attach_postgres(server, args.postgres, args.postgres_prefix)
    await serve_until_stopped(
        server,
        args.host,
        args.port,
        on_listening=lambda: announce(server, args.host, args.port, args.app),
        shutdown_grace=args.shutdown_grace,
    )
