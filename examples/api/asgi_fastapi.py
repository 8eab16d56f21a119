"""Socket.IO inside a FastAPI application, served by uvicorn (Node's ``new Server(httpServer)``).

``io.asgi_app(api)`` serves ``/socket.io/`` and hands every other request (and the
lifespan events) to FastAPI. A Starlette ``Mount`` puts Socket.IO under a prefix; the
clients then use ``path="/<prefix>/socket.io/"``::

    python examples/api/asgi_fastapi.py --port 0
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import uvicorn
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.routing import Mount

from aiosocketio import Server, Socket, connect


def build_app() -> tuple[Server, Any]:
    api = FastAPI()
    io = Server(cors={"origin": "*"})

    @api.get("/health")
    async def health() -> dict[str, int]:
        return {"clients": io.engine.clients_count}

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        @socket.on("add one")
        def add_one(n: int) -> int:
            return n + 1

    return io, io.asgi_app(api)


async def serve(app: Any, port: int) -> tuple[uvicorn.Server, asyncio.Task[None], int]:
    """Start uvicorn on 127.0.0.1:``port`` (0: a free port); the server, its task, the port."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            await asyncio.sleep(0.01)
    return server, task, server.servers[0].sockets[0].getsockname()[1]


async def http_get(port: int, target: str) -> str:
    """The body of a plain HTTP/1.1 GET."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    body = (await reader.read()).partition(b"\r\n\r\n")[2].decode()
    writer.close()
    return body


async def main(port: int) -> None:
    io, app = build_app()
    server, task, bound = await serve(app, port)
    url = f"http://127.0.0.1:{bound}"
    sock = await connect(url, force_new=True)
    print("fastapi /health:", await http_get(bound, "/health"))
    print("socket.io ack:", await sock.emit_with_ack("add one", 41))
    sock.disconnect()
    server.should_exit = True
    await task

    # the same Server mounted under /realtime in a Starlette application
    outer = Starlette(routes=[Mount("/realtime", app=io.asgi_app())])
    server, task, bound = await serve(outer, port)
    url = f"http://127.0.0.1:{bound}"
    sock = await connect(url, force_new=True, path="/realtime/socket.io/")
    print("mounted ack:", await sock.emit_with_ack("add one", 1))
    sock.disconnect()
    await io.close()
    server.should_exit = True
    await task


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    asyncio.run(main(parser.parse_args().port))
