"""The whole error tree of aiosocketio.

::

    SocketIOError
    ├── ProtocolError
    │   ├── LocalProtocolError      you misused the API (reserved event name, emit when closed)
    │   └── RemoteProtocolError     the peer sent garbage; the session closes with "parse error"
    ├── HandshakeError(code)        an Engine.IO request was refused (codes 0-5)
    │   ├── UnknownTransport        0 "Transport unknown"
    │   ├── UnknownSid              1 "Session ID unknown"
    │   ├── BadHandshakeMethod      2 "Bad handshake method"
    │   ├── BadRequest              3 "Bad request"
    │   ├── Forbidden               4 "Forbidden"
    │   └── UnsupportedProtocolVersion  5 "Unsupported protocol version"
    ├── ConnectionRefused(message, data)   raised by a middleware; becomes CONNECT_ERROR
    ├── ConnectError                a client could not connect (the server's message and data;
    │                               also a builtin ConnectionError)
    ├── Disconnected(reason)        the socket was disconnected while an operation was pending
    ├── PayloadTooBig               a message over max_http_buffer_size
    ├── AckTimeout                  an acknowledgement did not arrive in time (also a TimeoutError)
    └── AdapterError                a cluster adapter failed (Redis gone, request timed out)
        └── AdapterTimeout          some servers did not answer in time (also an AckTimeout)

The receive path of the protocol core never raises into the I/O layer: it records the
error, closes the session with the right reason and chains the cause.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, ClassVar

__all__ = [
    "AckTimeout",
    "AdapterError",
    "AdapterTimeout",
    "BadHandshakeMethod",
    "BadRequest",
    "ConnectError",
    "ConnectionRefused",
    "Disconnected",
    "Forbidden",
    "HandshakeError",
    "LocalProtocolError",
    "PayloadTooBig",
    "ProtocolError",
    "RemoteProtocolError",
    "SocketIOError",
    "UnknownSid",
    "UnknownTransport",
    "UnsupportedProtocolVersion",
]


class SocketIOError(Exception):
    """Base class of every error raised by aiosocketio."""


class ProtocolError(SocketIOError):
    """The Engine.IO or Socket.IO protocol was violated."""


class LocalProtocolError(ProtocolError):
    """This side misused the API, for example by emitting a reserved event name."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something that cannot be decoded; the session closes with ``parse error``."""


class HandshakeError(SocketIOError):
    """An Engine.IO HTTP request was refused with one of Node's error codes (0-5).

    Attributes:
        code: the Engine.IO error code sent in the JSON body.
        message: Node's message for that code.
        context: extra details given to ``connection_error`` listeners.
    """

    code: ClassVar[int] = 3
    default_message: ClassVar[str] = "Bad request"

    def __init__(self, message: str | None = None, context: dict[str, Any] | None = None) -> None:
        self.message = message or self.default_message
        self.context: dict[str, Any] = context or {}
        super().__init__(self.message)

    @property
    def status(self) -> int:
        """The HTTP status Node answers with: 403 for code 4, 400 for the others."""
        return 403 if self.code == 4 else 400

    @staticmethod
    def for_code(
        code: int, message: str | None = None, context: dict[str, Any] | None = None
    ) -> HandshakeError:
        """Build the subclass that matches an Engine.IO error code."""
        cls = _BY_CODE.get(code, BadRequest)
        return cls(message, context)


class UnknownTransport(HandshakeError):
    """Code 0: the ``transport`` query parameter names no enabled transport."""

    code = 0
    default_message = "Transport unknown"


class UnknownSid(HandshakeError):
    """Code 1: the ``sid`` names no open session."""

    code = 1
    default_message = "Session ID unknown"


class BadHandshakeMethod(HandshakeError):
    """Code 2: a handshake that is not a GET."""

    code = 2
    default_message = "Bad handshake method"


class BadRequest(HandshakeError):
    """Code 3: anything else that is wrong (its ``context`` has a ``name``)."""

    code = 3
    default_message = "Bad request"


class Forbidden(HandshakeError):
    """Code 4: ``allow_request`` refused the handshake (HTTP 403)."""

    code = 4
    default_message = "Forbidden"


class UnsupportedProtocolVersion(HandshakeError):
    """Code 5: an ``EIO`` other than 4."""

    code = 5
    default_message = "Unsupported protocol version"


_BY_CODE: dict[int, type[HandshakeError]] = {
    cls.code: cls
    for cls in (
        UnknownTransport,
        UnknownSid,
        BadHandshakeMethod,
        BadRequest,
        Forbidden,
        UnsupportedProtocolVersion,
    )
}


class ConnectionRefused(SocketIOError):
    """Raise this from a connection middleware (``io.use``) to refuse a client.

    The client receives CONNECT_ERROR ``{"message": message, "data": data}`` and its
    ``connect_error`` listeners see both.
    """

    def __init__(self, message: str = "Not authorized", data: Any = None) -> None:
        self.message = message
        self.data = data
        super().__init__(message)


class ConnectError(SocketIOError, ConnectionError):
    """A client could not connect to a namespace: the server refused it (its ``message``
    and ``data``), or the transport failed.

    It is also a builtin :class:`ConnectionError`, so ``except ConnectionError`` catches it.

    Attributes:
        message: the server's message (``connect_error``'s ``err.message`` in Node), or
            the transport failure ("timeout", "xhr poll error", "transport error"...).
        data: the server's ``data`` (``err.data``), or a description of the failure.
    """

    def __init__(self, message: str, data: Any = None) -> None:
        self.message = message
        self.data = data
        super().__init__(message)


if not TYPE_CHECKING:  # the old name, kept for a while; type checkers do not see it

    def __getattr__(name: str) -> Any:
        if name == "ConnectionError":
            warnings.warn(
                "aiosocketio.exceptions.ConnectionError is now ConnectError (it shadowed "
                "the builtin ConnectionError, which ConnectError also subclasses)",
                DeprecationWarning,
                stacklevel=2,
            )
            return ConnectError
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Disconnected(SocketIOError):
    """The socket was disconnected while an operation was pending.

    Attributes:
        reason: Node's disconnect reason string.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class PayloadTooBig(SocketIOError):
    """A message or an HTTP body exceeded ``max_http_buffer_size``."""


class AckTimeout(SocketIOError, TimeoutError):
    """An acknowledgement did not arrive in time: Node's "operation has timed out"."""

    def __init__(self, message: str = "operation has timed out", responses: Any = None) -> None:
        self.responses = responses
        super().__init__(message)


class AdapterError(SocketIOError):
    """A cluster adapter failed: Redis is unreachable or a request timed out."""


class AdapterTimeout(AdapterError, AckTimeout):
    """Some servers of the cluster did not answer a request in time.

    Both an :class:`AdapterError` and an :class:`AckTimeout` (hence a ``TimeoutError``):
    ``except AckTimeout`` catches it where an acknowledgement was awaited (a broadcast or a
    server-side emit with an ack), ``except AdapterError`` where any cluster failure is
    handled. ``responses`` holds the answers that did arrive.
    """
