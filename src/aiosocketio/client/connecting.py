"""What ``ClientSocket.connect()`` returns: a connection under way, to await or not.

``socket.connect()`` starts connecting at once, as in socket.io-client, and the
:class:`Connecting` it returns may be dropped. ``await socket.connect()`` also waits for
the namespace to be connected and gives the socket back; when that first attempt fails,
the socket is disconnected (nothing goes on reconnecting in the background) and the error
is raised.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Generic, Protocol, TypeVar

__all__ = ["Connectable", "Connecting"]


class Connectable(Protocol):
    """The socket, as :class:`Connecting` sees it."""

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait for ``connect``; raise the first ``connect_error``."""

    def disconnect(self) -> object:
        """Leave the namespace for good."""


S = TypeVar("S", bound=Connectable)


class Connecting(Generic[S]):
    """A connection under way; ``await`` it to wait until the namespace is connected."""

    __slots__ = ("_socket", "_timeout")

    def __init__(self, socket: S, timeout: float | None) -> None:
        self._socket = socket
        self._timeout = timeout

    def __await__(self) -> Generator[Any, None, S]:
        return self._wait().__await__()

    async def _wait(self) -> S:
        socket = self._socket
        try:
            await socket.wait_connected(self._timeout)
        except BaseException:
            socket.disconnect()  # a failed connect leaves nothing running
            raise
        return socket

    def __repr__(self) -> str:
        return f"<Connecting {self._socket!r}>"
