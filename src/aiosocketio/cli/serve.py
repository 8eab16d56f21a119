"""Serving a Server until SIGINT/SIGTERM, then closing it gracefully but bounded."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from aiosocketio.cli.errors import CLIError
from aiosocketio.cli.postgres_adapter import close_postgres_pools
from aiosocketio.cli.redis_adapters import close_redis_clients
from aiosocketio.runtime import loop as _loop

__all__ = [
    "SHUTDOWN_GRACE",
    "SHUTDOWN_MARGIN",
    "announce",
    "bound_port",
    "serve_until_stopped",
]

logger = logging.getLogger("aiosocketio.cli")

#: Seconds the clients have to read their backlog at shutdown (``--shutdown-grace``).
SHUTDOWN_GRACE = 10.0

#: Seconds ``server.close()`` may take beyond the grace period before the command exits
#: anyway (the server's own close drops what is left at the end of the grace period).
SHUTDOWN_MARGIN = 5.0


async def serve_until_stopped(
    server: Any,
    host: str,
    port: int,
    *,
    app: Any = None,
    stop: asyncio.Event | None = None,
    on_listening: Callable[[], None] | None = None,
    shutdown_grace: float = SHUTDOWN_GRACE,
) -> None:
    """Serve ``server`` on ``host:port`` until SIGINT/SIGTERM (or ``stop``), then close it.

    The close is graceful (``await server.close(grace=shutdown_grace)``: the clients
    get up to ``shutdown_grace`` seconds to read what is queued for them) but bounded: the
    command gives up :data:`SHUTDOWN_MARGIN` seconds after the grace period, or at once on a
    second SIGINT/SIGTERM.

    Args:
        server: The aiosocketio Server.
        host: Interface to bind.
        port: Port to bind.
        app: An ASGI app that gets the requests outside the Socket.IO path.
        stop: Set it to stop serving (the signals set it too).
        on_listening: Called once the port is bound.
        shutdown_grace: Seconds the clients have to read their backlog.

    Raises:
        CLIError: The close did not finish (exit status 1).
    """
    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    force = asyncio.Event()

    def on_signal() -> None:
        if stop.is_set():
            force.set()
        stop.set()

    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, on_signal)
            installed.append(sig)
    kwargs: dict[str, Any] = {}
    if app is not None:
        kwargs["app"] = app
    listening = False
    try:
        await _start_listening(server, host, port, kwargs)
        listening = True
        if on_listening is not None:
            on_listening()
        await stop.wait()
    finally:
        if listening:
            logger.info("shutting down")
        stop.set()
        shutdown_timeout = shutdown_grace + SHUTDOWN_MARGIN
        closed = await _bounded(_close(server, shutdown_grace), force, shutdown_timeout)
        await close_redis_clients()
        await close_postgres_pools()
        for sig in installed:
            loop.remove_signal_handler(sig)
    if not closed:
        raise CLIError(
            f"server.close() did not finish within {shutdown_timeout:g}s (or a second "
            "signal came); exiting anyway",
            1,
        )


async def _bounded(work: Awaitable[Any], force: asyncio.Event, timeout: float) -> bool:
    """Run ``work`` until it finishes (True), ``timeout`` passes or ``force`` is set (False)."""
    task = asyncio.ensure_future(work)
    forced = asyncio.ensure_future(force.wait())
    try:
        done, _ = await asyncio.wait({task, forced}, timeout=timeout, return_when="FIRST_COMPLETED")
    finally:
        forced.cancel()
    if task in done:
        task.result()
        return True
    task.cancel()
    logger.warning("gave up waiting for the server to close")
    return False


def _close(server: Any, grace: float) -> Any:
    """``server.close(grace=grace)``, or ``server.close()`` for a close without a grace."""
    close = server.close
    try:
        params = list(inspect.signature(close).parameters.values())
    except (TypeError, ValueError):
        params = []
    if any(p.name == "grace" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return close(grace=grace)
    return close()


async def _start_listening(server: Any, host: str, port: int, kwargs: dict[str, Any]) -> None:
    listen = getattr(server, "listen", None)
    if not callable(listen):
        raise CLIError("this Server has no listen() method")
    _check_kwargs(inspect.signature(listen).parameters, kwargs, "listen")
    result = listen(port, host, **kwargs)
    if inspect.isawaitable(result):
        await result


def _check_kwargs(params: Any, kwargs: dict[str, Any], name: str) -> None:
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    for key in kwargs:
        if key not in params and not accepts_any:
            raise CLIError(f"this Server's {name}() does not support {key}=")


def announce(server: Any, host: str, port: int, what: str) -> None:
    """Print the "serving ... on http://..." line (the tests and the workers read it)."""
    actual = bound_port(server) or port
    shown = f"[{host}]" if ":" in host else host
    pid = os.getpid()
    print(
        f"aiosocketio: serving {what} on http://{shown}:{actual} ({_loop.loop_name()}, pid {pid})",
        flush=True,
    )


def bound_port(server: Any) -> int | None:
    """The port ``server`` listens on, if it says (``None``: unknown or not listening)."""
    for name in ("port", "bound_port"):
        try:
            value = getattr(server, name, None)
        except RuntimeError:  # not listening
            return None
        if isinstance(value, int) and value > 0:
            return value
    return None
