"""The I/O front ends: bytes in and out between the network and the Engine. The built-in
asyncio HTTP/1.1 + WebSocket server (:mod:`~aiosocketio.frontends.native`) and the ASGI app
(:mod:`~aiosocketio.frontends.asgi`)."""
