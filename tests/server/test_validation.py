"""Validation of annotated handlers, through a fake Engine.IO connection: several
arguments, Node-style acks, unannotated and unresolvable handlers, ``once``, the log."""

from __future__ import annotations

import dataclasses
import logging
import sys
from typing import Annotated, Any, TypedDict

import msgspec
import pydantic
import pytest

from aiosocketio import Server, Socket
from aiosocketio.protocol.socketio.packets import PacketType
from aiosocketio.server.validation import PayloadRejected, check_for, engine_for
from tests.server.fakes import connect_client, event, settle


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Tag(TypedDict):
    name: str


class Item(msgspec.Struct):
    sku: str


async def test_several_arguments_each_checked() -> None:
    io = Server()
    got: list[Any] = []

    @io.on("connection")
    def on_conn(socket: Socket) -> None:
        @socket.on("place")
        def place(point: Point, label: str, extra: Any = None) -> Point:
            got.append((point, label, extra))
            return point

    conn, _ = await connect_client(io)
    conn.inject(event("/", "place", {"x": 1, "y": 2}, "a", {"any": "thing"}, id=1))
    conn.inject(event("/", "place", {"x": "no", "y": 2}, 3, id=2))
    await settle()
    acks = {p.id: p for p in conn.new_packets()}
    assert got == [(Point(1, 2), "a", {"any": "thing"})]  # converted; Any passes as it is
    assert acks[1].data == [{"x": 1, "y": 2}]  # the dataclass answer, as an object
    rejection = acks[2].data[0]
    assert rejection["error"] == "validation" and rejection["event"] == "place"
    assert [(d["arg"], d["param"], d["path"]) for d in rejection["detail"]] == [
        (0, "point", "$.x"),
        (1, "label", "$"),
    ]


async def test_node_style_ack_and_error_event(caplog: pytest.LogCaptureFixture) -> None:
    io = Server()
    got: list[Any] = []

    @io.on("connection")
    def on_conn(socket: Socket) -> None:
        @socket.on("tag")
        def tag(t: Tag, ack: Any = None) -> None:
            got.append(t)
            if ack is not None:
                ack("tagged")

    caplog.set_level(logging.WARNING, logger="aiosocketio.server")
    conn, _ = await connect_client(io)
    conn.inject(event("/", "tag", {"name": "x"}, id=1))
    conn.inject(event("/", "tag", {"name": 1}, id=2))
    conn.inject(event("/", "tag", {"nom": "x"}))  # no ack: an "error" event
    conn.inject(event("/", "tag", {"nom": "y"}))
    await settle()
    packets = conn.new_packets()
    acks = {p.id: p.data for p in packets if p.type == PacketType.ACK}
    errors = [p.data for p in packets if p.type == PacketType.EVENT]
    assert got == [{"name": "x"}]
    assert acks[1] == ["tagged"]
    assert acks[2][0]["detail"][0]["path"] == "$.name"
    assert len(errors) == 2 and all(e[0] == "error" for e in errors)
    assert errors[0][1]["event"] == "tag" and errors[0][1]["error"] == "validation"
    lines = [r.getMessage() for r in caplog.records if "was rejected" in r.getMessage()]
    assert len(lines) == 1  # once per socket and event
    assert "'tag'" in lines[0] and "namespace '/'" in lines[0] and "$.name" in lines[0]


async def test_unannotated_and_unresolvable_handlers_are_not_checked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    io = Server()
    got: list[Any] = []

    @io.on("connection")
    def on_conn(socket: Socket) -> None:
        class Local(msgspec.Struct):  # not resolvable from the module's globals
            a: int

        def plain(data):  # type: ignore[no-untyped-def]
            got.append(data)

        def local(data: Local) -> None:
            got.append(data)

        socket.on("plain", plain)
        socket.on("local", local)

    caplog.set_level(logging.WARNING, logger="aiosocketio.server")
    conn, _ = await connect_client(io)
    conn.inject(event("/", "plain", {"any": 1}))
    conn.inject(event("/", "local", "not a Local"))
    await settle()
    assert got == [{"any": 1}, "not a Local"]
    assert any("cannot be resolved" in r.getMessage() for r in caplog.records)


def test_engines() -> None:
    assert engine_for(Item) == "msgspec"
    assert engine_for(Point) == "pydantic"
    # typing.TypedDict: pydantic refuses it before 3.12
    assert engine_for(Tag) == ("msgspec" if sys.version_info < (3, 12) else "pydantic")
    assert engine_for(list[int]) == "pydantic"

    def f(item: Item, n: int) -> None:
        pass

    def g(n: Annotated[int, pydantic.Field(ge=0)]) -> None:
        pass

    bounded = check_for(g, None)
    assert bounded is not None and bounded([0]) == [0]
    with pytest.raises(PayloadRejected, match="greater than or equal to 0"):
        bounded([-1])

    plan = check_for(f, None)
    assert plan is not None
    assert plan([{"sku": "a"}, "3"]) == [Item("a"), 3]
    with pytest.raises(PayloadRejected) as info:
        plan([{"sku": 1}, "x"])
    assert [d["param"] for d in info.value.detail] == ["item", "n"]


async def test_a_missing_argument_is_reported_as_before(caplog: pytest.LogCaptureFixture) -> None:
    io = Server()

    @io.on("connection")
    def on_conn(socket: Socket) -> None:
        @socket.on("place")
        def place(point: Point, label: str) -> str:
            return label

    caplog.set_level(logging.ERROR, logger="aiosocketio.server")
    conn, _ = await connect_client(io)
    conn.inject(event("/", "place", {"x": 1, "y": 2}, id=1))  # the label is missing
    await settle()
    assert conn.new_packets() == []  # no ack, as in Node when the handler fails
    (line,) = [r.getMessage() for r in caplog.records]
    assert "place(point, label) takes 2 arguments but the client sent 1" in line
