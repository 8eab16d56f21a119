"""The in-memory adapter: the default, for a single server."""

from __future__ import annotations

from aiosocketio.adapters.base import Adapter

__all__ = ["MemoryAdapter"]


class MemoryAdapter(Adapter):
    """Rooms and broadcasts within this process; everything is done by :class:`Adapter`."""
