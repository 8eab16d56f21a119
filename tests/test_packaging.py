"""The package as a user gets it: build the sdist and the wheel, check them, install the
wheel into a fresh venv outside the repository and use it from there."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tarfile
import textwrap
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiosocketio.server.client_loader import CDN_INTEGRITY, CDN_URL
from tests.browser.server_process import CLIProcess, free_port
from tests.support.timeouts import scaled
from tests.support.wheel import build_dist, install_wheel, user_env


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_dist(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield install_wheel(dist, tmp_path_factory.mktemp("user"))


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
    env = user_env()
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


def test_the_wheel_ships_the_demo_and_the_client_loader(dist: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    with tarfile.open(sdist) as tar:
        in_sdist = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    shipped = [
        "aiosocketio/server/client_loader.js",
        "aiosocketio/cli/demo/__init__.py",
        "aiosocketio/cli/demo/chat.py",
        "aiosocketio/cli/demo/static_app.py",
        "aiosocketio/cli/demo/static/index.html",
        "aiosocketio/cli/demo/static/app.js",
        "aiosocketio/cli/demo/static/style.css",
    ]
    for name in shipped:
        assert name in names, name
        assert "src/" + name in in_sdist, name
    # no npm package inside: the browser client comes from npm or the CDN
    assert not [n for n in names if "socket.io.min.js" in n or "node_modules" in n]


def _get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=scaled(10)) as answer:
        return answer.status, answer.headers["content-type"], answer.read()


async def test_the_installed_wheels_demo_serves_its_page_and_chats(
    venv: Path, tmp_path: Path
) -> None:
    port = free_port()
    demo = await CLIProcess.start(
        # the raw handshake below leaves a polling session behind: 1 s of grace, not 10
        "demo", "--host", "127.0.0.1", "--port", str(port), "--shutdown-grace", "1",
        cwd=tmp_path, program=(str(venv / "bin" / "aiosocketio"),), env=user_env(),
    )  # fmt: skip
    try:
        line = await demo.wait_for_output("the browser client:", timeout=30)
        assert CDN_URL in line  # no socket.io-client next to it: the pages use the CDN
        await demo.wait_port(port)
        base = f"http://127.0.0.1:{port}"
        # the Engine.IO handshake
        status, kind, body = await asyncio.to_thread(
            _get, f"{base}/socket.io/?EIO=4&transport=polling"
        )
        assert status == 200 and kind.startswith("text/plain")
        assert body.startswith(b"0{")
        handshake = json.loads(body[1:])
        assert handshake["upgrades"] == ["websocket"]
        assert (handshake["pingInterval"], handshake["pingTimeout"]) == (25000, 20000)
        # the page, its files and the client loader
        status, kind, page = await asyncio.to_thread(_get, base + "/")
        assert status == 200 and kind == "text/html; charset=utf-8"
        assert b'<script src="/socket.io/client.js"></script>' in page
        for path in ("/app.js", "/style.css"):
            assert (await asyncio.to_thread(_get, base + path))[0] == 200
        status, kind, loader = await asyncio.to_thread(_get, base + "/socket.io/client.js")
        assert status == 200 and kind == "application/javascript; charset=utf-8"
        assert CDN_URL.encode() in loader and CDN_INTEGRITY.encode() in loader
        # a chat round trip with the wheel's own client, on both transports
        script = tmp_path / "chat.py"
        script.write_text(CHAT_CLIENT)
        run = await asyncio.to_thread(
            subprocess.run,
            [str(venv / "bin" / "python"), str(script), base],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=user_env(),
            timeout=scaled(60),
        )
        assert run.returncode == 0, run.stdout + run.stderr
        assert json.loads(run.stdout.strip().splitlines()[-1]) == {
            "joined": "general",
            "history": ["from alice"],
            "received": {"nickname": "alice", "text": "from alice"},
            "receipt": True,
        }
    finally:
        code = await demo.stop()
    assert code == 0, demo.text
    assert "Traceback" not in demo.text


CHAT_CLIENT = textwrap.dedent(
    """
    import asyncio, json, sys
    from aiosocketio import connect

    async def main(url):
        def user(name, transports):
            auth = {"nickname": name}
            return connect(url, auth=auth, transports=transports, force_new=True)

        alice = await user("alice", ["websocket"])
        bob = await user("bob", ["polling"])
        got = asyncio.get_running_loop().create_future()
        bob.on("message", lambda m: got.done() or got.set_result(m))
        await alice.timeout(5).emit_with_ack("join", "general")
        await bob.timeout(5).emit_with_ack("join", "general")
        receipt = await alice.timeout(5).emit_with_ack("message", {"text": "from alice"})
        message = await asyncio.wait_for(got, 5)
        carol = await user("carol", ["polling", "websocket"])
        joined = await carol.timeout(5).emit_with_ack("join", "general")
        for client in (alice, bob, carol):
            client.disconnect()
        print(json.dumps({
            "joined": joined["room"],
            "history": [m["text"] for m in joined["history"]],
            "received": {k: message[k] for k in ("nickname", "text")},
            "receipt": receipt["id"] == message["id"],
        }))

    asyncio.run(main(sys.argv[1]))
    """
)
