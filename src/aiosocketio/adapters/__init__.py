"""Adapters: room bookkeeping and broadcasting, in memory or across a cluster."""

from aiosocketio.adapters.base import Adapter, BroadcastFlags, BroadcastOptions
from aiosocketio.adapters.memory import MemoryAdapter, SessionAwareAdapter

__all__ = [
    "Adapter",
    "BroadcastFlags",
    "BroadcastOptions",
    "MemoryAdapter",
    "SessionAwareAdapter",
]
