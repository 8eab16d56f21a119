"""The aiosocketio chat demo: rooms, nicknames, typing indicator and delivery receipts.

Run it with ``make demo`` or ``aiosocketio demo`` (http://127.0.0.1:3000). The page is a
plain static site (``static/``) using the official ``socket.io-client`` browser bundle,
served from the same port as Socket.IO: the built-in server hands every request outside
``/socket.io/`` to the small ASGI app below.

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
import mimetypes
import secrets
import shutil
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiosocketio.exceptions import ConnectionRefused, SocketIOError

if TYPE_CHECKING:
    from aiosocketio import Server, Socket

__all__ = [
    "DEFAULT_ROOMS",
    "STATIC_DIR",
    "VENDOR_BUNDLE",
    "ChatState",
    "StaticFiles",
    "create_server",
    "create_static_app",
    "install_vendor_bundle",
    "room_list",
]

logger = logging.getLogger("aiosocketio.examples.chat")

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
VENDOR_DIR = STATIC_DIR / "vendor"
REPO_ROOT = HERE.parents[1]
#: The official browser client, from the pinned npm peers (never committed here).
VENDOR_BUNDLE = REPO_ROOT / "tests" / "interop" / "node_modules" / "socket.io-client" / "dist"
BUNDLE_FILES = ("socket.io.min.js", "socket.io.min.js.map")

PROCESS_TAG = secrets.token_hex(3)  # message ids stay unique across a cluster
DEFAULT_ROOMS = ("general", "random", "python", "node")
MAX_NICKNAME = 24
MAX_ROOM = 32
MAX_TEXT = 500
HISTORY = 50

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


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
    redis_url: str | None = None, *, redis_key: str = "socket.io", redis_adapter: str = "pubsub"
) -> Server:
    """Build the chat's Socket.IO server.

    Args:
        redis_url: Use a Redis adapter on this URL (several demo processes then share
            rooms and broadcasts); ``None`` keeps the in-memory adapter.
        redis_key: The adapter's channel prefix (Node's ``key``); processes with the
            same key form one chat.
        redis_adapter: Which Redis adapter: ``pubsub``, ``sharded`` or ``streams``.

    Returns:
        The server; serve it with the static page as its wrapped app
        (``create_static_app()``), as ``aiosocketio demo`` does.
    """
    from aiosocketio import Server

    adapter = None
    if redis_url:
        from aiosocketio.cli import redis_adapter_factory

        adapter = redis_adapter_factory(redis_url, kind=redis_adapter, key=redis_key)
    server = Server(adapter=adapter)
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


# --------------------------------------------------------------------------- static files


class StaticFiles:
    """A tiny ASGI app serving the files of one directory (GET and HEAD only).

    ``/`` serves ``index.html``; ``/vendor/<file>`` falls back to the socket.io-client
    bundle in ``tests/interop/node_modules`` when the vendored copy is missing. Paths
    that escape the directory, and every other method, get an error status.
    """

    def __init__(self, directory: Path, fallbacks: dict[str, Path] | None = None) -> None:
        self.directory = directory.resolve()
        self.fallbacks = fallbacks or {}

    def _find(self, path: str) -> Path | None:
        relative = path.lstrip("/") or "index.html"
        if relative.endswith("/"):
            relative += "index.html"
        candidate = (self.directory / relative).resolve()
        if candidate.is_relative_to(self.directory) and candidate.is_file():
            return candidate
        fallback = self.fallbacks.get(relative)
        if fallback is not None and fallback.is_file():
            return fallback
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1000})
            return
        method = scope.get("method", "GET")
        if method not in ("GET", "HEAD"):
            await _respond(send, 405, b"method not allowed\n", "text/plain", method == "HEAD")
            return
        found = await asyncio.to_thread(self._find, str(scope.get("path", "/")))
        if found is None:
            await _respond(send, 404, b"not found\n", "text/plain", method == "HEAD")
            return
        body = await asyncio.to_thread(found.read_bytes)
        kind = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind in ("application/javascript", "application/json"):
            kind += "; charset=utf-8"
        await _respond(send, 200, body, kind, method == "HEAD")


async def _respond(send: Send, status: int, body: bytes, kind: str, head: bool) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", kind.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-cache"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"" if head else body})


def create_static_app() -> StaticFiles:
    """The ASGI app serving the chat page (``static/``) and the socket.io-client bundle."""
    fallbacks = {f"vendor/{name}": VENDOR_BUNDLE / name for name in BUNDLE_FILES}
    return StaticFiles(STATIC_DIR, fallbacks)


def install_vendor_bundle() -> bool:
    """Copy socket.io-client's browser bundle into ``static/vendor/`` (gitignored).

    Returns:
        Whether the bundle is in place (False when the npm peers are not installed;
        run ``make install``).
    """
    source = VENDOR_BUNDLE / BUNDLE_FILES[0]
    if not source.is_file():
        logger.warning("socket.io-client is not installed (%s); run `make install`", source)
        return (VENDOR_DIR / BUNDLE_FILES[0]).is_file()
    VENDOR_DIR.mkdir(parents=True, exist_ok=True)
    for name in BUNDLE_FILES:
        src = VENDOR_BUNDLE / name
        dst = VENDOR_DIR / name
        if src.is_file() and (not dst.is_file() or dst.stat().st_mtime < src.stat().st_mtime):
            shutil.copy2(src, dst)
    return True
