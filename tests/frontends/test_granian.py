"""The ASGI front end under granian, driven by the official socket.io-client 4.8.

granian runs the way it is deployed, as its own process:
``python -m granian --interface asgi --host 127.0.0.1 --port N tests.frontends.granian_app:app``,
on a free loopback port, one worker, in a process group of its own (granian forks its
worker). The module starts it once, waits until ``/health`` answers, and stops it by PID
at the end: SIGTERM, then SIGKILL for the group after a timeout. Anything granian logs at
warning level or above, and any Python warning in its worker, fails the module.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import pytest

from tests.browser.server_process import REPO_ROOT, free_port
from tests.server.test_interop import check_acks, check_events, check_misc, check_socket_use
from tests.support.http_fakes import RawWebSocket, get, http_exchange, post, read_response
from tests.support.node import run_node
from tests.support.timeouts import scaled

APP = "tests.frontends.granian_app:app"
SIO = "/socket.io/?EIO=4&transport=polling"
SIO_WS = "/socket.io/?EIO=4&transport=websocket"


@dataclass
class Granian:
    """A granian process serving :data:`APP` on ``127.0.0.1:port``."""

    proc: subprocess.Popen[bytes]
    port: int
    output: IO[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def text(self) -> str:
        """Everything granian wrote so far (stdout and stderr)."""
        self.output.flush()
        self.output.seek(0)
        return self.output.read().decode(errors="replace")

    def stop(self) -> None:
        """SIGTERM (granian stops its worker), SIGKILL for the whole group after a timeout."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(scaled(5))
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # its group: our child and its worker
                self.proc.wait()


def _healthy(port: int) -> bool:
    """Whether ``GET /health`` on ``port`` answers ``200 ok`` (the wrapped app is up)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=scaled(1)) as sock:
            sock.sendall(get("/health", close=True))
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
    except OSError:
        return False
    return data.startswith(b"HTTP/1.1 200 ") and data.endswith(b"\r\n\r\nok")


def start_granian(attempts: int = 3) -> Granian:
    """Start granian on a free port and wait (with a deadline) until it answers.

    The port is free when asked for but granian binds it a moment later; if granian exits
    before answering (the port was taken meanwhile), it is tried again on another port.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONWARNINGS"] = "default"  # printed, hence caught by the check on its output
    for attempt in range(attempts):
        port = free_port()
        output = tempfile.TemporaryFile()
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "granian", "--interface", "asgi"),
                *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
                *("--log-level", "warning", APP),
            ],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=str(REPO_ROOT),
            env=env,
            process_group=0,
        )
        server = Granian(proc, port, output)
        deadline = time.monotonic() + scaled(15)
        while proc.poll() is None and time.monotonic() < deadline:
            if _healthy(port):
                return server
            time.sleep(0.02)
        exited = proc.poll() is not None
        server.stop()
        said = server.text()
        output.close()
        if not exited or attempt == attempts - 1:
            raise AssertionError(f"granian did not answer on port {port}:\n{said}")
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def granian() -> Iterator[Granian]:
    server = start_granian()
    try:
        yield server
    finally:
        server.stop()
        said = server.text()
        server.output.close()
    assert said == "", f"granian logged:\n{said}"


async def record_when(
    granian: Granian, ready: Callable[[dict[str, Any]], bool], timeout: float = 5.0
) -> dict[str, Any]:
    """Poll ``/record`` (what the server saw) until ``ready`` says yes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + scaled(timeout)
    while True:
        [(status, _, body)] = await http_exchange(granian.port, get("/record"))
        assert status == 200
        seen: dict[str, Any] = json.loads(body)
        if ready(seen):
            return seen
        if loop.time() > deadline:
            raise AssertionError(f"not seen in {timeout}s: {seen}")
        await asyncio.sleep(0.02)


@pytest.mark.interop
@pytest.mark.parametrize("mode", ["polling", "websocket", "upgrade"])
async def test_official_client(granian: Granian, mode: str) -> None:
    """Connect, acks both ways, binary both ways, disconnect reasons on both sides."""
    scenarios = ["events", "acks", "socketUse", "misc"]
    if mode == "upgrade":
        scenarios.append("upgrade")
    result = (await run_node("server_scenarios.js", granian.url, mode, *scenarios)).check()
    by_name: dict[str, dict[str, Any]] = {line["scenario"]: line for line in result.lines}
    assert set(by_name) == set(scenarios), result.stdout + result.stderr
    failed = {name: r["error"] for name, r in by_name.items() if not r["ok"]}
    assert not failed, failed
    # handshake, the server's binary welcome, a binary echo answered by an ack
    check_events(by_name["events"], mode)
    # acks each way (the server asks the client too), a binary ack, ack timeouts
    check_acks(by_name["acks"])
    # the server disconnects: the client sees "io server disconnect"
    check_socket_use(by_name["socketUse"])
    # a 200 kB binary round trip, 200 emits in order, reconnection, a server close
    check_misc(by_name["misc"])
    if mode == "upgrade":
        upgrade = by_name["upgrade"]
        assert upgrade["upgradedTo"] == "websocket" and upgrade["transport"] == "websocket"
        assert upgrade["after"] == 5
        assert "websocket" in (await record_when(granian, lambda r: True))["upgrading"]
    # the client disconnects: the server sees Node's reason
    client_id = by_name["events"]["clientId"]
    seen = await record_when(granian, lambda r: client_id in r["disconnects"])
    assert seen["disconnects"][client_id] == "client namespace disconnect"


async def test_other_paths_reach_the_wrapped_app(granian: Granian) -> None:
    answers = await http_exchange(
        granian.port, get("/health") + get("/nowhere") + get("/record"), responses=3
    )
    assert answers[0][0] == 200 and answers[0][2] == b"ok"
    # the wrapped app's 404, not the engine's
    assert answers[1][0] == 404 and answers[1][2] == b"not here"
    # granian's lifespan went to the wrapped app
    assert json.loads(answers[2][2])["lifespan"] == ["startup"]


async def test_unknown_sid_gets_nodes_400(granian: Granian) -> None:
    target = f"{SIO}&sid=nope"
    answers = await http_exchange(granian.port, get(target) + post(target, b"40"), responses=2)
    for status, headers, body in answers:
        assert status == 400 and headers["content-type"] == "application/json"
        assert json.loads(body) == {"code": 1, "message": "Session ID unknown"}
    # A WebSocket with an unknown sid is refused the same way, as Node does it: a 400
    # with the message as text/html instead of the 101 (granian offers the ASGI
    # "websocket.http.response" extension).
    reader, writer = await asyncio.open_connection("127.0.0.1", granian.port)
    try:
        upgrade = (
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        )
        writer.write(get(f"{SIO_WS}&sid=nope", extra=upgrade))
        status, headers, body = await read_response(reader)
    finally:
        writer.close()
    assert (status, headers["content-type"], body) == (400, "text/html", b"Session ID unknown")


async def test_client_leaving_a_long_poll_is_noticed(granian: Granian) -> None:
    """granian tells the app (``http.disconnect``) that a held GET's client went away."""
    [(_, _, body)] = await http_exchange(granian.port, get(SIO))
    target = f"{SIO}&sid={json.loads(body[1:])['sid']}"
    [(_, _, body)] = await http_exchange(granian.port, post(target, b"40"))
    assert body == b"ok"
    packets: list[str] = []
    while not any(p.startswith('452-["welcome"') for p in packets):  # CONNECT, then welcome
        [(_, _, body)] = await http_exchange(granian.port, get(target))
        packets += body.decode().split("\x1e")
    [connect] = [p for p in packets if p.startswith("40")]
    sid = json.loads(connect[2:])["sid"]
    eio_sid = target.rsplit("=", 1)[1]
    _, writer = await asyncio.open_connection("127.0.0.1", granian.port)
    writer.write(get(target))  # nothing to send: the server holds it
    await record_when(granian, lambda r: eio_sid in r["waiting"])
    writer.close()
    seen = await record_when(granian, lambda r: sid in r["disconnects"])
    assert seen["disconnects"][sid] == "transport error"  # "poll connection closed prematurely"


async def test_client_vanishing_from_a_websocket_is_noticed(granian: Granian) -> None:
    """granian tells the app (``websocket.disconnect``) that a peer went without a close."""
    ws = await RawWebSocket.connect(granian.port, SIO_WS)
    try:
        opened = await ws.recv()
        assert isinstance(opened, str) and opened.startswith("0{")
        ws.send("40")
        connect = await ws.recv()
        assert isinstance(connect, str) and connect.startswith("40{")
        sid = json.loads(connect[2:])["sid"]
        welcome = await ws.recv()  # a binary event: its two attachments follow
        assert isinstance(welcome, str) and welcome.startswith('452-["welcome"')
        assert [await ws.recv(), await ws.recv()] == [b"\x01\x02", b"\x03"]
    finally:
        ws.writer.transport.abort()  # no close frame: the connection just drops
    seen = await record_when(granian, lambda r: sid in r["disconnects"])
    assert seen["disconnects"][sid] == "transport close"


async def test_session_cookie_on_the_polling_handshake(granian: Granian) -> None:
    [(status, headers, body)] = await http_exchange(granian.port, get(SIO))
    assert status == 200
    sid = json.loads(body[1:])["sid"]
    assert headers["set-cookie"] == f"io={sid}; Path=/; HttpOnly; SameSite=Lax"


async def test_granian_drops_the_extra_headers_of_the_websocket_101(granian: Granian) -> None:
    """A known granian limitation, pinned down: granian 2.8 ignores the ``headers`` of
    ``websocket.accept`` (ASGI 2.1, which it claims), so the engine's extra 101 headers (the
    cookie, the ``headers`` hook's) are lost; the polling handshake carries them (above).
    The same check under uvicorn finds the cookie. When granian fixes this, this test fails:
    then assert the cookie here and drop the note in docs/server-api.md."""
    ws = await RawWebSocket.connect(granian.port, SIO_WS)
    try:
        opened = await ws.recv()
        assert isinstance(opened, str)
        assert json.loads(opened[1:])["sid"]
        assert "set-cookie" not in ws.headers
    finally:
        await ws.close()
