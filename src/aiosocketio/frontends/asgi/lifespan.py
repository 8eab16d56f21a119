"""The ASGI app's ``lifespan``, and a graceful shutdown that runs before the server's own.

An ASGI server sends ``lifespan.shutdown`` only after it has closed its connections:
uvicorn closes every WebSocket at once with 1012 (what the app still queues for it is
lost), waits for the running requests, and only then sends ``lifespan.shutdown``. A
shutdown that lets every client receive its backlog and then the DISCONNECT has to run
before that. So, under uvicorn, :class:`Lifespan` takes the first SIGINT or SIGTERM
itself (from ``lifespan.startup`` on): it runs the app's shutdown (the Socket.IO server's
``close()``, bounded by its grace period) and then hands the signal to uvicorn, which
finds the Socket.IO connections closed. A second signal goes to uvicorn at once.
Under other servers the shutdown runs when ``lifespan.shutdown`` comes.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any

from aiosocketio.frontends.asgi_types import ASGIApplication, ASGIMessage, Receive, Scope, Send

__all__ = ["Lifespan", "Shutdown"]

logger = logging.getLogger("aiosocketio.frontends.asgi")

Shutdown = Callable[[], Awaitable[None]]
"""The app's graceful shutdown (the Socket.IO server's ``close()``)."""

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _is_uvicorn(handler: Any) -> bool:
    """Whether ``handler`` is uvicorn's signal handler (its ``Server.handle_exit``)."""
    owner = getattr(handler, "__self__", None)
    return owner is not None and type(owner).__module__.startswith("uvicorn.")


class Lifespan:
    """The ``lifespan`` protocol of one ASGI app, with its graceful shutdown.

    Args:
        on_shutdown: the shutdown to run (once) before the server stops, or ``None``.
        take_signals: under uvicorn, run it on the first SIGINT/SIGTERM, before uvicorn
            closes the connections (see the module docstring).
    """

    __slots__ = ("_on_shutdown", "_previous", "_signalled", "_take_signals", "_task")

    def __init__(self, on_shutdown: Shutdown | None, *, take_signals: bool = True) -> None:
        self._on_shutdown = on_shutdown
        self._take_signals = take_signals
        self._previous: dict[int, Any] = {}
        self._signalled = False
        self._task: asyncio.Task[None] | None = None

    async def run(
        self, scope: Scope, receive: Receive, send: Send, other_app: ASGIApplication | None
    ) -> None:
        """Serve the ``lifespan`` connection (the other app's, with our steps added)."""
        if other_app is not None:

            async def hooked_receive() -> ASGIMessage:
                message = await receive()
                kind = message.get("type")
                if kind == "lifespan.startup":
                    self.started()
                elif kind == "lifespan.shutdown":
                    await self.shutdown()
                return message

            await other_app(scope, hooked_receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.started()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def started(self) -> None:
        """``lifespan.startup``: take the signals from uvicorn (see the module docstring)."""
        if self._on_shutdown is None or not self._take_signals:
            return
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for sig in _SIGNALS:
            previous = signal.getsignal(sig)
            if not _is_uvicorn(previous):
                continue
            self._previous[sig] = previous

            def on_signal(signum: int, frame: FrameType | None, previous: Any = previous) -> None:
                if self._signalled:
                    previous(signum, frame)  # a second signal: the server stops at once
                    return
                self._signalled = True
                loop.call_soon_threadsafe(self._begin, previous, signum)

            signal.signal(sig, on_signal)

    def _begin(self, previous: Callable[[int, FrameType | None], Any], signum: int) -> None:
        self._task = asyncio.ensure_future(self._shutdown_then(previous, signum))

    async def _shutdown_then(
        self, previous: Callable[[int, FrameType | None], Any], signum: int
    ) -> None:
        try:
            await self._run_shutdown()
        finally:
            previous(signum, None)

    async def shutdown(self) -> None:
        """``lifespan.shutdown``: the shutdown has run (on a signal), or runs now."""
        for sig, previous in self._previous.items():
            if threading.current_thread() is threading.main_thread():
                signal.signal(sig, previous)
        self._previous.clear()
        task = self._task
        if task is not None:
            await task
            return
        await self._run_shutdown()

    async def _run_shutdown(self) -> None:
        on_shutdown = self._on_shutdown
        if on_shutdown is None:
            return
        try:
            await on_shutdown()
        except Exception:
            logger.exception("the graceful shutdown failed")
