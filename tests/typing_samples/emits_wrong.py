"""Typed emits that mypy rejects (tests/server/test_typed_emits.py expects each error)."""

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
    chat.emitter(socket).mesage({"room": "lobby", "text": "hello"})  # line 25: no such event
    chat.emitter(socket).message({"room": "lobby", "txt": "hello"})  # line 26: wrong key
    chat.emitter(socket).message("hello")  # line 27: wrong payload type
    chat.emitter(io.of("/chat").to("lobby")).moved(1)  # line 28: a missing argument
    chat.emitter(socket).moved(1, "2")  # line 29: wrong type
