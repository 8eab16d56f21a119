"""The ``aiosocketio`` command: its --help is complete, and ``run module:attr`` really serves."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
import redis.asyncio as aioredis

import aiosocketio
from aiosocketio import cli
from aiosocketio.runtime import loop as _loop
from tests.browser.server_process import REPO_ROOT, CLIProcess, free_port
from tests.support.timeouts import scaled

APP_MODULE = textwrap.dedent(
    """
    import asyncio
    from typing import Any

    from aiosocketio import Server

    def build() -> Server:
        server = Server()

        @server.on("connection")
        def on_connection(socket: Any) -> None:
            @socket.on("echo")
            def echo(*args: Any) -> list[Any]:
                return ["echo", *args]

            @socket.on("shout")
            def shout(text: Any) -> None:
                server.emit("heard", text)  # every client, on every server of the cluster

        return server

    sio = build()

    def make() -> Server:
        return build()

    async def make_async() -> Server:
        return build()

    not_a_server = 42


    class Stubborn(Server):
        async def close(self) -> None:
            print("closing forever", flush=True)
            await asyncio.sleep(3600)


    stubborn = Stubborn()


    class Graceful(Server):
        async def close(self, grace: float = 10.0) -> None:
            print(f"closing with grace={grace:g}", flush=True)
            await super().close(grace)


    graceful = Graceful()
    """
)


# The tests below that speak raw long-polling leave their sessions behind (they never poll
# again): a graceful shutdown waits up to its grace period for such a client to fetch its
# DISCONNECT, so they stop their servers with a short one.
ABANDONED = ("--shutdown-grace", "1")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aiosocketio", *args],
        capture_output=True,
        text=True,
        timeout=scaled(30),
        cwd=str(REPO_ROOT),
        check=False,
    )


# --------------------------------------------------------------------------- --help


def test_top_level_help_lists_the_commands() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: aiosocketio")
    for word in ("run", "demo", "--version", "uvloop", "SIGTERM"):
        assert word in result.stdout


def test_console_script_is_installed_and_matches_python_m() -> None:
    script = Path(sys.executable).parent / "aiosocketio"
    assert script.exists()
    result = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, timeout=scaled(30), check=True
    )
    assert result.stdout == run_cli("--help").stdout


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"aiosocketio {aiosocketio.__version__}"


def test_run_help_documents_every_option() -> None:
    result = run_cli("run", "--help")
    assert result.returncode == 0
    text = result.stdout
    for option in (
        "APP",
        "module:attr",
        "--host",
        "--port",
        "--log-level",
        "--factory",
        "--redis",
        "--redis-key",
        "--redis-adapter",
        "{pubsub,sharded,streams}",
        "--postgres",
        "--postgres-prefix",
        "--workers",
        "--app-dir",
        "--shutdown-grace",
    ):
        assert option in text, option
    assert "default: 127.0.0.1" in text
    assert "default: 3000" in text
    assert "{critical,error,warning,info,debug}" in text
    assert "--reuse-port" not in text  # internal flag of the worker processes


def test_demo_help_documents_every_option() -> None:
    result = run_cli("demo", "--help")
    assert result.returncode == 0
    for option in (
        "--host",
        "--port",
        "--log-level",
        "--redis",
        "--redis-key",
        "--redis-adapter",
        "--client-dist",
        "in-memory",
        "Subresource Integrity",
    ):
        assert option in result.stdout, option


def test_parser_defaults_match_the_help() -> None:
    args = cli.build_parser().parse_args(["run", "m:a"])
    assert (args.host, args.port, args.log_level) == ("127.0.0.1", 3000, "info")
    assert (args.factory, args.redis, args.workers, args.app_dir) == (False, None, 1, ".")
    assert (args.redis_key, args.redis_adapter) == ("socket.io", "pubsub")
    assert args.shutdown_grace == 10.0
    graced = cli.build_parser().parse_args(["run", "m:a", "--shutdown-grace", "2.5"])
    assert graced.shutdown_grace == 2.5
    demo = cli.build_parser().parse_args(["demo", "--log-level", "DEBUG"])
    assert (demo.host, demo.port, demo.log_level, demo.redis) == ("127.0.0.1", 3000, "debug", None)
    assert demo.client_dist is None


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "the following arguments are required"),
        (("run",), "the following arguments are required: APP"),
        (("run", "nocolon"), "APP must be 'module:attr'"),
        (("run", "no_such_module_xyz:app"), "could not import module 'no_such_module_xyz'"),
        (("run", "json:no_such_attr"), "has no attribute 'no_such_attr'"),
        (("run", "m:a", "--port", "70000"), "port out of range"),
        (("run", "m:a", "--port", "http"), "not a port number"),
        (("run", "m:a", "--workers", "0"), "must be at least 1"),
        (("run", "m:a", "--log-level", "loud"), "invalid choice"),
        (("run", "m:a", "--redis-adapter", "kafka"), "invalid choice: 'kafka'"),
        (("serve",), "invalid choice"),
        (("run", "json:dumps"), "calling the factory dumps() failed: TypeError"),
        (("run", "json:JSONDecodeError", "--factory"), "calling the factory JSONDecodeError()"),
    ],
)
def test_bad_input_is_a_clean_error(args: tuple[str, ...], message: str) -> None:
    result = run_cli(*args)
    assert result.returncode == (1 if "factory" in message else 2)
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_import_from_string_resolves_dotted_attributes() -> None:
    assert cli.import_from_string("json:decoder.JSONDecoder", None) is json.decoder.JSONDecoder
    with pytest.raises(cli.CLIError, match="module:attr"):
        cli.import_from_string(":x", None)


async def test_resolve_server_refuses_what_is_not_a_server() -> None:
    with pytest.raises(cli.CLIError, match="not an aiosocketio Server"):
        await cli.resolve_server(42, factory=False)
    with pytest.raises(cli.CLIError, match="not callable"):
        await cli.resolve_server(42, factory=True)


def test_loop_helper_uses_uvloop_when_installed() -> None:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        expected = "asyncio"
    else:
        disabled = os.environ.get("AIOSOCKETIO_NO_UVLOOP", "").strip() not in ("", "0")
        expected = "asyncio" if disabled else "uvloop"
    assert _loop.loop_name() == expected
    loop = _loop.new_event_loop()
    try:
        assert ("uvloop" in type(loop).__module__) == (expected == "uvloop")
    finally:
        loop.close()

    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    assert _loop.run(answer()) == 42


# --------------------------------------------------------------------------- run serves


def _http(port: int, method: str, query: str, body: str | None = None) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=scaled(10))
    try:
        headers = {"Content-Type": "text/plain;charset=UTF-8"} if body is not None else {}
        conn.request(method, f"/socket.io/?EIO=4&transport=polling{query}", body, headers)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


async def socketio_echo(port: int) -> list[object]:
    """Connect with raw Engine.IO long-polling, join "/", emit "echo" and return the ack."""
    status, opened = await asyncio.to_thread(_http, port, "GET", "")
    assert status == 200, opened
    assert opened.startswith("0{"), opened
    handshake = json.loads(opened[1:])
    sid = handshake["sid"]
    assert handshake["upgrades"] == ["websocket"]
    query = f"&sid={sid}"
    assert await asyncio.to_thread(_http, port, "POST", query, "40") == (200, "ok")
    status, connected = await asyncio.to_thread(_http, port, "GET", query)
    assert status == 200
    assert re.fullmatch(r'40\{"sid":"[\w-]{20}"\}', connected), connected
    assert await asyncio.to_thread(_http, port, "POST", query, '421["echo","hi",1]') == (200, "ok")
    status, acked = await asyncio.to_thread(_http, port, "GET", query)
    assert status == 200
    assert acked.startswith("431"), acked
    result: list[object] = json.loads(acked[3:])
    return result


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "cli_test_app.py").write_text(APP_MODULE)
    return tmp_path


@pytest.mark.parametrize(
    "target",
    [
        ("cli_test_app:sio",),
        ("cli_test_app:make",),
        ("cli_test_app:make_async", "--factory"),
    ],
    ids=["server", "factory", "async-factory"],
)
async def test_run_serves_a_server(app_dir: Path, target: tuple[str, ...]) -> None:
    port = free_port()
    proc = await CLIProcess.start(
        "run", *target, "--port", str(port), "--app-dir", str(app_dir), "--log-level", "info",
        *ABANDONED,
    )  # fmt: skip
    try:
        line = await proc.wait_for_output("serving")
        assert f"http://127.0.0.1:{port}" in line
        assert _loop.loop_name() in line
        assert await socketio_echo(port) == [["echo", "hi", 1]]  # one ack argument
    finally:
        code = await proc.stop(signal.SIGTERM)
    assert code == 0, proc.text
    assert "shutting down" in proc.text
    assert "Traceback" not in proc.text


async def test_sigint_also_stops_gracefully(app_dir: Path) -> None:
    port = free_port()
    proc = await CLIProcess.start(
        "run", "cli_test_app:sio", "--port", str(port), "--app-dir", str(app_dir)
    )
    await proc.wait_for_output("serving")
    await proc.wait_port(port)
    assert await proc.stop(signal.SIGINT) == 0, proc.text
    assert "Traceback" not in proc.text


async def test_run_refuses_what_is_not_a_server(app_dir: Path) -> None:
    proc = await CLIProcess.start("run", "cli_test_app:not_a_server", "--app-dir", str(app_dir))
    assert await proc.wait() == 2
    assert "not an aiosocketio Server (got int)" in proc.text
    assert "Traceback" not in proc.text


async def test_port_in_use_is_a_clean_error(app_dir: Path) -> None:
    blocker = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = blocker.sockets[0].getsockname()[1]
    try:
        proc = await CLIProcess.start(
            "run", "cli_test_app:sio", "--port", str(port), "--app-dir", str(app_dir)
        )
        code = await proc.wait()
    finally:
        blocker.close()
        await blocker.wait_closed()
    assert code == 1, proc.text
    assert "aiosocketio: error:" in proc.text
    assert "Traceback" not in proc.text


async def test_workers_share_the_port(app_dir: Path) -> None:
    port = free_port()
    proc = await CLIProcess.start(
        "run", "cli_test_app:sio", "--port", str(port), "--app-dir", str(app_dir), "--workers", "2"
    )
    try:
        await proc.wait_for_output("without --redis")
        pids: set[str] = set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + scaled(20)
        while len(pids) < 2 and loop.time() < deadline:
            pids = set(re.findall(r"pid (\d+)\)", proc.text))
            await asyncio.sleep(0.1)
        assert len(pids) == 2, proc.text
        for _ in range(4):
            status, opened = await asyncio.to_thread(_http, port, "GET", "")
            assert status == 200
            assert opened.startswith("0{")
    finally:
        code = await proc.stop(signal.SIGTERM)
    assert code == 0, proc.text
    assert proc.text.count("shutting down") == 2


ASGI_APP_MODULE = textwrap.dedent(
    """
    from fastapi import FastAPI
    from starlette.applications import Starlette

    from aiosocketio import Server

    io = Server()
    app = io.asgi_app()
    web = Starlette()
    api = FastAPI()
    both = io.asgi_app(api)

    async def raw(scope, receive, send):
        pass
    """
)


@pytest.mark.parametrize("attr", ["app", "web", "api", "both", "raw"])
def test_run_on_an_asgi_app_says_what_to_do(tmp_path: Path, attr: str) -> None:
    (tmp_path / "asgi_main.py").write_text(ASGI_APP_MODULE)
    result = run_cli("run", f"asgi_main:{attr}", "--app-dir", str(tmp_path))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"asgi_main:{attr} is an ASGI application, not an aiosocketio Server" in result.stderr
    assert f"uvicorn asgi_main:{attr}" in result.stderr
    assert "point aiosocketio run at the Server: aiosocketio run asgi_main:io" in result.stderr


async def test_resolve_server_names_the_asgi_app_without_a_spec() -> None:
    with pytest.raises(cli.CLIError, match="APP is an ASGI application"):
        await cli.resolve_server(aiosocketio.Server().asgi_app(), factory=False)


def test_error_inside_the_app_module_is_reported_cleanly(tmp_path: Path) -> None:
    (tmp_path / "broken_app.py").write_text("raise RuntimeError('boom')\n")
    result = run_cli("run", "broken_app:sio", "--app-dir", str(tmp_path))
    assert result.returncode == 2
    assert "error while importing 'broken_app': RuntimeError: boom" in result.stderr
    assert "Traceback" not in result.stderr
    verbose = run_cli("run", "broken_app:sio", "--app-dir", str(tmp_path), "--log-level", "debug")
    assert verbose.returncode == 2
    assert "Traceback" in verbose.stderr  # --log-level debug shows where it came from


async def test_the_readme_example_serves(tmp_path: Path) -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    match = re.search(r"```python\n(.*?)```", readme, re.S)
    assert match is not None, "README.md has no python example"
    (tmp_path / "readme_app.py").write_text(match.group(1))
    port = free_port()
    proc = await CLIProcess.start(
        "run", "readme_app:sio", "--port", str(port), "--app-dir", str(tmp_path), *ABANDONED
    )  # fmt: skip
    try:
        await proc.wait_for_output("serving")
        status, opened = await asyncio.to_thread(_http, port, "GET", "")
        assert status == 200, opened
        query = "&sid=" + json.loads(opened[1:])["sid"]
        assert await asyncio.to_thread(_http, port, "POST", query, "40") == (200, "ok")
        status, connected = await asyncio.to_thread(_http, port, "GET", query)
        assert connected.startswith("40{")
        assert await asyncio.to_thread(_http, port, "POST", query, '427["chat","hi"]') == (
            200,
            "ok",
        )
        status, acked = await asyncio.to_thread(_http, port, "GET", query)
        assert acked == '437["ok"]'
    finally:
        assert await proc.stop() == 0, proc.text


async def test_port_zero_picks_a_free_port_and_says_which(app_dir: Path) -> None:
    proc = await CLIProcess.start(
        "run", "cli_test_app:sio", "--port", "0", "--app-dir", str(app_dir), *ABANDONED
    )  # fmt: skip
    try:
        line = await proc.wait_for_output("serving")
        match = re.search(r"http://127\.0\.0\.1:(\d+) ", line)
        assert match is not None, line
        port = int(match.group(1))
        assert port > 0
        assert await socketio_echo(port) == [["echo", "hi", 1]]
    finally:
        assert await proc.stop() == 0, proc.text


async def polling_connect(port: int) -> str:
    """Open an Engine.IO session and join "/" over raw long-polling; return the sid query."""
    status, opened = await asyncio.to_thread(_http, port, "GET", "")
    assert status == 200, opened
    query = "&sid=" + str(json.loads(opened[1:])["sid"])
    assert await asyncio.to_thread(_http, port, "POST", query, "40") == (200, "ok")
    status, connected = await asyncio.to_thread(_http, port, "GET", query)
    assert connected.startswith("40{"), connected
    return query


@pytest.mark.parametrize("adapter", ["pubsub", "sharded", "streams"])
async def test_run_with_redis_broadcasts_across_processes(app_dir: Path, adapter: str) -> None:
    key = f"aiosocketio-cli-test-{uuid.uuid4().hex[:8]}"
    procs: list[CLIProcess] = []
    try:
        for _ in range(2):
            proc = await CLIProcess.start(
                "run", "cli_test_app:sio", "--port", "0", "--app-dir", str(app_dir),
                "--redis", "redis://127.0.0.1:6379", "--redis-key", key,
                "--redis-adapter", adapter, *ABANDONED,
            )  # fmt: skip
            procs.append(proc)
        ports = []
        for proc in procs:
            line = await proc.wait_for_output("serving")
            match = re.search(r":(\d+) ", line)
            assert match is not None, line
            ports.append(int(match.group(1)))
        alice = await polling_connect(ports[0])
        bob = await polling_connect(ports[1])
        # Bob's long-poll GET waits on the second process while Alice shouts on the first.
        bob_poll = asyncio.ensure_future(asyncio.to_thread(_http, ports[1], "GET", bob))
        await asyncio.sleep(0.2)
        shout = '42["shout","across the cluster"]'
        assert await asyncio.to_thread(_http, ports[0], "POST", alice, shout) == (200, "ok")
        assert await asyncio.wait_for(bob_poll, scaled(10)) == (
            200,
            '42["heard","across the cluster"]',
        )
        assert await asyncio.to_thread(_http, ports[0], "GET", alice) == (
            200,
            '42["heard","across the cluster"]',
        )
    finally:
        codes = [await proc.stop() for proc in procs]
        await _delete_keys(f"{key}*")  # a stream outlives its servers
    assert codes == [0, 0], "\n".join(proc.text for proc in procs)
    assert all("Traceback" not in proc.text for proc in procs)


@pytest.mark.postgres
async def test_run_with_postgres_broadcasts_across_processes(
    app_dir: Path, postgres_dsn: str
) -> None:
    prefix = f"aiosocketio-cli-test-{uuid.uuid4().hex[:8]}"
    procs: list[CLIProcess] = []
    try:
        for _ in range(2):
            proc = await CLIProcess.start(
                "run", "cli_test_app:sio", "--port", "0", "--app-dir", str(app_dir),
                "--postgres", postgres_dsn, "--postgres-prefix", prefix, *ABANDONED,
            )  # fmt: skip
            procs.append(proc)
        ports = []
        for proc in procs:
            line = await proc.wait_for_output("serving")
            match = re.search(r":(\d+) ", line)
            assert match is not None, line
            ports.append(int(match.group(1)))
        alice = await polling_connect(ports[0])
        bob = await polling_connect(ports[1])
        bob_poll = asyncio.ensure_future(asyncio.to_thread(_http, ports[1], "GET", bob))
        await asyncio.sleep(0.2)
        shout = '42["shout","across the cluster"]'
        assert await asyncio.to_thread(_http, ports[0], "POST", alice, shout) == (200, "ok")
        assert await asyncio.wait_for(bob_poll, scaled(10)) == (
            200,
            '42["heard","across the cluster"]',
        )
    finally:
        codes = [await proc.stop() for proc in procs]
    assert codes == [0, 0], "\n".join(proc.text for proc in procs)
    assert all("Traceback" not in proc.text for proc in procs)


@pytest.mark.parametrize(
    ("dsn", "code", "message"),
    [
        ("http://127.0.0.1:5432", 2, "--postgres: invalid DSN"),
        ("postgresql://postgres@127.0.0.1:1/x", 1, "--postgres: cannot reach Postgres at"),
    ],
)
def test_run_with_a_bad_postgres_is_a_clean_error(
    app_dir: Path, dsn: str, code: int, message: str
) -> None:
    result = run_cli("run", "cli_test_app:sio", "--app-dir", str(app_dir), "--postgres", dsn)
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert "serving" not in result.stdout


def test_redis_and_postgres_do_not_mix(app_dir: Path) -> None:
    result = run_cli(
        "run", "cli_test_app:sio", "--app-dir", str(app_dir),
        "--redis", "redis://127.0.0.1:6379", "--postgres", "postgresql://127.0.0.1/x",
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "choose one of --redis and --postgres" in result.stderr


async def _delete_keys(pattern: str) -> None:
    client = aioredis.Redis.from_url("redis://127.0.0.1:6379")
    try:
        keys = [k async for k in client.scan_iter(match=pattern)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    ("url", "code", "message"),
    [
        ("http://127.0.0.1:6379", 2, "--redis: Redis URL must specify one of the following"),
        ("redis://127.0.0.1:1", 1, "--redis: cannot reach Redis at redis://127.0.0.1:1"),
    ],
)
def test_demo_with_a_bad_redis_is_a_clean_error(url: str, code: int, message: str) -> None:
    result = run_cli("demo", "--port", "0", "--redis", url)
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert "serving" not in result.stdout


async def test_a_second_signal_stops_a_close_that_hangs(app_dir: Path) -> None:
    port = free_port()
    proc = await CLIProcess.start(
        "run", "cli_test_app:stubborn", "--port", str(port), "--app-dir", str(app_dir)
    )
    await proc.wait_for_output("serving")
    proc.proc.send_signal(signal.SIGTERM)
    await proc.wait_for_output("closing forever")
    code = await proc.stop(signal.SIGTERM, timeout=5)
    assert code == 1, proc.text
    assert "server.close() did not finish" in proc.text
    assert "Traceback" not in proc.text


async def test_shutdown_grace_reaches_server_close(app_dir: Path) -> None:
    port = free_port()
    proc = await CLIProcess.start(
        "run", "cli_test_app:graceful", "--port", str(port), "--app-dir", str(app_dir),
        "--shutdown-grace", "2.5",
    )  # fmt: skip
    await proc.wait_for_output("serving")
    assert await proc.stop(signal.SIGTERM) == 0, proc.text
    assert "closing with grace=2.5" in proc.text


async def test_ctrl_c_on_the_process_group_stops_workers_gracefully(app_dir: Path) -> None:
    port = free_port()
    proc = await CLIProcess.start(
        "run", "cli_test_app:sio", "--port", str(port), "--app-dir", str(app_dir),
        "--workers", "2", "--log-level", "info",
        new_group=True,
    )  # fmt: skip
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + scaled(20)
        while proc.text.count("serving") < 2 and loop.time() < deadline:
            await asyncio.sleep(0.1)
        assert proc.text.count("serving") == 2, proc.text
        os.killpg(proc.proc.pid, signal.SIGINT)  # what a terminal does on Ctrl-C
        code = await proc.wait(timeout=20)
    finally:
        await proc.stop()
    assert code == 0, proc.text
    assert proc.text.count("shutting down") == 2
    assert "did not finish" not in proc.text


def test_demo_with_a_client_dist_without_the_client_is_a_clean_error(tmp_path: Path) -> None:
    result = run_cli("demo", "--port", "0", "--client-dist", str(tmp_path))
    assert result.returncode == 2, result.stderr
    assert f"no socket.io client files in {tmp_path}" in result.stderr
    assert "Traceback" not in result.stderr
    assert "serving" not in result.stdout
