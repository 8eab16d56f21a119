"""The chat demo's Socket.IO side: rooms, nicknames, a typing indicator and delivery receipts.

``aiosocketio demo`` serves it with its page (``static/``, see
:mod:`aiosocketio.cli.demo.static_app`) on one port. The page loads the official
``socket.io-client`` through the server's ``/socket.io/client.js`` (``serve_client``).

Events (client -> server, each acknowledged):

* ``join(room) -> {room, history}``: leave the current room and enter ``room``;
* ``message({room, text}) -> {id, ts}``: the ack is the delivery receipt (the ✓);
* ``typing(bool)``: relayed to the others in the room.

Events (server -> client): ``message``, ``notice``, ``typing`` and ``rooms`` (the room
list with member counts).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiosocketio.exceptions import ConnectionRefused, SocketIOError

if TYPE_CHECKING:
    from aiosocketio import Server, Socket

__all__ = ["DEFAULT_ROOMS", "ChatState", "create_server", "room_list"]

logger = logging.getLogger("aiosocketio.demo")

PROCESS_TAG = secrets.token_hex(3)  # message ids stay unique across a cluster
DEFAULT_ROOMS = ("general", "random", "python", "node")
MAX_NICKNAME = 24
MAX_ROOM = 32
MAX_TEXT = 500
HISTORY = 50


# --------------------------------------------------------------------------- Socket.IO side


class ChatState:
    """What one chat process remembers: recent messages per room and who is where.

    With the Redis adapter the member counts come from every process
    (``server.fetch_sockets()``); the history stays per process.
    """

    __slots__ = ("history", "ids", "members", "refresh_pending", "tasks")

    def __init__(self) -> None:
        self.history: dict[str, deque[dict[str, Any]]] = {}
        self.members: dict[str, str] = {}  # sid -> room, for this process's sockets
        self.ids = (f"{PROCESS_TAG}-{n}" for n in itertools.count(1))
        self.refresh_pending = False
        self.tasks: set[asyncio.Future[None]] = set()

    def remember(self, room: str, message: dict[str, Any]) -> None:
        """Keep ``message`` in the room's recent history."""
        self.history.setdefault(room, deque(maxlen=HISTORY)).append(message)


async def room_list(server: Server) -> list[dict[str, Any]]:
    """The default rooms plus every room somebody is in, with member counts.

    Counted over ``server.fetch_sockets()``: every process of a Redis cluster.
    """
    counts: dict[str, int] = dict.fromkeys(DEFAULT_ROOMS, 0)
    for socket in await server.fetch_sockets():
        for room in socket.rooms:
            if room != socket.id:
                counts[room] = counts.get(room, 0) + 1
    return [{"name": name, "members": n} for name, n in counts.items()]


def _clean_room(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    name = value.strip().lower()
    if not name or len(name) > MAX_ROOM:
        return None
    if not all(ch.isalnum() or ch in "-_" for ch in name):
        return None
    return name


def create_server(
    redis_url: str | None = None,
    *,
    redis_key: str = "socket.io",
    redis_adapter: str = "pubsub",
    client_dist: str | Path | None = None,
) -> Server:
    """Build the chat's Socket.IO server.

    Args:
        redis_url: Use a Redis adapter on this URL (several demo processes then share
            rooms and broadcasts); ``None`` keeps the in-memory adapter.
        redis_key: The adapter's channel prefix (Node's ``key``); processes with the
            same key form one chat.
        redis_adapter: Which Redis adapter: ``pubsub``, ``sharded`` or ``streams``.
        client_dist: The ``dist`` folder of an installed ``socket.io-client`` to serve the
            browser client from; by default ``node_modules`` is searched from the working
            directory up, and the page falls back to the CDN (see ``serve_client``).

    Returns:
        The server; serve it with the static page as its wrapped app
        (:func:`~aiosocketio.cli.demo.static_app.create_static_app`), as
        ``aiosocketio demo`` does.
    """
    from aiosocketio import Server

    adapter = None
    if redis_url:
        from aiosocketio.cli.redis_adapters import redis_adapter_factory

        adapter = redis_adapter_factory(redis_url, kind=redis_adapter, key=redis_key)
    server = Server(adapter=adapter, serve_client=True, client_dist=client_dist)
    state = ChatState()

    def authenticate(socket: Socket) -> None:
        auth = socket.handshake.auth
        nickname = auth.get("nickname") if isinstance(auth, dict) else None
        if not isinstance(nickname, str) or not nickname.strip():
            raise ConnectionRefused("a nickname is required", {"field": "nickname"})
        nickname = nickname.strip()
        if len(nickname) > MAX_NICKNAME:
            raise ConnectionRefused(
                f"nickname longer than {MAX_NICKNAME} characters", {"field": "nickname"}
            )
        socket.data["nickname"] = nickname

    server.use(authenticate)

    async def refresh_rooms() -> None:
        await asyncio.sleep(0.05)  # one update for a burst of joins and leaves
        state.refresh_pending = False
        try:
            server.emit("rooms", await room_list(server))
        except SocketIOError as exc:  # a cluster peer did not answer in time
            logger.warning("could not count the rooms' members: %s", exc)

    def publish_rooms() -> None:
        if state.refresh_pending:
            return
        state.refresh_pending = True
        task = asyncio.ensure_future(refresh_rooms())
        state.tasks.add(task)
        task.add_done_callback(state.tasks.discard)

    @server.on("connection")
    def on_connection(socket: Socket) -> None:
        nickname: str = socket.data["nickname"]
        logger.info("%s connected (%s)", nickname, socket.id)

        async def enter(room: str) -> None:
            previous = state.members.get(socket.id)
            if previous == room:
                publish_rooms()
                return
            if previous is not None:
                await socket.leave(previous)
                socket.to(previous).emit("notice", {"room": previous, "text": f"{nickname} left"})
                socket.to(previous).emit("typing", {"nickname": nickname, "typing": False})
            await socket.join(room)
            state.members[socket.id] = room
            socket.to(room).emit("notice", {"room": room, "text": f"{nickname} joined"})
            publish_rooms()

        @socket.on("join")
        async def on_join(room: Any) -> dict[str, Any]:
            name = _clean_room(room)
            if name is None:
                return {"error": "invalid room name"}
            await enter(name)
            # The room list (with this join counted) follows in a "rooms" broadcast.
            return {"room": name, "history": list(state.history.get(name, ()))}

        @socket.on("message")
        def on_message(payload: Any) -> dict[str, Any]:
            room = state.members.get(socket.id)
            text = payload.get("text") if isinstance(payload, dict) else None
            if room is None:
                return {"error": "join a room first"}
            if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
                return {"error": "invalid message"}
            message = {
                "id": next(state.ids),
                "room": room,
                "nickname": nickname,
                "text": text.strip(),
                "ts": int(time.time() * 1000),
            }
            state.remember(room, message)
            socket.to(room).emit("message", message)
            return {"id": message["id"], "ts": message["ts"]}

        @socket.on("typing")
        def on_typing(typing: Any) -> None:
            room = state.members.get(socket.id)
            if room is not None:
                socket.to(room).emit("typing", {"nickname": nickname, "typing": bool(typing)})

        @socket.on("disconnect")
        def on_disconnect(reason: Any, *_details: Any) -> None:
            logger.info("%s disconnected (%s)", nickname, reason)
            room = state.members.pop(socket.id, None)
            if room is not None:
                server.to(room).emit("notice", {"room": room, "text": f"{nickname} left"})
                server.to(room).emit("typing", {"nickname": nickname, "typing": False})
                publish_rooms()

    return server
