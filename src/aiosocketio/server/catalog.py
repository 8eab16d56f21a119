"""The handler catalog: which events a namespace's sockets listen to, and with what.

``socket.on("chat", handler)`` registers ``handler`` on one socket, usually inside the
namespace's ``connection`` handler, so the same handler code is registered again on every
socket. The namespace's :class:`HandlerCatalog` records it once per event and code object
(a handler defined inside the connection handler is a new function each time, with the
same code): the event, the payload parameters read the way validation reads them
(:func:`~aiosocketio.server.validation.payload_params`), the return annotation and
whether the handler takes an ``ack``/``callback``. The AsyncAPI document
(:mod:`aiosocketio.server.asyncapi`) is made from it.

Invariants:

* after the first registration of an (event, code object), registering it again costs a
  dict and a set lookup (by the code object's id: the entry holds the code object, so the
  id is not reused while the entry exists);
* the catalog never holds a handler function: a handler defined per connection closes
  over its socket, and holding it would keep that socket alive;
* the children of a dynamic namespace share their parent's catalog, so a regex or matcher
  namespace is documented once, whatever names the clients connect to.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterator
from types import CodeType
from typing import Any

from aiosocketio.server.validation import payload_params

__all__ = ["CatalogEntry", "HandlerCatalog"]


@dataclasses.dataclass(frozen=True, slots=True)
class CatalogEntry:
    """One handler of one event, as registered on the namespace's sockets.

    Attributes:
        event: the event name.
        name: the handler's qualified name.
        code: its code object (None for a callable without one, such as a partial).
        params: the payload parameters, ``(name, annotation)``; ``Any`` where there is none.
        returns: the return annotation (``Any`` when there is none).
        ack_param: the name of its ``ack``/``callback`` parameter, if it takes one.
        variadic: whether it takes ``*args`` (any number of arguments).
        resolved: whether its annotations could be read (if not, ``params`` is empty and
            the payload is unknown).
        doc: the first line of its docstring.
    """

    event: str
    name: str
    code: CodeType | None
    params: tuple[tuple[str, Any], ...]
    returns: Any
    ack_param: str | None
    variadic: bool
    resolved: bool
    doc: str


class HandlerCatalog:
    """The handlers registered with ``socket.on`` on the sockets of one namespace (or of
    the children of one dynamic namespace), once per event and code object."""

    __slots__ = ("_entries", "_seen")

    def __init__(self) -> None:
        self._entries: list[CatalogEntry] = []
        # event -> the ids of the code objects (or the types of code-less callables) seen
        self._seen: dict[str, set[int | type]] = {}

    def record(self, event: str, fn: Callable[..., Any], ack_param: str | None) -> None:
        """Note that ``fn`` handles ``event`` (called by ``Socket.on``; after the first
        call for this event and code object, one dict lookup and one set lookup)."""
        code = getattr(fn, "__code__", None)  # a bound method's too
        # a callable without code (a partial, an object with __call__): one entry per type
        key: int | type = id(code) if code is not None else type(fn)
        seen = self._seen.get(event)
        if seen is None:
            seen = self._seen[event] = set()
        elif key in seen:
            return
        seen.add(key)
        func = getattr(fn, "__func__", fn)  # a bound method's function
        self._entries.append(_entry(event, fn, func, code, ack_param))

    def __iter__(self) -> Iterator[CatalogEntry]:
        """The entries, in the order they were first registered."""
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def events(self) -> dict[str, list[CatalogEntry]]:
        """The entries by event, events in the order they were first registered."""
        out: dict[str, list[CatalogEntry]] = {}
        for entry in self._entries:
            out.setdefault(entry.event, []).append(entry)
        return out


def _entry(
    event: str, fn: Callable[..., Any], func: Any, code: CodeType | None, ack_param: str | None
) -> CatalogEntry:
    name = getattr(func, "__qualname__", None) or type(func).__qualname__
    try:
        params, returns = payload_params(fn, ack_param)
        resolved = True
    except Exception:  # validation logs it when the handler is registered
        params, returns, resolved = [], Any, False
    try:
        variadic = any(
            p.kind is p.VAR_POSITIONAL for p in inspect.signature(fn).parameters.values()
        )
    except (TypeError, ValueError):
        variadic = True
    doc = inspect.getdoc(func) if code is not None else None
    return CatalogEntry(
        event=event,
        name=name,
        code=code,
        params=tuple(params),
        returns=returns,
        ack_param=ack_param,
        variadic=variadic,
        resolved=resolved,
        doc=doc.splitlines()[0] if doc else "",
    )
