"""The ASGI 3 types, shared by the ASGI front end and the native server's ASGI bridge.

They live here, beside both front ends, so that neither imports the other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["ASGIApplication", "ASGIMessage", "Receive", "Scope", "Send"]

Scope = MutableMapping[str, Any]
"""An ASGI connection scope."""

ASGIMessage = MutableMapping[str, Any]
"""An ASGI event (received or sent)."""

Receive = Callable[[], Awaitable[ASGIMessage]]
"""The ``receive`` callable of a connection."""

Send = Callable[[ASGIMessage], Awaitable[None]]
"""The ``send`` callable of a connection."""

ASGIApplication = Callable[[Scope, Receive, Send], Awaitable[None]]
"""An ASGI 3 application (``aiosocketio.frontends.asgi.ASGIApp`` is one)."""
