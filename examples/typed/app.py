"""Typed, validated events: the payloads that do not fit never reach the handlers.

    python examples/typed/app.py --port 3000        # serve it
    aiosocketio asyncapi examples.typed.app:io      # its AsyncAPI 3.0 document

tests/server/test_typed_events.py serves it and drives it with the official
socket.io-client (examples/typed/client.js), which sends good and bad payloads.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
from typing import Literal, Protocol, TypedDict

import msgspec
import pydantic

from aiosocketio import Server, Socket, TypedNamespace


class ChatMessage(TypedDict):
    """A chat line: a TypedDict."""

    room: str
    text: str


@dataclasses.dataclass
class Move:
    """A move on the board: a dataclass."""

    x: int
    y: int


class Order(msgspec.Struct):
    """An order: a msgspec Struct."""

    item: str
    quantity: int
    size: Literal["S", "M", "L"] = "M"


class Profile(pydantic.BaseModel):
    """A profile: a pydantic model."""

    name: str = pydantic.Field(min_length=1)
    age: int = pydantic.Field(ge=0)


class Receipt(msgspec.Struct):
    """The acknowledgement of an order."""

    item: str
    total: int


class ToClient(Protocol):
    """What the server sends to the clients of "/"."""

    def message(self, msg: ChatMessage, /) -> None:
        """A chat line, to everyone in its room."""

    def moved(self, move: Move, by: str, /) -> None:
        """Someone moved."""


io = Server()
main: TypedNamespace[ToClient] = TypedNamespace("/", sends=ToClient, description="The chat")


@main.on("message")
def message(socket: Socket, msg: ChatMessage) -> str:
    """Send a chat line; the ack is "ok"."""
    main.emitter(socket).message(msg)
    return "ok"


@main.on("move")
def move(socket: Socket, move: Move) -> int:
    """Move; the ack is the sum of the coordinates (the handler gets a Move)."""
    main.emitter(socket).moved(move, socket.id)
    return move.x + move.y


@main.on("order")
async def order(socket: Socket, order: Order) -> Receipt:
    """Order; the ack is a Receipt (sent as a dict)."""
    return Receipt(item=order.item, total=order.quantity * 3)


@main.on("profile")
def profile(socket: Socket, profile: Profile) -> str:
    """Set a profile; the ack greets it (the handler gets a Profile)."""
    return f"hello {profile.name}, {profile.age}"


main.attach(io)


async def serve(port: int) -> None:
    await io.listen(port, "127.0.0.1")
    print(f"listening on {io.port}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=3000)
    asyncio.run(serve(parser.parse_args().port))
