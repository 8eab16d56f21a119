"""The Server that ``tests/interop/js/server_scenarios.js`` drives (one app, every scenario)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from aiosocketio import AckTimeout, ConnectionRefused, Server, Socket
from aiosocketio.engine.socket import EngineSocket, Transport


class Record:
    """What the server saw, for the assertions the client cannot make."""

    def __init__(self) -> None:
        self.disconnects: dict[str, str] = {}
        self.connection_errors: list[dict[str, Any]] = []
        self.engine_connections = 0
        self.upgrading: list[str] = []
        # per WebSocket (at connection or upgrade): does its channel take prebuilt frames?
        # (False on the built-in server means permessage-deflate was negotiated)
        self.ws_prebuilt_frames: list[bool] = []


def make_app(**options: Any) -> tuple[Server, Record]:
    """Build the scenario server and its record."""
    settings: dict[str, Any] = {"ping_interval": 0.25, "ping_timeout": 1.0}
    settings.update(options)
    io = Server(**settings)
    record = Record()

    def on_engine_connection(conn: EngineSocket) -> None:
        record.engine_connections += 1

        def on_upgrading(transport: Transport) -> None:
            record.upgrading.append(transport.name)

        conn.on("upgrading", on_upgrading)

        def note_channel() -> None:
            channel = conn._channel
            if channel is not None:
                record.ws_prebuilt_frames.append(channel.can_write_frames)

        if conn.transport.name == "websocket":
            note_channel()
        conn.on("upgrade", lambda transport: note_channel())

    io.engine.on("connection", on_engine_connection)
    io.engine.on("connection_error", record.connection_errors.append)

    admin = io.of("/admin")

    dynamic = io.of(re.compile(r"^/dyn-\d+$"))

    @dynamic.on("connection")
    def on_dynamic(socket: Socket) -> None:
        socket.emit("dyn-welcome", socket.nsp.name)

    @admin.use
    def check_token(socket: Socket) -> None:
        if socket.handshake.auth.get("token") != "secret":
            raise ConnectionRefused("not authorized", {"reason": "bad token"})

    @admin.on("connection")
    def on_admin(socket: Socket) -> None:
        socket.emit("admin-welcome", {"id": socket.id, "conn": socket.conn.id})

    @io.use
    def mw1(socket: Socket) -> None:
        socket.data["order"] = ["mw1"]

    @io.use
    async def mw2(socket: Socket) -> None:
        await asyncio.sleep(0.001)
        socket.data["order"].append("mw2")

    @io.use
    def mw3(socket: Socket) -> None:
        socket.data["order"].append("mw3")
        if socket.handshake.auth.get("refuse"):
            raise ConnectionRefused("refused", {"code": 42})

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        handshake = socket.handshake.to_dict()
        socket.emit(
            "welcome",
            {
                "id": socket.id,
                "conn": socket.conn.id,
                "order": socket.data["order"],
                "bin": b"\x01\x02",
                "nested": {"list": [b"\x03"]},
                "handshake": handshake,
                "transport": socket.conn.transport.name,
            },
        )
        register(io, socket, record)

    return io, record


def register(io: Server, socket: Socket, record: Record) -> None:
    """The per-socket handlers of every scenario."""

    def on_upgrade(transport: Transport) -> None:
        socket.emit("upgraded", transport.name)

    if socket.conn.upgraded:
        # the upgrade may finish before the namespace CONNECT arrives
        socket.emit("upgraded", socket.conn.transport.name)
    else:
        socket.conn.on("upgrade", on_upgrade)

    @socket.on("disconnect")
    def on_disconnect(reason: str) -> None:
        record.disconnects[socket.id] = reason

    @socket.on("disconnecting")
    def on_disconnecting(reason: str) -> None:
        for room in socket.rooms:
            if room != socket.id:
                socket.to(room).emit("peer-left", socket.id, reason, sorted(socket.rooms))

    seen_by_any: list[str] = []
    socket.on_any(lambda event, *args: seen_by_any.append(event))

    @socket.on("message")
    def on_message(*args: Any) -> None:
        socket.send({"echo": list(args)})

    @socket.on("seen-by-any")
    def seen() -> list[str]:
        return list(seen_by_any)

    @socket.on("burst-request")
    def burst(i: int) -> None:
        socket.emit("burst", i)

    @socket.on("close-me")
    def close_me() -> None:
        socket.disconnect(close=True)

    @socket.on("hello-raw")
    def hello_raw() -> None:
        socket.emit("hello", "world")

    @socket.on("echo")
    def echo(payload: Any) -> Any:
        return payload

    @socket.on("7")
    def seven(arg: str) -> str:
        return f"int event {arg}"

    @socket.on("sum")
    def add(a: int, b: int) -> int:
        return a + b

    @socket.on("multi")
    async def multi() -> tuple[str, str]:
        await asyncio.sleep(0)
        return "a", "b"

    @socket.on("node-style")
    def node_style(x: int, callback: Any = None) -> None:
        assert callback is not None
        asyncio.get_running_loop().call_later(0.01, callback, x, "later")

    @socket.on("ask-me")
    async def ask_me(x: int) -> Any:
        return await socket.emit_with_ack("ask", x)

    @socket.on("server-timeout")
    async def server_timeout() -> str:
        try:
            await socket.timeout(0.1).emit_with_ack("ignore-me")
        except AckTimeout as exc:
            return str(exc)
        return "no timeout?"

    @socket.on("server-timeout-kw")
    async def server_timeout_kw() -> str:
        try:
            await socket.emit_with_ack("ignore-me", timeout=0.1)
        except AckTimeout as exc:
            return str(exc)
        return "no timeout?"

    @socket.on("ask-me-kw")
    async def ask_me_kw(x: int) -> Any:
        return await socket.emit_with_ack("ask", x, timeout=5)

    @socket.on("bin-ack")
    def bin_ack() -> dict[str, bytes]:
        return {"b": b"\xff\x00"}

    @socket.on("join")
    def join(rooms: list[str]) -> list[str]:
        socket.join(rooms)
        return sorted(socket.rooms - {socket.id})

    @socket.on("run-broadcasts")
    async def run_broadcasts() -> list[Any]:
        io.emit("all", 1)
        socket.broadcast.emit("not-a")
        io.to("r1").to("r2").except_("r3").emit("r1r2", {"b": b"\x09"})
        io.to("r3").emit("r3")
        socket.to("r1").emit("r1-not-a")
        io.except_("r1").emit("except-r1")
        socket.leave("r1")
        io.to("r1").emit("after-leave")
        responses = await io.timeout(2).emit_with_ack("poll")
        keyword = await io.emit_with_ack("poll", timeout=2)
        io.emit("done")
        return sorted(responses) + [f"kw:{r}" for r in sorted(keyword)]

    @socket.on("allowed")
    def allowed() -> str:
        return "ok"

    @socket.on("forbidden")
    def forbidden() -> None:
        socket.emit("should-not-happen")

    @socket.use
    def guard(packet: list[Any]) -> None:
        if packet[0] == "forbidden":
            raise PermissionError("unauthorized event")

    @socket.on("error")
    def on_error(err: Exception) -> None:
        socket.disconnect()

    @socket.on("utility")
    async def utility(other_id: str) -> dict[str, Any]:
        fetched = await io.in_("u").fetch_sockets()
        ids = sorted(s.id for s in fetched)
        io.in_("u").sockets_join(["u2", "u3"])
        other = io.sockets.sockets[other_id]
        rooms_after_join = sorted(other.rooms - {other_id})
        io.in_("u2").sockets_leave("u3")
        rooms_after_leave = sorted(other.rooms - {other_id})
        all_ids = sorted(await io.sockets.all_sockets())
        for remote in await io.in_(other_id).fetch_sockets():
            remote.emit("hello-from-fetch", remote.id)
        io.in_(other_id).disconnect_sockets()
        return {
            "fetched": ids,
            "roomsAfterJoin": rooms_after_join,
            "roomsAfterLeave": rooms_after_leave,
            "allIncludesBoth": socket.id in all_ids and other_id in all_ids,
            "clientsCount": io.engine.clients_count,
        }
