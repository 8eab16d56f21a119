"""Start a server script (Python or Node) as a subprocess on an ephemeral port.

The script is started with ``--port 0`` and must print a JSON line ``{"port": N}`` on
stdout once it listens. ``start_server`` waits for that line; ``ServerProcess.stop``
terminates the process (ours, by PID) and waits for it.

These helpers are synchronous so that a module-scoped pytest fixture can keep one server
for a whole test module.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tests.support.node import JS_DIR, NODE_MODULES
from tests.support.timeouts import scaled

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class ServerProcess:
    """A running server subprocess and the port it listens on (127.0.0.1)."""

    proc: subprocess.Popen[bytes]
    port: int
    _stderr: IO[bytes]
    stdout_lines: list[str] = field(default_factory=list)
    _reader: threading.Thread | None = None

    @property
    def stderr(self) -> str:
        """Everything the process wrote on stderr so far."""
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        """Terminate the process and wait for it (kill after 5 s)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._reader is not None:
            self._reader.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr.close()


def _pump(stream: IO[bytes], lines: queue.Queue[str | None], keep: list[str]) -> None:
    for raw in iter(stream.readline, b""):
        text = raw.decode(errors="replace").rstrip("\n")
        keep.append(text)
        lines.put(text)
    lines.put(None)


def start_server(
    argv: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
    timeout: float = 20.0,
) -> ServerProcess:
    """Start ``argv`` and wait for its ``{"port": N}`` line.

    Raises:
        RuntimeError: the process exited or printed no port line in time (the message
            holds its stderr).
    """
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    stderr_file = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        list(argv),
        stdout=subprocess.PIPE,
        stderr=stderr_file,
        stdin=subprocess.DEVNULL,
        env=full_env,
        cwd=str(cwd) if cwd is not None else str(REPO_ROOT),
    )
    assert proc.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    kept: list[str] = []
    reader = threading.Thread(target=_pump, args=(proc.stdout, lines, kept), daemon=True)
    reader.start()
    server = ServerProcess(proc, 0, stderr_file, kept, reader)
    try:
        while True:
            try:
                line = lines.get(timeout=scaled(timeout))
            except queue.Empty:
                raise RuntimeError(f"no port line in {timeout}s") from None
            if line is None:
                raise RuntimeError(f"exited with {proc.wait()}")
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict) and isinstance(obj.get("port"), int):
                server.port = obj["port"]
                return server
    except RuntimeError as exc:
        detail = server.stderr
        server.stop()
        raise RuntimeError(f"server {' '.join(argv)} failed to start: {exc}\n{detail}") from None


def python_server_argv(script: str | Path, *args: str) -> list[str]:
    """``python script --port 0 args...`` with the interpreter running the tests."""
    path = Path(script)
    if not path.is_absolute():
        path = REPO_ROOT / path
    return [sys.executable, str(path), "--port", "0", *args]


def node_server_argv(script: str | Path, *args: str) -> list[str]:
    """``node script --port 0 args...``; relative scripts are in tests/interop/js."""
    path = Path(script)
    if not path.is_absolute():
        path = JS_DIR / path
    return ["node", str(path), "--port", "0", *args]


NODE_ENV = {"NODE_PATH": str(NODE_MODULES)}
"""Extra environment for ``node_server_argv`` scripts."""
