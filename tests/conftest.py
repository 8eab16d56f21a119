"""Fixtures shared across the test folders: a throwaway Postgres database per session."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

POSTGRES_URL = os.environ.get(
    "AIOSOCKETIO_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
"""The Postgres server of the tests (``make postgres`` checks it answers); never skipped."""


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


async def _execute(url: str, *statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=10)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """A database of its own on the test Postgres, with the attachment table; dropped after.

    Fails (never skips) when Postgres cannot be reached.
    """
    from aiosocketio.protocol.cluster.postgres import DEFAULT_TABLE_NAME, create_table_sql

    name = f"aiosocketio_test_{secrets.token_hex(4)}"
    try:
        asyncio.run(_execute(POSTGRES_URL, f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        raise AssertionError(
            f"the Postgres tests need PostgreSQL at {POSTGRES_URL} (see `make postgres`): {exc}"
        ) from exc
    dsn = _with_database(POSTGRES_URL, name)
    try:
        asyncio.run(_execute(dsn, create_table_sql(DEFAULT_TABLE_NAME)))
        yield dsn
    finally:
        asyncio.run(_execute(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
