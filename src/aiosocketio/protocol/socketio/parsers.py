"""Choosing a Socket.IO parser (sans-I/O): the default one, or a pluggable one.

The server and the client take the same ``parser`` option, as Node's ``Server`` and
socket.io-client do: ``None`` for the default parser (JSON plus binary attachments,
using the given JSON codec), or an object with ``Encoder`` and ``Decoder`` classes,
such as the :mod:`aiosocketio.protocol.socketio.msgpack_parser` module (compatible with
the npm ``socket.io-msgpack-parser``).
"""

from __future__ import annotations

from typing import Any

from aiosocketio.protocol.codec import JSONCodec
from aiosocketio.protocol.socketio.packets import Decoder, Encoder

__all__ = ["check_parser", "make_decoder", "make_encoder"]


def _factory(parser: Any, kind: str) -> Any:
    factory = getattr(parser, kind, None) or getattr(parser, f"Msgpack{kind}", None)
    if factory is None:
        raise TypeError(f"parser must provide an {kind} class")
    return factory


def check_parser(parser: Any) -> None:
    """Raise ``TypeError`` unless ``parser`` is ``None`` or has both factories."""
    if parser is not None:
        _factory(parser, "Encoder")
        _factory(parser, "Decoder")


def make_encoder(parser: Any, json: JSONCodec | None = None) -> Any:
    """A new encoder of ``parser`` (the default parser's, with ``json``, for ``None``)."""
    if parser is None:
        return Encoder(json)
    return _factory(parser, "Encoder")()


def make_decoder(parser: Any, json: JSONCodec | None = None) -> Any:
    """A new decoder of ``parser`` (the default parser's, with ``json``, for ``None``)."""
    if parser is None:
        return Decoder(json)
    return _factory(parser, "Decoder")()
