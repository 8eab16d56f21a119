"""python-socketio 5.x as an ASGI app under uvicorn (uvloop, httptools, websockets-sansio).

usage: python python_socketio_asgi.py PORT
"""

from __future__ import annotations

import socketio  # type: ignore[import-not-found, unused-ignore]
from _common import port_from_argv
from _python_socketio_app import make_server
from _uvicorn import serve

sio = make_server("asgi")


if __name__ == "__main__":
    serve(socketio.ASGIApp(sio), port_from_argv())
