"""Prepared messages: every form a transport sends, built once."""

from __future__ import annotations

from aiosocketio.protocol.engineio.packets import Packet, PacketType
from aiosocketio.protocol.prepared import PreparedMessage, websocket_frames
from aiosocketio.protocol.websocket import binary_frame, text_frame


def test_every_form_of_a_prepared_message() -> None:
    msg = PreparedMessage(['51-["up",{"_placeholder":true,"num":0}]', b"\x01\x02"])
    assert msg.ws_bytes == text_frame('451-["up",{"_placeholder":true,"num":0}]') + (
        binary_frame(b"\x01\x02")
    )
    assert msg.ws_bytes is msg.ws_bytes  # built once
    assert msg.ws_messages == ('451-["up",{"_placeholder":true,"num":0}]', b"\x01\x02")
    assert msg.packets() == (
        Packet(PacketType.MESSAGE, '51-["up",{"_placeholder":true,"num":0}]'),
        Packet(PacketType.MESSAGE, b"\x01\x02"),
    )
    assert msg.packets() is msg.packets()


def test_websocket_frames_of_engine_packets() -> None:
    packets = [Packet(PacketType.PING), Packet(PacketType.MESSAGE, b"\xff")]
    assert websocket_frames(packets) == text_frame("2") + binary_frame(b"\xff")
    assert websocket_frames([]) == b""
    # the frames of a prepared message are those of its packets
    msg = PreparedMessage(["2", b"\x00"])
    assert websocket_frames(msg.packets()) == msg.ws_bytes
