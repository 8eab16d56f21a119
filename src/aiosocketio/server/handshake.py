"""The handshake details a socket keeps from its connection (Node's ``socket.handshake``)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiosocketio.engine.socket import EngineSocket

__all__ = ["Handshake"]

_last_date: tuple[int, str] = (0, "")


def _date_string(second: int) -> str:
    """JavaScript's ``Date.toString()`` form of ``second``, computed once per second."""
    global _last_date
    if _last_date[0] != second:
        text = time.strftime("%a %b %d %Y %H:%M:%S GMT%z (%Z)", time.localtime(second))
        _last_date = (second, text)
    return _last_date[1]


@dataclass(slots=True)
class Handshake:
    """What the client sent when it connected.

    Attributes:
        headers: the HTTP headers of the first request (lower-case names).
        time: the creation date as a string.
        address: the peer's IP address.
        xdomain: whether the request was cross-origin (an ``Origin`` header was sent).
        secure: whether the connection is TLS.
        issued: the creation date in milliseconds since the epoch.
        url: the request URL (path and query string).
        query: the query parameters of the first request.
        auth: the ``auth`` payload of the namespace CONNECT packet.
    """

    headers: dict[str, str] = field(default_factory=dict)
    time: str = ""
    address: str = ""
    xdomain: bool = False
    secure: bool = False
    issued: int = 0
    url: str = ""
    query: dict[str, str] = field(default_factory=dict)
    auth: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_connection(cls, conn: EngineSocket, auth: dict[str, Any]) -> Handshake:
        """Build the handshake of a socket on ``conn``."""
        request = conn.request
        now = time.time()
        return cls(
            headers=dict(request.headers),
            time=_date_string(int(now)),
            address=conn.remote_address,
            xdomain="origin" in request.headers,
            secure=request.secure,
            issued=int(now * 1000),
            url=request.url,
            query=dict(request.query),
            auth=auth,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Handshake:
        """Build a handshake from its wire form (a cluster's REMOTE_FETCH answer)."""
        return cls(
            headers=dict(data.get("headers") or {}),
            time=str(data.get("time", "")),
            address=str(data.get("address", "")),
            xdomain=bool(data.get("xdomain", False)),
            secure=bool(data.get("secure", False)),
            issued=int(data.get("issued") or 0),
            url=str(data.get("url", "")),
            query=dict(data.get("query") or {}),
            auth=dict(data.get("auth") or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        """The wire form, with Node's field names."""
        return {
            "headers": self.headers,
            "time": self.time,
            "address": self.address,
            "xdomain": self.xdomain,
            "secure": self.secure,
            "issued": self.issued,
            "url": self.url,
            "query": self.query,
            "auth": self.auth,
        }
