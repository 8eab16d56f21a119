"""Micro-benchmarks of the Engine's hot paths, in process, through the front-end interface.

Each figure is the best of several runs of ``timeit``, in nanoseconds per operation. The
engine is driven exactly as a front end drives it (:mod:`aiosocketio.engine.http`): a fake
WebSocket channel that takes prebuilt frames, a fake responder for polling. No network, so
the figures show the Engine and the sans-I/O session only.

Usage::

    .venv/bin/python bench/micro_engine.py [--number N] [--repeat R]
"""

from __future__ import annotations

import argparse
import asyncio
import timeit
from collections.abc import Callable

from aiosocketio.engine.engine import Engine
from aiosocketio.engine.http import HttpRequest, WebSocketAccept, WebSocketHandler
from aiosocketio.engine.socket import EngineSocket
from aiosocketio.protocol.prepared import PreparedMessage


class FakeChannel:
    """A WebSocket channel that takes prebuilt frames and drops them."""

    can_write_frames = True

    def __init__(self) -> None:
        self.written = 0

    def write_frames(self, data: bytes) -> None:
        self.written += 1

    def send_message(self, data: str | bytes) -> None:
        self.written += 1

    def close(self, code: int = 1000, reason: str = "") -> None:
        pass

    @property
    def buffered_amount(self) -> int:
        return 0


class FakeResponder:
    """Records the last answer."""

    def __init__(self) -> None:
        self.on_abort: Callable[[], None] | None = None
        self.status = 0
        self.body = b""

    def respond(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.body = body


def _request(method: str, query: str) -> HttpRequest:
    return HttpRequest(method, "/engine.io/", query, {}, "127.0.0.1", 1234, False)


def _open_websocket(engine: Engine) -> tuple[EngineSocket, WebSocketHandler, FakeChannel]:
    conns: list[EngineSocket] = []
    engine.on_connection = conns.append
    accept = engine.handle_websocket(_request("GET", "EIO=4&transport=websocket"))
    assert isinstance(accept, WebSocketAccept)
    channel = FakeChannel()
    handler = accept.attach(channel)
    return conns[0], handler, channel


def _best(stmt: Callable[[], object], number: int, repeat: int) -> float:
    return min(timeit.repeat(stmt, number=number, repeat=repeat)) / number * 1e9


async def main(number: int, repeat: int) -> None:
    engine = Engine(path="/engine.io/", ping_interval=3600, ping_timeout=3600)
    conn, handler, _channel = _open_websocket(engine)
    received: list[str | bytes] = []
    conn.on_message = received.append
    on_message = handler.on_message
    text = '42["echo","hello"]'
    binary = b"\x01\x02\x03\x04"
    results: dict[str, float] = {}

    def ws_text() -> None:
        on_message(text)
        received.clear()

    results["ws text message"] = _best(ws_text, number, repeat)

    def ws_binary() -> None:
        on_message(binary)
        received.clear()

    results["ws binary message"] = _best(ws_binary, number, repeat)

    # A ping is out: the first message of the cycle extends the pong deadline.
    session = conn.session
    session.handle_timer(session.ping_at or 0.0)
    results["ws text, pong awaited"] = _best(ws_text, number, repeat)

    conn2, handler2, _ = _open_websocket(engine)
    conn2.on_message = received.append
    conn2.on("message", lambda data: None)
    on_message2 = handler2.on_message

    def ws_text_listener() -> None:
        on_message2(text)
        received.clear()

    results["ws text, 'message' listener"] = _best(ws_text_listener, number, repeat)

    # A session upgraded from polling: its messages come through the probe's handler.
    conns: list[EngineSocket] = []
    engine.on_connection = conns.append
    responder = FakeResponder()
    engine.handle_request(_request("GET", "EIO=4&transport=polling"), b"", responder)
    uconn = conns[0]
    uconn.on_message = received.append
    accept = engine.handle_websocket(_request("GET", f"EIO=4&transport=websocket&sid={uconn.id}"))
    assert isinstance(accept, WebSocketAccept)
    uhandler = accept.attach(FakeChannel())
    uhandler.on_message("2probe")
    uhandler.on_message("5")
    assert uconn.upgraded
    on_message3 = uhandler.on_message

    def ws_text_upgraded() -> None:
        on_message3(text)
        received.clear()

    results["ws text, upgraded session"] = _best(ws_text_upgraded, number, repeat)

    prepared = PreparedMessage(['2["news",{"n":1}]'])
    prepared.ws_bytes  # noqa: B018 - built once, as a broadcast does
    write = conn.write_prepared

    def write_prepared() -> None:
        write(prepared)

    results["write_prepared (ws)"] = _best(write_prepared, number, repeat)

    # Polling: one POST of a message, then a GET that takes a queued message.
    conns.clear()
    responder = FakeResponder()
    engine.handle_request(_request("GET", "EIO=4&transport=polling"), b"", responder)
    pconn = conns[0]
    pconn.on_message = received.append
    sid = pconn.id
    post_request = _request("POST", f"EIO=4&transport=polling&sid={sid}")
    get_request = _request("GET", f"EIO=4&transport=polling&sid={sid}")
    body = b'42["echo","hello"]'
    handle = engine.handle_request

    def polling_round() -> None:
        handle(post_request, body, responder)
        pconn.send('2["echo","hello"]')
        handle(get_request, b"", responder)
        received.clear()

    results["polling POST + GET"] = _best(polling_round, max(1, number // 10), repeat)
    assert responder.body == b'42["echo","hello"]', responder.body

    width = max(len(name) for name in results)
    for name, ns in results.items():
        print(f"{name:<{width}}  {ns:8.1f} ns")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--number", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(main(args.number, args.repeat))
