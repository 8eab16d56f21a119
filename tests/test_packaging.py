"""The package as a user gets it: build the sdist and the wheel, check them, install the
wheel into a fresh venv outside the repository and use it from there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.timeouts import scaled

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=scaled(300),
    )
    return out


@pytest.fixture(scope="module")
def venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("user")
    env_dir = home / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True, timeout=scaled(120))
    (wheel,) = dist.glob("*.whl")
    subprocess.run(
        [str(env_dir / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
        check=True,
        capture_output=True,
        timeout=scaled(300),
        cwd=home,
    )
    yield env_dir


def test_twine_accepts_both(dist: Path) -> None:
    files = sorted(str(p) for p in dist.iterdir())
    assert len(files) == 2
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *files],
        capture_output=True,
        text=True,
        timeout=scaled(120),
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_sdist_holds_the_package_and_nothing_stray(dist: Path) -> None:
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = [name.split("/", 1)[1] for name in tar.getnames() if "/" in name]
    assert "LICENSE" in names
    assert "src/aiosocketio/py.typed" in names
    assert "src/aiosocketio/protocol/engineio/session.py" in names
    stray = [n for n in names if n.startswith(("tests", "bench", "examples", "scripts"))]
    assert stray == []


def test_the_wheel_holds_the_package_and_the_licence(dist: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = zf.read(metadata).decode()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert all(n.startswith(("aiosocketio/", "aiosocketio-")) for n in names), names
    assert "aiosocketio/py.typed" in names
    for field in ("License-Expression: MIT", "Project-URL: ", "Classifier: ", "Keywords: "):
        assert field in meta


def test_the_installed_wheel_runs_outside_the_repository(venv: Path, tmp_path: Path) -> None:
    bin_dir = venv / "bin"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    version = subprocess.run(
        [str(bin_dir / "aiosocketio"), "--version"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=scaled(60),
    )
    assert version.returncode == 0, version.stderr
    assert "0.1.0" in version.stdout
    # where the package comes from: the venv, not the checkout
    where = subprocess.run(
        [str(bin_dir / "python"), "-c", "import aiosocketio; print(aiosocketio.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=scaled(60),
        check=True,
    )
    assert where.stdout.startswith(str(venv)), where.stdout
    # a server and a client round trip, with nothing but the wheel
    script = tmp_path / "roundtrip.py"
    script.write_text(
        textwrap.dedent(
            """
            import asyncio, json
            from aiosocketio import Server, connect

            async def main():
                io = Server()

                @io.on("connection")
                def on_connection(socket):
                    @socket.on("echo")
                    def echo(value):
                        return value

                server = await io.listen(0, host="127.0.0.1")
                port = server.port
                results = {}
                for transports in (["polling"], ["websocket"], ["polling", "websocket"]):
                    client = await connect(f"http://127.0.0.1:{port}", transports=transports)
                    answer = await client.timeout(5).emit_with_ack("echo", {"n": 1, "b": b"\\x00"})
                    results["+".join(transports)] = [answer["n"], answer["b"].hex()]
                    client.disconnect()
                await io.close()
                print(json.dumps(results))

            asyncio.run(main())
            """
        )
    )
    run = subprocess.run(
        [str(bin_dir / "python"), str(script)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=scaled(60),
    )
    assert run.returncode == 0, run.stderr
    results = json.loads(run.stdout.strip().splitlines()[-1])
    assert results == {k: [1, "00"] for k in ("polling", "websocket", "polling+websocket")}
