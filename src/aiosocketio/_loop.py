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


def new_event_loop() -> asyncio.AbstractEventLoop:
    """Create a new event loop: uvloop's when it is importable, asyncio's otherwise.

    Returns:
        A fresh loop that the caller owns (and must close).
    """
    factory = _uvloop_factory()
    if factory is None:
        return asyncio.new_event_loop()
    return factory()


def run(main: Coroutine[Any, Any, T], *, debug: bool | None = None) -> T:
    """Run ``main`` to completion on a loop from :func:`new_event_loop`.

    This is :func:`asyncio.run` with the loop choice made here: pending tasks are
    cancelled and async generators shut down when ``main`` returns.

    Args:
        main: The coroutine to run.
        debug: Turn on asyncio's debug mode (``None`` keeps the default).

    Returns:
        Whatever ``main`` returns.
    """
    with asyncio.Runner(debug=debug, loop_factory=new_event_loop) as runner:
        return runner.run(main)
