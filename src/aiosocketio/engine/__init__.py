"""The async Engine.IO server: :class:`Engine`, one :class:`EngineSocket` per session, and
the timer wheel that times them. It pumps the sans-I/O sessions of
:mod:`aiosocketio.protocol.engineio`; the front ends in :mod:`aiosocketio.frontends` feed it
HTTP requests and WebSocket messages through the types of :mod:`aiosocketio.engine.http`."""

from aiosocketio.engine.engine import Engine
from aiosocketio.engine.socket import EngineSocket, Transport

__all__ = ["Engine", "EngineSocket", "Transport"]
