"""Discover an app's ``socket.on`` handlers without live traffic, for its AsyncAPI document.

Handlers registered inside a ``connection`` handler (``io.on("connection")`` then
``socket.on("chat", handler)``) exist once a client has connected.
:func:`probe_handlers` connects one in-process client (:class:`~aiosocketio.testing.TestClient`)
to each namespace, so the namespaces' middlewares and ``connection`` handlers run and
register their handlers in the namespace's
:attr:`~aiosocketio.server.namespace.Namespace.handler_catalog`; it then disconnects::

    report = await probe_handlers(io, auth={"token": "docs"})
    doc = asyncapi_document(io)

It runs the application's own connection code (its middlewares, its ``connection``
handlers, and ``disconnect`` handlers when the client leaves): run it on a server that is
not serving clients, as ``aiosocketio asyncapi`` does. The test client's manual clock is
installed on the loop while it runs (the default selector event loop is needed); a
connection handler that waits for time to pass, or for the network, before it registers a
handler is not waited for.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from typing import Any

from aiosocketio.exceptions import ConnectError
from aiosocketio.server import Server
from aiosocketio.testing.client import NothingHappened, TestClient

__all__ = ["ProbeReport", "probe_handlers"]

logger = logging.getLogger("aiosocketio.testing")


@dataclasses.dataclass(frozen=True, slots=True)
class ProbeReport:
    """What :func:`probe_handlers` did.

    Attributes:
        connected: the namespaces the probe connected to (their ``connection`` handlers ran).
        refused: ``(namespace, why)`` for each namespace that refused the probe (a
            middleware's ``connect_error`` message, or no answer).
    """

    connected: tuple[str, ...]
    refused: tuple[tuple[str, str], ...]

    @property
    def warnings(self) -> list[str]:
        """One sentence per refused namespace, naming it."""
        return [
            f"the probe of namespace {name!r} was refused ({why}): the handlers its "
            "connection handlers register are not in the document"
            for name, why in self.refused
        ]


async def probe_handlers(
    server: Server, *, auth: Any = None, namespaces: Iterable[str] = ()
) -> ProbeReport:
    """Connect one in-process client to each namespace of ``server``, then disconnect it,
    so that the handlers its ``connection`` handlers register with ``socket.on`` are in
    the namespaces' handler catalogs, and so in
    :func:`~aiosocketio.server.asyncapi.asyncapi_document`.

    Args:
        server: the application's server (not serving clients).
        auth: the ``auth`` payload every probe client sends (for middlewares that check it).
        namespaces: more namespace names to connect to, after the main namespace ``"/"`` and
            the other namespaces made with ``io.of(name)``: names matched by a dynamic
            namespace (``io.of(regex)``), whose handlers are documented under it.

    Returns:
        Which namespaces were probed and which refused; a refusal is not an error (a
        middleware that wants other credentials), it is logged as a warning.
    """
    names = ["/"]
    names += [n for n, nsp in server.namespaces.items() if nsp.parent is None and n not in names]
    names += [n if n.startswith("/") else "/" + n for n in namespaces if n not in names]
    connected: list[str] = []
    refused: list[tuple[str, str]] = []
    async with TestClient(server) as client:
        for name in names:
            try:
                sock = await client.connect(name, auth=auth)
            except ConnectError as exc:
                refused.append((name, f"connect_error {exc}"))
                continue
            except NothingHappened:
                refused.append((name, "no answer to its CONNECT"))
                continue
            await client.settle()  # what the connection handler does without waiting
            connected.append(name)
            await sock.disconnect()
    report = ProbeReport(tuple(connected), tuple(refused))
    for warning in report.warnings:
        logger.warning("%s", warning)
    return report
