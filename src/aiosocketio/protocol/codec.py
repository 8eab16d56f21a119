"""JSON codecs: the pluggable ``JSONCodec`` protocol and the default orjson implementation.

Every JSON document that aiosocketio writes or reads goes through a codec, so an
application can swap in its own (for example one that knows how to encode its
dataclasses differently). A codec is a pair of pure functions:

* ``dumps(obj) -> str`` produces *compact* JSON (no spaces), like ``JSON.stringify``;
* ``loads(data) -> Any`` raises ``ValueError`` on bad input.

The default, :class:`OrjsonCodec`, also implements the optional
:meth:`OrjsonCodec.dumps_with_attachments` hook that the Socket.IO encoder uses to pull
binary values out of a payload in the same pass that serialises it.

Whatever the official client can send, the default codec decodes and encodes back as
Node does: a payload orjson refuses for a lone surrogate or for its nesting (it encodes
254 levels and decodes 1024) goes through :mod:`aiosocketio.protocol.json_fallback`
instead, so decoding and encoding accept the same values, up to 1024 levels.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import orjson

from aiosocketio.exceptions import LocalProtocolError
from aiosocketio.protocol import json_fallback

__all__ = [
    "BINARY_TYPES",
    "ORJSON_OPTIONS",
    "EncodeError",
    "JSONCodec",
    "OrjsonCodec",
    "default_codec",
]

BINARY_TYPES: tuple[type[bytes], type[bytearray], type[memoryview]] = (bytes, bytearray, memoryview)
"""The Python types that the Socket.IO layer sends as binary attachments."""


class EncodeError(LocalProtocolError, TypeError):
    """A value given to ``dumps`` cannot be represented as JSON.

    It is both a :class:`~aiosocketio.exceptions.LocalProtocolError` (the application
    asked to send something unsendable) and a ``TypeError`` (what ``json.dumps`` raises),
    so either ``except`` clause catches it.
    """


@runtime_checkable
class JSONCodec(Protocol):
    """What aiosocketio needs from a JSON library."""

    def dumps(self, obj: Any) -> str:
        """Serialise ``obj`` to compact JSON text (no insignificant whitespace)."""
        ...

    def loads(self, data: str | bytes) -> Any:
        """Parse JSON text; raise ``ValueError`` (or a subclass) on bad input."""
        ...


ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS
"""The orjson options :class:`OrjsonCodec` uses (non-str dict keys become strings)."""
_OPTIONS = ORJSON_OPTIONS


def _reject(obj: Any) -> Any:
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


class OrjsonCodec:
    """The default codec, built on orjson.

    Output is compact, like ``JSON.stringify``. Dict keys that are not strings (ints,
    floats, bools, ``None``, enums, dates) are converted to strings, which is what
    ``JSON.stringify`` does with a JavaScript object's keys. ``NaN`` and infinities become
    ``null``, as in JavaScript. Anything orjson cannot serialise (sets, bytes, arbitrary
    objects) raises :class:`EncodeError`.

    Args:
        default: optional hook called with any object orjson does not know; it returns a
            serialisable replacement or raises ``TypeError``.
    """

    __slots__ = ("_default",)

    def __init__(self, default: Callable[[Any], Any] | None = None) -> None:
        self._default = default

    @property
    def default(self) -> Callable[[Any], Any] | None:
        """The ``default`` hook given to the constructor, if any."""
        return self._default

    def dumps(self, obj: Any) -> str:
        """Serialise ``obj`` to compact JSON text.

        Raises:
            EncodeError: ``obj`` holds a value that has no JSON form.
        """
        try:
            return orjson.dumps(obj, default=self._default, option=_OPTIONS).decode()
        except TypeError as exc:
            if not json_fallback.is_fallback_error(exc):
                raise EncodeError(str(exc)) from exc
        try:
            return json_fallback.dumps(obj, self._default)
        except TypeError as exc:
            raise EncodeError(str(exc)) from exc

    def loads(self, data: str | bytes) -> Any:
        """Parse JSON text (as ``JSON.parse``: lone surrogate escapes are accepted).

        Raises:
            ValueError: ``data`` is not valid JSON (``orjson.JSONDecodeError``).
        """
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            if "surrogate" not in str(exc):
                raise
        return json_fallback.loads(data)

    def dumps_with_attachments(self, obj: Any) -> tuple[str, list[bytes]]:
        """Serialise ``obj``, replacing binary values by Socket.IO placeholders.

        Every ``bytes``, ``bytearray`` or ``memoryview`` found anywhere in ``obj`` (in
        depth-first order, as socket.io-parser's ``deconstructPacket`` walks it) becomes
        ``{"_placeholder":true,"num":i}`` and is appended to the returned list as bytes.
        A payload without binary costs one plain ``orjson.dumps``.

        Raises:
            EncodeError: ``obj`` holds a value that has no JSON form.
        """
        if self._default is None:
            # Fast path: no binary and nothing exotic, one plain orjson call.
            try:
                return orjson.dumps(obj, option=_OPTIONS).decode(), []
            except TypeError:
                pass  # binary values (or unserialisable ones): take the slow path
        return self.dumps_binary(obj)

    def dumps_binary(self, obj: Any) -> tuple[str, list[bytes]]:
        """:meth:`dumps_with_attachments` without its first plain try: for a caller that
        already saw ``obj`` fail to serialise as plain JSON (it holds binary values)."""
        attachments: list[bytes] = []
        user_default = self._default or _reject

        def default(value: Any) -> Any:
            if isinstance(value, BINARY_TYPES):
                num = len(attachments)
                attachments.append(bytes(value))
                return {"_placeholder": True, "num": num}
            return user_default(value)

        try:
            text = orjson.dumps(obj, default=default, option=_OPTIONS).decode()
        except TypeError as exc:
            if not json_fallback.is_fallback_error(exc):
                raise EncodeError(str(exc)) from exc
            attachments.clear()  # collected again, in the same order
            try:
                text = json_fallback.dumps(obj, default)
            except TypeError as again:
                raise EncodeError(str(again)) from again
        return text, attachments


_DEFAULT = OrjsonCodec()


def default_codec() -> OrjsonCodec:
    """Return the shared default codec (an :class:`OrjsonCodec`)."""
    return _DEFAULT
