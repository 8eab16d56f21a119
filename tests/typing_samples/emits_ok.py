"""Typed emits that mypy accepts (tests/server/test_typed_emits.py)."""

from __future__ import annotations

from typing import Protocol, TypedDict

from aiosocketio import Server, Socket, TypedNamespace


class ChatMessage(TypedDict):
    room: str
    text: str


class ToClient(Protocol):
    def message(self, msg: ChatMessage, /) -> None: ...
    def moved(self, x: int, y: int, /) -> None: ...


io = Server()
chat: TypedNamespace[ToClient] = TypedNamespace("/chat", sends=ToClient)


def greet(socket: Socket) -> None:
    chat.emitter(socket).message({"room": "lobby", "text": "hello"})
    chat.emitter(io.of("/chat").to("lobby")).moved(1, 2)
