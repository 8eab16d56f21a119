"""The one EventEmitter: Server, Namespace, Socket, Adapter, the engine and the client."""

from __future__ import annotations

import asyncio
import logging

import pytest

from aiosocketio.runtime.events import EventEmitter


class Emitter(EventEmitter):
    pass


def test_on_once_off_and_order() -> None:
    em = Emitter()
    log: list[str] = []
    assert em.emit_reserved("x") is False

    @em.on("x")
    def first() -> None:
        log.append("first")

    em.once("x", lambda: log.append("once"))

    @em.once("x")
    def once_decorated() -> None:
        log.append("once2")

    def last() -> None:
        log.append("last")

    em.on("x", last)
    assert em.listener_count("x") == 4
    assert em.emit_reserved("x") is True
    assert log == ["first", "once", "once2", "last"]
    log.clear()
    em.emit_reserved("x")
    assert log == ["first", "last"] and em.listeners("x") == [first, last]
    em.off("x", first)
    em.off("x", first)
    em.emit_reserved("x")
    assert log == ["first", "last", "last"]
    em.off("x")
    assert em.listener_count("x") == 0
    em.on("y", last)
    em.off()
    assert em.listeners("y") == []


def test_prepended_listeners_run_first() -> None:
    em = Emitter()
    log: list[str] = []
    em.on("x", lambda: log.append("app"))
    em.prepend_once_listener("x", lambda: log.append("lib-once"))
    assert em.prepend_listener("x", print) is print  # returns the handler, as on() does
    em.off("x", print)
    em.prepend_listener("x", lambda: log.append("lib"))
    em.emit_reserved("x")
    em.emit_reserved("x")
    assert log == ["lib", "lib-once", "app", "lib", "app"]


def test_off_removes_a_bound_method_given_again() -> None:
    # obj.method is a new object on every access: off() must find it by equality.
    class Handlers:
        def __init__(self) -> None:
            self.calls = 0

        def on_x(self) -> None:
            self.calls += 1

    em = Emitter()
    h = Handlers()
    em.on("x", h.on_x)
    em.once("y", h.on_x)
    em.emit_reserved("x")
    em.off("x", h.on_x)
    em.off("y", h.on_x)
    em.emit_reserved("x")
    em.emit_reserved("y")
    assert h.calls == 1
    assert em.listener_count("x") == 0 and em.listener_count("y") == 0
    # once listeners are dropped after one call, and off() with no event clears them all
    em.once("z", h.on_x)
    em.off()
    em.emit_reserved("z")
    assert h.calls == 1


def test_a_listener_added_while_dispatching_waits_for_the_next_event() -> None:
    em = Emitter()
    log: list[str] = []

    def adder() -> None:
        log.append("adder")
        em.on("x", lambda: log.append("added"))

    em.on("x", adder)
    em.emit_reserved("x")
    assert log == ["adder"]
    em.emit_reserved("x")
    assert log == ["adder", "adder", "added"]


async def test_async_listeners_run_and_errors_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    em = Emitter()
    done = asyncio.Event()

    async def ok(value: int) -> None:
        assert value == 1
        done.set()

    async def broken(value: int) -> None:
        raise RuntimeError("boom in async listener")

    def sync_broken(value: int) -> None:
        raise ValueError("boom in sync listener")

    em.on("e", ok)
    em.on("e", broken)
    em.on("e", sync_broken)
    with caplog.at_level(logging.ERROR, logger="aiosocketio.server"):
        em.emit_reserved("e", 1)
        await asyncio.wait_for(done.wait(), 1)
        for _ in range(3):
            await asyncio.sleep(0)
    messages = "\n".join(str(r.exc_info[1]) for r in caplog.records if r.exc_info)
    assert "boom in async listener" in messages and "boom in sync listener" in messages


def test_ack_parameter_detection() -> None:
    import functools

    from aiosocketio.runtime.events import Listener

    def plain(a: int) -> None: ...
    def with_ack(a: int, ack: object = None) -> None: ...
    def with_callback(*args: object, callback: object = None) -> None: ...
    def positional_only(ack: object, /) -> None: ...

    class Handler:
        def method(self, x: int, callback: object = None) -> None: ...

    assert Listener(plain, False).ack_param is None
    assert Listener(with_ack, False).ack_param == "ack"
    assert Listener(with_callback, False).ack_param == "callback"
    assert Listener(positional_only, False).ack_param is None
    assert Listener(Handler().method, False).ack_param == "callback"
    assert Listener(functools.partial(with_ack, 1), False).ack_param == "ack"
    assert Listener(print, False).ack_param is None


# -- the answer policy (the client's events and acks) -------------------------------------


async def test_call_listener_returns_the_answer() -> None:
    from aiosocketio.runtime.events import HANDLER_FAILED, call_listener

    def plain(x: int) -> int:
        return x + 1

    async def coro(x: int) -> int:
        await asyncio.sleep(0)
        return x * 10

    def broken() -> None:
        raise ValueError("boom in a listener")

    assert call_listener(plain, 1) == 2
    task = call_listener(coro, 2)
    assert isinstance(task, asyncio.Task) and await task == 20
    assert call_listener(broken) is HANDLER_FAILED


async def test_the_first_listener_answers() -> None:
    from aiosocketio.runtime.events import NO_ANSWER

    em = Emitter()
    calls: list[str] = []
    assert em._emit_for_answer("x", (1,)) is NO_ANSWER

    def first(v: int) -> tuple[str, int]:
        calls.append("first")
        return ("first", v)

    def second(v: int) -> str:
        calls.append("second")
        return "second"

    em.on("x", first)
    em.on("x", second)
    assert em._emit_for_answer("x", (1,)) == ("first", 1)
    assert calls == ["first", "second"]

    async def later(v: int) -> str:
        return f"later {v}"

    em.off("x")
    em.once("x", later)
    answer = em._emit_for_answer("x", (2,))
    assert isinstance(answer, asyncio.Task) and await answer == "later 2"
    assert em.listener_count("x") == 0  # once


def test_a_failing_first_listener_answers_nothing() -> None:
    from aiosocketio.runtime.events import NO_ANSWER

    em = Emitter()
    ran: list[str] = []

    def broken(v: int) -> int:
        raise ValueError("boom in the first listener")

    def second(v: int) -> str:
        ran.append("second")
        return "ignored"

    em.on("x", broken)
    em.on("x", second)
    assert em._emit_for_answer("x", (1,)) is NO_ANSWER
    assert ran == ["second"]


def test_optional_arguments_reach_only_listeners_that_take_them() -> None:
    import functools

    em = Emitter()
    got: list[tuple[str, tuple[object, ...]]] = []

    def none() -> None:
        got.append(("none", ()))

    def one(a: object) -> None:
        got.append(("one", (a,)))

    def two(a: object, b: object, c: object = "default") -> None:
        got.append(("two", (a, b, c)))

    def star(*args: object) -> None:
        got.append(("star", args))

    class Handlers:
        def method(self, a: object) -> None:
            got.append(("method", (a,)))

    def partial_of(x: object, a: object) -> None:
        got.append(("partial", (x, a)))

    for fn in (none, one, two, star, Handlers().method, functools.partial(partial_of, "x")):
        em.on("e", fn)
    # the recovery offset: one optional argument after the required one
    em._emit_for_answer("e", ("arg", "offset"), optional=1)
    assert got == [
        ("one", ("arg",)),
        ("two", ("arg", "offset", "default")),
        ("star", ("arg", "offset")),
        ("method", ("arg",)),
        ("partial", ("x", "arg")),
    ]  # none() got the required argument it cannot take: a TypeError, logged
    got.clear()
    # disconnect(reason, description): every argument optional
    em._emit_for_answer("e", ("reason", "description"), optional=2)
    assert got == [
        ("none", ()),
        ("one", ("reason",)),
        ("two", ("reason", "description", "default")),
        ("star", ("reason", "description")),
        ("method", ("reason",)),
        ("partial", ("x", "reason")),
    ]
    got.clear()
    # without optional arguments every listener gets everything (as emit_reserved does)
    em.off("e", none)
    em._emit_for_answer("e", ("a", "b"))
    assert [name for name, _ in got] == ["two", "star"]  # one(), method(), partial: TypeError


def test_the_positional_capacity_is_read_only_when_needed() -> None:
    from aiosocketio.runtime.events import Listener

    em = Emitter()

    def handler(a: object) -> None: ...

    em.on("e", handler)
    em.emit_reserved("e", 1)
    em._emit_for_answer("e", (1,))
    (listener,) = em._listeners_of("e")
    assert listener.max_args == -1  # the server's emits never inspect signatures
    em._emit_for_answer("e", (1, 2), optional=1)
    assert listener.max_args == 1
    assert Listener(handler, False).max_args == -1
