"""python-socketio 5.x on aiohttp + uvloop: its fastest set-up on this machine.

usage: python python_socketio_aiohttp.py PORT
"""

from __future__ import annotations

import asyncio

import uvloop
from _common import announce, port_from_argv
from _python_socketio_app import make_server
from aiohttp import web

sio = make_server("aiohttp")


async def main(port: int) -> None:
    app = web.Application()
    sio.attach(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=2048)
    await site.start()
    server = site._server
    assert server is not None
    announce(server.sockets[0].getsockname()[1])  # type: ignore[union-attr, unused-ignore]
    await asyncio.Event().wait()


if __name__ == "__main__":
    uvloop.run(main(port_from_argv()))
