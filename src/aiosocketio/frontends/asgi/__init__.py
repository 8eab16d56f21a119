"""The ASGI front end: serve the Engine from uvicorn, hypercorn, granian...

:class:`ASGIApp` turns ASGI ``http`` and ``websocket`` connections under the Engine's
path into the calls of ``docs/ARCHITECTURE.md`` §4, and hands everything else
(``lifespan`` included) to an optional wrapped application::

    app = ASGIApp(engine, other_app=starlette_app)
    # uvicorn module:app --loop uvloop --http httptools --ws websockets-sansio

Under uvicorn, ``--ws websockets-sansio`` is the fastest WebSocket implementation (its
``send`` finishes without suspending, so messages go out without any task switch).

The package, by job: :mod:`.app` (routing, ``lifespan``), :mod:`.http` (long-polls and
the other HTTP requests), :mod:`.websocket` (WebSocket connections, their messages sent
once per loop tick), :mod:`.scope` (scopes to requests). The ASGI callable types are in
:mod:`aiosocketio.frontends.asgi_types`, shared with the native server's ASGI bridge.
"""

from __future__ import annotations

from aiosocketio.frontends.asgi.app import ASGIApp
from aiosocketio.frontends.asgi.http import LISTEN_AFTER
from aiosocketio.frontends.asgi.websocket import ASGIWebSocketChannel
from aiosocketio.frontends.asgi_types import ASGIApplication, ASGIMessage, Receive, Scope, Send

__all__ = [
    "LISTEN_AFTER",
    "ASGIApp",
    "ASGIApplication",
    "ASGIMessage",
    "ASGIWebSocketChannel",
    "Receive",
    "Scope",
    "Send",
]
