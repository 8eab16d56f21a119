"""The in-memory adapter: the two-way room index and its events."""

from __future__ import annotations

from typing import Any

from aiosocketio import Server
from aiosocketio.adapters import Adapter, BroadcastOptions, MemoryAdapter
from tests.server.fakes import connect_client


def make() -> tuple[Adapter, list[tuple[Any, ...]]]:
    io = Server()
    adapter = io.of("/").adapter
    assert isinstance(adapter, MemoryAdapter)
    log: list[tuple[Any, ...]] = []
    for name in ("create-room", "delete-room", "join-room", "leave-room"):
        adapter.on(name, lambda *a, name=name: log.append((name, *a)))
    return adapter, log


def test_two_way_index_and_events() -> None:
    adapter, log = make()
    adapter.add_all("s1", ["a", "b"])
    adapter.add_all("s2", ["a"])
    adapter.add_all("s2", ["a"])
    assert adapter.rooms == {"a": {"s1", "s2"}, "b": {"s1"}}
    assert adapter.sids == {"s1": {"a", "b"}, "s2": {"a"}}
    assert adapter.socket_rooms("s1") == {"a", "b"} and adapter.socket_rooms("zz") is None
    adapter.del_("s1", "b")
    adapter.del_("s1", "missing")
    assert adapter.rooms == {"a": {"s1", "s2"}}
    adapter.del_all("s1")
    adapter.del_all("s1")
    adapter.del_all("s2")
    assert adapter.rooms == {} and adapter.sids == {}
    assert log == [
        ("create-room", "a"),
        ("join-room", "a", "s1"),
        ("create-room", "b"),
        ("join-room", "b", "s1"),
        ("join-room", "a", "s2"),
        ("leave-room", "b", "s1"),
        ("delete-room", "b"),
        ("leave-room", "a", "s1"),
        ("leave-room", "a", "s2"),
        ("delete-room", "a"),
    ]


async def test_sockets_and_server_count() -> None:
    io = Server()
    _, a = await connect_client(io)
    _, b = await connect_client(io)
    adapter = io.of("/").adapter
    sa, sb = a.data["sid"], b.data["sid"]
    adapter.add_all(sa, ["r"])
    assert await adapter.sockets({"r"}) == {sa}
    assert await adapter.sockets(set()) == {sa, sb}
    assert await adapter.server_count() == 1
    found = await adapter.fetch_sockets(BroadcastOptions(except_=frozenset({"r"})))
    assert [s.id for s in found] == [sb]


def test_leave_is_proportional_to_own_rooms() -> None:
    adapter, _ = make()
    for i in range(2000):
        adapter.add_all(f"s{i}", ["big", f"own{i}"])
    adapter.del_all("s5")
    assert "s5" not in adapter.rooms["big"] and "own5" not in adapter.rooms
    assert len(adapter.rooms) == 2000
