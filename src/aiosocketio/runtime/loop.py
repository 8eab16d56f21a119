"""Event loop selection: uvloop where it is installed, the standard asyncio loop otherwise.

The command line (``aiosocketio run``/``aiosocketio demo``) runs its servers through
:func:`run`, so a plain ``pip install aiosocketio`` on CPython/Linux serves on uvloop
without any configuration. Set ``AIOSOCKETIO_NO_UVLOOP=1`` to force the standard loop.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["loop_name", "new_event_loop", "run", "uvloop_available"]

T = TypeVar("T")


def _uvloop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    if os.environ.get("AIOSOCKETIO_NO_UVLOOP", "").strip() not in ("", "0"):
        return None
    try:
        module = importlib.import_module("uvloop")
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = module.new_event_loop
    return factory


def uvloop_available() -> bool:
    """Return whether :func:`new_event_loop` will build a uvloop loop."""
    return _uvloop_factory() is not None


def loop_name() -> str:
    """Return ``"uvloop"`` or ``"asyncio"``: the loop that :func:`run` would use."""
    return "uvloop" if uvloop_available() else "asyncio"


def new_event_loop(*, reuse_port: bool = False) -> asyncio.AbstractEventLoop:
    """Create a new event loop: uvloop's when it is importable, asyncio's otherwise.

    Args:
        reuse_port: Make every ``loop.create_server()`` on this loop bind with
            ``SO_REUSEPORT``, so that several processes can listen on one port and the
            kernel spreads the connections over them (``aiosocketio run --workers N``).

    Returns:
        A fresh loop that the caller owns (and must close).
    """
    factory = _uvloop_factory()
    loop = asyncio.new_event_loop() if factory is None else factory()
    if reuse_port:
        _bind_with_reuse_port(loop)
    return loop


def _bind_with_reuse_port(loop: asyncio.AbstractEventLoop) -> None:
    original = loop.create_server

    async def create_server(*args: Any, **kwargs: Any) -> asyncio.Server:
        if kwargs.get("sock") is None:
            kwargs["reuse_port"] = True
        return await original(*args, **kwargs)

    # Both uvloop's and asyncio's loops are Python classes with an instance __dict__.
    loop.create_server = create_server  # type: ignore[method-assign]


def run(main: Coroutine[Any, Any, T], *, debug: bool | None = None, reuse_port: bool = False) -> T:
    """Run ``main`` to completion on a loop from :func:`new_event_loop`.

    This is :func:`asyncio.run` with the loop choice made here: pending tasks are
    cancelled and async generators shut down when ``main`` returns.

    Args:
        main: The coroutine to run.
        debug: Turn on asyncio's debug mode (``None`` keeps the default).
        reuse_port: Servers created on the loop bind with ``SO_REUSEPORT``.

    Returns:
        Whatever ``main`` returns.
    """
    with asyncio.Runner(
        debug=debug, loop_factory=lambda: new_event_loop(reuse_port=reuse_port)
    ) as runner:
        return runner.run(main)
