"""The Socket.IO server API: Server, Namespace, Socket, BroadcastOperator, RemoteSocket,
TypedNamespace."""

from aiosocketio.server.broadcast import BroadcastOperator, RemoteSocket
from aiosocketio.server.contract import TypedNamespace
from aiosocketio.server.handshake import Handshake
from aiosocketio.server.namespace import Namespace, ParentNamespace
from aiosocketio.server.server import Server
from aiosocketio.server.socket import Socket, SocketEmitter
from aiosocketio.server.stats import ServerStats

__all__ = [
    "BroadcastOperator",
    "Handshake",
    "Namespace",
    "ParentNamespace",
    "RemoteSocket",
    "Server",
    "ServerStats",
    "Socket",
    "SocketEmitter",
    "TypedNamespace",
]
