"""A Socket.IO packet encoded once, in every form a transport sends it.

The hot path of a broadcast: the server encodes the packet once into a
:class:`PreparedMessage`, and every recipient's connection takes the form it needs from
the same object: the WebSocket frame bytes (built once, appended to each write buffer),
the WebSocket messages (for channels that frame themselves), or Engine.IO MESSAGE packets
(for long-polling). Nothing here is per recipient. :func:`websocket_frames` frames any
other Engine.IO packets the same way (a text frame for text, a binary frame for bytes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from aiosocketio.protocol.engineio.packets import Packet, PacketType, encode_packet
from aiosocketio.protocol.websocket import binary_frame, text_frame

__all__ = ["PreparedMessage", "websocket_frames"]

_MESSAGE = PacketType.MESSAGE


class PreparedMessage:
    """One Socket.IO packet encoded once and shared by every recipient.

    Args:
        parts: ``Encoder.encode()`` output: the text, then any binary attachments.
    """

    __slots__ = ("_messages", "_packets", "_ws", "parts")

    def __init__(self, parts: Sequence[str | bytes]) -> None:
        self.parts = tuple(parts)
        self._ws: bytes | None = None
        self._messages: tuple[str | bytes, ...] | None = None
        self._packets: tuple[Packet, ...] | None = None

    @property
    def ws_bytes(self) -> bytes:
        """The WebSocket frames of every part, built on first use."""
        ws = self._ws
        if ws is None:
            frames = []
            for part in self.parts:
                if isinstance(part, str):
                    frames.append(text_frame("4" + part))
                else:
                    frames.append(binary_frame(part))
            ws = self._ws = b"".join(frames)
        return ws

    @property
    def ws_messages(self) -> tuple[str | bytes, ...]:
        """The WebSocket messages of every part (for channels that cannot take prebuilt
        frames), built on first use: every recipient is handed the same objects."""
        messages = self._messages
        if messages is None:
            messages = self._messages = tuple(
                "4" + part if isinstance(part, str) else part for part in self.parts
            )
        return messages

    def packets(self) -> tuple[Packet, ...]:
        """The parts as Engine.IO MESSAGE packets (for polling and the slow path), built
        on first use and shared by every recipient."""
        packets = self._packets
        if packets is None:
            packets = self._packets = tuple(Packet(_MESSAGE, part) for part in self.parts)
        return packets


def websocket_frames(
    packets: Iterable[Packet], encode: Callable[[Packet], str | bytes] = encode_packet
) -> bytes:
    """The WebSocket frames of Engine.IO packets, one message each, joined (for channels
    that take prebuilt frames).

    Raises:
        LocalProtocolError: a packet is not encodable.
    """
    frames = []
    for packet in packets:
        encoded = encode(packet)
        if isinstance(encoded, str):
            frames.append(text_frame(encoded))
        else:
            frames.append(binary_frame(encoded))
    return b"".join(frames)
