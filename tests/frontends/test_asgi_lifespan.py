"""The ASGI app's lifespan: its graceful shutdown runs once, on ``lifespan.shutdown`` or,
under uvicorn, on the first signal before uvicorn's own handler."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from aiosocketio.engine.engine import Engine
from aiosocketio.frontends.asgi import ASGIApp
from aiosocketio.frontends.asgi_types import ASGIMessage


class _Lifespan:
    """Drives the lifespan protocol of an app."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[ASGIMessage] = asyncio.Queue()
        self.sent: list[str] = []

    async def receive(self) -> ASGIMessage:
        return await self.inbox.get()

    async def send(self, message: ASGIMessage) -> None:
        self.sent.append(message["type"])


async def _run(app: ASGIApp, steps: list[str]) -> _Lifespan:
    life = _Lifespan()
    task = asyncio.ensure_future(app({"type": "lifespan"}, life.receive, life.send))
    for step in steps:
        await life.inbox.put({"type": step})
        await asyncio.sleep(0.01)
    await asyncio.wait_for(task, 2)
    return life


async def test_shutdown_runs_on_lifespan_shutdown() -> None:
    calls: list[str] = []

    async def on_shutdown() -> None:
        calls.append("shutdown")

    app = ASGIApp(Engine(), on_shutdown=on_shutdown)
    life = await _run(app, ["lifespan.startup", "lifespan.shutdown"])
    assert life.sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert calls == ["shutdown"]


async def test_shutdown_runs_before_the_other_apps_shutdown() -> None:
    calls: list[str] = []

    async def on_shutdown() -> None:
        calls.append("ours")

    async def other(scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                calls.append("other startup")
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                calls.append("other shutdown")
                await send({"type": "lifespan.shutdown.complete"})
                return

    app = ASGIApp(Engine(), other, on_shutdown=on_shutdown)
    life = await _run(app, ["lifespan.startup", "lifespan.shutdown"])
    assert calls == ["other startup", "ours", "other shutdown"]
    assert life.sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


class _FakeUvicorn:
    """Stands for uvicorn's ``Server``: its ``handle_exit`` is the signal handler."""

    def __init__(self) -> None:
        self.signals: list[int] = []

    def handle_exit(self, sig: int, frame: Any) -> None:
        self.signals.append(sig)


_FakeUvicorn.__module__ = "uvicorn.server"


async def test_under_uvicorn_the_first_signal_drains_before_uvicorn_stops() -> None:
    order: list[str] = []
    uvicorn = _FakeUvicorn()
    gate = asyncio.Event()

    async def on_shutdown() -> None:
        order.append("drain starts")
        await gate.wait()
        order.append("drain ends")

    previous = signal.signal(signal.SIGTERM, uvicorn.handle_exit)
    try:
        app = ASGIApp(Engine(), on_shutdown=on_shutdown)
        life = _Lifespan()
        task = asyncio.ensure_future(app({"type": "lifespan"}, life.receive, life.send))
        await life.inbox.put({"type": "lifespan.startup"})
        await asyncio.sleep(0.01)
        assert signal.getsignal(signal.SIGTERM) != uvicorn.handle_exit
        signal.raise_signal(signal.SIGTERM)
        await asyncio.sleep(0.05)
        assert order == ["drain starts"] and uvicorn.signals == []  # uvicorn waits
        gate.set()
        await asyncio.sleep(0.05)
        assert order == ["drain starts", "drain ends"]
        assert uvicorn.signals == [signal.SIGTERM]  # then uvicorn gets the signal
        # uvicorn then sends lifespan.shutdown: the shutdown does not run again
        await life.inbox.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(task, 2)
        assert order == ["drain starts", "drain ends"]
        assert signal.getsignal(signal.SIGTERM) == uvicorn.handle_exit
    finally:
        signal.signal(signal.SIGTERM, previous)


async def test_a_second_signal_goes_to_uvicorn_at_once() -> None:
    uvicorn = _FakeUvicorn()
    gate = asyncio.Event()

    async def on_shutdown() -> None:
        await gate.wait()

    previous = signal.signal(signal.SIGINT, uvicorn.handle_exit)
    try:
        app = ASGIApp(Engine(), on_shutdown=on_shutdown)
        life = _Lifespan()
        task = asyncio.ensure_future(app({"type": "lifespan"}, life.receive, life.send))
        await life.inbox.put({"type": "lifespan.startup"})
        await asyncio.sleep(0.01)
        signal.raise_signal(signal.SIGINT)
        await asyncio.sleep(0.02)
        signal.raise_signal(signal.SIGINT)
        assert uvicorn.signals == [signal.SIGINT]
        gate.set()
        await asyncio.sleep(0.02)
        assert uvicorn.signals == [signal.SIGINT, signal.SIGINT]
        await life.inbox.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(task, 2)
    finally:
        signal.signal(signal.SIGINT, previous)
