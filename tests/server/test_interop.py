"""The Server against the official socket.io-client 4.8 (Node), over each transport mode.

One Node process per mode runs every scenario of ``tests/interop/js/server_scenarios.js``
and prints its observations; the assertions are here.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from aiosocketio import Server
from tests.server.interop_app import make_app
from tests.support.node import run_node
from tests.support.timeouts import scaled

pytestmark = pytest.mark.interop

MODES = ["websocket", "polling", "upgrade"]


@contextlib.asynccontextmanager
async def running(io: Server, frontend: str) -> AsyncIterator[int]:
    """Serve ``io`` on 127.0.0.1 with the built-in server or uvicorn; yield the port."""
    if frontend.startswith("native"):
        await io.listen(0, "127.0.0.1")
        try:
            yield io.port
        finally:
            await io.close()
        return
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    ws = "websockets-sansio" if importlib.util.find_spec("websockets") else "wsproto"
    config = uvicorn.Config(
        io.asgi_app(),
        http="httptools",
        ws=ws,
        lifespan="off",
        log_level="warning",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + scaled(10)
        while not server.started:
            assert not task.done() and loop.time() < deadline, "uvicorn did not start"
            await asyncio.sleep(0.01)
        yield int(sock.getsockname()[1])
    finally:
        await io.close()
        server.should_exit = True
        try:
            await asyncio.wait_for(task, scaled(10))
        finally:
            sock.close()


@pytest.mark.parametrize(
    ("frontend", "mode"),
    [
        *((frontend, mode) for frontend in ("native", "asgi") for mode in MODES),
        # permessage-deflate on every message (the Node client offers it): emits, acks
        # and broadcasts reach such a connection through its compressing send_message
        ("native-deflate", "websocket"),
        ("native-deflate", "upgrade"),
    ],
)
async def test_scenarios(mode: str, frontend: str) -> None:
    io, record = make_app(per_message_deflate=0) if frontend == "native-deflate" else make_app()
    async with running(io, frontend) as port:
        scenarios = [
            "events",
            "acks",
            "broadcast",
            "namespaces",
            "socketUse",
            "disconnecting",
            "utility",
            "heartbeat",
            "misc",
            "dynamic",
        ]
        if mode == "upgrade":
            scenarios.append("upgrade")
        result = await run_node(
            "server_scenarios.js", f"http://127.0.0.1:{port}", mode, *scenarios, timeout=60
        )
        result.check()
        by_name: dict[str, dict[str, Any]] = {line["scenario"]: line for line in result.lines}
        assert set(by_name) == set(scenarios), result.stdout + result.stderr
        failed = {k: v["error"] for k, v in by_name.items() if not v["ok"]}
        assert not failed, failed
        await asyncio.sleep(0.1)
        check_events(by_name["events"], mode)
        check_acks(by_name["acks"])
        check_broadcast(by_name["broadcast"])
        check_namespaces(by_name["namespaces"])
        check_socket_use(by_name["socketUse"])
        check_disconnecting(by_name["disconnecting"])
        check_utility(by_name["utility"], record.disconnects)
        check_misc(by_name["misc"])
        assert by_name["dynamic"]["welcome"] == "/dyn-123"
        assert by_name["dynamic"]["bad"] == {"message": "Invalid namespace", "data": None}
        assert by_name["heartbeat"]["stillConnected"] is True
        assert by_name["heartbeat"]["after"] == 2
        if mode == "upgrade":
            up = by_name["upgrade"]
            assert up["upgradedTo"] == "websocket" and up["transport"] == "websocket"
            assert up["after"] == 5
            assert "websocket" in record.upgrading
        else:
            assert record.upgrading == []
        assert record.engine_connections >= 10
        if mode == "polling":
            assert record.ws_prebuilt_frames == []
        elif frontend == "native":
            assert record.ws_prebuilt_frames and all(record.ws_prebuilt_frames)
        elif frontend == "native-deflate":
            assert record.ws_prebuilt_frames and not any(record.ws_prebuilt_frames)
        assert record.disconnects[by_name["events"]["clientId"]] == "client namespace disconnect"


def check_events(r: dict[str, Any], mode: str) -> None:
    assert r["sameId"] is True and len(r["clientId"]) == 20
    assert r["order"] == ["mw1", "mw2", "mw3"]
    assert r["bin"] == "0102" and r["nested"] == "03"
    assert r["echo"] == {"n": 1, "data": "0405", "list0": "06", "list1": "x"}
    assert r["intEvent"] == "int event seven"
    assert r["transport"] == ("websocket" if mode == "websocket" else "polling")
    hs = r["handshake"]
    assert hs["address"] == "127.0.0.1"
    assert hs["auth"] == {"token": "abc"}
    assert hs["query"]["q"] == "1" and hs["query"]["EIO"] == "4"
    assert hs["url"].startswith("/socket.io/?") and "q=1" in hs["url"]
    assert hs["xdomain"] is False and hs["secure"] is False
    assert hs["headers"]["host"].startswith("127.0.0.1:")
    assert isinstance(hs["issued"], int) and hs["time"]


def check_misc(r: dict[str, Any]) -> None:
    assert r["back"] == {"echo": ["hi", 1]}
    # a volatile packet may be dropped by the client while a long-polling POST is in flight
    seen = [event for event in r["seen"] if event != "volatile-ping"]
    assert seen[:3] == ["message", "uncompressed", "seen-by-any"]
    assert r["bigOk"] is True and r["burstsInOrder"] is True
    assert r["newIdAfterReconnect"] is True
    assert r["closeReason"] == "io server disconnect" and r["engineClosed"] is True
    assert [e for e in r["outgoing"] if e != "volatile-ping"][:2] == ["message", "uncompressed"]


def check_acks(r: dict[str, Any]) -> None:
    assert r["sum"] == 3
    assert r["multi"] == ["a", "b"]
    assert r["nodeStyle"] == [5, "later"]
    assert r["asked"] == {"answer": 42}
    assert r["clientTimeout"] == "operation has timed out"
    assert r["serverTimeout"] == "operation has timed out"
    assert r["serverTimeoutKw"] == "operation has timed out"  # emit_with_ack(timeout=)
    assert r["askedKw"] == {"answer": 8}
    assert r["binAck"] == "ff00"


def check_broadcast(r: dict[str, Any]) -> None:
    r1r2 = ["r1r2", {"b": {"type": "Buffer", "data": [9]}}]
    assert r["a"] == [["all", 1], r1r2]
    assert r["b"] == [["all", 1], ["not-a"], r1r2, ["r1-not-a"], ["after-leave"]]
    assert r["c"] == [["all", 1], ["not-a"], ["r3"], ["except-r1"]]
    assert r["poll"] == ["a", "b", "c", "kw:a", "kw:b", "kw:c"]


def check_namespaces(r: dict[str, Any]) -> None:
    assert r["sameConnection"] is True
    assert r["adminIdMatches"] is True and r["distinctIds"] is True
    assert r["badAdmin"] == {"message": "not authorized", "data": {"reason": "bad token"}}
    assert r["unknown"] == {"message": "Invalid namespace", "data": None}
    assert r["refused"] == {"message": "refused", "data": {"code": 42}}


def check_socket_use(r: dict[str, Any]) -> None:
    assert r["allowed"] == "ok"
    assert r["reason"] == "io server disconnect"


def check_disconnecting(r: dict[str, Any]) -> None:
    assert r["sameId"] is True
    assert r["reason"] == "client namespace disconnect"
    assert "room-d" in r["rooms"] and len(r["rooms"]) == 2


def check_utility(r: dict[str, Any], disconnects: dict[str, str]) -> None:
    assert r["fetched"] == sorted([r["aId"], r["bId"]])
    assert r["roomsAfterJoin"] == ["u", "u2", "u3"]
    assert r["roomsAfterLeave"] == ["u", "u2"]
    assert r["allIncludesBoth"] is True
    assert r["clientsCount"] >= 2
    assert r["fetchedIdIsB"] is True
    assert r["bReason"] == "io server disconnect"
    assert disconnects[r["bId"]] == "server namespace disconnect"
