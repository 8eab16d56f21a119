"""The async Engine behind the built-in server: codes, hooks, CORS, cookies, limits."""

from __future__ import annotations

import asyncio
import gzip
import json
from typing import Any

import pytest

from aiosocketio.engine.http import HttpRequest
from aiosocketio.protocol.engineio.packets import decode_payload
from aiosocketio.protocol.websocket import Close
from tests.engine.harness import Make
from tests.support.http_fakes import RawWebSocket, get, post


async def test_polling_handshake_message_and_clients_count(make: Make) -> None:
    h = await make()
    sid, headers = await h.handshake()
    assert headers["content-type"] == "text/plain; charset=UTF-8"
    assert h.engine.clients_count == 1
    assert h.conns[0].id == sid and h.conns[0].transport.name == "polling"
    status, headers, body = await h.request(
        post(f"/engine.io/?EIO=4&transport=polling&sid={sid}", b"4hello\x1ebAQI=", close=True)
    )
    assert (status, body, headers["content-type"]) == (200, b"ok", "text/html")
    assert h.messages == ["hello", b"\x01\x02"]
    h.conns[0].send("back")
    status, _, body = await h.request(
        get(f"/engine.io/?EIO=4&transport=polling&sid={sid}", close=True)
    )
    assert body == b"4back"


@pytest.mark.parametrize(
    ("target", "method", "status", "code"),
    [
        ("/engine.io/?EIO=4&transport=carrier-pigeon", "GET", 400, 0),
        ("/engine.io/?EIO=4&transport=polling&sid=unknown", "GET", 400, 1),
        ("/engine.io/?EIO=4&transport=polling", "PUT", 400, 2),
        ("/engine.io/?EIO=4&transport=websocket", "GET", 400, 3),
        ("/engine.io/?EIO=3&transport=polling", "GET", 400, 5),
        ("/engine.io/?EIO=abc&transport=polling", "GET", 400, 5),
    ],
)
async def test_bad_requests_get_node_codes(
    make: Make, target: str, method: str, status: int, code: int
) -> None:
    h = await make()
    raw = f"{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    got_status, headers, body = await h.request(raw.encode())
    assert got_status == status
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["code"] == code
    assert [e["code"] for e in h.errors] == [code]
    assert isinstance(h.errors[0]["req"], HttpRequest)
    assert h.engine.clients_count == 0


async def test_allow_request_refusal_is_403_forbidden(make: Make) -> None:
    async def allow(request: HttpRequest) -> bool | str:
        return "no thanks" if request.query.get("token") != "ok" else True

    h = await make(allow_request=allow)
    status, _, body = await h.request(get("/engine.io/?EIO=4&transport=polling", close=True))
    assert status == 403
    assert json.loads(body) == {"code": 4, "message": "no thanks"}
    await h.handshake("&token=ok")
    assert h.engine.clients_count == 1


async def test_generate_id_may_be_async(make: Make) -> None:
    h = await make()

    async def custom(request: HttpRequest) -> str:
        return "custom-id-0123456789"

    h.engine.generate_id = custom  # type: ignore[method-assign]
    sid, _ = await h.handshake()
    assert sid == "custom-id-0123456789"


async def test_generate_id_failure_is_id_generation_error(make: Make) -> None:
    h = await make()

    def broken(request: HttpRequest) -> str:
        raise RuntimeError("boom")

    h.engine.generate_id = broken  # type: ignore[method-assign]
    status, _, body = await h.request(get("/engine.io/?EIO=4&transport=polling", close=True))
    assert (status, json.loads(body)["code"]) == (400, 3)
    assert h.errors[0]["context"]["name"] == "ID_GENERATION_ERROR"


async def test_header_hooks_and_cookie(make: Make) -> None:
    h = await make(cookie=True)
    seen: list[str] = []

    @h.engine.on("initial_headers")
    def initial(headers: dict[str, Any], request: HttpRequest) -> None:
        seen.append("initial")
        headers["x-initial"] = "1"

    @h.engine.on("headers")
    def every(headers: dict[str, Any], request: HttpRequest) -> None:
        seen.append("headers")
        headers["x-every"] = "2"

    sid, headers = await h.handshake()
    assert headers["set-cookie"] == f"io={sid}; Path=/; HttpOnly; SameSite=Lax"
    assert (headers["x-initial"], headers["x-every"]) == ("1", "2")
    assert seen == ["initial", "headers"]
    _, headers, _ = await h.request(
        post(f"/engine.io/?EIO=4&transport=polling&sid={sid}", b"4x", close=True)
    )
    assert headers["x-every"] == "2" and "x-initial" not in headers
    ws = await RawWebSocket.connect(h.port)
    assert ws.headers["x-initial"] == "1" and ws.headers["x-every"] == "2"
    assert ws.headers["set-cookie"].startswith("io=")
    await ws.close()


async def test_cors_preflight_and_origin_list(make: Make) -> None:
    h = await make(cors={"origin": ["https://good.example"], "credentials": True})
    raw = (
        b"OPTIONS /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n"
        b"Origin: https://good.example\r\nAccess-Control-Request-Headers: content-type\r\n"
        b"Connection: close\r\n\r\n"
    )
    status, headers, _ = await h.request(raw)
    assert status == 204
    assert headers["access-control-allow-origin"] == "https://good.example"
    assert headers["access-control-allow-credentials"] == "true"
    assert headers["access-control-allow-headers"] == "content-type"
    assert "POST" in headers["access-control-allow-methods"]
    _, headers, _ = await h.request(
        get(
            "/engine.io/?EIO=4&transport=polling",
            extra="Origin: https://evil.example\r\n",
            close=True,
        )
    )
    assert "access-control-allow-origin" not in headers


async def test_large_poll_answers_are_gzipped(make: Make) -> None:
    h = await make()
    sid, _ = await h.handshake()
    h.conns[0].send("x" * 5000)
    _, headers, body = await h.request(
        get(
            f"/engine.io/?EIO=4&transport=polling&sid={sid}",
            extra="Accept-Encoding: gzip, deflate\r\n",
            close=True,
        )
    )
    assert headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == b"4" + b"x" * 5000


async def test_oversize_post_is_413(make: Make) -> None:
    h = await make(max_http_buffer_size=100)
    sid, _ = await h.handshake()
    status, _, _ = await h.request(
        post(f"/engine.io/?EIO=4&transport=polling&sid={sid}", b"4" + b"y" * 200, close=True)
    )
    assert status == 413
    assert h.messages == []


async def test_overlapping_polls_close_the_session(make: Make) -> None:
    h = await make()
    sid, _ = await h.handshake()
    target = f"/engine.io/?EIO=4&transport=polling&sid={sid}"
    first = asyncio.ensure_future(h.request(get(target, close=True)))
    await asyncio.sleep(0.05)
    status, _, _ = await h.request(get(target, close=True))
    assert status == 400
    _, _, body = await first
    assert decode_payload(body.decode())[-1].type == 1  # CLOSE
    assert h.closes == [("transport error", "overlap from client")]
    assert h.engine.clients_count == 0


async def test_polling_ping_timeout(make: Make) -> None:
    h = await make(ping_interval=0.05, ping_timeout=0.05)
    sid, _ = await h.handshake()
    _, _, body = await h.request(get(f"/engine.io/?EIO=4&transport=polling&sid={sid}", close=True))
    assert body == b"2"
    await asyncio.sleep(0.2)
    assert h.closes == [("ping timeout", None)]
    status, _, body = await h.request(
        get(f"/engine.io/?EIO=4&transport=polling&sid={sid}", close=True)
    )
    assert (status, json.loads(body)["code"]) == (400, 1)


async def test_server_close_on_polling_delivers_a_close_packet(make: Make) -> None:
    h = await make()
    sid, _ = await h.handshake()
    h.conns[0].close()
    assert h.closes == [("forced close", None)]
    assert h.engine.clients_count == 0
    _, _, body = await h.request(get(f"/engine.io/?EIO=4&transport=polling&sid={sid}", close=True))
    assert body == b"1"


async def test_server_close_delivers_buffered_packets_before_the_close(make: Make) -> None:
    h = await make()
    sid, _ = await h.handshake()
    target = f"/engine.io/?EIO=4&transport=polling&sid={sid}"
    h.conns[0].send("last words")
    h.conns[0].close()
    assert (await h.request(get(target, close=True)))[2] == b"4last words"
    assert (await h.request(get(target, close=True)))[2] == b"1"
    status, _, body = await h.request(get(target, close=True))
    assert (status, json.loads(body)["code"]) == (400, 1)


async def test_websocket_upgrade_events(make: Make) -> None:
    h = await make()
    sid, _ = await h.handshake()
    conn = h.conns[0]
    events: list[str] = []
    conn.on("upgrading", lambda t: events.append("upgrading:" + t.name))
    conn.on("upgrade", lambda t: events.append("upgrade:" + t.name))
    conn.on("packet", lambda p: events.append(f"packet:{int(p.type)}"))
    conn.on("packet_create", lambda p: events.append(f"create:{int(p.type)}"))
    poll = asyncio.ensure_future(
        h.request(get(f"/engine.io/?EIO=4&transport=polling&sid={sid}", close=True))
    )
    await asyncio.sleep(0.05)
    ws = await RawWebSocket.connect(h.port, f"/engine.io/?EIO=4&transport=websocket&sid={sid}")
    ws.send("2probe")
    assert await ws.recv() == "3probe"
    assert (await poll)[2] == b"6"
    ws.send("5")
    await asyncio.sleep(0.05)
    assert conn.transport.name == "websocket" and conn.upgraded
    conn.send("after")
    assert await ws.recv() == "4after"
    ws.send("4hi")
    await asyncio.sleep(0.05)
    assert h.messages == ["hi"]
    assert events == ["upgrading:websocket", "upgrade:websocket", "create:4", "packet:4"]
    await ws.close()
    await asyncio.sleep(0.05)
    assert h.closes == [("transport close", None)]


async def test_direct_websocket_and_parse_error(make: Make) -> None:
    h = await make()
    ws = await RawWebSocket.connect(h.port)
    opened = await ws.recv()
    assert isinstance(opened, str) and opened.startswith("0{")
    ws.send("9garbage")
    event = await ws.recv_event()
    assert isinstance(event, Close)
    await asyncio.sleep(0.05)
    assert h.closes == [("parse error", "unknown Engine.IO packet type '9'")]
    assert h.engine.clients_count == 0
    ws.writer.close()
    await ws.writer.wait_closed()


async def test_a_reader_that_stops_reading_is_disconnected(make: Make) -> None:
    h = await make(max_send_buffer=64 * 1024)
    ws = await RawWebSocket.connect(h.port)
    await ws.recv()
    conn = h.conns[0]
    chunk = "z" * 100_000
    for _ in range(400):  # 40 MB: far beyond the kernel's socket buffers
        conn.send(chunk)
        if conn.ready_state != "open":
            break
        await asyncio.sleep(0)
    assert h.closes == [("transport error", "send buffer full")]
    ws.writer.close()
    await asyncio.sleep(0.05)


async def test_a_get_racing_the_upgrade_is_refused_once_upgraded(make: Make) -> None:
    # The official suite sends "5" on the WebSocket and at once a GET on another
    # connection: whichever the server sees first, the GET must get 400.
    h = await make()
    sid, _ = await h.handshake()
    ws = await RawWebSocket.connect(h.port, f"/engine.io/?EIO=4&transport=websocket&sid={sid}")
    ws.send("2probe")
    assert await ws.recv() == "3probe"
    target = f"/engine.io/?EIO=4&transport=polling&sid={sid}"
    late = asyncio.ensure_future(h.request(get(target, close=True)))
    await asyncio.sleep(0.02)  # the GET arrives first and waits
    ws.send("5")
    status, _, body = await late
    assert (status, json.loads(body)["code"]) == (400, 3)
    assert h.errors[-1]["context"]["name"] == "TRANSPORT_MISMATCH"
    assert h.conns[0].transport.name == "websocket"
    await ws.close()


async def test_a_get_during_an_abandoned_probe_gets_a_noop(make: Make) -> None:
    h = await make()
    sid, _ = await h.handshake()
    ws = await RawWebSocket.connect(h.port, f"/engine.io/?EIO=4&transport=websocket&sid={sid}")
    ws.send("2probe")
    assert await ws.recv() == "3probe"
    # mid-upgrade: still on polling, counted once as upgrading (Server.stats reads this)
    assert h.engine.census() == ({"polling": 1}, 1)
    status, _, body = await h.request(
        get(f"/engine.io/?EIO=4&transport=polling&sid={sid}", close=True)
    )
    assert (status, body) == (200, b"6")  # after the short wait, the session is still polling
    await ws.close()
