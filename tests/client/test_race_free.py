"""The race-free way in: every handler is registered before the first byte arrives.

Both servers (Node's socket.io 4.8 and ours) emit ``welcome`` from the ``/admin``
namespace's connection handler. A client that registers its ``welcome`` handler after
``await connect(url)`` returns can miss it (measured against our server over WebSocket:
20 of 20 missed, the emit arrives in the same read as the CONNECT answer); a socket built
by ``client_socket`` and connected with ``await socket.connect()`` after its handlers are
registered must get every one.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

import aiosocketio
from aiosocketio import ConnectError, Manager, client_socket, connect
from aiosocketio.client import ClientSocket, Connecting
from aiosocketio.client.sync import SyncClient
from tests.client.conftest import RunningServer
from tests.support.timeouts import scaled

pytestmark = [pytest.mark.interop, pytest.mark.usefixtures("settle")]

ADMIN: dict[str, Any] = {
    "auth": {"token": "secret"},
    "transports": ["websocket"],
    "force_new": True,
}
CONNECTS = 200
BATCH = 50


async def _welcomed(sock: ClientSocket, got: asyncio.Future[Any]) -> Any:
    try:
        await sock.connect(timeout=scaled(10))
        return await asyncio.wait_for(asyncio.shield(got), scaled(5))
    finally:
        sock.disconnect()


async def _one_connect(url: str) -> Any:
    sock = client_socket(url + "/admin", **ADMIN)
    got: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    @sock.on("welcome")
    def welcome(auth: Any) -> None:
        if not got.done():
            got.set_result(auth)

    return await _welcomed(sock, got)


async def test_two_hundred_websocket_connects_lose_no_emit_on_connection(
    server: RunningServer,
) -> None:
    received: list[Any] = []
    for _ in range(0, CONNECTS, BATCH):
        received += await asyncio.wait_for(
            asyncio.gather(*(_one_connect(server.url) for _ in range(BATCH))), scaled(60)
        )
    assert received == [{"token": "secret"}] * CONNECTS


async def test_every_race_free_shape_gets_the_emit(server: RunningServer) -> None:
    loop = asyncio.get_running_loop()
    for shape in ("manager", "connect", "outside_the_loop"):
        for _ in range(20):
            got: asyncio.Future[Any] = loop.create_future()
            if shape == "manager":
                manager = Manager(server.url, transports=["websocket"], auto_connect=False)
                sock = manager.socket("/admin", auth={"token": "secret"})
            elif shape == "connect":
                sock = await connect(server.url + "/admin", auto_connect=False, **ADMIN)
            else:  # built where no event loop runs (as at a module's top level)
                sock = await asyncio.to_thread(client_socket, server.url + "/admin", **ADMIN)
                assert isinstance(sock.io, Manager) and sock.io.loop is None
            assert not sock.active and not sock.connected and sock.io.ready_state == "closed"
            sock.on("welcome", got.set_result)
            assert await _welcomed(sock, got) == {"token": "secret"}, shape


def test_the_sync_client_registers_its_handlers_first(server: RunningServer) -> None:
    for _ in range(20):
        got = threading.Event()
        client = SyncClient()
        client.on("welcome", lambda auth, got=got: got.set())
        with client:
            client.connect(server.url + "/admin", **ADMIN)
            assert got.wait(scaled(5))


# -- connect() and what it returns ------------------------------------------------------


async def test_connect_returns_an_awaitable_that_gives_the_socket(server: RunningServer) -> None:
    sock = client_socket(server.url, force_new=True)
    connecting = sock.connect()
    assert isinstance(connecting, Connecting) and sock.active
    assert await connecting is sock and sock.connected
    assert await sock.connect() is sock  # already connected: at once
    sock.disconnect()

    # not awaited: it connects in the background, as socket.io-client's connect() does
    sock = client_socket(server.url, force_new=True)
    connected = asyncio.Event()
    sock.on("connect", connected.set)
    sock.connect()
    await asyncio.wait_for(connected.wait(), scaled(5))
    sock.disconnect()


async def test_a_refused_connect_raises_and_stops_the_socket(server: RunningServer) -> None:
    sock = client_socket(server.url + "/admin", auth={"token": "nope"}, force_new=True)
    with pytest.raises(ConnectError) as info:
        await sock.connect()
    assert info.value.message == "not authorized"
    assert info.value.data == {"content": "Please retry later", "token": "nope"}
    assert isinstance(info.value, ConnectionError)  # the builtin
    assert not sock.active and not sock.connected
    sock.auth = {"token": "secret"}  # fixed: connect again
    await sock.connect()
    sock.disconnect()


async def test_an_unreachable_server_raises_and_nothing_goes_on_retrying() -> None:
    attempts: list[int] = []
    sock = client_socket("http://127.0.0.1:9", reconnection_delay=0.01, force_new=True)
    sock.io.on("reconnect_attempt", attempts.append)
    with pytest.raises(ConnectionError):  # the builtin catches ConnectError
        await sock.connect()
    await asyncio.sleep(0.1)
    assert attempts == [] and not sock.active and not sock.io.reconnecting
    assert sock.io.ready_state == "closed"


async def test_a_connect_timeout(server: RunningServer) -> None:
    sock = client_socket(server.url, force_new=True)
    with pytest.raises(TimeoutError):
        await sock.connect(timeout=0)
    assert not sock.active


def test_client_socket_never_connects() -> None:
    with pytest.raises(TypeError, match="never connects"):
        client_socket("http://127.0.0.1:9", auto_connect=True)


async def test_a_manager_belongs_to_one_running_loop(server: RunningServer) -> None:
    sock = client_socket(server.url, force_new=True)
    await sock.connect()
    sock.disconnect()

    def elsewhere() -> None:
        async def reopen() -> None:
            with pytest.raises(aiosocketio.LocalProtocolError, match="another event loop"):
                sock.connect()
            assert not sock.active

        asyncio.run(reopen())

    await asyncio.to_thread(elsewhere)
