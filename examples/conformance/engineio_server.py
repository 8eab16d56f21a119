"""The Engine.IO protocol test-suite server, served by aiosocketio.

Echoes every message back (text and binary) with the settings the official test suite
expects: pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1e6, CORS ``*``, path
``/engine.io/``.

Usage::

    python examples/conformance/engineio_server.py [--frontend native|asgi] [--port N]

``--frontend native`` (the default) uses the built-in server; ``asgi`` runs
:class:`aiosocketio.frontends.asgi.ASGIApp` under uvicorn (see ``_harness.start_uvicorn``). With
``--port 0`` a free port is chosen and
``{"port": N}`` is printed as one JSON line once the server is listening.
"""

from __future__ import annotations

from _harness import Stop, main, start_uvicorn

from aiosocketio.engine.engine import Engine
from aiosocketio.engine.socket import EngineSocket
from aiosocketio.frontends.asgi import ASGIApp
from aiosocketio.frontends.native.server import serve


def make_engine() -> Engine:
    """An Engine configured as the protocol test suite expects, echoing every message."""
    engine = Engine(
        ping_interval=0.3,
        ping_timeout=0.2,
        max_http_buffer_size=1_000_000,
        cors={"origin": "*"},
        path="/engine.io/",
    )

    def on_connection(conn: EngineSocket) -> None:
        conn.on_message = conn.send

    engine.on_connection = on_connection
    return engine


async def start_native(port: int) -> tuple[int, Stop]:
    """The built-in server."""
    engine = make_engine()
    server = await serve(engine, "127.0.0.1", port)

    async def stop() -> None:
        await engine.close()
        server.close()
        await server.wait_closed()

    return server.port, stop


async def start_asgi(port: int) -> tuple[int, Stop]:
    """:class:`ASGIApp` under uvicorn."""
    engine = make_engine()
    return await start_uvicorn(ASGIApp(engine), port, engine.close)


if __name__ == "__main__":
    main(__doc__, "/engine.io/", start_native, start_asgi)
