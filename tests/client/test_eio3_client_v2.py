"""socket.io-client 2.5.0 (Engine.IO v3, Socket.IO v2) against ``Server(allow_eio3=True)``.

The real 2.x client (tests/interop/js/eio3_client_v2.js) runs the same scenario against
Node's socket.io 4.8 with ``allowEIO3`` (the reference), aiosocketio's built-in server
and aiosocketio's ASGI app on uvicorn, over polling only, WebSocket only and polling
upgraded to WebSocket: connection (the implicit "/"), acks both ways, binary both ways,
rooms, a namespace with its query as auth, a refused namespace (the v2 ERROR packet), an
unknown namespace, a forced close of the connection and the client's own reconnection,
the client-driven heartbeat, and a server-side disconnect. Every step must give what
Node's server gives. Without ``allow_eio3`` the 2.x client gets code 5. Also: a binary-capable
v3 polling client (no ``b64``) gets and sends the binary payload format, and the 2.x
client reconnects by itself after our server is restarted on the same port.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.client.conftest import ServerProcess, start_server
from tests.support.node import JS_DIR, NODE_MODULES
from tests.support.timeouts import scaled

pytestmark = [pytest.mark.interop]

MODES = ("polling", "websocket", "upgrade")
SERVERS: dict[str, tuple[str, dict[str, str]]] = {
    "node": ("node", {}),
    "native": ("python", {}),
    "asgi": ("python", {"ASGI": "1"}),
}

EXPECTED: list[tuple[str, Any]] = [
    ("connected", {"id": "string", "transport": "?"}),
    ("echo_ack", ["a", 1, {"x": [1, None]}, "é😀"]),
    ("server_ack", {"echo": "q?"}),
    ("server_ack_binary", {"bin": [8, 9]}),
    ("binary_echo", [{"bin": [1, 2, 3]}, {"nested": [{"bin": [4]}]}]),
    ("binary_from_server", [{"buf": {"bin": [1, 2, 3]}, "list": [{"bin": [120]}, 4]}]),
    ("binary_event", [{"bin": [0, 255]}, {"nested": [{"bin": [7]}]}]),
    ("join", [True]),
    ("room_news", ["room-1"]),
    ("admin_welcome", {"token": "secret"}),
    ("admin_whoami", {"token": "secret"}),
    ("admin_refused", {"content": "Please retry later", "token": "nope"}),
    ("invalid_namespace", {"message": "Invalid namespace"}),
    ("server_transport", "?"),
    ("disconnect_reason", "transport close"),
    ("reconnected", True),
    ("echo_after_reconnect", ["again"]),
    ("pong_latency", "number"),
    ("server_disconnect", "io server disconnect"),
]


@pytest.fixture(scope="module")
def eio3_servers() -> Iterator[dict[str, ServerProcess]]:
    servers: dict[str, ServerProcess] = {}
    yield servers
    for srv in servers.values():
        srv.stop()


def _server(name: str, servers: dict[str, ServerProcess], allow: bool = True) -> ServerProcess:
    key = name if allow else f"{name}-v4-only"
    srv = servers.get(key)
    if srv is None or not srv.alive:
        kind, env = SERVERS[name]
        # a 1 s ping interval: the 2.x client pings (and sees its pong) within the run
        env = {**env, "PING_INTERVAL": "1000", **({"ALLOW_EIO3": "1"} if allow else {})}
        srv = servers[key] = ServerProcess(kind, env=env)
    srv.drain()
    return srv


def _run_client(url: str, mode: str) -> tuple[int, list[dict[str, Any]], str]:
    proc = subprocess.run(
        ["node", str(JS_DIR / "eio3_client_v2.js"), url, mode],
        capture_output=True,
        env={**os.environ, "NODE_PATH": str(NODE_MODULES)},
        timeout=scaled(60),
        check=False,
    )
    lines = [json.loads(line) for line in proc.stdout.decode().splitlines() if line.startswith("{")]
    return proc.returncode, lines, proc.stderr.decode()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(SERVERS))
async def test_the_2x_client_scenario(
    name: str, mode: str, eio3_servers: dict[str, ServerProcess]
) -> None:
    srv = _server(name, eio3_servers)
    code, lines, stderr = await asyncio.to_thread(_run_client, srv.url, mode)
    steps = [(line["step"], line["value"]) for line in lines]
    assert code == 0, (steps, stderr, "".join(srv.stderr))
    first = "websocket" if mode == "websocket" else "polling"
    if mode == "upgrade" and steps and steps[0][0] == "connected":
        # the upgrade may complete before the "connect" event: either transport is right
        assert steps[0][1]["transport"] in ("polling", "websocket")
        steps[0] = ("connected", {"id": "string", "transport": "polling"})
    last = "polling" if mode == "polling" else "websocket"
    expected = [
        (step, {"id": "string", "transport": first} if step == "connected" else value)
        for step, value in EXPECTED
    ]
    expected = [(step, last if step == "server_transport" else value) for step, value in expected]
    assert steps == expected


@pytest.mark.parametrize("name", sorted(SERVERS))
async def test_without_allow_eio3_the_handshake_gets_code_5(
    name: str, eio3_servers: dict[str, ServerProcess]
) -> None:
    srv = _server(name, eio3_servers, allow=False)
    url = f"{srv.url}/socket.io/?EIO=3&transport=polling&b64=1"

    def fetch() -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(url, timeout=scaled(10)) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    status, body = await asyncio.to_thread(fetch)
    assert status == 400
    assert json.loads(body) == {"code": 5, "message": "Unsupported protocol version"}


def _binary_polling_exchange(base: str) -> tuple[list[Any], str]:
    """A binary-capable v3 polling client (no ``b64``, as a browser's XHR2): it POSTs a
    binary event with an ack in the binary payload format and reads the ack back."""
    from aiosocketio.protocol.engineio import v3
    from aiosocketio.protocol.engineio.packets import Packet, PacketType

    def request(url: str, body: bytes | None = None) -> tuple[str, bytes]:
        headers = {"Content-Type": "application/octet-stream"} if body is not None else {}
        req = urllib.request.Request(url, data=body, headers=headers)
        with urllib.request.urlopen(req, timeout=scaled(10)) as answer:
            return answer.headers.get("content-type", ""), answer.read()

    def packets(kind: str, body: bytes) -> list[Packet]:
        if kind.startswith("application/octet-stream"):
            return v3.decode_binary_payload(body)
        return v3.decode_payload(body.decode())

    url = f"{base}/socket.io/?EIO=3&transport=polling"
    kind, body = request(url)
    received = packets(kind, body)
    assert received[0].type == PacketType.OPEN
    url += "&sid=" + json.loads(str(received[0].data))["sid"]
    while Packet(PacketType.MESSAGE, "0") not in received:
        kind, body = request(url)
        received += packets(kind, body)
    event = Packet(PacketType.MESSAGE, '51-7["echo",{"_placeholder":true,"num":0},"é"]')
    request(url, v3.encode_binary_payload([event, Packet(PacketType.MESSAGE, b"\x00\xff")]))
    answer: list[Any] = []
    while len(answer) < 2:
        kind, body = request(url)
        answer += [p.data for p in packets(kind, body) if p.type == PacketType.MESSAGE]
    return answer, kind


@pytest.mark.parametrize("name", sorted(SERVERS))
async def test_binary_polling_payloads_without_b64(
    name: str, eio3_servers: dict[str, ServerProcess]
) -> None:
    srv = _server(name, eio3_servers)
    answer, kind = await asyncio.to_thread(_binary_polling_exchange, srv.url)
    assert answer == ['61-7[{"_placeholder":true,"num":0},"é"]', b"\x00\xff"]
    assert kind == "application/octet-stream"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["native", "asgi"])
async def test_the_2x_client_reconnects_after_a_server_restart(name: str, mode: str) -> None:
    kind, env = SERVERS[name]
    env = {**env, "ALLOW_EIO3": "1"}
    srv = await start_server(kind, env=env)
    client = subprocess.Popen(
        ["node", str(JS_DIR / "eio3_client_v2.js"), srv.url, mode, "restart"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "NODE_PATH": str(NODE_MODULES)},
    )
    assert client.stdout is not None
    try:
        line = await asyncio.wait_for(asyncio.to_thread(client.stdout.readline), scaled(20))
        assert json.loads(line) == {"step": "connected", "value": True}
        port = srv.port
        await asyncio.to_thread(srv.stop)
        srv = await start_server(kind, port=port, env=env)
        out, err = await asyncio.wait_for(asyncio.to_thread(client.communicate), scaled(30))
        steps = [json.loads(raw) for raw in out.decode().splitlines()]
        assert client.returncode == 0, (steps, err.decode())
        reasons = {
            "polling": {"transport error"},  # the waiting GET fails
            "websocket": {"transport close"},
            # the upgrade may or may not have completed when the server went away
            "upgrade": {"transport close", "transport error"},
        }[mode]
        assert steps and steps[0]["step"] == "disconnect_reason"
        assert steps[0]["value"] in reasons
        steps[0]["value"] = "seen"
        assert [(s["step"], s["value"]) for s in steps] == [
            ("disconnect_reason", "seen"),
            ("reconnected", True),
            ("echo_after_restart", ["back"]),
        ]
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
        srv.stop()
