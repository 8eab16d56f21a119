"""Running a tour's Python fragments against a live server and client.

A fragment of the server API runs with ``io`` a listening Server and ``socket`` the
server-side socket of a connected client; a fragment of the client API runs with
``socket`` a connected client socket, its server answering the events the fragments
emit, and the example URLs pointing at that server. The few free names the fragments use
(``data``, ``is_valid``...) are stubs. Afterwards a second client connects and emits, so
the handlers and middlewares a fragment registered run too. Nothing may log an error and
the fragment must finish in time.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import logging
from types import SimpleNamespace
from typing import Any

import pytest

import aiosocketio
from aiosocketio.client.connection import wait_closing
from tests.docs.markdown import RUNNABLE, Role
from tests.support.timeouts import scaled

NOT_RUN_HERE = ("io.listen(", "io.serve(", "FastAPI", RUNNABLE)
EXAMPLE_URLS = ("https://example.com", "http://localhost:3000")
CLIENT_ANSWERS: dict[str, Any] = {"question": "an answer", "ready?": "ready", "my-event": "ok"}
SERVER_ANSWERS: dict[str, Any] = {"update": {"status": "ok"}, "order": "ordered"}


async def _is_valid(token: Any) -> bool:
    return True


async def _fetch_user(token: Any) -> Any:
    return SimpleNamespace(name="ada")


def _stubs() -> dict[str, Any]:
    return {
        "data": {"title": "hello"},
        "n": 1,
        "x": 10,
        "y": 20,
        "item": "book",
        "is_valid": _is_valid,
        "is_unauthorized": lambda event: event == "forbidden",
        "fetch_user": _fetch_user,
    }


def _answering_client(sock: aiosocketio.ClientSocket, answers: dict[str, Any]) -> None:
    for event, answer in answers.items():
        sock.on(event, lambda *args, _answer=answer: _answer)


def build_server() -> aiosocketio.Server:
    """A server whose sockets, in "/", "/admin" and "/chat", answer ``SERVER_ANSWERS``."""
    io = aiosocketio.Server()

    def answer_everything(socket: aiosocketio.Socket) -> None:
        for event, answer in SERVER_ANSWERS.items():
            socket.on(event, lambda *args, _answer=answer: _answer)

    for name in ("/", "/admin", "/chat"):
        io.of(name).on("connection", answer_everything)
    return io


async def _run_code(code: str, namespace: dict[str, Any], in_thread: bool) -> None:
    compiled = compile(code, "fragment", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    if in_thread:  # blocking code (the SyncClient) must not block the server's loop
        await asyncio.wait_for(asyncio.to_thread(exec, compiled, namespace), scaled(20))
        return
    result = eval(compiled, namespace)
    if inspect.iscoroutine(result):
        await asyncio.wait_for(result, scaled(20))


async def run_fragment(code: str, role: Role, caplog: pytest.LogCaptureFixture) -> None:
    """Run ``code`` in ``role`` against a live server (see above); raise if anything goes wrong."""
    io = build_server()
    await io.listen(0, "127.0.0.1")
    url = f"http://127.0.0.1:{io.port}"
    clients: list[aiosocketio.ClientSocket] = []

    async def client(path: str = "/") -> aiosocketio.ClientSocket:
        sock = await aiosocketio.connect(url + path, force_new=True, reconnection=False)
        _answering_client(sock, CLIENT_ANSWERS)
        clients.append(sock)
        return sock

    for example in EXAMPLE_URLS:
        code = code.replace(example, url)
    namespace: dict[str, Any] = {"__name__": "fragment", "url": url, **_stubs()}
    try:
        with caplog.at_level(logging.ERROR, logger="aiosocketio"):
            first = await client()
            if role == "client":
                namespace["socket"] = first
            else:
                [server_side] = io.sockets.sockets.values()
                namespace.update(io=io, socket=server_side, socket_id=server_side.id)
            await _run_code(code, namespace, in_thread="SyncClient" in code)
            if "io.close()" not in code:
                second = await client()  # runs the handlers the fragment registered
                second.emit("hello", "world")
                await second.timeout(5).emit_with_ack("update", 1)
                second.emit("forbidden")  # refused by the per-packet middleware example
            await asyncio.sleep(0.05)
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert errors == [], f"errors logged: {errors}"
    finally:
        for sock in clients:
            sock.disconnect()
        for value in list(namespace.values()):
            if isinstance(value, (aiosocketio.ClientSocket, aiosocketio.Manager)):
                value.disconnect()
        await io.close()
        await wait_closing()
