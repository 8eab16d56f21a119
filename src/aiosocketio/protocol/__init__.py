"""The sans-I/O protocols: bytes and packets in, events and bytes out, time passed in.

Nothing below this package imports asyncio, sockets, TLS, httptools or redis (a test and
the import-linter contracts hold this): Engine.IO packets and sessions
(:mod:`~aiosocketio.protocol.engineio`), Socket.IO packets and parsers
(:mod:`~aiosocketio.protocol.socketio`), RFC 6455 framing
(:mod:`~aiosocketio.protocol.websocket`), the prepared message of a broadcast
(:mod:`~aiosocketio.protocol.prepared`), the cluster adapters' wire messages
(:mod:`~aiosocketio.protocol.cluster`) and RESP, the Redis protocol
(:mod:`~aiosocketio.protocol.resp`).
"""
