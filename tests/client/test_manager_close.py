"""Manager-level disconnect, as socket.io-client's ``Manager`` does it (issue 11, item 4).

Several namespaces ride one Engine.IO connection. Disconnecting one socket sends only
that namespace's DISCONNECT and keeps the connection for the others; when the last
active socket leaves, the manager closes the connection (socket.io-client's
``Manager._destroy``). ``manager.close()`` disconnects every socket ("io client
disconnect" on this side, "client namespace disconnect" on the server's), and nothing
reconnects after an explicit disconnect. Run against the official socket.io 4.8 server
and aiosocketio's own, on every transport.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aiosocketio.client import ClientSocket, Manager
from tests.client.conftest import TRANSPORTS, RunningServer
from tests.support.timeouts import scaled

pytestmark = [pytest.mark.interop, pytest.mark.usefixtures("settle")]

CLEAN = "client namespace disconnect"


def transport_mode(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


mode = pytest.fixture(params=sorted(TRANSPORTS))(transport_mode)


async def two_sockets(
    server: RunningServer, mode: str, delay: float = 0.05
) -> tuple[Manager, ClientSocket, ClientSocket, list[tuple[Any, ...]]]:
    """A manager (fast reconnection, to show none happens) with "/" and "/greet" connected
    on it; the list collects its "close" events."""
    manager = Manager(
        server.url,
        auto_connect=False,
        reconnection_delay=delay,
        reconnection_delay_max=delay,
        randomization_factor=0,
        **TRANSPORTS[mode],
    )
    closes: list[tuple[Any, ...]] = []
    manager.on("close", lambda *args: closes.append(args))
    main = manager.socket("/")
    greet = manager.socket("/greet")
    await main.connect(timeout=scaled(10))
    await greet.connect(timeout=scaled(10))
    if mode == "upgrade":
        await until(
            lambda: manager.engine is not None and manager.engine.transport_name == "websocket"
        )
    return manager, main, greet, closes


async def until(predicate: Any, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + scaled(timeout)
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def disconnects(server: RunningServer, ids: dict[str, str | None]) -> dict[str, Any]:
    """The server's disconnect line of each socket id (by namespace), in any order."""
    wanted = {sid: nsp for nsp, sid in ids.items()}
    found: dict[str, Any] = {}
    while len(found) < len(wanted):
        line = await server.wait_for("disconnect")
        if line["id"] in wanted:
            found[wanted[line["id"]]] = line
    return found


async def no_new_connection(
    server: RunningServer, known: set[str | None], wait: float = 0.5
) -> None:
    """No socket but the ``known`` ones connects to the server within ``wait`` seconds
    (many reconnection delays); a reconnection would bring a new id."""
    await asyncio.sleep(wait)
    lines = [line for line in server.drain() if "connection" in line]
    assert [line for line in lines if line["connection"] not in known] == []


async def test_closing_one_namespace_keeps_the_connection(server: RunningServer, mode: str) -> None:
    manager, main, greet, closes = await two_sockets(server, mode)
    engine = manager.engine
    assert engine is not None
    main_id, greet_id = main.id, greet.id
    reasons: list[str] = []
    greet.on("disconnect", lambda reason, *_: reasons.append(reason))

    greet.disconnect()
    assert reasons == ["io client disconnect"]
    line = await server.wait_for("disconnect", id=greet_id)
    assert line == {"disconnect": CLEAN, "id": greet_id, "nsp": "/greet"}
    # the other namespace goes on, on the same Engine.IO connection
    assert manager.engine is engine and manager.ready_state == "open" and closes == []
    assert main.connected
    assert await main.emit_with_ack("echo", "still here") == "still here"
    assert (await main.emit_with_ack("whoami"))["id"] == main_id

    main.disconnect()  # the last active socket: the manager closes the connection
    line = await server.wait_for("disconnect", id=main_id)
    assert line == {"disconnect": CLEAN, "id": main_id, "nsp": "/"}
    assert manager.engine is None and manager.ready_state == "closed"
    assert closes == [("forced close", None)]
    await no_new_connection(server, {main_id, greet_id})
    assert manager.ready_state == "closed" and not main.connected and not greet.connected


async def test_manager_close_disconnects_every_socket(server: RunningServer, mode: str) -> None:
    manager, main, greet, closes = await two_sockets(server, mode)
    ids = {"/": main.id, "/greet": greet.id}
    reasons: dict[str, list[str]] = {"/": [], "/greet": []}
    for sock in (main, greet):
        sock.on("disconnect", lambda reason, *_, nsp=sock.nsp: reasons[nsp].append(reason))

    manager.close()
    assert reasons == {"/": ["io client disconnect"], "/greet": ["io client disconnect"]}
    assert await disconnects(server, ids) == {
        nsp: {"disconnect": CLEAN, "id": sid, "nsp": nsp} for nsp, sid in ids.items()
    }
    assert manager.engine is None and manager.ready_state == "closed"
    assert closes == [("forced close", None)]
    assert not main.active and not greet.active
    await no_new_connection(server, set(ids.values()))
    assert manager.ready_state == "closed"

    # an explicit connect() opens it again
    await main.connect(timeout=scaled(10))
    assert manager.ready_state == "open" and not greet.connected
    main.disconnect()
    assert manager.ready_state == "closed"


async def test_no_reconnection_after_disconnect_while_reconnecting(
    server: RunningServer, mode: str
) -> None:
    """The server drops the connection; a disconnect during the backoff stops it for good."""
    manager, main, greet, closes = await two_sockets(server, mode, delay=0.5)
    known = {main.id, greet.id}
    reasons: list[str] = []
    main.on("disconnect", lambda reason, *_: reasons.append(reason))
    main.emit("close_engine")
    await until(lambda: manager.reconnecting)
    assert [c[0] for c in closes] == ["transport close"] and reasons == ["transport close"]
    assert main.active and greet.active  # they would reconnect
    manager.close()
    assert not main.active and not greet.active and reasons == ["transport close"]
    assert not manager.reconnecting and manager.ready_state == "closed"
    await no_new_connection(server, known, 1.0)
