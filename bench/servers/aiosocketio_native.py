"""aiosocketio on its built-in asyncio server (httptools + its own WebSocket framing), uvloop.

usage: python aiosocketio_native.py PORT [--redis URL] [--metrics]

``--metrics``: the Prometheus exporter on (``GET /metrics``), and its exposition rendered
every second in process (the aiosocketio-metrics server of bench/run.py).
"""

from __future__ import annotations

import asyncio

import uvloop
from _aiosocketio_app import extra_app, make_server, scrape_every
from _common import announce, port_from_argv


async def main(port: int) -> None:
    server = make_server()
    await server.listen(port, host="127.0.0.1", app=extra_app())
    announce(server.port)
    await scrape_every(1.0)
    await asyncio.Event().wait()


if __name__ == "__main__":
    uvloop.run(main(port_from_argv()))
