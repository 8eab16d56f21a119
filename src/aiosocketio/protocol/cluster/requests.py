"""The bookkeeping of requests between the servers of a cluster (sans-I/O).

A server asks the others (fetch the sockets, a server-side emit with an ack, all the
rooms...) and waits for one answer per server, or for the answers of a known set of
servers, until a deadline. It also broadcasts with acks, and then routes the other
servers' client counts and acknowledgements back to the broadcast until its timeout.
:class:`RequestTable` keeps both kinds of waiters on
:class:`~aiosocketio.protocol.pending.DeadlineTable`; the caller gives the deadlines (its
own clock), asks :meth:`RequestTable.next_deadline` and calls :meth:`RequestTable.expire`
when it is due.

Rules:

* A request is complete when it has ``expected`` answers, or, when it waits for a set of
  servers, when each of them answered or was forgotten (:meth:`RequestTable.forget_server`).
  A complete request leaves the table and is handed back exactly once, by
  :meth:`RequestTable.answer`, :meth:`RequestTable.forget_server` or, with the answers
  that did arrive, :meth:`RequestTable.expire`.
* Each request carries an opaque ``waiter`` (the caller's future) and each broadcast an
  opaque ``handle`` (the caller's callbacks): the table never calls out.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Generic, TypeVar

from aiosocketio.protocol.pending import DeadlineTable

__all__ = ["PendingRequest", "RequestTable"]

W = TypeVar("W")
H = TypeVar("H")


class PendingRequest(Generic[W]):
    """A request to the other servers, waiting for their answers.

    Attributes:
        request_id: the id the answers carry.
        kind: the message or request type it was sent as.
        expected: how many answers complete it.
        missing: the uids of the servers still to answer (None: any ``expected`` answers).
        received: how many answers arrived.
        responses: the answers' items, in arrival order.
        waiter: the caller's object (a future), handed back with the request.
        what: names the request in a timeout message.
    """

    __slots__ = (
        "expected",
        "kind",
        "missing",
        "received",
        "request_id",
        "responses",
        "waiter",
        "what",
    )

    def __init__(
        self, request_id: str, kind: int, expected: int | set[str], waiter: W, what: str = ""
    ) -> None:
        self.request_id = request_id
        self.kind = kind
        self.missing = set(expected) if isinstance(expected, set) else None
        self.expected = len(expected) if isinstance(expected, set) else expected
        self.received = 0
        self.responses: list[Any] = []
        self.waiter = waiter
        self.what = what

    @property
    def done(self) -> bool:
        """Whether every expected answer arrived."""
        if self.missing is not None:
            return not self.missing
        return self.received >= self.expected


class RequestTable(Generic[W, H]):
    """The pending requests (by request id) and the broadcasts with acks of one adapter."""

    __slots__ = ("_acks", "_requests")

    def __init__(self) -> None:
        self._requests: DeadlineTable[str, PendingRequest[W]] = DeadlineTable()
        self._acks: DeadlineTable[str, H] = DeadlineTable()

    def __contains__(self, request_id: object) -> bool:
        """Whether ``request_id`` is one of this server's requests or broadcasts with acks."""
        return request_id in self._requests or request_id in self._acks

    def __iter__(self) -> Iterator[PendingRequest[W]]:
        return iter(self._requests.values())

    def __len__(self) -> int:
        return len(self._requests)

    # -- requests -------------------------------------------------------------------------

    def start(
        self,
        request_id: str,
        kind: int,
        expected: int | set[str],
        waiter: W,
        deadline: float,
        what: str = "",
    ) -> PendingRequest[W]:
        """Wait for the answers to ``request_id`` until ``deadline``.

        After this, send the request; if it cannot be sent, :meth:`cancel` it.
        """
        request = PendingRequest(request_id, kind, expected, waiter, what)
        self._requests.add(request_id, request, deadline)
        return request

    def cancel(self, request_id: str) -> PendingRequest[W] | None:
        """Stop waiting for ``request_id`` (it could not be sent)."""
        return self._requests.pop(request_id)

    def get(self, request_id: Any) -> PendingRequest[W] | None:
        """The pending request ``request_id``, left in the table."""
        if not isinstance(request_id, str):
            return None
        return self._requests.get(request_id)

    def answer(
        self, request: PendingRequest[W], sender: Any, items: list[Any]
    ) -> PendingRequest[W] | None:
        """Record one answer of ``sender`` to ``request``: its ``items`` join the responses.

        Returns:
            the request if this answer completed it (it is then out of the table).
        """
        request.received += 1
        request.responses.extend(items)
        if request.missing is not None:
            request.missing.discard(str(sender))
        if request.done:
            self._requests.pop(request.request_id)
            return request
        return None

    def forget_server(self, uid: str) -> list[PendingRequest[W]]:
        """``uid`` is gone: the requests that only waited for it are complete (and out)."""
        done: list[PendingRequest[W]] = []
        for request_id, request in self._requests.items():
            if request.missing is None:
                continue
            request.missing.discard(uid)
            if not request.missing:
                self._requests.pop(request_id)
                done.append(request)
        return done

    # -- broadcasts with acks -------------------------------------------------------------

    def expect_acks(self, request_id: str, handle: H, deadline: float) -> None:
        """Route the counts and acks of broadcast ``request_id`` to ``handle`` until
        ``deadline``."""
        self._acks.add(request_id, handle, deadline)

    def ack_handle(self, request_id: Any) -> H | None:
        """The handle of broadcast ``request_id``, if it is still waiting."""
        if not isinstance(request_id, str):
            return None
        return self._acks.get(request_id)

    # -- time and closing -----------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """The earliest deadline of a request or a broadcast (None: nothing is waiting)."""
        a = self._requests.next_deadline()
        b = self._acks.next_deadline()
        if a is None:
            return b
        if b is None:
            return a
        return min(a, b)

    def expire(self, now: float) -> list[PendingRequest[W]]:
        """The requests whose deadline passed (out of the table, with their answers so far).

        The broadcasts whose timeout passed are forgotten: their late acks are ignored.
        """
        self._acks.expire(now)
        return [request for _, request in self._requests.expire(now)]

    def take_all(self) -> list[PendingRequest[W]]:
        """Every pending request, out of the table; the broadcasts are forgotten (closing)."""
        self._acks.take_all()
        return self._requests.take_all()
