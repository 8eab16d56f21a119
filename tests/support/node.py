"""Run scripts that use the official npm packages (installed in ``tests/interop``).

A script prints one JSON object per line on stdout. ``run_node`` waits for it to finish;
``NodeProcess`` keeps a long-running one (a Node server, a client fleet) and reads its
lines as they come.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.timeouts import scaled

INTEROP_DIR = Path(__file__).resolve().parents[1] / "interop"
JS_DIR = INTEROP_DIR / "js"
NODE_MODULES = INTEROP_DIR / "node_modules"


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    env["NODE_PATH"] = str(NODE_MODULES)
    if extra:
        env.update(extra)
    return env


def _script_path(script: str | Path) -> str:
    path = Path(script)
    if not path.is_absolute():
        path = JS_DIR / path
    return str(path)


@dataclass
class NodeResult:
    """What a finished script printed."""

    returncode: int
    stdout: str
    stderr: str
    lines: list[Any] = field(default_factory=list)

    def check(self) -> NodeResult:
        """Raise with the script's output if it failed."""
        if self.returncode != 0:
            raise AssertionError(
                f"node exited {self.returncode}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"
            )
        return self


def revive(value: Any, decode: Callable[[str], bytes] = base64.b64decode) -> Any:
    """The JSON a script prints -> Python values: ``{"$bin": text}`` becomes ``decode(text)``.

    The parser scripts write base64 (the default); the cluster scripts write hex.
    """
    if isinstance(value, dict):
        if set(value) == {"$bin"}:
            return decode(value["$bin"])
        return {k: revive(v, decode) for k, v in value.items()}
    if isinstance(value, list):
        return [revive(v, decode) for v in value]
    return value


def _parse_lines(text: str) -> list[Any]:
    out: list[Any] = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith(("{", "[")):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


async def run_node(
    script: str | Path,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> NodeResult:
    """Run ``node script args...`` to completion and collect its JSON lines."""
    proc = await asyncio.create_subprocess_exec(
        "node",
        _script_path(script),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_env(env),
        cwd=str(INTEROP_DIR),
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), scaled(timeout))
    except TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
        raise AssertionError(
            f"node {script} timed out\nstdout:\n{out.decode()}\nstderr:\n{err.decode()}"
        ) from None
    stdout = out.decode()
    assert proc.returncode is not None
    return NodeResult(proc.returncode, stdout, err.decode(), _parse_lines(stdout))


class NodeProcess:
    """A long-running Node script whose JSON lines are read as they arrive."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: asyncio.Queue[Any] = asyncio.Queue()
        self._stderr: list[str] = []
        self._reader = asyncio.ensure_future(self._read())
        self._err_reader = asyncio.ensure_future(self._read_err())

    @classmethod
    async def start(
        cls, script: str | Path, *args: str, env: dict[str, str] | None = None
    ) -> NodeProcess:
        proc = await asyncio.create_subprocess_exec(
            "node",
            _script_path(script),
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.PIPE,
            env=_env(env),
            cwd=str(INTEROP_DIR),
        )
        return cls(proc)

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            for item in _parse_lines(raw.decode()):
                await self.lines.put(item)

    async def _read_err(self) -> None:
        assert self.proc.stderr is not None
        async for raw in self.proc.stderr:
            self._stderr.append(raw.decode())

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    async def next_line(self, timeout: float = 10.0) -> Any:
        """The next JSON line, or AssertionError with stderr after ``timeout``."""
        try:
            return await asyncio.wait_for(self.lines.get(), scaled(timeout))
        except TimeoutError:
            raise AssertionError(
                f"no line from node in {timeout}s; stderr:\n{self.stderr}"
            ) from None

    async def wait_for(self, key: str, value: Any = None, timeout: float = 10.0) -> Any:
        """Skip lines until one whose ``key`` is present (and equal to ``value`` if given)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + scaled(timeout)
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"no line with {key}={value!r}; stderr:\n{self.stderr}")
            line = await self.next_line(remaining)
            if isinstance(line, dict) and key in line and (value is None or line[key] == value):
                return line

    def send(self, obj: Any) -> None:
        """Write one JSON line to the script's stdin."""
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(obj) + "\n").encode())

    async def stop(self) -> None:
        """Terminate the script (it is ours, by PID) and wait for it."""
        if self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        for task in (self._reader, self._err_reader):
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
