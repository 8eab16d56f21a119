"""aiosocketio's ASGI app under uvicorn (uvloop, httptools, websockets-sansio).

usage: python aiosocketio_asgi.py PORT
"""

from __future__ import annotations

from _aiosocketio_app import make_server
from _common import port_from_argv
from _uvicorn import serve

if __name__ == "__main__":
    serve(make_server().asgi_app(), port_from_argv())
