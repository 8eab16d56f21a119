"""The sockets as the Admin UI shows them (``all_sockets``, ``socket_connected``)."""

from __future__ import annotations

from typing import Any

__all__ = ["public_data", "serialize_socket"]


def public_data(data: Any) -> Any:
    """``socket.data`` without the ``_admin`` entry kept for the dashboard."""
    if isinstance(data, dict):
        return {k: v for k, v in data.items() if k != "_admin"}
    return data


def serialize_socket(socket: Any, nsp: str) -> dict[str, Any]:
    """A local :class:`~aiosocketio.Socket` or a :class:`~aiosocketio.RemoteSocket` in the
    dashboard's shape (the handshake without its ``auth``)."""
    data = socket.data
    admin = data.get("_admin") if isinstance(data, dict) else None
    if not isinstance(admin, dict):
        admin = {}
    handshake = socket.handshake
    headers = handshake.headers
    address = headers.get("cf-connecting-ip") or headers.get("x-forwarded-for") or handshake.address
    return {
        "id": socket.id,
        "clientId": admin.get("clientId"),
        "transport": admin.get("transport"),
        "nsp": nsp,
        "data": public_data(data),
        "handshake": {
            "address": address,
            "headers": headers,
            "query": handshake.query,
            "issued": handshake.issued,
            "secure": handshake.secure,
            "time": handshake.time,
            "url": handshake.url,
            "xdomain": handshake.xdomain,
        },
        "rooms": sorted(socket.rooms),
    }
