"""Run ``python -m aiosocketio ...`` as a child process (ours, stopped by PID)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.support.timeouts import scaled

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port that nothing listens on right now (asked from the OS)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class CLIProcess:
    """One ``aiosocketio`` command running in a child process.

    ``output`` collects stdout and stderr lines as they arrive.
    """

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.output: list[str] = []
        self._new_line = asyncio.Event()
        self._readers = [
            asyncio.ensure_future(self._read(proc.stdout)),
            asyncio.ensure_future(self._read(proc.stderr)),
        ]

    @classmethod
    async def start(
        cls,
        *args: str,
        cwd: Path = REPO_ROOT,
        new_group: bool = False,
        program: Sequence[str] = (sys.executable, "-m", "aiosocketio"),
        env: Mapping[str, str] | None = None,
    ) -> CLIProcess:
        """Start ``python -m aiosocketio *args`` (``new_group``: in a process group of its own;
        ``program``: another command, such as an installed wheel's ``aiosocketio``)."""
        env = dict(os.environ if env is None else env)
        env["PYTHONUNBUFFERED"] = "1"
        proc = await asyncio.create_subprocess_exec(
            *program,
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=str(cwd),
            env=env,
            process_group=0 if new_group else None,
        )
        return cls(proc)

    async def _read(self, stream: asyncio.StreamReader | None) -> None:
        assert stream is not None
        async for raw in stream:
            self.output.append(raw.decode(errors="replace").rstrip("\n"))
            self._new_line.set()

    @property
    def text(self) -> str:
        return "\n".join(self.output)

    async def wait_for_output(self, needle: str, timeout: float = 15.0) -> str:
        """Wait until a line containing ``needle`` was printed; return that line."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + scaled(timeout)
        seen = 0
        while True:
            for line in self.output[seen:]:
                if needle in line:
                    return line
            seen = len(self.output)
            if self.proc.returncode is not None and all(r.done() for r in self._readers):
                raise AssertionError(
                    f"process exited {self.proc.returncode} before printing {needle!r}:\n"
                    f"{self.text}"
                )
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"no {needle!r} within {timeout}s; output:\n{self.text}")
            self._new_line.clear()
            try:
                await asyncio.wait_for(self._new_line.wait(), min(remaining, 0.2))
            except TimeoutError:
                pass

    async def wait_port(self, port: int, timeout: float = 15.0) -> None:
        """Wait until ``127.0.0.1:port`` accepts TCP connections."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + scaled(timeout)
        while True:
            if self.proc.returncode is not None:
                raise AssertionError(f"server exited {self.proc.returncode}:\n{self.text}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                if loop.time() > deadline:
                    raise AssertionError(f"port {port} never opened:\n{self.text}") from None
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            return

    async def wait(self, timeout: float = 30.0) -> int:
        """Wait for the process to exit by itself; return its exit status."""
        try:
            await asyncio.wait_for(self.proc.wait(), scaled(timeout))
        except TimeoutError:
            raise AssertionError(f"still running after {timeout}s:\n{self.text}") from None
        return await self.stop()

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Send ``sig`` (by PID) and wait for the exit status; SIGKILL after ``timeout``."""
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
            try:
                await asyncio.wait_for(self.proc.wait(), scaled(timeout))
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        for reader in self._readers:
            try:
                await asyncio.wait_for(reader, 2)
            except (TimeoutError, asyncio.CancelledError):
                reader.cancel()
        assert self.proc.returncode is not None
        return self.proc.returncode
