"""Under uvicorn without a WebSocket library, the app says what to install, once.

A plain ``pip install uvicorn`` has neither ``websockets`` nor ``wsproto``: uvicorn then
hands WebSocket upgrades to the app as HTTP requests, and clients quietly stay on
long-polling. The test runs uvicorn in a subprocess whose ``sitecustomize`` hides both
libraries, and checks the one start-up warning and that long-polling still works.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from aiosocketio import Server
from aiosocketio.frontends.asgi import server_check
from aiosocketio.frontends.asgi_types import ASGIMessage
from tests.browser.server_process import free_port
from tests.support.timeouts import scaled

HIDE_WEBSOCKET_LIBRARIES = textwrap.dedent(
    """
    import sys

    class _Hide:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in ("websockets", "wsproto"):
                raise ModuleNotFoundError(f"No module named {name!r} (hidden)", name=name)
            return None

    sys.meta_path.insert(0, _Hide())
    """
)

APP = textwrap.dedent(
    """
    from aiosocketio import Server

    io = Server()

    @io.on("connection")
    def on_connection(socket):
        socket.on("echo", lambda value: value)

    app = io.asgi_app()
    """
)

WARNING = "uvicorn has no WebSocket library (neither websockets nor wsproto can be imported)"


async def _polling_echo(http: httpx.AsyncClient) -> str:
    opened = await http.get("/socket.io/?EIO=4&transport=polling")
    assert opened.status_code == 200, opened.text
    handshake = json.loads(opened.text[1:])
    sid = handshake["sid"]
    url = f"/socket.io/?EIO=4&transport=polling&sid={sid}"
    headers = {"Content-Type": "text/plain;charset=UTF-8"}
    assert (await http.post(url, content="40", headers=headers)).text == "ok"
    assert (await http.get(url)).text.startswith("40{")
    assert (await http.post(url, content='421["echo","hi"]', headers=headers)).text == "ok"
    answer = (await http.get(url)).text
    # the upgrade a client would try next: uvicorn passes it on as HTTP, the engine refuses
    upgrade = await http.get(
        f"/socket.io/?EIO=4&transport=websocket&sid={sid}",
        headers={"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13"},
    )
    assert upgrade.status_code == 400
    return answer


async def test_uvicorn_without_websockets_warns_once_and_polling_works(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text(HIDE_WEBSOCKET_LIBRARIES)
    (tmp_path / "ws_less_app.py").write_text(APP)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "uvicorn",
        "ws_less_app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--lifespan",
        "on",
        cwd=str(tmp_path),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = b""
    try:
        assert proc.stdout is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + scaled(20)
        while b"Application startup complete" not in output:
            assert loop.time() < deadline, output.decode()
            line = await asyncio.wait_for(proc.stdout.readline(), scaled(20))
            assert line, output.decode()
            output += line
        # the warning came at start-up, before any request
        assert WARNING.encode() in output, output.decode()
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=scaled(10)
        ) as http:
            assert await _polling_echo(http) == '431["hi"]'
            assert await _polling_echo(http) == '431["hi"]'
    finally:
        proc.terminate()
        rest, _ = await asyncio.wait_for(proc.communicate(), scaled(20))
        output += rest
    text = output.decode()
    assert text.count(WARNING) == 1, text
    assert "pip install 'uvicorn[standard]'" in text.split(WARNING, 1)[1].splitlines()[0]
    assert server_check.UPGRADE_AS_HTTP not in text  # said once, at start-up
    assert "Traceback" not in text


async def test_an_upgrade_that_arrives_as_http_is_named_once(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # any ASGI server: the upgrade reaching the app as an HTTP request says it all
    monkeypatch.setattr(server_check, "missing_websocket_library", lambda: None)
    app = Server().asgi_app()
    sent: list[ASGIMessage] = []

    async def receive() -> ASGIMessage:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: ASGIMessage) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/socket.io/",
        "raw_path": b"/socket.io/",
        "query_string": b"EIO=4&transport=websocket",
        "root_path": "",
        "headers": [(b"host", b"localhost"), (b"upgrade", b"websocket")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }
    caplog.set_level(logging.WARNING, logger="aiosocketio.frontends.asgi")
    for _ in range(3):
        await app(scope, receive, send)
    assert [r.getMessage() for r in caplog.records] == [server_check.UPGRADE_AS_HTTP]
    assert sent[0]["status"] == 400
