"""The engine's session table: open sessions, closing ones, one timer wheel per loop."""

from __future__ import annotations

import asyncio
from typing import Any

from aiosocketio.engine.answers import HttpAnswers
from aiosocketio.engine.sessions import SessionTable
from aiosocketio.protocol.engineio.options import EngineOptions
from aiosocketio.protocol.engineio.session import CLOSED_POLL_WAIT, EngineSession
from aiosocketio.runtime.events import EventEmitter

OPTIONS = EngineOptions(close_timeout=7)


class Member:
    def __init__(self, sid: str) -> None:
        self.id = sid
        self.session = EngineSession(sid, "polling", OPTIONS, 0.0)  # the engine's options


class Loop:
    """Records ``call_later``."""

    def __init__(self) -> None:
        self.later: list[tuple[float, Any, tuple[Any, ...]]] = []

    def call_later(self, delay: float, fn: Any, *args: Any) -> None:
        self.later.append((delay, fn, args))


def table() -> SessionTable[Member]:
    return SessionTable(OPTIONS, HttpAnswers(OPTIONS, EventEmitter()))


def test_a_session_closed_on_websocket_leaves_at_once() -> None:
    sessions = table()
    conn = Member("a")
    sessions.add(conn)
    assert sessions.get("a") is conn and sessions.find_session("a") is conn.session
    conn.session.transport_closed()
    loop = Loop()
    sessions.closed(conn, loop)  # type: ignore[arg-type]
    assert sessions.get("a") is None and sessions.find_session("a") is None
    assert loop.later == []


def test_a_session_closed_by_the_server_on_polling_waits_for_its_close_packet() -> None:
    sessions = table()
    conn = Member("b")
    sessions.add(conn)
    conn.session.close()
    loop = Loop()
    sessions.closed(conn, loop)  # type: ignore[arg-type]
    assert "b" not in sessions.open and sessions.get("b") is conn
    assert loop.later == [(7, sessions.forget, (conn,))]
    sessions.forget(conn)
    assert sessions.get("b") is None
    sessions.forget(conn)  # the close_timeout after the CLOSE went out: nothing to do


def test_a_session_its_client_closed_on_polling_stays_for_its_in_flight_get() -> None:
    sessions = table()
    conn = Member("c")
    sessions.add(conn)
    conn.session.receive_payload("1", 0.5)  # the client's CLOSE, no GET waiting
    loop = Loop()
    sessions.closed(conn, loop)  # type: ignore[arg-type]
    assert "c" not in sessions.open and sessions.get("c") is conn
    assert loop.later == [(CLOSED_POLL_WAIT, sessions.forget, (conn,))]


def test_a_newer_session_with_the_same_id_is_not_dropped() -> None:
    sessions = table()
    old, new = Member("c"), Member("c")
    sessions.add(old)
    sessions.add(new)
    old.session.transport_closed()
    sessions.closed(old, Loop())  # type: ignore[arg-type]
    assert sessions.get("c") is new


async def test_one_timer_wheel_per_loop() -> None:
    sessions = table()
    loop = asyncio.get_running_loop()
    wheel = sessions.timer_wheel(loop)
    assert sessions.timer_wheel(loop) is wheel and wheel.loop is loop
    other = asyncio.new_event_loop()
    try:
        assert sessions.timer_wheel(other) is not wheel
    finally:
        other.close()
