"""Install what the benchmark needs, outside the project venv, and describe the machine.

* bench/build/loadgen: the C load generator, built with ``gcc -O2`` when its source is newer.
* bench/.venv-peers: python-socketio 5.x, aiohttp, uvicorn, uvloop, httptools, websockets,
  py-spy, and aiosocketio itself (editable), so every Python server runs on the same
  uvicorn/uvloop/httptools builds.
* Node socket.io: tests/interop/node_modules (pinned there), else ``npm install`` in bench/.

Run ``python bench/peers.py`` to install only.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
LOADGEN_SRC = BENCH / "loadgen" / "loadgen.c"
LOADGEN = BENCH / "build" / "loadgen"
PEERS_VENV = BENCH / ".venv-peers"
PEERS_PYTHON = PEERS_VENV / "bin" / "python"
PEER_PACKAGES = (
    "python-socketio>=5,<6",
    "aiohttp>=3.9",
    "uvicorn>=0.35",
    "uvloop>=0.19",
    "httptools>=0.6",
    "websockets>=14",
    "py-spy>=0.3",
    "redis>=5",
    "msgpack>=1",
)
# aiosocketio's extras the servers under test use (metrics: the aiosocketio-metrics server).
OURS_EXTRAS = "[metrics]"
_INTEROP_MODULES = ROOT / "tests" / "interop" / "node_modules"
_BENCH_MODULES = BENCH / "node_modules"
NODE_MODULES = _INTEROP_MODULES if (_INTEROP_MODULES / "socket.io").is_dir() else _BENCH_MODULES


def build_loadgen() -> Path:
    """Compile the load generator if it is missing or older than its source."""
    if LOADGEN.exists() and LOADGEN.stat().st_mtime >= LOADGEN_SRC.stat().st_mtime:
        return LOADGEN
    LOADGEN.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["gcc", "-O2", "-Wall", "-o", str(LOADGEN), str(LOADGEN_SRC)], check=True)
    return LOADGEN


def ensure_peers_venv() -> Path:
    """Create bench/.venv-peers with the Python peers and an editable aiosocketio."""
    marker = PEERS_VENV / ".installed"
    wanted = " ".join((*PEER_PACKAGES, OURS_EXTRAS)) + "\n"
    if marker.exists() and marker.read_text() == wanted:
        return PEERS_PYTHON
    if not PEERS_PYTHON.exists():
        venv.EnvBuilder(with_pip=True).create(PEERS_VENV)
    pip = [str(PEERS_PYTHON), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, *PEER_PACKAGES], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}{OURS_EXTRAS}"], check=True)
    marker.write_text(wanted)
    return PEERS_PYTHON


def ensure_node_modules() -> Path:
    """socket.io for the Node server: the pinned interop copy, else bench/package.json."""
    global NODE_MODULES
    if (_INTEROP_MODULES / "socket.io").is_dir():
        NODE_MODULES = _INTEROP_MODULES
    elif not (_BENCH_MODULES / "socket.io").is_dir():
        subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=BENCH, check=True)
        NODE_MODULES = _BENCH_MODULES
    return NODE_MODULES


def ensure_all() -> None:
    """Everything the runner needs."""
    build_loadgen()
    ensure_peers_venv()
    ensure_node_modules()


def _run(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


def machine_info() -> dict[str, Any]:
    """CPU model, cores, kernel, memory and the versions of everything measured."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split(":", 1)[1].strip()
    except (OSError, IndexError):
        pass
    versions = _run(
        [
            str(PEERS_PYTHON),
            "-c",
            "import importlib.metadata as m, json; print(json.dumps({p: m.version(p) for p in "
            "['aiosocketio','python-socketio','python-engineio','aiohttp','uvicorn','uvloop',"
            "'httptools','websockets']}))",
        ]
    )
    node_sio = ""
    try:
        import json

        node_sio = json.loads((NODE_MODULES / "socket.io" / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "memory": mem,
        "python": _run([str(PEERS_PYTHON), "-c", "import sys; print(sys.version.split()[0])"])
        or sys.version.split()[0],
        "node": _run(["node", "--version"]),
        "gcc": _run(["gcc", "-dumpfullversion"]),
        "socket.io (npm)": node_sio,
        "packages": _parse_json(versions),
        "pinning": {"server": "core 0", "loadgen": "core 1"},
    }


def _parse_json(text: str) -> Any:
    import json

    try:
        return json.loads(text)
    except ValueError:
        return text


if __name__ == "__main__":
    ensure_all()
    print("peers ready:", LOADGEN, PEERS_PYTHON, NODE_MODULES)
