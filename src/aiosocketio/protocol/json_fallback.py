"""JSON for the values orjson refuses but JavaScript accepts: lone surrogates, deep nesting.

The official client sends whatever ``JSON.stringify`` makes of a JavaScript value, and
Node echoes it back. Two kinds of legal payloads are beyond orjson:

* strings with a lone surrogate (half of an emoji, ``"ab\\ud83d"``): ``JSON.stringify``
  escapes it as ``\\ud83d``, which orjson refuses to decode, and a Python ``str`` holding
  one cannot be encoded by orjson either (it is not valid UTF-8);
* values nested deeper than orjson encodes (254 levels), while it decodes 1024.

:func:`loads` and :func:`dumps` handle both, with no recursion (so the interpreter's
recursion limit does not apply either). They are only the fallbacks of the orjson codec,
called when orjson refused a payload for one of these reasons; the results are those of
``JSON.parse`` / ``JSON.stringify``: a lone surrogate decodes to that code point and
encodes back to the same ``\\uXXXX`` escape. Both stop at :data:`MAX_DEPTH` levels, the
depth orjson decodes, so what one side accepts the other does too.
"""

from __future__ import annotations

import json.decoder
import re
from collections.abc import Callable, Iterator
from typing import Any

import orjson

__all__ = ["MAX_DEPTH", "dumps", "is_fallback_error", "loads"]

MAX_DEPTH = 1024
"""The deepest nesting decoded and encoded (orjson's decoding limit)."""

_OPTIONS = orjson.OPT_NON_STR_KEYS
_SURROGATE = re.compile("[\ud800-\udfff]")
_NUMBER = re.compile(r"(-?(?:0|[1-9][0-9]*))(\.[0-9]+)?([eE][-+]?[0-9]+)?")
# the C string scanner of the standard library: it decodes escapes, lone surrogates too
_scanstring: Callable[[str, int, bool], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]
_I64_MIN = -(1 << 63)
_U64_MAX = (1 << 64) - 1


def is_fallback_error(exc: Exception) -> bool:
    """Whether orjson refused a value for a reason this module handles."""
    text = str(exc)
    return "surrogate" in text or "Recursion limit" in text or "recursion" in text


# -- decoding -------------------------------------------------------------------------------


def _skip(text: str, pos: int) -> int:
    """Skip JSON whitespace."""
    end = len(text)
    while pos < end and text[pos] in " \t\n\r":
        pos += 1
    return pos


def _fail(message: str, pos: int) -> ValueError:
    return ValueError(f"{message} at char {pos}")


def loads(data: str | bytes) -> Any:
    """Parse JSON as ``JSON.parse`` does, lone surrogate escapes included.

    Raises:
        ValueError: not valid JSON, or nested deeper than :data:`MAX_DEPTH`.
    """
    text = data.decode() if isinstance(data, (bytes, bytearray, memoryview)) else data
    pos = _skip(text, 0)
    # the containers being filled: [container, pending key (dicts)]
    stack: list[list[Any]] = []
    result: Any = None
    while True:
        # -- a value starts at pos
        if pos >= len(text):
            raise _fail("unexpected end of data", pos)
        char = text[pos]
        value: Any
        opened = False
        if char == '"':
            value, pos = _scanstring(text, pos + 1, True)
        elif char == "{" or char == "[":
            if len(stack) >= MAX_DEPTH:
                raise _fail("depth limit exceeded", pos)
            pos = _skip(text, pos + 1)
            close = "}" if char == "{" else "]"
            if pos < len(text) and text[pos] == close:
                value = {} if char == "{" else []
                pos += 1
            else:
                value = {} if char == "{" else []
                stack.append([value, None])
                opened = True
        elif char == "t" and text.startswith("true", pos):
            value, pos = True, pos + 4
        elif char == "f" and text.startswith("false", pos):
            value, pos = False, pos + 5
        elif char == "n" and text.startswith("null", pos):
            value, pos = None, pos + 4
        else:
            match = _NUMBER.match(text, pos)
            if match is None or match.end() == pos:
                raise _fail("invalid value", pos)
            integer, fraction, exponent = match.groups()
            if fraction or exponent:
                value = float(match.group())
                if value in (float("inf"), float("-inf")):
                    raise _fail("number is infinity", pos)
            else:
                value = int(integer)
                if not _I64_MIN <= value <= _U64_MAX:
                    value = float(value)
            pos = match.end()
        if opened:
            # a dict's first key, or a list's first value, comes next
            frame = stack[-1]
            if type(frame[0]) is dict:
                pos = _read_key(text, pos, frame)
            continue
        # -- value is complete: store it in its container, or it is the result
        while True:
            if not stack:
                result = value
                pos = _skip(text, pos)
                if pos != len(text):
                    raise _fail("trailing data", pos)
                return result
            frame = stack[-1]
            container = frame[0]
            if type(container) is dict:
                container[frame[1]] = value
            else:
                container.append(value)
            pos = _skip(text, pos)
            if pos >= len(text):
                raise _fail("unexpected end of data", pos)
            char = text[pos]
            if char == ",":
                pos = _skip(text, pos + 1)
                if type(container) is dict:
                    pos = _read_key(text, pos, frame)
                break  # the next value
            if char == ("}" if type(container) is dict else "]"):
                stack.pop()
                value = container
                pos += 1
                continue  # the container is the completed value
            raise _fail("expected ',' or a closing bracket", pos)


def _read_key(text: str, pos: int, frame: list[Any]) -> int:
    """Read ``"key":`` into ``frame``; return where its value starts."""
    if pos >= len(text) or text[pos] != '"':
        raise _fail("expected a key", pos)
    key, pos = _scanstring(text, pos + 1, True)
    pos = _skip(text, pos)
    if pos >= len(text) or text[pos] != ":":
        raise _fail("expected ':'", pos)
    frame[1] = key
    return _skip(text, pos + 1)


# -- encoding -------------------------------------------------------------------------------


_END: Any = object()


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _string(text: str) -> str:
    """A JSON string as ``JSON.stringify`` writes it (a lone surrogate as ``\\udXXX``)."""
    try:
        return orjson.dumps(text).decode()
    except TypeError:
        pass
    # A high and a low surrogate in a row are one character in JavaScript: join them.
    text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    parts = ['"']
    start = 0
    for match in _SURROGATE.finditer(text):
        if match.start() > start:
            parts.append(orjson.dumps(text[start : match.start()]).decode()[1:-1])
        parts.append(_escape(match))
        start = match.end()
    if start < len(text):
        parts.append(orjson.dumps(text[start:]).decode()[1:-1])
    parts.append('"')
    return "".join(parts)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return _string(key)
    # orjson's OPT_NON_STR_KEYS: ints, floats, bools, None, enums, dates become strings
    encoded = orjson.dumps({key: None}, option=_OPTIONS).decode()
    return encoded[1 : -len(":null}")]


def dumps(obj: Any, default: Callable[[Any], Any] | None = None) -> str:
    """Serialise ``obj`` as ``JSON.stringify`` does, with orjson's types and options.

    Containers (dicts, lists, tuples) are walked here without recursion; every other
    value goes through orjson (with ``default``), in the order orjson itself would meet
    them, so a ``default`` that collects values sees the same sequence.

    Raises:
        TypeError: a value has no JSON form, or the nesting is deeper than
            :data:`MAX_DEPTH` (a cycle, for example).
    """
    parts: list[str] = []
    # open containers: [items iterator, is_dict, first]
    stack: list[list[Any]] = []
    value = obj
    while True:
        if isinstance(value, str):
            parts.append(_string(value))
        elif isinstance(value, dict):
            if len(stack) >= MAX_DEPTH:
                raise TypeError("Recursion limit reached")
            parts.append("{")
            stack.append([iter(value.items()), True, True])
        elif isinstance(value, (list, tuple)):
            if len(stack) >= MAX_DEPTH:
                raise TypeError("Recursion limit reached")
            parts.append("[")
            stack.append([iter(value), False, True])
        else:
            parts.append(orjson.dumps(value, default=default, option=_OPTIONS).decode())
        # the next value, closing the containers that are done
        while True:
            if not stack:
                return "".join(parts)
            frame = stack[-1]
            items: Iterator[Any] = frame[0]
            item: Any = next(items, _END)
            if item is _END:
                parts.append("}" if frame[1] else "]")
                stack.pop()
                continue
            if not frame[2]:
                parts.append(",")
            frame[2] = False
            if frame[1]:
                key, value = item
                parts.append(_key(key))
                parts.append(":")
            else:
                value = item
            break
