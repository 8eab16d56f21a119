"""aiosocketio on its built-in asyncio server (httptools + its own WebSocket framing), uvloop.

usage: python aiosocketio_native.py PORT [--redis URL]
"""

from __future__ import annotations

import asyncio

import uvloop
from _aiosocketio_app import make_server
from _common import announce, port_from_argv


async def main(port: int) -> None:
    server = make_server()
    await server.listen(port, host="127.0.0.1")
    announce(server.port)
    await asyncio.Event().wait()


if __name__ == "__main__":
    uvloop.run(main(port_from_argv()))
