"""``Server.stats``: a read-only snapshot of what a server holds.

It is collected when it is read, from the state the server keeps anyway (the namespaces'
sockets, the Engine's sessions, the front ends' counters of limits hit): serving adds no
cost for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from aiosocketio.engine.engine import Engine

__all__ = ["ServerStats"]


class _Counted(Protocol):
    def as_dict(self) -> dict[str, int]: ...


class _Namespace(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def sockets(self) -> Mapping[str, Any]: ...


def _frozen(mapping: dict[str, int]) -> Mapping[str, int]:
    return MappingProxyType(mapping)


@dataclass(frozen=True, slots=True)
class ServerStats:
    """What a :class:`~aiosocketio.Server` holds at one moment (``server.stats``).

    Attributes:
        sockets: the connected sockets of each namespace, by name (dynamic namespaces'
            children included; a namespace without sockets shows 0).
        clients: the open Engine.IO sessions (``engine.clients_count``).
        transports: the open sessions by transport (``"websocket"``, ``"polling"``).
        upgrading: sessions probing an upgrade to WebSocket.
        closing: polling sessions closed by the server whose CLOSE packet waits for a GET.
        limits: how many times each limit of the front ends was hit, and connections
            dropped at shutdown (``shutdown_dropped``): the counts of the built-in server's
            and the ASGI apps' :class:`~aiosocketio.frontends.stats.LimitStats`, summed.
        accepting: whether new sessions are accepted (False once :meth:`Server.close`
            began).
    """

    sockets: Mapping[str, int] = field(default_factory=lambda: _frozen({}))
    clients: int = 0
    transports: Mapping[str, int] = field(default_factory=lambda: _frozen({}))
    upgrading: int = 0
    closing: int = 0
    limits: Mapping[str, int] = field(default_factory=lambda: _frozen({}))
    accepting: bool = True

    @classmethod
    def collect(
        cls, namespaces: Iterable[_Namespace], engine: Engine, counters: Iterable[_Counted]
    ) -> ServerStats:
        """Read a snapshot from the server's ``namespaces``, its ``engine`` and the
        front ends' ``counters``."""
        sockets = {nsp.name: len(nsp.sockets) for nsp in namespaces}
        transports, upgrading = engine.census()
        limits: dict[str, int] = {}
        for counted in counters:
            for kind, count in counted.as_dict().items():
                limits[kind] = limits.get(kind, 0) + count
        return cls(
            sockets=_frozen(sockets),
            clients=engine.clients_count,
            transports=_frozen(transports),
            upgrading=upgrading,
            closing=engine.closing_count,
            limits=_frozen(limits),
            accepting=engine.accepting,
        )

    def as_dict(self) -> dict[str, Any]:
        """The snapshot as plain JSON-ready data."""
        return {
            "sockets": dict(self.sockets),
            "clients": self.clients,
            "transports": dict(self.transports),
            "upgrading": self.upgrading,
            "closing": self.closing,
            "limits": dict(self.limits),
            "accepting": self.accepting,
        }
