"""The sockets as the Admin UI shows them (``all_sockets``, ``socket_connected``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["WatchedData", "public_data", "serialize_socket"]


class WatchedData(dict[str, Any]):
    """``socket.data`` that calls ``on_change()`` when one of its keys is set or removed.

    Node's admin-ui wraps ``socket.data`` in a Proxy to send ``socket_updated`` to the
    dashboard; this is the same for the top-level keys. A copy (``copy``, ``pickle``) is a
    plain dict.
    """

    __slots__ = ("_on_change",)

    def __init__(self, data: dict[str, Any], on_change: Callable[[], None]) -> None:
        super().__init__(data)
        self._on_change = on_change

    def __reduce__(self) -> Any:
        return (dict, (dict(self),))

    def _changed(self) -> None:
        on_change = getattr(self, "_on_change", None)
        if on_change is not None:
            on_change()

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self._changed()

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._changed()

    def update(self, *args: Any, **kwargs: Any) -> None:
        """``dict.update``, then one notification."""
        super().update(*args, **kwargs)
        self._changed()

    def pop(self, key: str, *default: Any) -> Any:
        """``dict.pop``, then one notification."""
        value = super().pop(key, *default)
        self._changed()
        return value

    def setdefault(self, key: str, default: Any = None) -> Any:
        """``dict.setdefault``, then one notification."""
        value = super().setdefault(key, default)
        self._changed()
        return value

    def clear(self) -> None:
        """``dict.clear``, then one notification."""
        super().clear()
        self._changed()


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
