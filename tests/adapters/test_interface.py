"""The seam between the server and the adapters (aiosocketio.adapters.interface).

* The server's classes satisfy the structural types an adapter needs, and every adapter
  satisfies what the server needs: mypy checks the functions below.
* The adapters import no server module, not even for type checking; the server imports
  from the adapters only the interface and the in-memory adapter.
* An adapter written against the interface alone (no base class) runs a server.
"""

from __future__ import annotations

import ast
import asyncio
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from aiosocketio import Server
from aiosocketio.adapters import (
    Adapter,
    AdapterLike,
    BroadcastOptions,
    MemoryAdapter,
    NamespaceLike,
    SessionAwareAdapter,
    SocketLike,
)
from aiosocketio.adapters.cluster import ClusterAdapter, ClusterAdapterWithHeartbeat
from aiosocketio.adapters.redis import RedisAdapter
from aiosocketio.adapters.sharded import ShardedRedisAdapter
from aiosocketio.adapters.streams import RedisStreamsAdapter
from aiosocketio.protocol.socketio.packets import Packet, PacketType
from aiosocketio.runtime.events import EventEmitter
from aiosocketio.server import Namespace, RemoteSocket, Socket
from tests.server.fakes import connect_client, settle

SRC = Path(__file__).resolve().parents[2] / "src" / "aiosocketio"


# -- checked by mypy ---------------------------------------------------------------------------


def _namespace(nsp: Namespace) -> NamespaceLike:
    return nsp


def _sockets(local: Socket, remote: RemoteSocket) -> list[SocketLike]:
    return [local, remote]


def _adapters(
    a: Adapter,
    b: MemoryAdapter,
    c: SessionAwareAdapter,
    d: ClusterAdapter,
    e: ClusterAdapterWithHeartbeat,
    f: RedisAdapter,
    g: ShardedRedisAdapter,
    h: RedisStreamsAdapter,
) -> list[AdapterLike]:
    return [a, b, c, d, e, f, g, h]


def test_the_structural_types_are_satisfied() -> None:
    io = Server()
    assert _namespace(io.sockets) is io.sockets
    adapter = io.sockets.adapter
    assert isinstance(adapter, MemoryAdapter)


# -- imports -----------------------------------------------------------------------------------


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, type-checking imports included (relative resolved)."""
    tree = ast.parse(path.read_text())
    package = ["aiosocketio", *path.relative_to(SRC).parent.parts]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base = node.module or ""
            else:
                base = ".".join([*package[: len(package) - (node.level - 1)], node.module or ""])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def test_adapters_import_no_server_module() -> None:
    for path in sorted((SRC / "adapters").glob("*.py")):
        imported = _imports(path)
        server = {
            m for m in imported if m == "aiosocketio.server" or m.startswith("aiosocketio.server.")
        }
        assert server == set(), path.name
        # `from aiosocketio import Server` reaches the server too
        assert "aiosocketio.Server" not in imported, path.name


def test_the_server_imports_only_the_interface_and_the_memory_adapter() -> None:
    allowed = {"aiosocketio.adapters.interface", "aiosocketio.adapters.memory"}
    for path in sorted((SRC / "server").glob("*.py")):
        modules = {
            m.rsplit(".", 1)[0] if m.rsplit(".", 1)[0].startswith("aiosocketio.adapters.") else m
            for m in _imports(path)
            if m.startswith("aiosocketio.adapters")
        }
        assert modules <= allowed, path.name


# -- an adapter on the interface alone -----------------------------------------------------------


class Recorder(EventEmitter):
    """Not an Adapter subclass: it keeps its rooms itself and writes through the namespace
    (the event emitter gives it ``on`` for the room events, which it never emits)."""

    def __init__(self, nsp: NamespaceLike) -> None:
        self.nsp = nsp
        self.rooms: dict[str, set[str]] = {}
        self.sids: dict[str, set[str]] = {}
        self.log: list[str] = []

    async def init(self) -> None:
        self.log.append("init")

    async def close(self) -> None:
        self.log.append("close")

    async def server_count(self) -> int:
        return 1

    def add_all(self, sid: str, rooms: Iterable[str]) -> None:
        for room in rooms:
            self.rooms.setdefault(room, set()).add(sid)
            self.sids.setdefault(sid, set()).add(room)

    def del_(self, sid: str, room: str) -> None:
        self.rooms.get(room, set()).discard(sid)
        self.sids.get(sid, set()).discard(room)

    def del_all(self, sid: str) -> None:
        for room in self.sids.pop(sid, set()):
            self.rooms.get(room, set()).discard(sid)

    def socket_rooms(self, sid: str) -> set[str] | None:
        return self.sids.get(sid)

    async def sockets(self, rooms: Any) -> set[str]:
        return set(self.sids)

    def _targets(self, opts: BroadcastOptions) -> list[SocketLike]:
        sids = set().union(*(self.rooms.get(r, set()) for r in opts.rooms)) or set(self.sids)
        return [self.nsp.sockets[sid] for sid in sorted(sids) if sid in self.nsp.sockets]

    def broadcast(self, packet: Packet, opts: BroadcastOptions) -> None:
        self.log.append(f"broadcast {packet.data[0]}")
        self.nsp.deliver(packet, self._targets(opts), opts.flags.volatile)

    def broadcast_with_ack(
        self,
        packet: Packet,
        opts: BroadcastOptions,
        client_count_callback: Callable[[int], None],
        ack: Callable[[list[Any]], None],
    ) -> None:
        count = self.nsp.deliver_with_ack(packet, self._targets(opts), False, ack)
        client_count_callback(count)

    async def fetch_sockets(self, opts: BroadcastOptions) -> list[SocketLike]:
        remote = self.nsp.remote_socket(
            {"id": "elsewhere", "handshake": {}, "rooms": [], "data": 7}
        )
        return [*self._targets(opts), remote]

    def add_sockets(self, opts: BroadcastOptions, rooms: Iterable[str]) -> None:
        for socket in self._targets(opts):
            socket.join(list(rooms))

    def del_sockets(self, opts: BroadcastOptions, rooms: Iterable[str]) -> None:
        for socket in self._targets(opts):
            for room in rooms:
                socket.leave(room)

    def disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        for socket in self._targets(opts):
            socket.disconnect(close)

    def persist_session(self, session: dict[str, Any]) -> None:
        pass

    async def restore_session(self, pid: str, offset: str) -> dict[str, Any] | None:
        return None

    def server_side_emit(self, args: list[Any], ack: Any = None, timeout: Any = None) -> None:
        self.nsp.deliver_server_side_emit(args, None)


async def test_an_adapter_on_the_interface_alone_runs_a_server() -> None:
    io = Server(adapter=Recorder)
    adapter = io.sockets.adapter
    assert isinstance(adapter, Recorder)
    (c1, _), (c2, _) = [await connect_client(io) for _ in range(2)]
    first = sorted(io.sockets.sockets)[0]
    io.sockets.sockets[first].join("room")
    io.to("room").emit("hello", 1)
    io.emit("all")
    assert [p.data for p in c1.new_packets()] + [p.data for p in c2.new_packets()] in (
        [["hello", 1], ["all"], ["all"]],
        [["all"], ["hello", 1], ["all"]],
    )
    task = asyncio.ensure_future(io.timeout(1).emit_with_ack("ask"))
    await settle()
    for conn in (c1, c2):
        (ask,) = conn.new_packets()
        conn.inject(Packet(PacketType.ACK, "/", ["yes"], ask.id))
    assert await task == ["yes", "yes"]
    found = await io.fetch_sockets()
    assert [type(s) for s in found] == [Socket, Socket, RemoteSocket]
    assert found[-1].data == 7
    got: list[Any] = []
    io.on("sse", lambda *a: got.append(a))
    io.server_side_emit("sse", 2)
    assert got == [(2,)]
    await io.close()
    assert adapter.log[0] == "init" and adapter.log[-1] == "close"
