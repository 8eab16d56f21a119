"""The wire of ``createShardedAdapter`` (@socket.io/redis-adapter 8.3): channels and encoding.

The sharded adapter speaks the cluster protocol of
:class:`~aiosocketio.protocol.cluster.session.ClusterSession` over Redis 7 sharded
pub/sub. Channels, for ``channel_prefix`` (default ``"socket.io"``) and a namespace:

* ``<prefix>#<nsp>#``: every message to every server;
* ``<prefix>#<nsp>#<uid>#``: responses to the server ``uid``;
* ``<prefix>#<nsp>#<room>#``: broadcasts to one room, in the dynamic subscription modes.

Subscription modes: ``"static"`` (only the two channels above), ``"dynamic"`` (a server
also subscribes to the channel of each room it has, except private rooms: a socket's own
id) and ``"dynamic-private"`` (private rooms included). A broadcast with acks always goes
on the main channel. A message is JSON, or msgpack when it carries binary.
"""

from __future__ import annotations

from typing import Any, Literal

from aiosocketio.protocol.cluster.wire import (
    MAY_CONTAIN_BINARY,
    MessageType,
    dumps_json,
    has_binary,
    pack,
)

__all__ = ["SubscriptionMode", "encode_message", "looks_like_a_socket_id", "message_channel"]

SubscriptionMode = Literal["static", "dynamic", "dynamic-private"]


def looks_like_a_socket_id(room: str) -> bool:
    """Node's test: socket ids are 20 characters long."""
    return len(room) == 20


def encode_message(message: dict[str, Any]) -> bytes:
    """JSON, or msgpack when a message type that may carry binary does.

    Raises:
        LocalProtocolError: the message cannot be encoded.
    """
    if message.get("type") in MAY_CONTAIN_BINARY and has_binary(message.get("data")):
        return pack(message)
    return dumps_json(message)


def message_channel(message: dict[str, Any], channel: str, mode: SubscriptionMode) -> str:
    """Where ``message`` is published: the main ``channel``, or one room's channel."""
    if message.get("type") != MessageType.BROADCAST or mode == "static":
        return channel
    data = message["data"]
    if "requestId" in data:
        return channel
    rooms = data["opts"]["rooms"]
    if len(rooms) != 1:
        return channel
    room = rooms[0]
    if mode == "dynamic" and looks_like_a_socket_id(room):
        return channel
    return f"{channel}{room}#"
