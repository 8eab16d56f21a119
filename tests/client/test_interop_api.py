"""The client API examples of the Socket.IO docs, against a real server, on every transport.

Each test runs over polling only, WebSocket only, and polling upgraded to WebSocket.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from aiosocketio.client import ClientSocket, Manager, connect
from aiosocketio.exceptions import AckTimeout, ConnectError, LocalProtocolError
from tests.client.conftest import RunningServer
from tests.support.timeouts import scaled

pytestmark = [pytest.mark.interop, pytest.mark.usefixtures("settle")]


async def until(predicate: Any, timeout: float = 5.0) -> None:
    """Wait (polling the predicate) until it is true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + scaled(timeout)
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def test_connect_id_and_state(server: RunningServer, transport_opts: dict[str, Any]) -> None:
    sock = await connect(server.url, **transport_opts)
    try:
        assert sock.connected and not sock.disconnected and sock.active
        assert isinstance(sock.id, str) and len(sock.id) == 20
        info = await sock.emit_with_ack("whoami")
        assert info["id"] == sock.id
        assert isinstance(sock.io, Manager)
    finally:
        sock.disconnect()
    assert not sock.connected and sock.id is None and not sock.active


async def test_emit_and_receive_events(
    server: RunningServer, transport_opts: dict[str, Any]
) -> None:
    sock = await connect(server.url, **transport_opts)
    got: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()

    @sock.on("echo")
    def on_echo(*args: Any) -> None:
        got.put_nowait(args)

    try:
        sock.emit("echo", "world", {"a": 1}, [1, 2], None, 3.5)
        assert await asyncio.wait_for(got.get(), scaled(5)) == (
            "world",
            {"a": 1},
            [1, 2],
            None,
            3.5,
        )
    finally:
        sock.disconnect()


async def test_binary_anywhere(server: RunningServer, transport_opts: dict[str, Any]) -> None:
    sock = await connect(server.url, **transport_opts)
    try:
        described = await sock.emit_with_ack("describe", b"\x00\x01", "text", bytearray(b"\xff"))
        assert described == [{"bin": [0, 1]}, "text", {"bin": [255]}]
        echoed = await sock.emit_with_ack("echo", {"deep": [b"\x01", {"x": b"\x02"}]}, b"")
        assert echoed == ({"deep": [b"\x01", {"x": b"\x02"}]}, b"")
        assert await sock.emit_with_ack("binary") == {"buf": b"\x01\x02\x03", "list": [b"x", 4]}
        got: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
        sock.once("bin_event", lambda *a: got.set_result(a))
        sock.emit("push_binary", "bin_event")
        assert await asyncio.wait_for(got, scaled(5)) == (b"\x00\xff", {"nested": [b"\x07"]})
    finally:
        sock.disconnect()


async def test_acks_with_callback_and_await(
    server: RunningServer, transport_opts: dict[str, Any]
) -> None:
    sock = await connect(server.url, **transport_opts)
    try:
        got: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
        sock.emit("echo", "a", 1, callback=lambda *args: got.set_result(args))
        assert await asyncio.wait_for(got, scaled(5)) == ("a", 1)
        assert await sock.emit_with_ack("echo", "single") == "single"
        assert await sock.emit_with_ack("echo") is None
    finally:
        sock.disconnect()


async def test_timeout_rejects_a_missing_ack(
    server: RunningServer, transport_opts: dict[str, Any]
) -> None:
    sock = await connect(server.url, **transport_opts)
    try:
        with pytest.raises(AckTimeout, match="operation has timed out"):
            await sock.timeout(0.2).emit_with_ack("no_ack")
        assert await sock.timeout(5).emit_with_ack("echo", 7) == 7
        # Node's callback form with a timeout: callback(err, *args)
        got: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
        sock.timeout(0.2).emit("no_ack", callback=lambda *a: got.set_result(a))
        (err,) = await asyncio.wait_for(got, scaled(5))
        assert isinstance(err, AckTimeout) and isinstance(err, TimeoutError)
        ok: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
        sock.timeout(5).emit("echo", "x", callback=lambda *a: ok.set_result(a))
        assert await asyncio.wait_for(ok, scaled(5)) == (None, "x")
    finally:
        sock.disconnect()


async def test_ack_timeout_option(server: RunningServer, transport_opts: dict[str, Any]) -> None:
    sock = await connect(server.url, ack_timeout=0.2, **transport_opts)
    try:
        with pytest.raises(AckTimeout):
            await sock.emit_with_ack("no_ack")
        assert await sock.emit_with_ack("echo", 1) == 1
    finally:
        sock.disconnect()


async def test_the_timeout_keyword_comes_first(
    server: RunningServer, transport_opts: dict[str, Any]
) -> None:
    # keyword, then the chained timeout(), then the ack_timeout option (here 30 s)
    sock = await connect(server.url, ack_timeout=30, **transport_opts)
    loop = asyncio.get_running_loop()
    try:
        for emit_with_ack in (sock.emit_with_ack, sock.timeout(30).emit_with_ack):
            started = loop.time()
            with pytest.raises(AckTimeout):
                await emit_with_ack("no_ack", "x", timeout=0.2)
            assert 0.15 < loop.time() - started < scaled(5)
        started = loop.time()
        with pytest.raises(AckTimeout):
            await sock.timeout(0.2).emit_with_ack("no_ack")
        assert loop.time() - started < scaled(5)
        assert await sock.emit_with_ack("echo", 1, b"\x02", timeout=5) == (1, b"\x02")
        assert await sock.timeout(0.01).emit_with_ack("echo", 3, timeout=5) == 3
    finally:
        sock.disconnect()


async def test_retries_resend_until_acknowledged(
    server: RunningServer, transport_opts: dict[str, Any]
) -> None:
    sock = await connect(server.url, ack_timeout=0.3, retries=3, **transport_opts)
    try:
        marker = f"flaky-{uuid.uuid4()}"
        result = await sock.emit_with_ack("flaky", marker)
        assert result == {"value": marker, "n": 2}
        first = await server.wait_for("flaky", marker)
        second = await server.wait_for("flaky", marker)
        assert (first["n"], second["n"]) == (1, 2)
        # with too few retries the ack finally times out
        with pytest.raises(AckTimeout):
            await sock.emit_with_ack("no_ack")
    finally:
        sock.disconnect()


async def test_retries_keep_emits_in_order(
    server: RunningServer, transport_opts: dict[str, Any]
) -> None:
    sock = await connect(server.url, ack_timeout=2, retries=2, **transport_opts)
    try:
        results = await asyncio.gather(*(sock.emit_with_ack("echo", i) for i in range(10)))
        assert results == list(range(10))
    finally:
        sock.disconnect()


async def test_server_acks_are_answered_by_handler_return_values(
    server: RunningServer, transport_opts: dict[str, Any]
) -> None:
    sock = await connect(server.url, **transport_opts)
    answers: asyncio.Queue[Any] = asyncio.Queue()
    sock.on("answer", answers.put_nowait)

    @sock.on("question")
    def sync_handler(q: Any) -> Any:
        return {"echo": q} if not isinstance(q, bytes) else q[::-1]

    try:
        sock.emit("ask", "sync?")
        assert await asyncio.wait_for(answers.get(), scaled(5)) == {"echo": "sync?"}
        sock.emit("ask_binary")
        assert await asyncio.wait_for(answers.get(), scaled(5)) == {"bin": [8, 9]}
        sock.off("question")

        @sock.on("question")
        async def async_handler(q: Any) -> Any:
            await asyncio.sleep(0.01)
            return f"async {q}"

        sock.emit("ask", "q")
        assert await asyncio.wait_for(answers.get(), scaled(5)) == "async q"
    finally:
        sock.disconnect()


async def test_on_any_and_on_any_outgoing(
    server: RunningServer, transport_opts: dict[str, Any]
) -> None:
    sock = await connect(server.url, **transport_opts)
    incoming: list[tuple[Any, ...]] = []
    outgoing: list[tuple[Any, ...]] = []
    sock.on_any(lambda *a: incoming.append(a))
    sock.on_any_outgoing(lambda *a: outgoing.append(a))
    try:
        sock.emit("push", "news", {"hello": "world"})
        await until(lambda: len(incoming) == 1)
        assert incoming == [("news", {"hello": "world"})]
        assert outgoing == [("push", "news", {"hello": "world"})]
        assert len(sock.listeners_any()) == 1
        sock.off_any()
        sock.off_any_outgoing()
        sock.emit("push", "news", 2)
        await sock.emit_with_ack("echo")
        assert len(incoming) == 1 and len(outgoing) == 1
    finally:
        sock.disconnect()


async def test_once_off_and_send(server: RunningServer, transport_opts: dict[str, Any]) -> None:
    sock = await connect(server.url, **transport_opts)
    once: list[Any] = []
    messages: list[Any] = []
    sock.once("tick", once.append)

    def on_message(*args: Any) -> None:
        messages.append(args)

    sock.on("message", on_message)
    try:
        sock.emit("push", "tick", 1)
        sock.emit("push", "tick", 2)
        sock.send("hi", 1)  # a "message" event
        sock.emit("push", "message", "from server")
        await until(lambda: len(messages) == 1)
        assert once == [1]
        assert messages == [("from server",)]
        sock.off("message", on_message)
        assert sock.listeners("message") == []
    finally:
        sock.disconnect()


async def test_volatile_is_dropped_while_disconnected(
    server: RunningServer, transport_opts: dict[str, Any]
) -> None:
    sock = await connect(server.url, wait=False, **transport_opts)
    try:
        sock.volatile.emit("record", "volatile-dropped")
        sock.emit("record", "buffered")
        await sock.wait_connected(scaled(5))
        assert (await server.wait_for("record", id=sock.id))["record"] == "buffered"
        await asyncio.sleep(0.3)  # let an upgrade settle so the transport is writable
        sock.volatile.emit("record", "volatile-sent")
        assert (await server.wait_for("record", id=sock.id))["record"] == "volatile-sent"
    finally:
        sock.disconnect()


async def test_buffered_emits_are_flushed_in_order(
    server: RunningServer, transport_opts: dict[str, Any]
) -> None:
    sock = await connect(server.url, wait=False, **transport_opts)
    try:
        for i in range(20):
            sock.emit("record", i)
        assert len(sock.send_buffer) == 20
        await sock.wait_connected(scaled(5))
        seen = [(await server.wait_for("record", id=sock.id))["record"] for _ in range(20)]
        assert seen == list(range(20))
    finally:
        sock.disconnect()


async def test_reserved_event_names_are_refused(server: RunningServer) -> None:
    sock = await connect(server.url, force_new=True)
    try:
        for name in ("connect", "connect_error", "disconnect", "disconnecting"):
            with pytest.raises(LocalProtocolError):
                sock.emit(name)
    finally:
        sock.disconnect()


async def test_namespaces_share_one_connection(
    server: RunningServer, transport_opts: dict[str, Any]
) -> None:
    opts = {k: v for k, v in transport_opts.items() if k != "force_new"}
    main = await connect(server.url, **opts)
    chat = await connect(server.url + "/chat", **opts)
    admin = await connect(server.url + "/admin", auth={"token": "secret"}, **opts)
    try:
        assert main.io is chat.io is admin.io
        assert await chat.emit_with_ack("echo", "c") == "c"
        assert (await admin.emit_with_ack("whoami"))["auth"] == {"token": "secret"}
        chat.disconnect()
        assert main.connected and admin.connected
        assert await main.emit_with_ack("echo", "m") == "m"
        separate = await connect(server.url + "/chat", multiplex=False, **opts)
        assert separate.io is not main.io
        separate.disconnect()
    finally:
        for s in (main, chat, admin):
            s.disconnect()
    assert main.io.ready_state == "closed"


async def test_auth_query_and_headers(
    server: RunningServer, transport_opts: dict[str, Any]
) -> None:
    sock = await connect(
        server.url + "/admin?from=url",
        auth={"token": "secret", "n": 1},
        query={"room": "lobby"},
        extra_headers={"X-Custom": "hello"},
        **transport_opts,
    )
    try:
        info = await sock.emit_with_ack("whoami")
        assert info["auth"] == {"token": "secret", "n": 1}
        assert info["query"]["room"] == "lobby" and info["query"]["from"] == "url"
        assert info["header"] == "hello"
    finally:
        sock.disconnect()


async def test_connect_error_carries_the_middleware_message_and_data(
    server: RunningServer, transport_opts: dict[str, Any]
) -> None:
    with pytest.raises(ConnectError) as info:
        await connect(server.url + "/admin", auth={"token": "nope"}, **transport_opts)
    assert info.value.message == "not authorized"
    assert info.value.data == {"content": "Please retry later", "token": "nope"}

    sock = await connect(server.url + "/admin", auth={"token": "bad"}, wait=False, **transport_opts)
    errors: asyncio.Queue[ConnectError] = asyncio.Queue()
    sock.on("connect_error", errors.put_nowait)
    err = await asyncio.wait_for(errors.get(), scaled(5))
    assert (err.message, err.data["content"]) == ("not authorized", "Please retry later")
    assert not sock.active  # a refused socket does not reconnect by itself
    # fix the credentials and connect again, as in the docs
    sock.auth = {"token": "secret"}
    sock.connect()
    await sock.wait_connected(scaled(5))
    sock.disconnect()


async def test_unknown_namespace(server: RunningServer) -> None:
    with pytest.raises(ConnectError, match="Invalid namespace"):
        await connect(server.url + "/nowhere", force_new=True)


async def test_auth_callable_sync_and_async(
    server: RunningServer, transport_opts: dict[str, Any]
) -> None:
    calls: list[int] = []

    async def auth() -> dict[str, Any]:
        calls.append(1)
        return {"token": "secret", "call": len(calls)}

    sock = await connect(
        server.url + "/admin", auth=auth, reconnection_delay=0.05, **transport_opts
    )
    try:
        assert (await sock.emit_with_ack("whoami"))["auth"] == {"token": "secret", "call": 1}
        reconnected: asyncio.Queue[int] = asyncio.Queue()
        sock.io.on("reconnect", reconnected.put_nowait)
        sock.emit("close_engine")
        await asyncio.wait_for(reconnected.get(), scaled(5))
        await sock.wait_connected(scaled(5))
        # evaluated again for the new connection
        assert (await sock.emit_with_ack("whoami"))["auth"] == {"token": "secret", "call": 2}
    finally:
        sock.disconnect()
    sock2 = await connect(server.url + "/admin", auth=lambda: {"token": "secret"}, **transport_opts)
    sock2.disconnect()


async def test_disconnect_reasons(server: RunningServer, transport_opts: dict[str, Any]) -> None:
    sock = await connect(server.url, **transport_opts)
    first_id = sock.id
    reasons: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
    sock.on("disconnect", lambda *a: reasons.put_nowait(a))
    sock.emit("server_disconnect")
    reason = await asyncio.wait_for(reasons.get(), scaled(5))
    assert reason[0] == "io server disconnect"
    assert not sock.active
    await asyncio.sleep(0.2)
    assert not sock.connected  # no reconnection after "io server disconnect"

    sock.connect()  # manual reconnection, as the docs advise
    await sock.wait_connected(scaled(5))
    second_id = sock.id
    one_arg: list[str] = []
    sock.on("disconnect", lambda reason: one_arg.append(reason))
    sock.disconnect()
    assert (await asyncio.wait_for(reasons.get(), scaled(5)))[0] == "io client disconnect"
    assert one_arg == ["io client disconnect"]
    first = await server.wait_for("disconnect", id=first_id)
    assert first["disconnect"] == "server namespace disconnect"
    second = await server.wait_for("disconnect", id=second_id)
    assert second["disconnect"] == "client namespace disconnect"


async def test_transport_close_reconnects(
    server: RunningServer, transport_opts: dict[str, Any]
) -> None:
    sock = await connect(server.url, reconnection_delay=0.05, **transport_opts)
    events: list[Any] = []
    sock.io.on("reconnect_attempt", lambda n: events.append(("attempt", n)))
    sock.io.on("reconnect", lambda n: events.append(("reconnect", n)))
    reasons: list[str] = []
    sock.on("disconnect", reasons.append)
    connects: list[str | None] = []
    sock.on("connect", lambda: connects.append(sock.id))
    try:
        first_id = sock.id
        sock.emit("close_engine")
        await until(lambda: len(connects) == 1)
        assert reasons == ["transport close"]
        assert events == [("attempt", 1), ("reconnect", 1)]
        assert connects[0] != first_id
        assert await sock.emit_with_ack("echo", "back") == "back"
    finally:
        sock.disconnect()


async def test_pending_acks_are_rejected_on_disconnect(
    server: RunningServer, transport_opts: dict[str, Any]
) -> None:
    sock = await connect(server.url, reconnection=False, **transport_opts)
    pending = asyncio.ensure_future(sock.timeout(10).emit_with_ack("no_ack"))
    await asyncio.sleep(0.1)
    sock.emit("close_engine")
    from aiosocketio.exceptions import Disconnected

    with pytest.raises(Disconnected) as info:
        await asyncio.wait_for(pending, scaled(5))
    assert info.value.reason == "transport close"
    sock.disconnect()


async def test_manual_manager(server: RunningServer) -> None:
    manager = Manager(server.url, auto_connect=False, reconnection=False)
    assert manager.ready_state == "closed"
    opened: list[bool] = []
    manager.on("open", lambda: opened.append(True))
    sock: ClientSocket = manager.socket("/chat")
    assert not sock.active
    sock.connect()
    await sock.wait_connected(scaled(5))
    assert opened == [True] and manager.ready_state == "open"
    manager.disconnect()
    assert not sock.connected and manager.ready_state == "closed"


async def test_upgrade_happens_and_remember_upgrade(server: RunningServer) -> None:
    sock = await connect(server.url, force_new=True, wait=False)
    seen: list[str] = []

    @sock.on("connect")
    def on_connect() -> None:
        # the docs' example: socket.io.engine.transport.name, then the "upgrade" event
        engine = sock.io.engine
        assert engine is not None
        seen.append(engine.transport.name)
        engine.on("upgrade", lambda name: seen.append(engine.transport.name))

    try:
        await until(lambda: len(seen) == 2)
        assert seen == ["polling", "websocket"]
        assert await sock.emit_with_ack("transport") == "websocket"
    finally:
        sock.disconnect()
    remembered = await connect(server.url, force_new=True, remember_upgrade=True)
    try:
        assert remembered.io.engine is not None
        assert remembered.io.engine.transport_name == "websocket"
        assert (await remembered.emit_with_ack("whoami"))["query"]["transport"] == "websocket"
    finally:
        remembered.disconnect()


async def test_no_upgrade_when_disabled(server: RunningServer) -> None:
    sock = await connect(server.url, force_new=True, upgrade=False)
    try:
        await asyncio.sleep(0.3)
        assert await sock.emit_with_ack("transport") == "polling"
    finally:
        sock.disconnect()


async def test_burst_of_server_events_arrives_in_order(
    server: RunningServer, transport_opts: dict[str, Any]
) -> None:
    sock = await connect(server.url, **transport_opts)
    got: list[int] = []
    sock.on("burst", got.append)
    try:
        sock.emit("burst", 500)
        await until(lambda: len(got) == 500, timeout=10)
        assert got == list(range(500))
    finally:
        sock.disconnect()
