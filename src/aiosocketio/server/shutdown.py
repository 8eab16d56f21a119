"""The steps of ``Server.close()``: a shutdown that loses nothing a client reads in time.

Theory of operation: the Socket.IO layer queues a DISCONNECT behind every socket's
backlog, the Engine closes each session once its backlog has been written
(:meth:`~aiosocketio.engine.engine.Engine.drain`), then each front end closes its
connections once their last bytes are out (:meth:`NativeServer.drain
<aiosocketio.frontends.native.server.NativeServer.drain>`, :meth:`ASGIApp.drain
<aiosocketio.frontends.asgi.app.ASGIApp.drain>`). Every step shares one deadline: what
is still open then is dropped, so the whole takes at most the grace period (and a few
loop turns).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from aiosocketio.protocol.socketio.packets import Packet, PacketType

if TYPE_CHECKING:
    from aiosocketio.engine.engine import Engine
    from aiosocketio.frontends.asgi import ASGIApp
    from aiosocketio.frontends.native.server import NativeServer

__all__ = ["shut_down"]

logger = logging.getLogger("aiosocketio.server")

REASON = "server shutting down"
"""What the server-side sockets see (Node's reason)."""


async def shut_down(
    namespaces: Iterable[Any],
    engine: Engine,
    http: NativeServer | None,
    apps: Sequence[ASGIApp],
    deadline: float,
) -> None:
    """Shut the server down by ``deadline`` (the loop's clock); see ``Server.close()``."""
    engine.accepting = False
    for nsp in namespaces:
        for socket in list(nsp.sockets.values()):
            socket._packet(Packet(PacketType.DISCONNECT, nsp.name))
            socket._on_close(REASON)
        try:
            await nsp.adapter.close()
        except Exception:
            logger.exception("error while closing the adapter of %s", nsp.name)
    # A polling client may open a new TCP connection for its next GET: the listening
    # socket closes once no polling client needs one (new handshakes get 503 meanwhile).
    await engine.drain(deadline, http.stop_listening if http is not None else None)
    if http is not None:
        await http.drain(deadline)
    for app in apps:
        await app.drain(deadline)
