"""A small sans-I/O RESP2 codec for the subscriber connection of the Redis adapters.

redis-py's ``PubSub`` spends most of a cluster's receive path in its generic reply
machinery; a subscriber connection only ever receives arrays of bulk strings
(``message``/``pmessage``/``smessage`` and the subscription confirmations), so
:class:`RespParser` parses exactly RESP2 (and RESP3 push frames, which have the same
shape) with ``bytes.find`` and slicing. Feed it bytes; it returns the complete replies and
keeps the rest for the next call (h11 style: nothing is returned until a reply is whole).

No I/O here: :mod:`aiosocketio.adapters.redis_link` owns the socket.
"""

from __future__ import annotations

from typing import Any

from aiosocketio.exceptions import RemoteProtocolError

__all__ = ["RespError", "RespParser", "encode_command"]


class RespError(str):
    """An error reply (``-ERR ...``), returned as a value rather than raised."""

    __slots__ = ()


_INCOMPLETE: Any = object()


def encode_command(*args: str | bytes) -> bytes:
    """One command as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg.encode() if isinstance(arg, str) else arg
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class RespParser:
    """Incremental RESP2 parser: bulk strings are ``bytes``, arrays are ``list``.

    Simple strings are ``str``, integers ``int``, error replies :class:`RespError`, null
    bulk strings and arrays ``None``. A malformed stream raises
    :class:`~aiosocketio.exceptions.RemoteProtocolError`.
    """

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Any]:
        """Add ``data``; return every reply it completes (possibly none)."""
        buffer = self._buffer
        buffer += data
        replies: list[Any] = []
        pos = 0
        while pos < len(buffer):
            value, end = self._parse(buffer, pos)
            if value is _INCOMPLETE:
                break
            replies.append(value)
            pos = end
        if pos:
            del buffer[:pos]
        return replies

    def _parse(self, buffer: bytearray, pos: int) -> tuple[Any, int]:
        eol = buffer.find(b"\r\n", pos)
        if eol < 0:
            return _INCOMPLETE, pos
        kind = buffer[pos]
        try:
            if kind == 0x24:  # $ bulk string
                length = int(buffer[pos + 1 : eol])
                if length < 0:
                    return None, eol + 2
                start = eol + 2
                stop = start + length
                if len(buffer) < stop + 2:
                    return _INCOMPLETE, pos
                return bytes(buffer[start:stop]), stop + 2
            if kind in (0x2A, 0x3E):  # * array, > RESP3 push
                count = int(buffer[pos + 1 : eol])
                if count < 0:
                    return None, eol + 2
                items: list[Any] = []
                cursor = eol + 2
                size = len(buffer)
                for _ in range(count):
                    # the hot path: a pub/sub message is an array of bulk strings
                    if cursor < size and buffer[cursor] == 0x24:
                        eol = buffer.find(b"\r\n", cursor)
                        if eol < 0:
                            return _INCOMPLETE, pos
                        length = int(buffer[cursor + 1 : eol])
                        if length >= 0:
                            start = eol + 2
                            cursor = start + length + 2
                            if size < cursor:
                                return _INCOMPLETE, pos
                            items.append(bytes(buffer[start : cursor - 2]))
                            continue
                    item, cursor = self._parse(buffer, cursor)
                    if item is _INCOMPLETE:
                        return _INCOMPLETE, pos
                    items.append(item)
                return items, cursor
            if kind == 0x3A:  # : integer
                return int(buffer[pos + 1 : eol]), eol + 2
            if kind == 0x2B:  # + simple string
                return buffer[pos + 1 : eol].decode("utf-8", "replace"), eol + 2
            if kind == 0x2D:  # - error
                return RespError(buffer[pos + 1 : eol].decode("utf-8", "replace")), eol + 2
        except ValueError as exc:
            raise RemoteProtocolError(f"invalid RESP length: {exc}") from exc
        raise RemoteProtocolError(f"unexpected RESP type byte {kind:#x}")
