"""Errors that say where they happened and what to do, through the official client.

Every error the server logs about a client's event names the event (or "the ack of
<event>"), the socket id and the namespace; a connection middleware's unexpected exception
is logged with its traceback while the client gets Node's ``connect_error``; a handler
called with the wrong number of arguments says so (python-socketio's ``(sid, data)`` shape
by name) and the acknowledgement the client asked for is not sent, as in Node.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from aiosocketio import Server, Socket
from tests.server.test_interop import MODES, running
from tests.support.node import run_node
from tests.support.timeouts import scaled

pytestmark = pytest.mark.interop


class Unencodable:
    """A value no JSON codec encodes."""


def make_error_app() -> Server:
    io = Server(ping_interval=0.25, ping_timeout=1.0)

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        @socket.on("boom")
        def boom(n: int) -> None:
            raise ValueError(f"boom {n}")

        @socket.on("boom_async")
        async def boom_async(n: int) -> None:
            await asyncio.sleep(0)
            raise RuntimeError(f"async boom {n}")

        @socket.on("bad_ack")
        def bad_ack() -> Any:
            return Unencodable()

        @socket.on("pysio")
        async def pysio(sid: str, data: Any) -> str:  # python-socketio's shape
            return "never"

        @socket.on("too_many")
        def too_many(a: int) -> None:
            pass

        @socket.on("ping")
        def ping() -> str:
            return "pong"

        @socket.use
        def block(packet: list[Any]) -> None:
            if packet[0] == "blocked":
                raise PermissionError("not allowed")

        @socket.on_any
        def any_boom(event: str, *args: Any) -> None:
            if event == "any_boom":
                raise KeyError("catch-all boom")

    mw = io.of("/mw")

    @mw.use
    def database(socket: Socket) -> None:
        raise RuntimeError("database down")

    crash = io.of("/crash")

    @crash.on("connection")
    def on_crash(socket: Socket) -> None:
        socket.on("ping", lambda: "pong")
        raise LookupError("crash on connection")

    return io


def _server_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("aiosocketio")
    ]


@pytest.mark.parametrize(
    ("frontend", "mode"), [("native", m) for m in MODES] + [("asgi", "upgrade")]
)
async def test_every_error_names_the_event_the_socket_and_the_namespace(
    frontend: str, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="aiosocketio")
    io = make_error_app()
    async with running(io, frontend) as port:
        result = (
            await run_node("server_errors_client.js", f"http://127.0.0.1:{port}", mode, "errors")
        ).check()
        await asyncio.sleep(scaled(0.1))
    (line,) = result.lines
    assert line["ok"], line
    sid = line["sid"]
    # the acks that are not sent: the client sees its own timeout, as against Node
    assert line["badAck"] == {"error": "operation has timed out"}
    assert line["pysio"] == {"error": "operation has timed out"}
    assert line["failingAck"] == {"error": "operation has timed out"}
    assert line["pong"] == "pong"
    # Node's connect_error for a generic Error: its message (no data)
    assert line["mwError"] == {"message": "database down", "data": None}

    records = _server_errors(caplog)
    texts = [r.getMessage() for r in records]
    where = f"(socket {sid}, namespace '/')"

    def one(fragment: str) -> logging.LogRecord:
        found = [r for r in records if fragment in r.getMessage()]
        assert len(found) == 1, (fragment, texts)
        return found[0]

    boom = one(f"error in the handler of 'boom' {where}")
    assert boom.exc_info is not None and str(boom.exc_info[1]) == "boom 1"
    boom_async = [r for r in records if "'boom_async'" in r.getMessage()]
    assert sorted(
        (r.getMessage(), str(r.exc_info[1] if r.exc_info else None)) for r in boom_async
    ) == [
        (f"error in the handler of 'boom_async' {where}", "async boom 2"),
        (
            f"error in the handler of 'boom_async' {where}; the client asked for an "
            "acknowledgement: none was sent",
            "async boom 5",
        ),
    ]
    ack = one(f"the ack of 'bad_ack' {where} was not sent: its value cannot be encoded")
    assert ack.exc_info is not None
    mw = one(f"a packet middleware (socket.use) failed on 'blocked' {where}")
    assert mw.exc_info is not None and str(mw.exc_info[1]) == "not allowed"
    catch_all = one(f"error in the catch-all listener of 'any_boom' {where}")
    assert catch_all.exc_info is not None
    pysio = one(f"the handler of 'pysio' {where} was not called; the client asked for an ack")
    assert "pysio(sid, data) takes 2 arguments but the client sent 1" in pysio.getMessage()
    assert "python-socketio's handler shape" in pysio.getMessage()
    assert "docs/guides/migrating-from-python-socketio.md" in pysio.getMessage()
    assert pysio.exc_info is None  # the line says it all
    too_many = one(f"the handler of 'too_many' {where} was not called: ")
    assert "too_many(a) takes 1 argument but the client sent 3" in too_many.getMessage()
    database = one("the connection middleware ")
    assert "database" in database.getMessage() and "namespace '/mw'" in database.getMessage()
    assert database.name == "aiosocketio.server"
    assert database.exc_info is not None and str(database.exc_info[1]) == "database down"
    crash = one(
        f"error in the handler of 'connection' (socket {line['crashSid']}, namespace '/crash')"
    )
    assert crash.exc_info is not None and str(crash.exc_info[1]) == "crash on connection"
    # nothing else: no "message handler failed", no anonymous "error in an event handler"
    assert len(records) == 10, texts


async def test_a_client_cannot_flood_the_log_with_failing_handlers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="aiosocketio")
    io = make_error_app()
    async with running(io, "native") as port:
        result = (
            await run_node(
                "server_errors_client.js", f"http://127.0.0.1:{port}", "websocket", "flood"
            )
        ).check()
    (line,) = result.lines
    assert line["ok"], line
    assert line["first"] == line["second"] == "pong"
    booms = [r.getMessage() for r in _server_errors(caplog) if "'boom'" in r.getMessage()]
    # 101 failures: a burst of 10 lines, then the one that says how many were left out
    # (the 100 events arrive within far less than a second on any machine this runs on)
    assert 11 <= len(booms) <= 13, booms
    assert booms[-1].endswith("more errors of this socket since the last line)"), booms[-1]
    left_out = int(booms[-1].rsplit("(and ", 1)[1].split()[0])
    assert len(booms) + left_out == 101


def make_emit_app() -> Server:
    io = Server(ping_interval=0.25, ping_timeout=1.0)
    chat = io.of("/")

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        @socket.on("go")
        async def go() -> str:
            # python-socketio's habit: every emit awaited ...
            await socket.emit("socket", "awaited")
            await socket.join("room")
            await io.emit("server", "awaited")
            await io.to("room").emit("room", "awaited")
            await chat.emit("namespace", "awaited")
            await socket.compress(True).emit("flagged", "awaited")
            await io.send("awaited")
            # ... and the same emits, not awaited
            socket.emit("socket", "plain")
            io.emit("server", "plain")
            io.to("room").emit("room", "plain")
            chat.emit("namespace", "plain")
            socket.compress(True).emit("flagged", "plain")
            io.send("plain")
            return "done"

    return io


@pytest.mark.parametrize(
    ("frontend", "mode"), [("native", m) for m in MODES] + [("asgi", "websocket")]
)
async def test_an_emit_may_be_awaited_or_not(frontend: str, mode: str) -> None:
    io = make_emit_app()
    async with running(io, frontend) as port:
        result = (
            await run_node("server_errors_client.js", f"http://127.0.0.1:{port}", mode, "emits")
        ).check()
    (line,) = result.lines
    assert line["ok"], line
    assert line["answer"] == "done"
    expected = [
        [event, form]
        for form in ("awaited", "plain")
        for event in ("socket", "server", "room", "namespace", "flagged", "message")
    ]
    assert line["log"] == expected


async def test_an_emit_returns_an_awaitable_that_is_already_done() -> None:
    io = Server()
    room = io.to("nobody")
    for result in (io.emit("x"), io.send(), room.emit("x"), io.of("/a").emit("x")):
        await result  # returns at once, without suspending
        # not a coroutine: dropping it unawaited warns about nothing
        assert not asyncio.iscoroutine(result)
    assert io.emit("x") is io.to("r").emit("y")  # one shared object: no cost per emit


# -- python-socketio's handler shapes, caught when they are registered -------------------------


def _register_with_the_event_decorator(io: Server) -> None:
    @io.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None: ...


def test_a_python_socketio_connect_handler_is_refused_with_what_to_write() -> None:
    io = Server()
    with pytest.raises(TypeError) as info:

        @io.on("connect")
        async def connect(sid: str, environ: dict[str, Any]) -> None: ...

    text = str(info.value)
    assert "connect(sid, environ), which takes 2 arguments" in text
    assert "python-socketio's shape" in text
    assert '@io.on("connection")' in text and "async def on_connection(socket):" in text
    assert "docs/guides/migrating-from-python-socketio.md" in text
    with pytest.raises(TypeError, match="python-socketio"):
        _register_with_the_event_decorator(io)
    with pytest.raises(TypeError, match=r"io\.of\('/chat'\)\.on\('connection'\)"):
        io.of("/chat").on("connection", lambda socket, extra: None)
    assert io.listeners("connect") == [] and io.of("/chat").listeners("connection") == []


def test_python_socketio_event_handlers_on_the_server_are_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="aiosocketio.server")
    io = Server()

    @io.event
    async def chat_message(sid: str, data: Any) -> None: ...

    @io.on("disconnect")
    def disconnect(sid: str) -> None: ...

    @io.event
    def connection(socket: Socket) -> None: ...  # aiosocketio's own shape: nothing to say

    io.of("/other").on("chat_message", chat_message)  # said once per function

    texts = [r.getMessage() for r in caplog.records]
    assert len(texts) == 2, texts
    assert "io.on('chat_message'): " in texts[0]
    assert "receive the server-side emits of other servers" in texts[0]
    assert "a namespace has no 'disconnect' event" in texts[1]
    assert all("docs/guides/migrating-from-python-socketio.md" in t for t in texts)
    assert io.listeners("connection") == [connection]  # registered all the same
