"""Run the official Engine.IO v4 and Socket.IO v5 test suites against both front ends.

The suites are the verbatim copies in ``../shared/conformance`` (relative to the repo root;
``AIOSOCKETIO_CONFORMANCE_DIR`` overrides it). They are read-only there, so each is copied
to ``build/conformance/<suite>`` and ``npm ci`` runs in the copy (again only when its lock
file changes). Each suite expects its server on http://localhost:3000: the servers are
``examples/conformance/{engineio,socketio}_server.py``, on the built-in server and on the
ASGI app under uvicorn.

Usage::

    python scripts/conformance.py [--runs 3] [--suites engine.io,socket.io]
                                  [--frontends native,asgi]

Every run must pass every test (the suites' timings are the spec's: a server whose
heartbeat is late fails them); the exit status is 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "conformance"
SERVERS = {"engine.io": "engineio_server.py", "socket.io": "socketio_server.py"}
PORT = 3000


def suites_dir() -> Path:
    override = os.environ.get("AIOSOCKETIO_CONFORMANCE_DIR")
    return Path(override) if override else ROOT.parent / "shared" / "conformance"


def prepare(suite: str) -> Path:
    """A writable copy of ``suite`` with its npm packages installed."""
    source = suites_dir() / suite
    if not (source / "test-suite.js").is_file():
        sys.exit(f"conformance: {source}/test-suite.js is missing")
    target = BUILD / suite
    lock = (source / "package-lock.json").read_bytes() + (source / "test-suite.js").read_bytes()
    digest = hashlib.sha256(lock).hexdigest()
    stamp = target / ".installed"
    if stamp.is_file() and stamp.read_text() == digest:
        return target
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
    for path in target.rglob("*"):
        path.chmod(path.stat().st_mode | 0o200)
    target.chmod(target.stat().st_mode | 0o200)
    print(f"==> npm ci ({suite} test suite)", flush=True)
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=target, check=True
    )
    stamp.write_text(digest)
    return target


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def run_once(suite: str, frontend: str, workdir: Path) -> tuple[int, int, str]:
    """One full run of ``suite`` against ``frontend``: (passing, failing, mocha output)."""
    if not port_free(PORT):
        raise RuntimeError(f"port {PORT} is taken: the suites need it")
    server = ROOT / "examples" / "conformance" / SERVERS[suite]
    proc = subprocess.Popen(
        [sys.executable, str(server), "--frontend", frontend, "--port", str(PORT)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(PORT, proc)
        mocha = subprocess.run(
            ["npx", "mocha", "--exit", "test-suite.js"],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    out = mocha.stdout + mocha.stderr
    passing = re.search(r"(\d+) passing", out)
    failing = re.search(r"(\d+) failing", out)
    return (int(passing.group(1)) if passing else 0, int(failing.group(1)) if failing else 0, out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--suites", default="engine.io,socket.io")
    parser.add_argument("--frontends", default="native,asgi")
    args = parser.parse_args()
    suites = args.suites.split(",")
    frontends = args.frontends.split(",")
    if not suites_dir().is_dir():
        # Said loudly: the suites are third-party files beside the checkout, not in it.
        print(f"conformance: NOT RUN: {suites_dir()} does not exist", flush=True)
        return 0
    dirs = {suite: prepare(suite) for suite in suites}
    results: list[tuple[str, str, int, int, int]] = []
    failed = False
    for suite in suites:
        for frontend in frontends:
            for run in range(1, args.runs + 1):
                started = time.monotonic()
                passing, failing, out = run_once(suite, frontend, dirs[suite])
                took = time.monotonic() - started
                ok = failing == 0 and passing > 0
                failed |= not ok
                results.append((suite, frontend, run, passing, failing))
                status = "ok" if ok else "FAILED"
                print(
                    f"conformance {suite:9} {frontend:6} run {run}: {passing} passing, "
                    f"{failing} failing ({took:.1f} s) {status}",
                    flush=True,
                )
                if not ok:
                    print(out, flush=True)
    total = len(results)
    green = sum(1 for *_, p, f in results if f == 0 and p > 0)
    print(f"conformance: {green}/{total} runs green", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
