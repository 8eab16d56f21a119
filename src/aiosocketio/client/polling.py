"""The client's HTTP long-polling transport: one GET loop, and POSTs for what is sent.

:class:`PollingTransport` is a pump between two keep-alive HTTP connections and its
:class:`~aiosocketio.client.connection.EngineConnection`: every GET answer's body goes to
``on_body``, a failure to ``on_error`` (once; the transport then stops by itself), and the
packets given to :meth:`~PollingTransport.write` are POSTed one payload at a time, in order.
It knows nothing of the Engine.IO session: the connection feeds the bodies to it.

During an upgrade the connection pauses the transport (the pending GET and POST finish,
nothing new starts), then either closes it (the WebSocket took over, and takes the packets
still buffered here) or resumes it (the probe failed).
"""

from __future__ import annotations

import asyncio
import ssl as ssl_module
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from aiosocketio.client import transports
from aiosocketio.client.transports import ClientHttpConnection, Endpoint, TransportError
from aiosocketio.protocol.engineio.packets import Packet, encode_payload

__all__ = ["PollingTransport", "error_description"]

_TEXT_PLAIN = ("content-type", "text/plain;charset=UTF-8")


def error_description(status: int, body: bytes) -> str:
    """An HTTP error answer as engine.io-client describes it: the status, then the body."""
    text = body[:200].decode("utf-8", "replace")
    return f"{status} {text}" if text else str(status)


class PollingTransport:
    """HTTP long-polling for one Engine.IO connection.

    Args:
        endpoint: where the server is.
        headers: extra HTTP headers for every request.
        ssl: the TLS context, or ``None`` for plain TCP.
        target: returns the request target of the next request (it carries the session
            id and a fresh timestamp).
        on_body: called with the body of every GET answer.
        on_error: called once with a description ("xhr poll error: ...") when a request
            fails; the transport stops polling and posting.
    """

    __slots__ = (
        "_buffer",
        "_closed",
        "_endpoint",
        "_get_conn",
        "_headers",
        "_loop",
        "_on_body",
        "_on_error",
        "_paused",
        "_poll_task",
        "_post_conn",
        "_post_task",
        "_ssl",
        "_target",
        "max_payload",
    )

    def __init__(
        self,
        endpoint: Endpoint,
        headers: Sequence[tuple[str, str]],
        ssl: ssl_module.SSLContext | None,
        *,
        target: Callable[[], str],
        on_body: Callable[[bytes], None],
        on_error: Callable[[str], None],
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._endpoint = endpoint
        self._headers = list(headers)
        self._ssl = ssl
        self._target = target
        self._on_body = on_body
        self._on_error = on_error
        self._get_conn: ClientHttpConnection | None = None
        self._post_conn: ClientHttpConnection | None = None
        self._poll_task: asyncio.Task[None] | None = None
        self._post_task: asyncio.Task[None] | None = None
        self._buffer: list[Packet] = []
        self._paused = False
        self._closed = False
        #: engine.io-client splits what it posts so that one payload stays under this
        #: (the server's maxPayload, known after the handshake)
        self.max_payload = 1_000_000

    async def handshake(self) -> bytes:
        """Send the first GET and return its body (the OPEN packet).

        Raises:
            TransportError: the connection failed or the server answered with an error.
        """
        conn = self._get_conn = await ClientHttpConnection.open(self._endpoint, self._ssl)
        resp = await conn.request("GET", self._target(), self._headers)
        if resp.status != 200:
            raise TransportError("xhr poll error", error_description(resp.status, resp.body))
        return resp.body

    def start(self) -> None:
        """Start the GET loop (after the handshake, or to resume after a failed upgrade)."""
        self._paused = False
        self._poll_task = self._loop.create_task(self._poll_loop())

    @property
    def paused(self) -> bool:
        """Whether :meth:`pause` was called (and :meth:`start` not since)."""
        return self._paused

    @property
    def writable(self) -> bool:
        """No POST is running: a packet written now leaves at once."""
        return self._post_task is None and not self._paused

    def write(self, packets: list[Packet]) -> None:
        """POST ``packets`` after what is already buffered."""
        self._buffer.extend(packets)
        self._start_post()

    def take_buffer(self) -> list[Packet]:
        """Take out the packets not posted yet (the WebSocket sends them instead)."""
        buffer = self._buffer
        self._buffer = []
        return buffer

    async def pause(self) -> None:
        """Stop starting requests and wait for the pending GET and POST to finish."""
        self._paused = True
        if self._poll_task is not None:
            await self._poll_task
        while self._post_task is not None:
            await asyncio.shield(self._post_task)

    def close(self) -> None:
        """Stop at once: cancel the requests (not the caller's own) and close the sockets."""
        for conn in self._stop():
            if conn is not None:
                conn.close()

    def close_with(self, bodies: list[bytes]) -> Coroutine[Any, Any, None]:
        """Stop, except that the POST connection still sends ``bodies`` (the last packets
        and the close packet): return the coroutine that does it, then closes both sockets.

        A POST in flight is answered first (engine.io-client waits for its write buffer to
        drain before it closes), then each body is POSTed and answered in turn, all within
        :data:`~aiosocketio.client.transports.CLOSE_TIMEOUT`. The pending GET is not
        aborted before the server has read the bodies (Node would see "transport close"
        instead of the namespace disconnect).
        """
        in_flight = self._post_task
        post, poll = self._stop(keep_post=True)
        return self._final_post(in_flight, post, poll, bodies)

    def _stop(
        self, keep_post: bool = False
    ) -> tuple[ClientHttpConnection | None, ClientHttpConnection | None]:
        self._closed = True
        current = asyncio.current_task(self._loop) if self._loop.is_running() else None
        tasks = (self._poll_task,) if keep_post else (self._poll_task, self._post_task)
        for task in tasks:
            if task is not None and task is not current:
                task.cancel()
        self._poll_task = self._post_task = None
        conns = (self._post_conn, self._get_conn)
        self._get_conn = self._post_conn = None
        return conns

    # -- GET -------------------------------------------------------------------------
    async def _poll_loop(self) -> None:
        while not self._closed and not self._paused:
            conn = self._get_conn
            try:
                if conn is None or conn.closed:
                    conn = self._get_conn = await ClientHttpConnection.open(
                        self._endpoint, self._ssl
                    )
                resp = await conn.request("GET", self._target(), self._headers)
            except TransportError as exc:
                if not self._closed:
                    self._on_error(f"xhr poll error: {exc}")
                return
            if self._closed:
                return
            if resp.status != 200:
                self._on_error(f"xhr poll error: {error_description(resp.status, resp.body)}")
                return
            self._on_body(resp.body)

    # -- POST ------------------------------------------------------------------------
    def _start_post(self) -> None:
        if self._post_task is None and not self._paused and self._buffer and not self._closed:
            self._post_task = self._loop.create_task(self._post())

    async def _post(self) -> None:
        try:
            while self._buffer and not self._closed:
                body = encode_payload(self._take_batch()).encode("utf-8")
                try:
                    if self._post_conn is None or self._post_conn.closed:
                        self._post_conn = await ClientHttpConnection.open(self._endpoint, self._ssl)
                    resp = await self._post_conn.request(
                        "POST", self._target(), [*self._headers, _TEXT_PLAIN], body
                    )
                except TransportError as exc:
                    self._on_error(f"xhr post error: {exc}")
                    return
                if resp.status != 200:
                    desc = error_description(resp.status, resp.body)
                    self._on_error(f"xhr post error: {desc}")
                    return
                if self._paused:
                    return
        finally:
            self._post_task = None

    def _take_batch(self) -> list[Packet]:
        # engine.io-client splits the write buffer so one payload stays under maxPayload.
        limit = self.max_payload
        size = 0
        count = 0
        for packet in self._buffer:
            data = packet.data
            size += 2 + (len(data) if isinstance(data, str) else (len(data or b"") * 4) // 3 + 4)
            if count and size > limit:
                break
            count += 1
        batch = self._buffer[:count]
        del self._buffer[:count]
        return batch

    # -- closing ---------------------------------------------------------------------
    async def _final_post(
        self,
        in_flight: asyncio.Task[None] | None,
        conn: ClientHttpConnection | None,
        poll: ClientHttpConnection | None,
        bodies: list[bytes],
    ) -> None:
        try:
            async with asyncio.timeout(transports.CLOSE_TIMEOUT):
                if in_flight is not None and not in_flight.done():
                    await asyncio.wait([in_flight])  # it reports its own failure
                if conn is None or conn.closed or conn.busy:
                    if conn is not None:
                        conn.close()
                    conn = await ClientHttpConnection.open(self._endpoint, self._ssl)
                for body in bodies:
                    resp = await conn.request(
                        "POST", self._target(), [*self._headers, _TEXT_PLAIN], body
                    )
                    if resp.status != 200:
                        break  # the session is gone: the close packet has nothing to close
        except (TransportError, TimeoutError):
            pass
        finally:
            for c in (conn, poll):
                if c is not None:
                    c.close()
