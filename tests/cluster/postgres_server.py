"""A PostgreSQL server of the test's own, on a free port, that a test may stop and restart
(the shared one on 5432 is never restarted)."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg

from aiosocketio.protocol.cluster.postgres import DEFAULT_TABLE_NAME, create_table_sql
from tests.cluster.support import free_port


def _bindir() -> Path:
    """Where initdb and postgres are (Debian keeps them out of PATH)."""
    for name in ("initdb",):
        found = shutil.which(name)
        if found:
            return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not candidates:
        raise AssertionError("no PostgreSQL server binaries (initdb) on this machine")
    return Path(candidates[-1]).parent


def _as_postgres() -> dict[str, Any]:
    """Postgres refuses to run as root: run it as the postgres user then (the process
    itself, so that our signals reach it)."""
    if os.geteuid() != 0:
        return {}
    return {"user": "postgres", "group": "postgres", "extra_groups": []}


class PostgresServer:
    """``initdb`` in a temporary directory, then ``postgres`` on a free loopback port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="aiosocketio-pg-"))
        self.data = self.dir / "data"
        self.proc: asyncio.subprocess.Process | None = None
        self.bindir = _bindir()

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> None:
        os.chmod(self.dir, 0o755)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        subprocess.run(
            [
                str(self.bindir / "initdb"),
                *("-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"),
            ],
            check=True,
            capture_output=True,
            timeout=120,
            cwd=self.dir,
            **_as_postgres(),
        )

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            str(self.bindir / "postgres"),
            "-D", str(self.data),
            "-p", str(self.port),
            "-k", str(self.dir),
            "-c", "listen_addresses=127.0.0.1",
            "-c", "fsync=off",
            "-c", "max_connections=50",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            cwd=self.dir,
            **_as_postgres(),
        )  # fmt: skip
        for _ in range(300):
            try:
                conn = await asyncpg.connect(self.dsn, timeout=2)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await asyncio.sleep(0.05)
                continue
            await conn.close()
            return
        raise AssertionError("our postgres did not start")

    async def stop(self) -> None:
        """A fast shutdown (SIGINT): the clients' connections are cut."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(2)  # our own process, by PID
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self.proc = None


@contextlib.asynccontextmanager
async def own_postgres() -> AsyncIterator[PostgresServer]:
    """A fresh server with the attachment table; removed afterwards."""
    server = PostgresServer()
    try:
        await asyncio.to_thread(server.init)
        await server.start()
        conn = await asyncpg.connect(server.dsn)
        try:
            await conn.execute(create_table_sql(DEFAULT_TABLE_NAME))
        finally:
            await conn.close()
        yield server
    finally:
        await server.stop()
        shutil.rmtree(server.dir, ignore_errors=True)
