"""Does the ASGI server in front of the app support WebSockets? One warning if not.

uvicorn speaks WebSocket only with a WebSocket library installed (``websockets`` or
``wsproto``, both in ``uvicorn[standard]``). Without one it answers every upgrade with a
plain HTTP request: the app refuses it (400), the official client quietly stays on
long-polling and a ``transports=["websocket"]`` client cannot connect at all. So the app
says so once, at start-up (``lifespan.startup`` or the first request), naming the package
to install; and once more, for any ASGI server, if an upgrade request ever arrives as an
HTTP request.
"""

from __future__ import annotations

import importlib.util
import logging
import sys

__all__ = ["UPGRADE_AS_HTTP", "WebSocketSupportCheck", "missing_websocket_library"]

logger = logging.getLogger("aiosocketio.frontends.asgi")

_INSTALL = "pip install 'uvicorn[standard]'"

UPGRADE_AS_HTTP = (
    "a WebSocket upgrade (transport=websocket) reached the Socket.IO app as a plain HTTP "
    "request: the ASGI server does not support WebSockets, so clients stay on HTTP "
    f"long-polling. Under uvicorn, install a WebSocket library: {_INSTALL} "
    "(or pip install websockets)"
)
"""The warning for an upgrade that arrives as an HTTP request."""


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def missing_websocket_library() -> str | None:
    """The start-up warning, when the app runs under uvicorn and neither ``websockets``
    nor ``wsproto`` can be imported; None otherwise."""
    if "uvicorn" not in sys.modules:
        return None
    if _importable("websockets") or _importable("wsproto"):
        return None
    return (
        "uvicorn has no WebSocket library (neither websockets nor wsproto can be imported): "
        "WebSocket upgrades will fail and clients stay on HTTP long-polling. Install one: "
        f"{_INSTALL}"
    )


class WebSocketSupportCheck:
    """The app's two checks, each warning at most once."""

    __slots__ = ("started", "upgrade_warned")

    def __init__(self) -> None:
        self.started = False
        self.upgrade_warned = False

    def start(self) -> None:
        """The app's first call (``lifespan.startup`` or the first connection)."""
        self.started = True
        warning = missing_websocket_library()
        if warning is not None:
            self.upgrade_warned = True  # the one line already says it
            logger.warning("%s", warning)

    def upgrade_as_http(self) -> None:
        """A ``transport=websocket`` request arrived as HTTP."""
        if not self.upgrade_warned:
            self.upgrade_warned = True
            logger.warning("%s", UPGRADE_AS_HTTP)
