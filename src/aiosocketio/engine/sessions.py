"""The sessions of one Engine, and what its connections share.

A :class:`SessionTable` is what an :class:`~aiosocketio.engine.socket.EngineSocket` knows
of the engine that made it: the options, the :class:`~aiosocketio.engine.answers.HttpAnswers`
that answer its polling requests, the timer wheel that times it, and the table it leaves
when its session closes. It knows the connections only through :class:`Member`, so the
connection module and this one do not import each other's classes.
"""

from __future__ import annotations

import asyncio
from typing import Generic, Protocol, TypeVar

from aiosocketio.engine.answers import HttpAnswers
from aiosocketio.engine.timers import TimerWheel
from aiosocketio.protocol.engineio.options import EngineOptions
from aiosocketio.protocol.engineio.session import EngineSession

__all__ = ["Member", "SessionTable"]


class Member(Protocol):
    """What the table reads of a connection."""

    @property
    def id(self) -> str:
        """The session id."""

    @property
    def session(self) -> EngineSession:
        """The connection's sans-I/O session."""


C = TypeVar("C", bound=Member)


class SessionTable(Generic[C]):
    """The open sessions by id, and the closed ones whose CLOSE packet still waits for a GET.

    Args:
        options: the engine's options.
        answers: the engine's HTTP answers.

    Attributes:
        open: the open sessions by id (the Engine's ``clients``).
        closing: sessions closed by the server on polling, kept until their CLOSE packet
            is taken by a GET, for at most ``close_timeout`` seconds; and sessions their
            client closed on polling, kept for the GET it may have in flight.
        options: the engine's options.
        answers: the engine's HTTP answers.
    """

    __slots__ = ("_wheel", "answers", "closing", "open", "options")

    def __init__(self, options: EngineOptions, answers: HttpAnswers) -> None:
        self.options = options
        self.answers = answers
        self.open: dict[str, C] = {}
        self.closing: dict[str, C] = {}
        self._wheel: TimerWheel | None = None

    def timer_wheel(self, loop: asyncio.AbstractEventLoop) -> TimerWheel:
        """The wheel that times the sessions on ``loop`` (one per engine and loop)."""
        wheel = self._wheel
        if wheel is None or wheel.loop is not loop:
            wheel = self._wheel = TimerWheel(loop)
        return wheel

    def get(self, sid: str) -> C | None:
        """The connection of ``sid``, open or closing."""
        return self.open.get(sid) or self.closing.get(sid)

    def find_session(self, sid: str) -> EngineSession | None:
        """The session of ``sid``, open or closing (for request validation)."""
        conn = self.open.get(sid) or self.closing.get(sid)
        return conn.session if conn is not None else None

    def add(self, conn: C) -> None:
        """A new session is open."""
        self.open[conn.id] = conn

    def closed(self, conn: C, loop: asyncio.AbstractEventLoop) -> None:
        """``conn``'s session closed: it leaves :attr:`open`; if a CLOSE packet waits for
        a GET, or its client's GET may still be in flight, it stays in :attr:`closing`
        until :meth:`forget` or for the session's ``answers_after_close`` seconds."""
        sid = conn.id
        if self.open.get(sid) is conn:
            del self.open[sid]
        keep = conn.session.answers_after_close
        if keep is not None:
            self.closing[sid] = conn
            loop.call_later(keep, self.forget, conn)

    def forget(self, conn: C) -> None:
        """``conn``'s CLOSE packet went out (or waited too long): drop it."""
        sid = conn.id
        if self.closing.get(sid) is conn:
            del self.closing[sid]
