"""Adapters: room bookkeeping and broadcasting, in memory or across a cluster.

The server and the adapters meet in :mod:`aiosocketio.adapters.interface`.
"""

from aiosocketio.adapters.base import Adapter
from aiosocketio.adapters.interface import (
    AdapterLike,
    BroadcastFlags,
    BroadcastOptions,
    NamespaceLike,
    SocketDetails,
    SocketLike,
)
from aiosocketio.adapters.memory import MemoryAdapter, SessionAwareAdapter

__all__ = [
    "Adapter",
    "AdapterLike",
    "BroadcastFlags",
    "BroadcastOptions",
    "MemoryAdapter",
    "NamespaceLike",
    "SessionAwareAdapter",
    "SocketDetails",
    "SocketLike",
]
