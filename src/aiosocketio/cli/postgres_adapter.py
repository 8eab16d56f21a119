"""``--postgres``: the Postgres adapter the ``run`` command can attach, and its pool.

``aiosocketio.adapters.postgres`` and asyncpg are imported lazily, so the ``postgres``
extra is needed only when the option is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from typing import Any

from aiosocketio.cli.errors import CLIError

__all__ = ["attach_postgres", "close_postgres_pools"]

logger = logging.getLogger("aiosocketio.cli")

#: The pools opened by :func:`attach_postgres`; closed when serving stops.
_pools: list[Any] = []


async def attach_postgres(
    server: Any, dsn: str, channel_prefix: str = "socket.io", timeout: float = 5.0
) -> None:
    """Switch ``server`` to the Postgres adapter on a new pool connected to ``dsn``.

    The attachment table (``socket_io_attachments``) is created if it does not exist.

    Raises:
        CLIError: asyncpg is missing or the DSN is invalid (exit status 2), Postgres
            cannot be reached (exit status 1), or the server cannot switch adapters.
    """
    set_adapter = getattr(server, "adapter", None)
    if not callable(set_adapter):
        raise CLIError(
            "--postgres: this Server cannot switch adapters once built (it has no "
            "server.adapter(factory)); build it with Server(adapter=...) instead"
        )
    try:
        asyncpg = importlib.import_module("asyncpg")
        adapters = importlib.import_module("aiosocketio.adapters.postgres")
    except ImportError as exc:
        raise CLIError(
            "--postgres needs the Postgres adapter and the 'asyncpg' package "
            f"(pip install 'aiosocketio[postgres]'): {exc}"
        ) from exc
    try:
        pool = await asyncio.wait_for(asyncpg.create_pool(dsn, min_size=1, max_size=4), timeout)
    except (ValueError, asyncpg.InterfaceError) as exc:
        raise CLIError(f"--postgres: {exc}") from exc
    except Exception as exc:
        raise CLIError(f"--postgres: cannot reach Postgres at {dsn}: {exc}", 1) from exc
    _pools.append(pool)
    try:
        await adapters.create_attachment_table(pool)
    except Exception as exc:  # no right to create it: the servers may still share one
        logger.warning("could not create the attachment table: %s", exc)
    set_adapter(adapters.PostgresAdapter.factory(pool, channel_prefix=channel_prefix))


async def close_postgres_pools() -> None:
    """Close the pools opened by :func:`attach_postgres` (serving stopped)."""
    while _pools:
        pool = _pools.pop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(pool.close(), 5)
