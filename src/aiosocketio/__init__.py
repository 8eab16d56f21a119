"""aiosocketio: Socket.IO v5 / Engine.IO v4 for asyncio."""

from aiosocketio.client import ClientSocket, Manager, client_socket, connect
from aiosocketio.exceptions import (
    AckTimeout,
    AdapterError,
    AdapterTimeout,
    ConnectError,
    ConnectionRefused,
    Disconnected,
    HandshakeError,
    LocalProtocolError,
    PayloadTooBig,
    ProtocolError,
    RemoteProtocolError,
    SocketIOError,
)
from aiosocketio.server import (
    BroadcastOperator,
    Namespace,
    RemoteSocket,
    Server,
    Socket,
    TypedNamespace,
)
from aiosocketio.types import DisconnectReason

__version__ = "0.1.0"

__all__ = [
    "AckTimeout",
    "AdapterError",
    "AdapterTimeout",
    "BroadcastOperator",
    "ClientSocket",
    "ConnectError",
    "ConnectionRefused",
    "DisconnectReason",
    "Disconnected",
    "HandshakeError",
    "LocalProtocolError",
    "Manager",
    "Namespace",
    "PayloadTooBig",
    "ProtocolError",
    "RemoteProtocolError",
    "RemoteSocket",
    "Server",
    "Socket",
    "SocketIOError",
    "TypedNamespace",
    "__version__",
    "client_socket",
    "connect",
]
