"""An app written the usual way, for ``aiosocketio asyncapi``: ``io.on("connection")``,
then ``socket.on(event, handler)`` inside it (tests/server/test_asyncapi.py)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any, TypedDict

import pydantic

from aiosocketio import Server, Socket
from aiosocketio.exceptions import ConnectionRefused


class Chat(TypedDict):
    """A chat line: a TypedDict."""

    room: str
    text: str


@dataclasses.dataclass
class Point:
    """A point: a dataclass."""

    x: int
    y: int


class Profile(pydantic.BaseModel):
    """A profile: a pydantic model."""

    name: str = pydantic.Field(min_length=1)
    age: int = pydantic.Field(ge=0)


TOKEN = "s3cret"


def make_app() -> Server:
    io = Server()

    @io.on("connection")
    def connection(socket: Socket) -> None:
        print("connected", socket.id)  # the CLI keeps it out of the document

        @socket.on("chat")
        def chat(msg: Chat) -> None:
            """Send a chat line to a room."""
            socket.to(msg["room"]).emit("chat", msg)

        @socket.on("point")
        async def point(p: Point, ack: Callable[..., Any]) -> None:
            """Sum a point; the ack callback gets the sum."""
            ack(p.x + p.y)

        @socket.on("profile")
        def profile(p: Profile, greeting: str) -> str:
            """Set a profile; the ack greets it."""
            return f"{greeting} {p.name}"

        @socket.on("ping")
        def ping(*args):  # type: ignore[no-untyped-def]  # unannotated on purpose
            return "pong"

        @socket.on("log")
        def log(data):  # type: ignore[no-untyped-def]  # unannotated on purpose
            pass

    admin = io.of("/admin")

    @admin.use
    def need_token(socket: Socket) -> None:
        if socket.handshake.auth.get("token") != TOKEN:
            raise ConnectionRefused("not authorized")

    @admin.on("connection")
    def admin_connection(socket: Socket) -> None:
        @socket.on("kick")
        def kick(sid: str) -> bool:
            """Disconnect a socket of "/"."""
            return True

    rooms = io.of(re.compile(r"^/room-\d+$"))

    @rooms.on("connection")
    def room_connection(socket: Socket) -> None:
        @socket.on("say")
        def say(text: str) -> None:
            socket.emit("said", text)

    return io


io = make_app()
