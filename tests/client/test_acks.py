"""PendingAcks: the client socket's acks, answered once by an ACK, a timeout or a disconnect;
RetryQueue: its at-least-once queue."""

from __future__ import annotations

import asyncio
from typing import Any

from aiosocketio.client.acks import (
    NO_FLAGS,
    AckCallback,
    PendingAcks,
    QueuedEmit,
    RetryQueue,
    ack_args,
    ack_result,
)
from aiosocketio.exceptions import AckTimeout, Disconnected
from tests.support.timeouts import scaled


class Calls:
    def __init__(self) -> None:
        self.log: list[tuple[str, BaseException | None, list[Any]]] = []

    def callback(self, name: str) -> Any:
        def cb(err: BaseException | None, args: list[Any]) -> None:
            self.log.append((name, err, args))

        return cb


async def test_ids_count_up_and_an_ack_is_answered_once() -> None:
    timed_out: list[int] = []
    acks = PendingAcks(timed_out.append)
    calls = Calls()
    assert len(acks) == 0
    assert acks.add(calls.callback("a"), None, False) == 0
    assert acks.add(calls.callback("b"), 5, False) == 1
    assert len(acks) == 2
    acks.answer(1, ["x", 2])
    acks.answer(1, ["again"])  # unknown by now: ignored
    acks.answer(7, [])
    assert calls.log == [("b", None, ["x", 2])]
    acks.drop(0)  # never sent: forgotten without a call
    assert len(acks) == 0 and timed_out == []


async def test_a_timeout_drops_the_packet_then_fails_the_ack() -> None:
    order: list[str] = []
    acks = PendingAcks(lambda packet_id: order.append(f"drop {packet_id}"))

    def cb(err: BaseException | None, args: list[Any]) -> None:
        assert isinstance(err, AckTimeout) and args == []
        order.append("callback")

    acks.add(cb, 0.01, False)
    deadline = asyncio.get_running_loop().time() + scaled(5)
    while len(order) < 2:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.005)
    assert order == ["drop 0", "callback"] and len(acks) == 0


async def test_a_disconnect_fails_the_acks_that_expect_an_error() -> None:
    acks = PendingAcks(lambda packet_id: None)
    calls = Calls()
    acks.add(calls.callback("plain"), None, False)  # emit(callback=...) without timeout
    acks.add(calls.callback("awaited"), None, True)  # emit_with_ack
    acks.add(calls.callback("timed"), 60, False)  # a timeout implies an error callback
    acks.add(calls.callback("buffered"), None, True)
    acks.disconnected("transport close", keep={3})
    assert [(name, type(err), str(err)) for name, err, _ in calls.log] == [
        ("awaited", Disconnected, "transport close"),
        ("timed", Disconnected, "transport close"),
    ]
    assert len(acks) == 1  # the buffered packet's ack waits for the next connection
    acks.answer(3, [])
    assert calls.log[-1] == ("buffered", None, [])


def test_ack_values() -> None:
    assert ack_args(None) == [] and ack_args((1, 2)) == [1, 2] and ack_args([1]) == [[1]]
    assert ack_result([]) is None and ack_result([1]) == 1 and ack_result([1, 2]) == (1, 2)


class FakeSocket:
    """What RetryQueue needs: a send function and whether the socket is connected."""

    def __init__(self) -> None:
        self.connected = True
        self.sent: list[tuple[str, AckCallback]] = []
        self.queue = RetryQueue(self.send, lambda: self.connected)

    def send(self, entry: QueuedEmit, on_ack: AckCallback) -> None:
        self.sent.append((str(entry.event), on_ack))


def test_the_retry_queue_sends_one_entry_at_a_time_until_acknowledged() -> None:
    sock = FakeSocket()
    calls = Calls()
    sock.queue.push(QueuedEmit("a", (), NO_FLAGS, calls.callback("a")), 1)
    sock.queue.push(QueuedEmit("b", (), NO_FLAGS, calls.callback("b")), 1)
    assert [name for name, _ in sock.sent] == ["a"] and len(sock.queue) == 2
    sock.sent[0][1](AckTimeout(), [])  # first try lost: sent again
    assert [name for name, _ in sock.sent] == ["a", "a"] and calls.log == []
    sock.sent[1][1](None, ["ok"])
    assert calls.log == [("a", None, ["ok"])]
    assert [name for name, _ in sock.sent] == ["a", "a", "b"]
    timeout = AckTimeout()
    sock.sent[2][1](timeout, [])
    sock.sent[3][1](timeout, [])  # retries=1: two tries, then the error is final
    assert calls.log[1:] == [("b", timeout, [])] and len(sock.queue) == 0


def test_the_retry_queue_waits_for_the_connection() -> None:
    sock = FakeSocket()
    sock.connected = False
    sock.queue.push(QueuedEmit("a", (), NO_FLAGS, None), 2)
    assert sock.sent == []
    sock.connected = True
    sock.queue.drain(2)
    sock.queue.drain(2)  # in flight: not sent twice
    assert len(sock.sent) == 1
    sock.queue.drain(2, force=True)  # after a reconnection: sent again
    assert len(sock.sent) == 2
    sock.sent[1][1](None, [])
    assert len(sock.queue) == 0
