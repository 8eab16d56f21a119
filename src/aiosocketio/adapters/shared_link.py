"""The bookkeeping of a Redis link shared by the adapters of one server.

A server has one adapter per namespace, and they all talk to Redis through one link (one
subscriber connection, one stream reader...). :class:`SharedLink` keeps one link per key
(the server and its Redis clients), counts its users, and closes it with the last one.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, ClassVar, TypeVar

__all__ = ["SharedLink"]

L = TypeVar("L", bound="SharedLink")


class SharedLink:
    """Base class: one instance per key, released by its users, closed by the last one.

    Subclasses implement :meth:`close` and set ``_closed`` once closed; each subclass has
    its own table of links.
    """

    __slots__ = ("_closed", "_key", "_users")

    _shared: ClassVar[dict[Hashable, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._shared = {}

    def __init__(self) -> None:
        self._closed = False
        self._users = 0
        self._key: Hashable | None = None

    @classmethod
    def _share(cls: type[L], key: Hashable, make: Callable[[], L]) -> L:
        """The open link for ``key``, made by ``make`` if there is none; one more user."""
        link: L | None = cls._shared.get(key)
        if link is None or link._closed:
            link = make()
            link._key = key
            cls._shared[key] = link
        link._users += 1
        return link

    async def release(self) -> None:
        """One user less; the last one closes the link."""
        self._users -= 1
        if self._users > 0:
            return
        if self._key is not None and self._shared.get(self._key) is self:
            del self._shared[self._key]
        await self.close()

    async def close(self) -> None:
        """Close the link (subclasses)."""
        raise NotImplementedError
